"""normlab.studies.depthfixes: Mix-LN, LayerNorm scaling, Peri-LN and NormFormer built and measured."""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

from normlab import TransformerStack
from normlab.nn.blocks import PostNormBlock, PreNormBlock, SandwichBlock
from normlab.studies.depthfixes import (
    DEPTH_FIXES,
    DepthScaledNorm,
    measure_trained,
    mix_ln,
    normformer,
    scale_norms_by_depth,
    stream_size,
    train_depth_fix,
)
from normlab.studies.lm import LMConfig, train_lm, validation_batch


def stack(n_layers=4, placement="pre"):
    torch.manual_seed(0)
    return TransformerStack(n_layers, 16, 2, 32, placement=placement, causal=True, vocab_size=128, max_seq_len=32)


def test_layernorm_scaling_multiplies_each_norm_by_one_over_sqrt_l():
    model = stack(4)
    plain = [(block.norm1, block.norm2) for block in model.blocks]
    scale_norms_by_depth(model)
    x = torch.randn(2, 5, 16)
    for layer, (block, (norm1, norm2)) in enumerate(zip(model.blocks, plain), start=1):
        for scaled, norm in ((block.norm1, norm1), (block.norm2, norm2)):
            assert isinstance(scaled, DepthScaledNorm) and scaled.norm is norm
            assert torch.allclose(scaled(x), norm(x) / np.sqrt(layer), atol=1e-6)
    assert not isinstance(model.final_norm, DepthScaledNorm)  # the final norm is not scaled
    with pytest.raises(ValueError, match="already scaled"):
        scale_norms_by_depth(model)


def test_layernorm_scaling_changes_only_what_the_branches_read():
    # Block 1's factor is 1: the first block computes what the pre-norm block computes.
    model, scaled = stack(2), scale_norms_by_depth(stack(2))
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        assert torch.allclose(model.blocks[0](x), scaled.blocks[0](x), atol=1e-6)
        assert not torch.allclose(model.blocks[1](x), scaled.blocks[1](x), atol=1e-4)


def test_depth_scaled_norm_needs_a_layer_counted_from_one():
    with pytest.raises(ValueError, match="counted from 1"):
        DepthScaledNorm(torch.nn.LayerNorm(4), 0)


def test_mix_ln_makes_the_first_quarter_post_norm_with_the_same_weights():
    model = stack(8)
    weights = model.blocks[0].attn.q_proj.weight.detach().clone()
    mix_ln(model)
    kinds = [type(block) for block in model.blocks]
    assert kinds == [PostNormBlock] * 2 + [PreNormBlock] * 6  # floor(0.25 * 8) = 2
    assert torch.equal(model.blocks[0].attn.q_proj.weight, weights)
    assert model.final_norm is not None  # the pre-norm blocks at the top still need it
    # a post-norm block's output is normalised: ||x||^2 / d = 1 with unit gains
    x = torch.randn(2, 5, 16) * 3
    with torch.no_grad():
        assert model.blocks[0](x).pow(2).mean(-1).allclose(torch.ones(2, 5), atol=1e-3)
    assert [type(b) for b in mix_ln(stack(8), post_fraction=0.5).blocks].count(PostNormBlock) == 4


def test_mix_ln_and_layernorm_scaling_refuse_what_they_cannot_rewrite():
    with pytest.raises(ValueError, match="pre-norm blocks"):
        mix_ln(stack(4, "sandwich"))
    with pytest.raises(ValueError, match="pre-norm blocks"):
        mix_ln(mix_ln(stack(8)))  # already mixed
    with pytest.raises(ValueError, match="pre-norm blocks"):
        scale_norms_by_depth(stack(4, "post"))
    with pytest.raises(ValueError, match="no post-norm block"):
        mix_ln(stack(2))
    with pytest.raises(ValueError, match="between 0 and 1"):
        mix_ln(stack(4), post_fraction=1.0)


def test_normformer_block_is_x_plus_norm_of_attention_then_a_normed_ffn_hidden_layer():
    model = stack(2)
    x = torch.randn(3, 10, 16)
    with torch.no_grad():
        for block in model.blocks:  # non-trivial gains and biases, so a missing norm shows
            for p in block.parameters():
                p.add_(0.3 * torch.randn_like(p))
    plain = [copy.deepcopy(block) for block in model.blocks]
    normformer(model)
    for block, old in zip(model.blocks, plain):
        attn_norm, hidden_norm = block.attn.norm, block.ffn.activation[1]
        assert hidden_norm.normalized_shape == (32,)  # over d_ff, after the activation
        with torch.no_grad():
            h = x + attn_norm(old.attn(old.norm1(x)))  # norm on the attention output, before the add
            f = old.ffn
            expected = h + f.linear2(hidden_norm(f.activation(f.linear1(old.norm2(h)))))
            assert torch.allclose(block(x), expected, atol=1e-5)
            assert not torch.allclose(old(x), expected, atol=1e-3)


def test_normformer_refuses_a_stack_it_cannot_rewrite():
    with pytest.raises(ValueError, match="pre-norm"):
        normformer(stack(2, "post"))
    model = normformer(stack(2))
    with pytest.raises(ValueError):
        normformer(model)
    assert DEPTH_FIXES["NormFormer"] == {"placement": "pre", "modify": normformer}


def test_peri_ln_is_the_sandwich_placement():
    assert DEPTH_FIXES["Peri-LN"] == {"placement": "sandwich"}
    assert all(isinstance(b, SandwichBlock) for b in stack(2, "sandwich").blocks)


def test_stream_size_is_the_mean_square_of_each_block_output():
    model = stack(3)
    inputs, _ = validation_batch(LMConfig())
    size = stream_size(model, inputs)
    with torch.no_grad():
        x = model._embed(inputs)
        for i, block in enumerate(model.blocks):
            x = block(x)
            assert size[i] == pytest.approx(float(x.pow(2).mean()), rel=1e-5)


def test_train_lm_modify_is_cached_by_position_or_name_and_changes_the_run():
    tiny = replace(LMConfig(), steps=10, warmup=2, profile_every=5)
    plain = train_lm("pre", 4, tiny, (0, 1))
    assert train_lm(placement="pre", n_layers=4, config=tiny, seeds=[0, 1]) is plain
    mixed = train_lm("pre", 4, tiny, (0, 1), modify=mix_ln)
    assert mixed is not plain and all(isinstance(run["model"].blocks[0], PostNormBlock) for run in mixed)
    assert train_lm("pre", 4, tiny, (0, 1), mix_ln) is mixed


def test_every_depth_fix_trains_and_is_measured():
    tiny = replace(LMConfig(), steps=10, warmup=2, profile_every=5)
    for name in DEPTH_FIXES:
        runs = train_depth_fix(name, tiny, n_layers=4, seeds=(0, 1))
        row = measure_trained(runs, tiny)
        assert np.all(np.isfinite(row["val_loss"])) and np.all(row["val_loss"] < np.log(128) + 0.5)
        assert row["cosine"].shape == row["dropped"].shape == row["stream"].shape == (2, 4)  # (seeds, blocks)
    assert train_depth_fix("pre-norm", tiny, 4, (0, 1)) is train_lm("pre", 4, tiny, (0, 1))


def test_train_depth_fix_knows_only_the_listed_fixes():
    with pytest.raises(ValueError, match="unknown depth fix"):
        train_depth_fix("DeepNorm")
