"""Theorem 1's direction (Xiong et al. 2020): at initialisation the
gradient of the last block's FFN second weight shrinks as a pre-norm stack gets deeper,
and does not shrink for post-norm. Seeded, several seeds; compares the two depths of
each seed, so no number from a run is copied in."""

import pytest
import torch

from normlab import TransformerStack, grad_norms_by_layer

D, HEADS, FF, BATCH, SEQ, CLASSES = 64, 4, 128, 8, 16, 10
SEEDS = range(4)


def last_w2_grad(placement, depth, seed):
    torch.manual_seed(seed)
    stack = TransformerStack(depth, D, HEADS, FF, placement=placement)
    head = torch.nn.Linear(D, CLASSES)
    x = torch.randn(BATCH, SEQ, D)
    target = torch.randint(0, CLASSES, (BATCH, SEQ))

    def loss(out):
        return torch.nn.functional.cross_entropy(head(out).flatten(0, 1), target.flatten())

    return grad_norms_by_layer(stack, x, loss)[-1]


@pytest.mark.slow
@pytest.mark.parametrize("seed", SEEDS)
def test_pre_norm_last_layer_gradient_falls_with_depth(seed):
    assert last_w2_grad("pre", 24, seed) < last_w2_grad("pre", 6, seed)


@pytest.mark.slow
def test_post_norm_last_layer_gradient_does_not_fall_with_depth():
    shallow = [last_w2_grad("post", 6, s) for s in SEEDS]
    deep = [last_w2_grad("post", 24, s) for s in SEEDS]
    # Theorem 1: independent of depth. Allow seed noise, forbid a pre-norm-like fall.
    assert sum(deep) / len(deep) > 0.8 * sum(shallow) / len(shallow)


def test_grad_norms_are_deterministic_and_per_layer():
    torch.manual_seed(0)
    stack = TransformerStack(3, D, HEADS, FF, dropout=0.1)
    x = torch.randn(2, 5, D)
    first = grad_norms_by_layer(stack, x, lambda y: y.pow(2).mean())
    again = grad_norms_by_layer(stack, x, lambda y: y.pow(2).mean())
    assert len(first) == 3 and first == again
    both = grad_norms_by_layer(
        stack, x, lambda y: y.pow(2).mean(), params=["ffn.linear2.weight", "attn.out_proj.weight"]
    )
    assert both["ffn.linear2.weight"] == first
    with pytest.raises(KeyError, match="no parameter 'ffn.w2'"):
        grad_norms_by_layer(stack, x, lambda y: y.sum(), params="ffn.w2")
