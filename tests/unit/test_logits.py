"""normlab.studies.logits: attention entropy against the scale of W_Q/W_K, QK-norm, soft-cap, z-loss."""

import math

import pytest
import torch

from normlab import MultiHeadSelfAttention
from normlab.studies.logits import attention_weights, entropy_vs_qk_scale, row_entropy, soft_cap, z_loss


def test_entropy_collapses_without_qk_norm_and_stays_with_it():
    plain = entropy_vs_qk_scale((1, 4, 16), False, d_model=32, n_heads=2, seq=8)
    normed = entropy_vs_qk_scale((1, 4, 16), True, d_model=32, n_heads=2, seq=8)
    assert plain["entropy"][0] > plain["entropy"][1] > plain["entropy"][2]
    assert plain["max_logit"][2] == pytest.approx(256 * plain["max_logit"][0], rel=1e-3)  # scale^2
    assert normed["entropy"] == pytest.approx([normed["entropy"][0]] * 3, abs=1e-5)
    assert normed["max_logit"].max() <= math.sqrt(16) + 1e-4


def test_weights_are_a_softmax_and_entropy_bounds():
    attn = MultiHeadSelfAttention(16, 2)
    weights, logits = attention_weights(attn, torch.randn(2, 5, 16))
    assert weights.shape == logits.shape == (2, 2, 5, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 2, 5))
    assert row_entropy(torch.full((1, 4), 0.25)) == pytest.approx(math.log(4))
    assert row_entropy(torch.tensor([[1.0, 0.0, 0.0]])) == pytest.approx(0.0, abs=1e-6)


def test_soft_cap_and_z_loss():
    z = torch.tensor([0.1, 5.0, 1e4])
    assert soft_cap(z, 50.0)[0] == pytest.approx(0.1, rel=1e-4) and soft_cap(z, 50.0).max() <= 50
    with pytest.raises(ValueError, match="cap must be > 0"):
        soft_cap(z, 0)
    logits = torch.zeros(1, 4)
    assert z_loss(logits, 1.0).item() == pytest.approx(math.log(4) ** 2)
