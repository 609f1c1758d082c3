"""Visible checks for exercises/shape_debugging: functions whose shapes (or values) are wrong.

Most of these bugs keep the right shape and scramble the values, so every check looks
at where each number ends up, not just at ``.shape``. The checks use one small
configuration; the hidden tests add random ones (e.g. seq != d_head, batch != seq).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from ._core import CheckFailed, close, expect, expect_function, expect_tensor, question, reject_normlab

BATCH, SEQ, D_MODEL, N_HEADS = 2, 3, 8, 2
D_HEAD = D_MODEL // N_HEADS


def _not_contiguous_hint(error: RuntimeError) -> None:
    if "view size is not compatible" in str(error):
        raise CheckFailed(
            "view() needs a contiguous tensor and a transpose makes it non-contiguous: "
            "use .reshape(...) (or .contiguous().view(...)) after transposing"
        ) from None
    raise error


@question("shape_debugging", "Q1 split_heads", ["split_heads"], hidden=2)
def split_heads(fn: Callable[..., Any]) -> None:
    expect_function(fn, "split_heads", 2)
    x = torch.randn(BATCH, SEQ, D_MODEL)
    try:
        out = fn(x, N_HEADS)
    except RuntimeError as error:
        _not_contiguous_hint(error)
    expect_tensor(
        out,
        (BATCH, N_HEADS, SEQ, D_HEAD),
        "split_heads(x, n_heads)",
        "(batch, seq, d_model) -> (batch, heads, seq, d_head)",
    )
    # head h at position s holds features h*d_head ... (h+1)*d_head - 1 of token s
    for b, h, s in ((0, 1, 2), (1, 0, 1), (1, 1, 0)):
        if not torch.equal(out[b, h, s], x[b, s, h * D_HEAD : (h + 1) * D_HEAD]):
            if torch.equal(out, x.reshape(BATCH, N_HEADS, SEQ, D_HEAD)):
                raise CheckFailed(
                    "right shape, scrambled values: reshaping (batch, seq, d_model) straight to "
                    "(batch, heads, seq, d_head) cuts across tokens, so a 'head' mixes features of "
                    "different positions. Split the feature axis first, view(batch, seq, heads, "
                    "d_head), then swap the seq and heads axes."
                )
            raise CheckFailed(
                f"right shape, wrong values: out[{b}, {h}, {s}] should be token {s}'s features "
                f"{h * D_HEAD}..{(h + 1) * D_HEAD - 1} (head {h} owns a contiguous slice of d_model)."
            )


@question("shape_debugging", "Q2 merge_heads", ["merge_heads"], hidden=2)
def merge_heads(fn: Callable[..., Any]) -> None:
    expect_function(fn, "merge_heads", 1)
    x = torch.randn(BATCH, N_HEADS, SEQ, D_HEAD)
    try:
        out = fn(x)
    except RuntimeError as error:
        _not_contiguous_hint(error)
    expect_tensor(out, (BATCH, SEQ, D_MODEL), "merge_heads(x)", "(batch, heads, seq, d_head) -> (batch, seq, d_model)")
    for b, h, s in ((0, 1, 2), (1, 0, 1), (1, 1, 0)):
        if not torch.equal(out[b, s, h * D_HEAD : (h + 1) * D_HEAD], x[b, h, s]):
            if torch.equal(out, x.reshape(BATCH, SEQ, D_MODEL)):
                raise CheckFailed(
                    "right shape, scrambled values: reshaping (batch, heads, seq, d_head) straight "
                    "to (batch, seq, d_model) without moving the heads axis mixes positions. "
                    "Swap heads and seq first (transpose(1, 2)), then reshape."
                )
            raise CheckFailed(
                f"right shape, wrong values: token {s}'s features {h * D_HEAD}..{(h + 1) * D_HEAD - 1} "
                f"should be head {h}'s output at position {s}. Check which axes you transpose: "
                "(batch, heads, seq, d_head) -> (batch, seq, heads, d_head) is transpose(1, 2)."
            )


@question("shape_debugging", "Q3 FeedForward dimensions", ["FeedForward"], hidden=3)
def feed_forward(ffn_class: type[Any]) -> None:
    expect(
        isinstance(ffn_class, type) and issubclass(ffn_class, nn.Module),
        f"FeedForward should be an nn.Module class, got {ffn_class!r}",
    )
    reject_normlab(ffn_class, "FeedForward")
    d_model, d_ff = 8, 32
    ffn = ffn_class(d_model, d_ff)
    for name, (d_in, d_out) in (("linear1", (d_model, d_ff)), ("linear2", (d_ff, d_model))):
        layer: Any = getattr(ffn, name, None)
        expect(isinstance(layer, nn.Linear), f"FeedForward should have an nn.Linear called {name}")
        expect(
            (layer.in_features, layer.out_features) == (d_in, d_out),
            f"{name} maps {layer.in_features} -> {layer.out_features} features, expected "
            f"{d_in} -> {d_out}: nn.Linear(in_features, out_features), and the FFN goes "
            "d_model -> d_ff -> d_model (its weight is stored as (out, in)).",
        )
    x = torch.randn(2, 3, d_model)
    try:
        out = ffn(x)
    except RuntimeError as error:
        if "shapes cannot be multiplied" in str(error):
            raise CheckFailed(
                f"the layers don't chain: {error}. The FFN applies linear1 "
                "(d_model -> d_ff), the activation, then linear2 (d_ff -> d_model)."
            ) from None
        raise
    expect_tensor(
        out, (2, 3, d_model), "FeedForward(d_model, d_ff)(x)", "the FFN works per position and returns d_model features"
    )


@question("shape_debugging", "Q4 apply_padding_mask", ["apply_padding_mask"], hidden=2)
def apply_padding_mask(fn: Callable[..., Any]) -> None:
    expect_function(fn, "apply_padding_mask", 2)
    scores = torch.randn(BATCH, N_HEADS, SEQ, SEQ)
    mask = torch.zeros(BATCH, SEQ, dtype=torch.bool)
    mask[0, 2] = True  # sample 0: token 2 is padding
    out = fn(scores.clone(), mask)
    expect_tensor(
        out,
        (BATCH, N_HEADS, SEQ, SEQ),
        "apply_padding_mask(scores, mask)",
        "scores keep their shape (batch, heads, seq_q, seq_k)",
    )
    weights = out.float().softmax(dim=-1)
    key_masked = bool((weights[0, :, :, 2] < 1e-6).all())
    query_masked = bool((out[0, :, 2, :] < -1e4).all())
    if query_masked and not key_masked:
        raise CheckFailed(
            "the mask blocks a query (a row) instead of a key (a column): "
            "key_padding_mask is (batch, seq_k), so broadcast it as "
            "mask[:, None, None, :] against (batch, heads, seq_q, seq_k)."
        )
    expect(
        key_masked,
        "padded keys still get attention weight after softmax: fill masked scores with "
        "float('-inf') (or a very large negative number), not 0 — softmax gives a score of 0 "
        "plenty of weight.",
    )
    keep = ~mask[:, None, None, :].expand_as(scores)
    expect(
        close(out[keep], scores[keep]),
        "scores of real (unpadded) keys changed: only the padded keys' columns should change",
    )


@question("shape_debugging", "Q5 batch-first self_attend", ["self_attend"], hidden=2)
def self_attend(fn: Callable[..., Any]) -> None:
    expect_function(fn, "self_attend", 2)
    batch, seq = 3, 4
    mha = nn.MultiheadAttention(D_MODEL, N_HEADS).eval()  # batch_first=False, as by default
    reject_normlab(fn, "self_attend")
    x = torch.randn(batch, seq, D_MODEL)
    out = fn(mha, x)
    expect(isinstance(out, torch.Tensor), f"self_attend should return a tensor, got {type(out).__name__}")
    if tuple(out.shape) == (seq, batch, D_MODEL):
        raise CheckFailed(
            "the output is (seq, batch, d_model): you transposed the input for the "
            "seq-first module but did not transpose the result back to (batch, seq, d_model)."
        )
    expect_tensor(out, (batch, seq, D_MODEL), "self_attend(mha, x)")
    changed = x.clone()
    changed[1] = torch.randn(seq, D_MODEL)
    out_changed = fn(mha, changed)
    expect(
        close(out[0], out_changed[0], atol=1e-6) and close(out[2], out_changed[2], atol=1e-6),
        "changing sequence 1 changed the output of sequences 0 and 2: attention is mixing "
        "examples of the batch. nn.MultiheadAttention is seq-first by default (batch_first=False): "
        "it reads your (batch, seq, d_model) as (seq, batch, d_model). Transpose in and out.",
    )
