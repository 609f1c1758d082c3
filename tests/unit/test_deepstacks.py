"""normlab.studies.deepstacks: Lemma 3 and the depth-aware initialisations of the deep-stacks chapter."""

import math

import pytest
import torch

from normlab import TransformerStack
from normlab.studies.deepstacks import (
    INITS,
    build_initialised,
    gpt2_residual_scale,
    init_output_change,
    layernorm_jacobian_norm,
    lemma3_jacobian_for_norm,
    lemma3_prediction,
    relative_block_updates,
    stream_and_last_gradient,
)
from normlab.studies.experiments import Setting, build_stack, output_change

SMALL = Setting(d_model=16, n_heads=2, d_ff=32, batch=2, seq=4)


def test_lemma3_jacobian_is_sqrt_d_over_length_at_every_scale():
    x = torch.randn(32, generator=torch.Generator().manual_seed(1))
    for length in (1.0, 5.0, 50.0):  # long enough that eps = 1e-5 is negligible
        v = x * length / x.norm()
        assert layernorm_jacobian_norm(v) == pytest.approx(lemma3_prediction(v), rel=1e-2)
    assert lemma3_jacobian_for_norm(64, 16.0) == pytest.approx(0.5, abs=1e-3)


def test_lemma3_rejects_a_batch():
    with pytest.raises(ValueError, match="one vector"):
        layernorm_jacobian_norm(torch.randn(2, 8))


def test_pre_norm_stream_grows_and_last_gradient_falls_with_depth():
    (s2, g2), (s16, g16) = stream_and_last_gradient(2), stream_and_last_gradient(16)
    assert s16 > s2 and g16 < g2
    ratios = relative_block_updates("pre", 12)
    assert ratios.shape == (12,) and ratios[-1] < ratios[0]


def test_gpt2_scale_counts_two_residual_layers_per_block():
    assert gpt2_residual_scale(12) == pytest.approx(1 / math.sqrt(24), abs=1e-3)
    plain, scaled = build_stack("pre", 3, SMALL, 0), build_initialised("gpt2", 3, SMALL, 0)
    for a, b in zip(plain.blocks, scaled.blocks):
        assert torch.allclose(b.ffn.linear2.weight, a.ffn.linear2.weight / math.sqrt(6))
        assert torch.equal(b.ffn.linear1.weight, a.ffn.linear1.weight)


def test_tfixup_and_rezero_have_no_norms_and_rezero_starts_as_identity():
    for init in ("t-fixup", "rezero"):
        stack = build_initialised(init, 3, SMALL, 0)
        assert not any(isinstance(m, torch.nn.LayerNorm) for m in stack.modules()), init
    rezero = build_initialised("rezero", 3, SMALL, 0)
    x = torch.randn(2, 4, 16)
    assert torch.equal(rezero(x), x)
    assert init_output_change("rezero", 3, SMALL) == 0.0


def test_admin_weights_grow_along_the_stack_and_keep_post_norm_outputs():
    stack = build_initialised("admin", 4, SMALL, 0)
    omegas = torch.cat([b.omega for b in stack.blocks])
    assert omegas[0] == pytest.approx(1.0, rel=0.2) and all(omegas[1:] > omegas[:-1])
    out = stack(torch.randn(2, 4, 16))
    assert out.pow(2).mean(-1).mean().item() == pytest.approx(1.0, rel=1e-3)  # LN output


def test_plain_inits_measure_what_experiments_output_change_measures():
    assert init_output_change("post", 4, SMALL) == pytest.approx(output_change("post", 4, SMALL))
    with pytest.raises(ValueError, match="unknown initialisation"):
        build_initialised("fixup", 2)
    assert set(INITS) >= {"gpt2", "t-fixup", "rezero", "admin", "deepnorm"}
    assert isinstance(build_initialised("deepnorm", 2, SMALL), TransformerStack)
