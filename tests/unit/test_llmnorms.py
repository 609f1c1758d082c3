"""normlab.studies.llmnorms: invariances, float16 upcasting, Gemma's gain, DyT, nGPT's sphere."""

import pytest
import torch

from normlab import RMSNorm
from normlab.studies.llmnorms import (
    DyT,
    GemmaRMSNorm,
    float16_square_overflow_threshold,
    invariance_table,
    ngpt_stream_norms,
    output_lengths,
    rms_norm_half,
)


def test_layernorm_ignores_shift_and_scale_rmsnorm_only_scale():
    table = invariance_table(32)
    assert max(table["LayerNorm"].values()) < 1e-4
    assert table["RMSNorm"]["x * 5"] < 1e-4 and table["RMSNorm"]["x + 3"] > 0.1


def test_float16_rmsnorm_needs_a_float32_statistic():
    x = torch.full((1, 8), 300.0).half()
    assert rms_norm_half(x, upcast=False).abs().max() == 0
    assert torch.allclose(rms_norm_half(x, upcast=True).float(), torch.ones(1, 8), atol=1e-3)
    assert float16_square_overflow_threshold() == 255
    with pytest.raises(ValueError, match="float16"):
        rms_norm_half(torch.ones(2), upcast=True)


def test_gemma_gain_is_rmsnorm_with_one_plus_w():
    gemma, plain = GemmaRMSNorm(8), RMSNorm(8)
    x = torch.randn(3, 8)
    assert torch.allclose(gemma(x), plain(x), atol=1e-6)  # w = 0 is g = 1
    assert torch.count_nonzero(gemma.weight) == 0


def test_dyt_bounds_elements_but_does_not_normalise_length():
    short, long = output_lengths(DyT(16), (0.01, 1000.0), d_model=16)
    assert short < 0.01 and 0.9 < long <= 1.0
    assert DyT(4)(torch.tensor([1e6, -1e6, 0.0, 0.0])).abs().max() <= 1.0


def test_ngpt_stays_on_the_sphere_while_a_sum_grows():
    pre, ngpt = ngpt_stream_norms(12, 16)
    assert pre[-1] > pre[0] and torch.allclose(torch.tensor(ngpt), torch.ones(12, dtype=torch.float64), atol=1e-5)
