"""precomputed_demo: static mode pre-renders every combination into jslinked Stacks;
live mode renders on demand and re-renders when a control changes."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from matplotlib.figure import Figure

from normlab.page.widgets import (
    FIGURE_CSS_WIDTH,
    PIXEL_RATIO,
    Control,
    Picture,
    View,
    encode_figure,
    min_font_pt,
    png_size,
    precomputed_demo,
    shown_text_px,
    stable_repr,
    to_view,
    to_widget,
)


def render_text(depth, norm):
    return f"depth={depth} norm={norm}"


def leaves(widget):
    """The precomputed outputs under a (nested) Stack, in index order."""
    if isinstance(widget, widgets.Stack):
        return [leaf for child in widget.children for leaf in leaves(child)]
    return [widget]


def test_static_demo_precomputes_every_combination_and_links_controls():
    calls = []

    def render(depth, norm):
        calls.append((depth, norm))
        return render_text(depth, norm)

    demo = precomputed_demo(render, {"depth": [2, 4, 8], "norm": ["layer", "rms"]}, live=False)
    assert demo.mode == "static" and demo.variants == 6
    assert sorted(calls) == sorted((d, n) for d in (2, 4, 8) for n in ("layer", "rms"))
    panel, outer = demo.children
    assert isinstance(outer, widgets.Stack) and len(outer.children) == 3
    assert all(isinstance(inner, widgets.Stack) and len(inner.children) == 2 for inner in outer.children)
    assert [leaf.value for leaf in leaves(outer)][:2] == [
        "<pre>depth=2 norm=layer</pre>",
        "<pre>depth=2 norm=rms</pre>",
    ]
    # numbers -> slider, short labels -> toggle buttons
    assert isinstance(demo.controls["depth"], widgets.SelectionSlider)
    assert isinstance(demo.controls["norm"], widgets.ToggleButtons)
    # one browser-side link per Stack: the outer follows depth, each inner follows norm
    linked = [(link.source[0], link.target[0]) for link in demo.links]
    assert (demo.controls["depth"], outer) in linked
    assert all((demo.controls["norm"], inner) in linked for inner in outer.children)
    assert all(link.source[1] == "index" and link.target[1] == "selected_index" for link in demo.links)


def test_static_demo_starts_at_the_initial_value():
    demo = precomputed_demo(render_text, {"depth": Control([2, 4, 8], value=4), "norm": ["layer"]}, live=False)
    outer = demo.children[1]
    assert demo.controls["depth"].index == 1 and outer.selected_index == 1


def test_live_demo_renders_on_change_only():
    calls = []

    def render(depth, norm):
        calls.append((depth, norm))
        return render_text(depth, norm)

    demo = precomputed_demo(render, {"depth": [2, 4, 8], "norm": Control(["layer", "rms"], kind="dropdown")}, live=True)
    assert demo.mode == "live" and calls == [(2, "layer")]
    assert isinstance(demo.controls["norm"], widgets.Dropdown)
    demo.controls["depth"].index = 2
    assert calls[-1] == (8, "layer")
    assert demo.children[-1].children[0].value == "<pre>depth=8 norm=layer</pre>"


def test_outside_a_kernel_the_demo_is_static(monkeypatch):
    monkeypatch.delenv("NORMLAB_STATIC_WIDGETS", raising=False)
    assert precomputed_demo(render_text, {"depth": [1], "norm": ["a"]}).mode == "static"


def test_figures_become_2x_png_images_with_alt_text():
    fig = Figure(figsize=(2, 1))
    ax = fig.subplots()
    ax.plot([0, 1], [1, 0], label="falling")
    ax.set(title="a line", xlabel="time", ylabel="height")
    ax.legend()
    view = to_view(fig)
    (image,) = view.images()
    assert image.png[:4] == b"\x89PNG" and png_size(image.png) == (image.width, image.height)
    # drawn for FIGURE_CSS_WIDTH CSS px at PIXEL_RATIO (bbox-tight crops a little)
    assert image.width >= 0.9 * FIGURE_CSS_WIDTH * PIXEL_RATIO
    assert image.css_width * PIXEL_RATIO <= image.width
    assert "a line" in image.alt and "height against time" in image.alt and "falling" in image.alt
    html = to_widget(fig_with_alt()).value
    assert html.startswith("<img") and 'alt="two points, rising"' in html


def fig_with_alt():
    fig = Figure(figsize=(2, 1), layout="constrained")
    fig.subplots().plot([0, 1], [0, 1])
    return Picture(fig, "two points, rising")


def test_img_tag_reserves_its_aspect_ratio_and_never_exceeds_half_its_pixels():
    image = encode_figure(fig_with_alt().figure, "alt")
    tag = image.html()
    assert f'width="{round(image.width / 2)}"' in tag
    assert f'height="{round(image.height / 2)}"' in tag
    assert f"max-width:{image.css_width}px" in tag and image.css_width * 2 <= image.width


def test_text_at_the_minimum_font_is_11_css_px_at_phone_width():
    for width in (3.0, 4.2, 6.0):
        assert shown_text_px(min_font_pt(width), width) >= 11 - 1e-9


def test_views_round_trip_through_json():
    view = to_view([fig_with_alt(), "<p>table</p>"])
    again = View.from_json(view.to_json())
    assert again == view and again.images()[0].alt == "two points, rising"


def test_disk_cache_is_written_by_static_demos_and_read_by_live_ones(tmp_path, monkeypatch):
    monkeypatch.setenv("NORMLAB_DEMO_CACHE", str(tmp_path))
    calls = []

    def render(depth):
        calls.append(depth)
        return f"<p>depth {depth}</p>"

    precomputed_demo(render, {"depth": [1, 2]}, live=False, cache_key=("demo", 1))
    assert sorted(calls) == [1, 2] and len(list(tmp_path.rglob("*.json"))) == 2
    live = precomputed_demo(render, {"depth": [1, 2]}, live=True, cache_key=("demo", 1))
    live.controls["depth"].index = 1
    assert sorted(calls) == [1, 2], "the live demo read both states from the cache"
    assert live.children[-1].children[0].value == "<p>depth 2</p>"
    # another setting of the demo (a different key) does not read those files
    precomputed_demo(render, {"depth": [1, 2]}, live=True, cache_key=("demo", 2))
    assert calls[-1] == 1 and len(calls) == 3


def test_cache_keys_do_not_depend_on_memory_addresses():
    def f():
        pass

    assert stable_repr({"b": f, "a": object}) == stable_repr({"a": object, "b": f})
    assert "0x" not in stable_repr([f, lambda: 1])


def test_static_demo_has_a_noscript_copy_of_its_first_view():
    demo = precomputed_demo(lambda depth: fig_with_alt(), {"depth": [1, 2]}, live=False)
    assert demo.fallback.startswith("<noscript>") and 'alt="two points, rising"' in demo.fallback
    assert precomputed_demo(render_text, {"depth": [1], "norm": ["a"]}, live=True).fallback == ""


def test_sliders_update_on_release_and_dropdowns_fit_their_longest_option():
    demo = precomputed_demo(
        render_text, {"depth": [2, 4, 8], "norm": Control(["a much longer option", "b"], kind="dropdown")}, live=False
    )
    assert demo.controls["depth"].continuous_update is False
    assert demo.controls["norm"].layout.width.startswith("min(100%")


def test_bad_inputs_say_what_was_expected():
    with pytest.raises(ValueError, match="at least one control"):
        precomputed_demo(render_text, {}, live=False)
    with pytest.raises(ValueError, match=r"4 a x 4 b x 4 c = 64 variants .* max_variants=48"):
        precomputed_demo(lambda a, b, c: "x", {"a": range(4), "b": range(4), "c": range(4)}, live=False)
    with pytest.raises(TypeError, match="render returned int; expected a matplotlib Figure"):
        to_widget(3)
    with pytest.raises(RuntimeError, match=r"render\(depth=1, norm='a'\) failed"):
        precomputed_demo(lambda depth, norm: 1 / 0, {"depth": [1], "norm": ["a"]}, live=False)
    with pytest.raises(ValueError, match="not one of"):
        Control([1, 2], value=3)
