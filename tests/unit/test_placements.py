"""Each placement computes its formula (the table in normlab/nn/blocks.py), checked against a direct
computation written here from the block's own sub-layers."""

import pytest
import torch

from normlab import PLACEMENTS, Block, TransformerStack

D, HEADS, FF = 32, 4, 64


def make(placement, **kw):
    torch.manual_seed(0)
    block = Block(D, HEADS, FF, placement=placement, **kw).eval()
    # non-trivial norm gains so a norm in the wrong place cannot hide
    with torch.no_grad():
        for name, p in block.named_parameters():
            if name.startswith("norm"):
                p.mul_(1.5).add_(0.1)
    return block


def attn(b, h):
    return b.attn(h)


def ffn(b, h):
    return b.ffn(h)


FORMULAS = {
    "post": lambda b, x: (lambda h: b.norm2(h + ffn(b, h)))(b.norm1(x + attn(b, x))),
    "pre": lambda b, x: (lambda h: h + ffn(b, b.norm2(h)))(x + attn(b, b.norm1(x))),
    "sandwich": lambda b, x: (lambda h: h + b.norm4(ffn(b, b.norm2(h))))(x + b.norm3(attn(b, b.norm1(x)))),
    "res-post": lambda b, x: (lambda h: h + b.norm2(ffn(b, h)))(x + b.norm1(attn(b, x))),
    "deepnorm": lambda b, x: (lambda h: b.norm2(b.alpha * h + ffn(b, h)))(b.norm1(b.alpha * x + attn(b, x))),
    "parallel": lambda b, x: x + attn(b, b.norm1(x)) + ffn(b, b.norm1(x)),
}


def test_every_placement_has_a_formula():
    assert set(FORMULAS) == set(PLACEMENTS)


@pytest.mark.parametrize("placement", PLACEMENTS)
@pytest.mark.parametrize("norm", ["layer", "rms", "scale"])
def test_block_computes_its_formula(placement, norm):
    block = make(placement, norm=norm)
    x = torch.randn(3, 7, D)
    torch.testing.assert_close(block(x), FORMULAS[placement](block, x))


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_placements_differ_from_each_other(placement):
    # guards against two placements silently sharing one wiring
    x = torch.randn(2, 5, D)
    out = make(placement)(x)
    for other in PLACEMENTS:
        if other != placement and other != "deepnorm" and placement != "deepnorm":
            assert not torch.allclose(out, make(other)(x), atol=1e-4), (placement, other)


def test_block_by_name_is_the_named_class():
    from normlab import PostNormBlock, PreNormBlock

    assert type(Block(D, HEADS, FF, placement="pre")) is PreNormBlock
    assert type(Block(D, HEADS, FF, placement="post")) is PostNormBlock
    with pytest.raises(ValueError, match="unknown placement 'mid'"):
        Block(D, HEADS, FF, placement="mid")


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_every_block_takes_the_same_constructor(placement):
    # PreNormBlock(d_model, n_heads, d_ff, dropout, norm, activation, causal) for all six
    block = Block(D, HEADS, FF, 0.0, "rms", "gelu", True, placement=placement)
    assert block.norm_name == "rms" and block.attn.causal
    assert block(torch.randn(1, 3, D)).shape == (1, 3, D)


def test_deepnorm_constants_follow_depth():
    stack = TransformerStack(12, D, HEADS, FF, placement="deepnorm")
    block = stack.blocks[0]
    assert block.alpha == pytest.approx((2 * 12) ** 0.25)
    assert block.beta == pytest.approx((8 * 12) ** -0.25)


def test_norms_match_their_formulas():
    from normlab import make_norm

    x = torch.randn(4, 6, D)
    rms = make_norm("rms", D)
    torch.testing.assert_close(rms(x), x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + rms.eps))
    scale = make_norm("scale", D)
    torch.testing.assert_close(scale(x), D**0.5 * x / x.norm(dim=-1, keepdim=True))
    layer = make_norm("layer", D)
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    torch.testing.assert_close(layer(x), (x - mean) / torch.sqrt(var + 1e-5))
    with pytest.raises(ValueError, match="unknown norm 'batch'"):
        make_norm("batch", D)


@pytest.mark.parametrize(
    "placement,has_final",
    [("post", False), ("pre", True), ("sandwich", True), ("res-post", True), ("deepnorm", False), ("parallel", True)],
)
def test_stack_final_norm(placement, has_final):
    stack = TransformerStack(3, D, HEADS, FF, placement=placement).eval()
    assert (stack.final_norm is not None) == has_final
    x = torch.randn(2, 5, D)
    h = x
    for block in stack.blocks:
        h = block(h)
    expected = stack.final_norm(h) if has_final else h
    torch.testing.assert_close(stack(x), expected)


def test_language_model_stack_gives_logits():
    stack = TransformerStack(2, D, HEADS, FF, vocab_size=11, causal=True)
    tokens = torch.randint(0, 11, (3, 8))
    assert stack(tokens).shape == (3, 8, 11)


def test_causal_attention_ignores_the_future():
    torch.manual_seed(0)
    block = Block(D, HEADS, FF, placement="pre", causal=True).eval()
    x = torch.randn(1, 6, D)
    changed = x.clone()
    changed[:, 4:] += 1.0  # change only the last two positions
    torch.testing.assert_close(block(x)[:, :4], block(changed)[:, :4])


def test_padding_mask_hides_padded_keys():
    torch.manual_seed(0)
    block = Block(D, HEADS, FF, placement="pre").eval()
    x = torch.randn(1, 6, D)
    mask = torch.tensor([[False, False, False, False, True, True]])
    changed = x.clone()
    changed[:, 4:] = torch.randn(1, 2, D)  # the padded positions' content must not matter
    torch.testing.assert_close(block(x, mask)[:, :4], block(changed, mask)[:, :4])
    _, weights = block.attn(x, key_padding_mask=mask, need_weights=True)
    assert weights.shape == (1, HEADS, 6, 6)
    assert torch.all(weights[..., 4:] == 0)
    torch.testing.assert_close(weights.sum(-1), torch.ones(1, HEADS, 6))
