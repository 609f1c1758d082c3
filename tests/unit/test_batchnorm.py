"""normlab.studies.batchnorm: BatchNorm couples the tokens of a batch, LayerNorm does not."""

import pytest
import torch

from normlab.studies.batchnorm import (
    MEASURE,
    TokenBatchNorm,
    batch_dependence,
    block_with,
    causal_leakage,
    leakage,
    padding_leakage,
)


def test_token_batch_norm_uses_each_features_statistics_over_every_token():
    x = torch.randn(3, 5, 8) * 4 + 2
    y = TokenBatchNorm(8).train()(x)
    tokens = x.reshape(-1, 8)
    expected = (tokens - tokens.mean(0)) / torch.sqrt(tokens.var(0, unbiased=False) + 1e-5)
    assert torch.allclose(y.reshape(-1, 8), expected, atol=1e-5)
    assert torch.allclose(y.reshape(-1, 8).mean(0), torch.zeros(8), atol=1e-5)


def test_the_layer_norm_block_is_normlabs_block_and_the_batch_one_swaps_only_the_norms():
    layer, batch = block_with("layer", 0), block_with("batch", 0)
    assert isinstance(layer.norm1, torch.nn.LayerNorm) and isinstance(batch.norm2, TokenBatchNorm)
    same = {k: v for k, v in layer.state_dict().items() if "norm" not in k}
    assert all(torch.equal(v, batch.state_dict()[k]) for k, v in same.items()), "same seeded weights"
    with pytest.raises(ValueError, match="unknown norm"):
        block_with("group", 0)


@pytest.mark.parametrize("measure", [batch_dependence, padding_leakage, causal_leakage])
def test_layer_norm_does_not_leak_batch_norm_does_in_training_only(measure):
    assert measure("layer", 0) < 1e-5
    assert measure("batch", 0) > 1e-2
    assert measure("batch", 0, train=False) < 1e-5  # running statistics: no batch coupling


def test_leakage_reports_every_measurement_for_both_norms_and_each_seed():
    table = leakage(range(2))
    assert set(table) == {(m, n) for m in MEASURE for n in ("layer", "batch")}
    assert all(len(values) == 2 for values in table.values())
