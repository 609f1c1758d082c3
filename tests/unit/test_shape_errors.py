"""Bad inputs get a ShapeError (or ValueError) that names the tensor, what was expected
and what came, at the point of the mistake."""

import re

import pytest
import torch

from normlab import FeedForward, MultiHeadSelfAttention, PreNormBlock, ShapeError, TransformerStack

BLOCK = PreNormBlock(64, 4, 256)
ATTN = MultiHeadSelfAttention(64, 4)

CASES = [
    (
        "block input, wrong d_model",
        lambda: BLOCK(torch.randn(2, 10, 32)),
        ShapeError,
        "block input: expected (batch, seq, d_model=64), got (2, 10, 32)",
    ),
    (
        "block input, 2-D",
        lambda: BLOCK(torch.randn(10, 64)),
        ShapeError,
        "block input: expected (batch, seq, d_model=64), got (10, 64); "
        "a single example needs a batch dimension first, e.g. x.unsqueeze(0)",
    ),
    (
        "attention input, wrong d_model",
        lambda: ATTN(torch.randn(2, 10, 32)),
        ShapeError,
        "attention input: expected (batch, seq, d_model=64), got (2, 10, 32)",
    ),
    (
        "attention input, 4-D",
        lambda: ATTN(torch.randn(2, 4, 10, 16)),
        ShapeError,
        "attention input: expected (batch, seq, d_model=64), got (2, 4, 10, 16)",
    ),
    (
        "feed-forward input, wrong d_model",
        lambda: FeedForward(64, 256)(torch.randn(2, 10, 256)),
        ShapeError,
        "feed-forward input: expected (batch, seq, d_model=64), got (2, 10, 256)",
    ),
    (
        "d_model not divisible by n_heads",
        lambda: PreNormBlock(64, 5, 256),
        ShapeError,
        "d_model=64 is not divisible by n_heads=5: expected d_model % n_heads == 0 "
        "so each head gets d_model / n_heads features",
    ),
    (
        "mask with seq and batch swapped",
        lambda: BLOCK(torch.randn(2, 10, 64), key_padding_mask=torch.zeros(10, 2, dtype=torch.bool)),
        ShapeError,
        "key_padding_mask: expected (batch=2, seq=10), got (10, 2)",
    ),
    (
        "mask per query and key",
        lambda: BLOCK(torch.randn(2, 10, 64), key_padding_mask=torch.zeros(2, 10, 10, dtype=torch.bool)),
        ShapeError,
        "key_padding_mask: expected (batch=2, seq=10), got (2, 10, 10)",
    ),
    (
        "float mask",
        lambda: BLOCK(torch.randn(2, 10, 64), key_padding_mask=torch.zeros(2, 10)),
        ShapeError,
        "key_padding_mask: expected dtype torch.bool (True = padding), got torch.float32",
    ),
    (
        "not a tensor",
        lambda: BLOCK([[0.0] * 64]),
        ShapeError,
        "block input: expected a torch.Tensor (batch, seq, d_model=64), got list",
    ),
    (
        "float tokens into a language model",
        lambda: TransformerStack(1, 64, 4, 256, vocab_size=10)(torch.randn(2, 5)),
        ShapeError,
        "token ids: expected an integer tensor (batch, seq), got torch.float32",
    ),
    (
        "embeddings into a language model",
        lambda: TransformerStack(1, 64, 4, 256, vocab_size=10)(torch.randn(2, 5, 64)),
        ShapeError,
        "token ids: expected (batch, seq), got (2, 5, 64)",
    ),
    (
        "unknown activation",
        lambda: PreNormBlock(64, 4, 256, activation="tanh"),
        ValueError,
        "unknown activation 'tanh': expected one of 'relu', 'gelu', 'gelu_exact', 'gelu_tanh', 'silu'",
    ),
]


@pytest.mark.parametrize("what,call,error,message", CASES, ids=[c[0] for c in CASES])
def test_bad_input_message(what, call, error, message):
    with pytest.raises(error, match=f"^{re.escape(message)}$"):
        call()


def test_shape_error_is_a_value_error():
    # so code that catches ValueError for bad arguments still catches it
    assert issubclass(ShapeError, ValueError)
