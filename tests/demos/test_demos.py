"""Every demo builds its static form (all variants, linked in the browser) and its live
form (re-renders on change) without error, and each shows what it claims to show."""

import ipywidgets as widgets
import pytest

from normlab import BLOCKS, demos
from normlab.demos import amplification, cost, depth, gradients, shapes, stream, warmup, wiring
from normlab.demos.case_studies import render as casestudies_render
from normlab.demos.figures import PLACEMENT_COLORS, PLACEMENT_STYLE
from normlab.page.widgets import (
    MIN_TEXT_CSS,
    PIXEL_RATIO,
    EncodedImage,
    Picture,
    View,
    drawn_texts,
    shown_text_px,
    to_view,
)
from normlab.studies.experiments import TaskConfig

TINY_TASK = TaskConfig(n_layers=2, steps=4, batch=4)


def clear_caches():
    for module in demos.DEMOS.values():
        for value in vars(module).values():
            if hasattr(value, "cache_clear"):
                value.cache_clear()


@pytest.fixture(autouse=True)
def private_view_cache(tmp_path, monkeypatch):
    """Demos keep their views on disk; tests use their own directory."""
    monkeypatch.setenv("NORMLAB_DEMO_CACHE", str(tmp_path / "views"))


@pytest.fixture
def small_demos(monkeypatch):
    """These tests check that the widgets build; the claims are tested in test_claims.py.
    So average fewer seeds, span fewer depths and train tiny warm-up models."""
    monkeypatch.setattr(warmup, "TASK", TINY_TASK)
    for module in (gradients, depth, stream, amplification):
        monkeypatch.setattr(module, "SEEDS", range(1))
    monkeypatch.setattr(depth, "DEPTHS", (2, 4))
    monkeypatch.setattr(amplification, "DEPTHS", (2, 4))
    clear_caches()
    yield
    clear_caches()


def all_leaves(widget):
    children = getattr(widget, "children", ())
    if not children:
        return [widget]
    return [leaf for child in children for leaf in all_leaves(child)]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(demos.DEMOS))
def test_static_form_prerenders_every_variant(name, small_demos):
    module = demos.DEMOS[name]
    demo = module.demo(live=False)
    expected = 1
    for control in module.CONTROLS.values():
        expected *= len(control.values)
    assert demo.mode == "static" and demo.variants == expected
    assert len(demo.links) >= len(module.CONTROLS)  # controls jslinked to the Stacks
    leaves = all_leaves(demo.children[1])
    assert any(isinstance(w, widgets.HTML) for w in leaves)
    if any("<img" in w.value for w in leaves):
        assert demo.fallback.startswith("<noscript>") and "<img" in demo.fallback


@pytest.mark.parametrize("name", list(demos.DEMOS))
def test_live_form_renders_and_rerenders_on_change(name, small_demos):
    module = demos.DEMOS[name]
    demo = module.demo(live=True)
    assert demo.mode == "live"
    first_name, control = next(iter(demo.controls.items()))
    before = demo.children[-1].children[0]
    control.index = (control.index + 1) % len(control.options)
    assert demo.children[-1].children[0] is not before


def test_default_values_are_one_of_each_controls_values():
    for module in demos.DEMOS.values():
        values = demos.default_values(module)
        assert set(values) == set(module.CONTROLS)


# --- what individual demos show -------------------------------------------------------------


def test_wiring_identity_path_is_clean_exactly_where_no_norm_or_scale_sits_on_it():
    clean = {p for p, block in BLOCKS.items() if block.wiring.identity_is_clean}
    assert clean == {"pre", "sandwich", "res-post", "parallel"}


def test_wiring_stats_post_norm_output_has_unit_features_pre_norm_stream_grows():
    post = wiring.output_stats("post", 6)
    assert post["last_block"] == pytest.approx(1.0, rel=1e-3)  # ends with LayerNorm
    shallow, deep = wiring.output_stats("pre", 1), wiring.output_stats("pre", 24)
    assert deep["last_block"] > 2 * shallow["last_block"] > 2 * 1.0 * 0.9
    assert deep["output"] == pytest.approx(1.0, rel=1e-3)  # the final norm


def test_shape_tracer_lists_shapes_and_shows_the_shape_error_for_indivisible_heads():
    table = shapes.render(batch=2, seq=10, d_model=64, n_heads=4, d_ff=256)
    assert "(2, 10, 64)" in table and "(2, 10, 256)" in table and "(2, 4, 10, 10)" in table
    error = shapes.render(batch=2, seq=10, d_model=64, n_heads=5, d_ff=256)
    assert "ShapeError" in error and "not divisible by n_heads=5" in error


def test_cost_formulas_attention_quadratic_recurrent_linear():
    from normlab.studies.experiments import attention_flops, attention_memory_bytes, rnn_flops, rnn_state_bytes

    d = 64
    # doubling n: the RNN's work doubles; attention's n^2 term quadruples
    assert rnn_flops(2048, d) == 2 * rnn_flops(1024, d)
    assert attention_flops(2048, d) - 4 * 2048 * d * d == 4 * (attention_flops(1024, d) - 4 * 1024 * d * d)
    assert attention_memory_bytes(2048, 4) == 4 * attention_memory_bytes(1024, 4)
    assert rnn_state_bytes(d) == 4 * d  # (batch=1, d_model) float32: no n in it
    assert attention_memory_bytes(256, 4) == 2**20  # the 1 MiB the chapter quotes


def test_cost_measurement_returns_positive_times_for_each_length():
    measured = cost.measured((16, 32))
    assert measured["seq"] == [16, 32]
    assert all(t > 0 for t in measured["attention_s"] + measured["rnn_s"])


# --- figures a reader can read (issue 14.2, 14.3, 14.6) ----------------------------------------


def pictures(name: str, values: dict) -> list:
    """The Figures (with alt text) a demo draws for ``values``, before encoding."""
    module = demos.DEMOS[name]
    if name == "wiring":
        return [Picture(wiring.draw(values["placement"]), wiring.alt_text(values["placement"]))]
    result = module.render(**values)
    parts = result if isinstance(result, list) else [result]
    return [p for p in parts if isinstance(p, Picture)]


FIGURE_DEMOS = [n for n in demos.DEMOS if n != "shapes"]


def outside(fig) -> list[str]:
    """Texts (and legends) that do not fit inside the figure, e.g. a legend wider than it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box = fig.bbox
    items = visible_texts(fig) + list(fig.legends) + [a.get_legend() for a in fig.get_axes() if a.get_legend()]
    out = []
    for item in items:
        extent = item.get_window_extent(renderer)
        if extent.x0 < box.x0 - 1 or extent.x1 > box.x1 + 1 or extent.y0 < box.y0 - 1 or extent.y1 > box.y1 + 1:
            out.append(getattr(item, "get_text", lambda: "legend")())
    return out


def visible_texts(fig):
    fig.draw_without_rendering()  # ticks are made when the figure is drawn
    return drawn_texts(fig)


@pytest.mark.parametrize("name", FIGURE_DEMOS)
def test_every_label_is_at_least_11_css_px_on_a_phone_and_the_image_is_2x(name, small_demos):
    values = demos.default_values(demos.DEMOS[name])
    for picture in [p for state in states(demos.DEMOS[name]) for p in pictures(name, state)]:
        fig = picture.figure
        small = [
            (t.get_text(), t.get_fontsize())
            for t in visible_texts(fig)
            if shown_text_px(t.get_fontsize(), fig.get_figwidth()) < MIN_TEXT_CSS
        ]
        assert not small, f"{name}: labels below {MIN_TEXT_CSS} CSS px at phone width: {small}"
        assert not outside(fig), f"{name}: text spills out of the figure: {outside(fig)}"
    view = to_view(demos.DEMOS[name].render(**values))
    for image in view.images():
        assert image.width >= PIXEL_RATIO * image.css_width, "natural width >= 2x the widest CSS width"
        assert f"max-width:{image.css_width}px" in image.html()


@pytest.mark.parametrize("name", FIGURE_DEMOS)
def test_alt_text_says_what_this_state_shows(name, small_demos):
    module = demos.DEMOS[name]
    alts = set()
    for values in states(module):
        view = to_view(module.render(**values))
        for image in view.images():
            assert len(image.alt) > 40 and not image.alt.startswith("chart:"), image.alt
            assert 'alt="' in image.html()
            alts.add(image.alt)
    first = next(iter(module.CONTROLS.values()))
    assert len(alts) >= len(first.values), f"{name}: alt text changes with the first control"


def states(module):
    """Every value of the first control, the others at their defaults."""
    defaults = demos.default_values(module)
    name, control = next(iter(module.CONTROLS.items()))
    return [{**defaults, name: v} for v in control.values]


def test_the_gradients_alt_text_names_depth_and_placements(small_demos):
    (image,) = to_view(gradients.render("post and pre", 12)).images()
    assert image.alt.startswith("gradient norm per layer, 12 blocks, post vs pre")


@pytest.mark.parametrize("name", FIGURE_DEMOS)
def test_one_colour_per_placement_in_every_demo(name, small_demos):
    module = demos.DEMOS[name]
    for values in states(module):
        for picture in pictures(name, values):
            for ax in picture.figure.get_axes():
                for line in ax.get_lines():
                    label = line.get_label().split(":")[0].split(" ")[0]
                    if label in PLACEMENT_STYLE:
                        assert line.get_color() == PLACEMENT_COLORS[label], (name, label)


def test_placements_that_coincide_are_told_apart_by_marker_and_dash():
    for a, b in (("sandwich", "res-post"), ("pre", "parallel")):
        assert PLACEMENT_STYLE[a]["marker"] != PLACEMENT_STYLE[b]["marker"]
        assert PLACEMENT_STYLE[a]["linestyle"] != PLACEMENT_STYLE[b]["linestyle"]
    same = gradients.coinciding({"pre": (1.0, 2.0), "parallel": (1.01, 2.0), "post": (3.0, 1.0)})
    assert same == {"parallel": ("pre", pytest.approx(0.01))}


def test_the_gradients_legend_sits_below_the_curves(small_demos):
    fig = gradients.render("all six", 12).figure
    fig.draw_without_rendering()
    ax = fig.get_axes()[0]
    legend = fig.legends[0].get_window_extent()
    assert legend.y1 <= ax.get_window_extent().y0, "the legend does not cover a curve"


def test_the_cost_tables_follow_the_slider():
    views = {n: to_view(cost.render(n)).html() for n in (256, 4096)}
    assert "at n = 256" in views[256] and "at n = 4,096" in views[4096]
    assert "▶ 256" in views[256] and "n = 4,096 is not measured" in views[4096]


def test_the_stream_dropdown_shows_no_caret_notation():
    assert not any("^" in option for option in stream.CONTROLS["attention"].values)


def test_casestudies_tables_are_styled_and_its_bars_have_alt_text():
    table = casestudies_render("reference pre-norm", "trace_shapes")
    assert 'class="table normlab-table"' in table and "<th>step</th>" in table
    (image,) = to_view(casestudies_render("case 1: refactored (post-norm)", "gradient norms by layer")).images()
    assert "case 1" in image.alt and image.width >= PIXEL_RATIO * image.css_width


def test_a_live_demo_reads_what_a_static_build_wrote(small_demos, monkeypatch, tmp_path):
    monkeypatch.setenv("NORMLAB_DEMO_CACHE", str(tmp_path / "shared"))
    depth.demo(live=False)  # the book build
    calls = []
    monkeypatch.setattr(depth, "curve", lambda *a: calls.append(a) or (1.0, 1.0))
    live = depth.demo(live=True)  # a learner's kernel
    live.controls["setting"].index = 1
    assert calls == [], "every state came from the cache"
    assert isinstance(View.from_json(next((tmp_path / "shared").rglob("*.json")).read_text()), View)
    assert any(
        isinstance(p, EncodedImage)
        for p in View.from_json(next((tmp_path / "shared").rglob("*.json")).read_text()).parts
    )
