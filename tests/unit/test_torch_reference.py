"""PreNormBlock / PostNormBlock carry nn.TransformerEncoderLayer's weights and match it
in output and in parameter gradients (torch.nn.TransformerEncoderLayer._sa_block, _ff_block)."""

import pytest
import torch
from torch import nn

from normlab import PostNormBlock, PreNormBlock

SIZES = [  # (d_model, n_heads, d_ff, batch, seq)
    (16, 2, 32, 2, 5),
    (64, 4, 256, 3, 9),
    (96, 8, 128, 1, 17),
]


def torch_layer(d_model, n_heads, d_ff, norm_first, batch_first, activation="relu"):
    torch.manual_seed(0)
    return nn.TransformerEncoderLayer(
        d_model, n_heads, d_ff, dropout=0.0, activation=activation, batch_first=batch_first, norm_first=norm_first
    ).eval()


def padding_mask(batch, seq):
    # the last two positions of the first sequence are padding
    mask = torch.zeros(batch, seq, dtype=torch.bool)
    mask[0, -2:] = True
    return mask


@pytest.mark.parametrize("size", SIZES, ids=lambda s: "d{}h{}ff{}".format(*s[:3]))
@pytest.mark.parametrize("cls,norm_first", [(PreNormBlock, True), (PostNormBlock, False)])
@pytest.mark.parametrize("batch_first", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_matches_torch_output_and_gradients(size, cls, norm_first, batch_first, masked):
    d_model, n_heads, d_ff, batch, seq = size
    theirs = torch_layer(d_model, n_heads, d_ff, norm_first, batch_first)
    mine = cls.from_torch(theirs).eval()
    x = torch.randn(batch, seq, d_model, generator=torch.Generator().manual_seed(1))
    mask = padding_mask(batch, seq) if masked else None

    x_mine = x.clone().requires_grad_()
    x_theirs = x.clone().requires_grad_()
    out_mine = mine(x_mine, key_padding_mask=mask)
    out_theirs = theirs(x_theirs if batch_first else x_theirs.transpose(0, 1), src_key_padding_mask=mask)
    if not batch_first:
        out_theirs = out_theirs.transpose(0, 1)
    torch.testing.assert_close(out_mine, out_theirs, atol=1e-5, rtol=1e-5)

    # the same upstream gradient through both
    upstream = torch.randn(out_mine.shape, generator=torch.Generator().manual_seed(2))
    (out_mine * upstream).sum().backward()
    (out_theirs * upstream).sum().backward()
    torch.testing.assert_close(x_mine.grad, x_theirs.grad, atol=1e-5, rtol=1e-5)

    attn = theirs.self_attn
    q_grad, k_grad, v_grad = attn.in_proj_weight.grad.chunk(3)
    pairs = {
        "q_proj": (mine.attn.q_proj.weight.grad, q_grad),
        "k_proj": (mine.attn.k_proj.weight.grad, k_grad),
        "v_proj": (mine.attn.v_proj.weight.grad, v_grad),
        "out_proj": (mine.attn.out_proj.weight.grad, attn.out_proj.weight.grad),
        "linear1": (mine.ffn.linear1.weight.grad, theirs.linear1.weight.grad),
        "linear2": (mine.ffn.linear2.weight.grad, theirs.linear2.weight.grad),
        "norm1": (mine.norm1.weight.grad, theirs.norm1.weight.grad),
        "norm2": (mine.norm2.weight.grad, theirs.norm2.weight.grad),
    }
    for name, (g_mine, g_theirs) in pairs.items():
        torch.testing.assert_close(g_mine, g_theirs, atol=1e-5, rtol=1e-5, msg=f"gradient of {name}")


def test_gelu_layer_is_carried_over():
    theirs = torch_layer(32, 4, 64, norm_first=True, batch_first=True, activation="gelu")
    mine = PreNormBlock.from_torch(theirs).eval()
    x = torch.randn(2, 6, 32)
    torch.testing.assert_close(mine(x), theirs(x), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(
    "cls,norm_first,other", [(PreNormBlock, False, "PostNormBlock"), (PostNormBlock, True, "PreNormBlock")]
)
def test_mismatched_norm_first_is_refused(cls, norm_first, other):
    layer = torch_layer(16, 2, 32, norm_first=norm_first, batch_first=True)
    with pytest.raises(
        ValueError, match=f"norm_first={not norm_first}, got norm_first={norm_first}: use {other}.from_torch"
    ):
        cls.from_torch(layer)
