"""precomputed_demo: static mode pre-renders every combination into jslinked Stacks;
live mode renders on demand and re-renders when a control changes."""

from __future__ import annotations

import ipywidgets as widgets
import pytest
from matplotlib.figure import Figure

from normlab.widgets import Control, precomputed_demo, to_widget


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
    assert [leaf.value for leaf in leaves(outer)][:2] == ["<pre>depth=2 norm=layer</pre>",
                                                          "<pre>depth=2 norm=rms</pre>"]
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

    demo = precomputed_demo(render, {"depth": [2, 4, 8], "norm": Control(["layer", "rms"], kind="dropdown")},
                            live=True)
    assert demo.mode == "live" and calls == [(2, "layer")]
    assert isinstance(demo.controls["norm"], widgets.Dropdown)
    demo.controls["depth"].index = 2
    assert calls[-1] == (8, "layer")
    assert demo.children[1].children[0].value == "<pre>depth=8 norm=layer</pre>"


def test_outside_a_kernel_the_demo_is_static(monkeypatch):
    monkeypatch.delenv("NORMLAB_STATIC_WIDGETS", raising=False)
    assert precomputed_demo(render_text, {"depth": [1], "norm": ["a"]}).mode == "static"


def test_figures_become_png_images():
    fig = Figure(figsize=(2, 1))
    fig.subplots().plot([0, 1], [1, 0])
    image = to_widget(fig, dpi=50)
    assert isinstance(image, widgets.Image) and image.value[:4] == b"\x89PNG"
    assert len(image.value) < 20_000


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
