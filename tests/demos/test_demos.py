"""Every demo builds its static form (all variants, linked in the browser) and its live
form (re-renders on change) without error, and each shows what it claims to show."""

import ipywidgets as widgets
import pytest

from normlab import demos
from normlab.demos import amplification, cost, depth, gradients, shapes, stream, warmup, wiring
from normlab.experiments import TaskConfig

TINY_TASK = TaskConfig(n_layers=2, steps=4, batch=4)


def clear_caches():
    for module in demos.DEMOS.values():
        for value in vars(module).values():
            if hasattr(value, "cache_clear"):
                value.cache_clear()


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
    assert len(demo.links) >= len(module.CONTROLS)          # controls jslinked to the Stacks
    leaves = all_leaves(demo.children[1])
    assert any(isinstance(w, (widgets.Image, widgets.HTML)) for w in leaves)


@pytest.mark.parametrize("name", list(demos.DEMOS))
def test_live_form_renders_and_rerenders_on_change(name, small_demos):
    module = demos.DEMOS[name]
    demo = module.demo(live=True)
    assert demo.mode == "live"
    first_name, control = next(iter(demo.controls.items()))
    before = demo.children[1].children[0]
    control.index = (control.index + 1) % len(control.options)
    assert demo.children[1].children[0] is not before


def test_default_values_are_one_of_each_controls_values():
    for module in demos.DEMOS.values():
        values = demos.default_values(module)
        assert set(values) == set(module.CONTROLS)


# --- what individual demos show -------------------------------------------------------------

def test_wiring_identity_path_is_clean_exactly_where_no_norm_or_scale_sits_on_it():
    clean = {p for p in wiring.WIRINGS if wiring.identity_is_clean(p)}
    assert clean == {"pre", "sandwich", "res-post", "parallel"}


def test_wiring_stats_post_norm_output_has_unit_features_pre_norm_stream_grows():
    post = wiring.output_stats("post", 6)
    assert post["last_block"] == pytest.approx(1.0, rel=1e-3)          # ends with LayerNorm
    shallow, deep = wiring.output_stats("pre", 1), wiring.output_stats("pre", 24)
    assert deep["last_block"] > 2 * shallow["last_block"] > 2 * 1.0 * 0.9
    assert deep["output"] == pytest.approx(1.0, rel=1e-3)              # the final norm


def test_shape_tracer_lists_shapes_and_shows_the_shape_error_for_indivisible_heads():
    table = shapes.render(batch=2, seq=10, d_model=64, n_heads=4, d_ff=256)
    assert "(2, 10, 64)" in table and "(2, 10, 256)" in table and "(2, 4, 10, 10)" in table
    error = shapes.render(batch=2, seq=10, d_model=64, n_heads=5, d_ff=256)
    assert "ShapeError" in error and "not divisible by n_heads=5" in error


def test_cost_formulas_attention_quadratic_recurrent_linear():
    from normlab.experiments import (attention_flops, attention_memory_bytes, rnn_flops,
                                     rnn_state_bytes)
    d = 64
    # doubling n: the RNN's work doubles; attention's n^2 term quadruples
    assert rnn_flops(2048, d) == 2 * rnn_flops(1024, d)
    assert attention_flops(2048, d) - 4 * 2048 * d * d == 4 * (attention_flops(1024, d) - 4 * 1024 * d * d)
    assert attention_memory_bytes(2048, 4) == 4 * attention_memory_bytes(1024, 4)
    assert rnn_state_bytes(d) == rnn_state_bytes(d)   # no n in it
    assert attention_memory_bytes(256, 4) == 2 ** 20  # the 1 MiB the chapter quotes


def test_cost_measurement_returns_positive_times_for_each_length():
    measured = cost.measured((16, 32))
    assert measured["seq"] == [16, 32]
    assert all(t > 0 for t in measured["attention_s"] + measured["rnn_s"])
