"""Multi-head self-attention, every step written out.

    q, k, v = x W_Q, x W_K, x W_V                      (batch, seq, d_model) each
    split heads                                        (batch, heads, seq, d_head)
    scores = q k^T / sqrt(d_head)                      (batch, heads, seq, seq)
    mask (causal and/or key padding) -> -inf
    weights = dropout(softmax(scores))                 (batch, heads, seq, seq)
    merge heads of weights v                           (batch, seq, d_model)
    out = merged W_O                                   (batch, seq, d_model)

Each step is a small named module, so ``trace_shapes`` can list it with its shapes.
Dropout on the attention weights sits where ``nn.MultiheadAttention`` puts it.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .shapes import ShapeError, expect_divisible, expect_shape


class SplitHeads(nn.Module):
    """(batch, seq, d_model) -> (batch, heads, seq, d_head)."""

    def __init__(self, n_heads: int):
        super().__init__()
        self.n_heads = n_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, d_model = x.shape
        # view first (heads are contiguous slices of d_model), then swap seq and heads
        return x.view(batch, seq, self.n_heads, d_model // self.n_heads).transpose(1, 2)


class MergeHeads(nn.Module):
    """(batch, heads, seq, d_head) -> (batch, seq, d_model): the inverse of SplitHeads."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, heads, seq, d_head = x.shape
        return x.transpose(1, 2).reshape(batch, seq, heads * d_head)


class ScaledScores(nn.Module):
    """q (batch, heads, seq, d_head), k (same) -> q k^T / sqrt(d_head) (batch, heads, seq, seq)."""

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over ``(batch, seq, d_model)``; output has the same shape.

    ``key_padding_mask`` is ``(batch, seq)`` bool with True where a position is padding
    (PyTorch's convention); ``causal=True`` lets position i see only positions <= i.
    With ``need_weights=True`` also returns the weights ``(batch, heads, seq, seq)``.
    """

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0, causal: bool = False):
        super().__init__()
        self.d_head = expect_divisible(d_model, n_heads)
        self.d_model, self.n_heads, self.causal = d_model, n_heads, causal
        self.q_proj = nn.Linear(d_model, d_model)
        self.k_proj = nn.Linear(d_model, d_model)
        self.v_proj = nn.Linear(d_model, d_model)
        self.split_heads = SplitHeads(n_heads)
        self.scores = ScaledScores()
        self.softmax = nn.Softmax(dim=-1)
        self.dropout = nn.Dropout(dropout)
        self.merge_heads = MergeHeads()
        self.out_proj = nn.Linear(d_model, d_model)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        # As nn.MultiheadAttention: Xavier-uniform Q/K/V, zero biases.
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.xavier_uniform_(proj.weight)
            nn.init.zeros_(proj.bias)
        nn.init.zeros_(self.out_proj.bias)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None,
                need_weights: bool = False):
        expect_shape(x, "attention input", "batch", "seq", ("d_model", self.d_model))
        batch, seq, _ = x.shape
        q = self.split_heads(self.q_proj(x))   # (batch, heads, seq, d_head)
        k = self.split_heads(self.k_proj(x))
        v = self.split_heads(self.v_proj(x))
        scores = self.scores(q, k)             # (batch, heads, seq, seq)
        blocked = self._blocked_positions(key_padding_mask, batch, seq, x.device)
        if blocked is not None:
            scores = scores.masked_fill(blocked, float("-inf"))
        weights = self.softmax(scores)         # each row sums to 1 over the keys
        out = self.merge_heads(self.dropout(weights) @ v)   # (batch, seq, d_model)
        out = self.out_proj(out)
        return (out, weights) if need_weights else out

    def _blocked_positions(self, key_padding_mask, batch, seq, device):
        """Bool (batch or 1, 1, seq or 1, seq), True where a query may not look."""
        blocked = None
        if self.causal:
            # query i may not see key j > i: the strict upper triangle
            blocked = torch.ones(seq, seq, dtype=torch.bool, device=device).triu(1)[None, None]
        if key_padding_mask is not None:
            expect_shape(key_padding_mask, "key_padding_mask", ("batch", batch), ("seq", seq))
            if key_padding_mask.dtype != torch.bool:
                raise ShapeError(
                    f"key_padding_mask: expected dtype torch.bool (True = padding), "
                    f"got {key_padding_mask.dtype}"
                )
            # one row per sequence, broadcast over heads and queries: hides padded *keys*
            padded = key_padding_mask[:, None, None, :]
            blocked = padded if blocked is None else blocked | padded
        return blocked
