"""Multi-head self-attention, every step written out.

    q = x W_Q            (batch, seq, n_heads * head_dim)
    k, v = x W_K, x W_V  (batch, seq, n_kv_heads * head_dim) each
    [QK-norm]            a norm on q and k (OLMo 2: over all heads; Gemma 3: per head)
    split heads          (batch, heads, seq, head_dim)
    [RoPE]               rotate q and k by their position (Su et al. 2021, RoFormer, section 3)
    [repeat K/V]         each K/V head serves n_heads / n_kv_heads query heads (GQA)
    scores = q k^T * scale                             (batch, heads, seq, seq)
    mask (causal and/or key padding) -> the dtype's most negative number
    weights = dropout(softmax(scores))                 (batch, heads, seq, seq)
    merge heads of weights v                           (batch, seq, n_heads * head_dim)
    out = merged W_O                                   (batch, seq, d_model)

The bracketed steps are off by default, so ``MultiHeadSelfAttention(d_model, n_heads)``
is the attention of Vaswani et al. 2017 (section 3.2.2). Each step is a small named
module, so ``trace_shapes`` can list it with its shapes. Dropout on the attention
weights sits where ``nn.MultiheadAttention`` puts it.

Why the most negative number and not -inf: a query row whose keys are *all* masked
(a pad token under a causal mask with left padding) would be softmax(-inf, ..., -inf) =
0/0 = NaN, and the next layer spreads that NaN to every token. A finite fill gives such
a row uniform weights instead (its output is garbage, but finite, and nothing reads it);
other rows are unchanged because exp(min - max) is exactly 0. Hugging Face does the same.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .norms import make_norm
from .shapes import ShapeError, expect_divisible, expect_shape


class SplitHeads(nn.Module):
    """(batch, seq, heads * head_dim) -> (batch, heads, seq, head_dim)."""

    def __init__(self, n_heads: int) -> None:
        super().__init__()
        self.n_heads = n_heads

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, seq, width = x.shape
        # view first (heads are contiguous slices of the features), then swap seq and heads
        return x.view(batch, seq, self.n_heads, width // self.n_heads).transpose(1, 2)


class MergeHeads(nn.Module):
    """(batch, heads, seq, head_dim) -> (batch, seq, heads * head_dim): the inverse of SplitHeads."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, heads, seq, head_dim = x.shape
        return x.transpose(1, 2).reshape(batch, seq, heads * head_dim)


class ScaledScores(nn.Module):
    """q (batch, heads, seq, head_dim), k (same) -> q k^T * scale (batch, heads, seq, seq).

    ``scale=None`` is 1 / sqrt(head_dim) (Vaswani et al. 2017, Eq. 1); Gemma 2/3 use
    1 / sqrt(query_pre_attn_scalar) instead.
    """

    def __init__(self, scale: float | None = None) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        if self.scale is None:
            return q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
        return q @ k.transpose(-2, -1) * self.scale


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    """(x1, x2) -> (-x2, x1) on the two halves of the last axis (GPT-NeoX / LLaMA pairing)."""
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def rotate_pairs(x: torch.Tensor) -> torch.Tensor:
    """(x0, x1, x2, x3, ...) -> (-x1, x0, -x3, x2, ...): neighbours form pairs (GPT-J, the paper)."""
    return torch.stack((-x[..., 1::2], x[..., 0::2]), dim=-1).flatten(-2)


class RotaryEmbedding(nn.Module):
    """RoPE (Su et al. 2021, RoFormer, section 3): rotate each pair of features of q and k by an
    angle ``position * base^(-2i / rotary_dim)``, so that q_m . k_n depends on m - n only.

    q, k: (batch, heads, seq, head_dim) -> the same, rotated. Only the first ``rotary_dim``
    features of each head turn (GPT-J and GPT-NeoX rotate a part; LLaMA all of it).
    ``interleaved=True`` pairs neighbouring features (GPT-J), ``False`` pairs feature i
    with i + rotary_dim / 2 (GPT-NeoX, LLaMA and most of Hugging Face).
    No parameters: the angles are computed from the positions on every call.
    """

    def __init__(self, rotary_dim: int, base: float = 10000.0, interleaved: bool = False) -> None:
        super().__init__()
        if rotary_dim % 2:
            raise ShapeError(f"RoPE rotates pairs of features: expected an even rotary_dim, got {rotary_dim}")
        self.rotary_dim, self.base, self.interleaved = rotary_dim, base, interleaved

    def angles(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """positions (seq,) -> cos, sin (seq, rotary_dim), each angle repeated for its pair."""
        inv_freq = 1.0 / self.base ** (
            torch.arange(0, self.rotary_dim, 2, dtype=torch.float32, device=positions.device) / self.rotary_dim
        )
        theta = positions.float()[:, None] * inv_freq[None, :]  # (seq, rotary_dim / 2)
        if self.interleaved:
            theta = theta.repeat_interleave(2, dim=-1)  # t0 t0 t1 t1 ...
        else:
            theta = torch.cat((theta, theta), dim=-1)  # t0 t1 ... t0 t1 ...
        return theta.cos(), theta.sin()

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, positions: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        if positions is None:
            positions = torch.arange(q.shape[-2], device=q.device)
        cos, sin = (t.to(q.dtype) for t in self.angles(positions))
        rotate = rotate_pairs if self.interleaved else rotate_half
        return tuple(self._turn(t, cos, sin, rotate) for t in (q, k))

    def _turn(self, x: Tensor, cos: Tensor, sin: Tensor, rotate: Callable[[Tensor], Tensor]) -> Tensor:
        turned, kept = x[..., : self.rotary_dim], x[..., self.rotary_dim :]
        return torch.cat((turned * cos + rotate(turned) * sin, kept), dim=-1)

    def extra_repr(self) -> str:
        return f"rotary_dim={self.rotary_dim}, base={self.base:g}, interleaved={self.interleaved}"


class RepeatKV(nn.Module):
    """(batch, n_kv_heads, seq, head_dim) -> (batch, n_kv_heads * groups, seq, head_dim).

    Grouped-query attention (Ainslie et al. 2023, section 2.2): each K/V head is shared by
    ``groups`` consecutive query heads; ``groups = n_heads`` is multi-query attention.
    """

    def __init__(self, groups: int) -> None:
        super().__init__()
        self.groups = groups

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.groups == 1 else x.repeat_interleave(self.groups, dim=1)


class MultiHeadSelfAttention(nn.Module):
    """Self-attention over ``(batch, seq, d_model)``; output has the same shape.

    ``key_padding_mask`` is ``(batch, seq)`` bool with True where a position is padding
    (PyTorch's convention); ``causal=True`` lets position i see only positions <= i.
    With ``need_weights=True`` also returns the weights ``(batch, heads, seq, seq)``.

    Options beyond the 2017 attention (all off by default): ``n_kv_heads`` (GQA; 1 is
    MQA), ``head_dim`` (default d_model / n_heads), ``qkv_bias`` / ``out_bias``,
    ``rope_base`` (RoPE on, with ``rotary_dim`` and ``rope_interleaved``), ``qk_norm``
    (``"head"``: a norm over each head's features, Gemma 3; ``"all"``: over all heads'
    features before the split, OLMo 2), ``scale`` of the scores.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        causal: bool = False,
        *,
        n_kv_heads: int | None = None,
        head_dim: int | None = None,
        qkv_bias: bool = True,
        out_bias: bool = True,
        rope_base: float | None = None,
        rotary_dim: int | None = None,
        rope_interleaved: bool = False,
        qk_norm: str | None = None,
        norm: str = "rms",
        eps: float | None = None,
        unit_offset: bool = False,
        scale: float | None = None,
    ) -> None:
        super().__init__()
        self.d_head = expect_divisible(d_model, n_heads) if head_dim is None else head_dim
        n_kv_heads = n_heads if n_kv_heads is None else n_kv_heads
        if n_kv_heads <= 0 or n_heads % n_kv_heads:
            raise ShapeError(
                f"n_heads={n_heads} is not a multiple of n_kv_heads={n_kv_heads}: expected "
                f"each K/V head to serve the same number of query heads"
            )
        if qk_norm not in (None, "head", "all"):
            raise ValueError(f"unknown qk_norm {qk_norm!r}: expected None, 'head' or 'all'")
        self.d_model, self.n_heads, self.n_kv_heads, self.causal = d_model, n_heads, n_kv_heads, causal
        q_width, kv_width = n_heads * self.d_head, n_kv_heads * self.d_head
        self.q_proj = nn.Linear(d_model, q_width, bias=qkv_bias)
        self.k_proj = nn.Linear(d_model, kv_width, bias=qkv_bias)
        self.v_proj = nn.Linear(d_model, kv_width, bias=qkv_bias)
        self.qk_norm = qk_norm
        if qk_norm is not None:
            q_size, k_size = (self.d_head, self.d_head) if qk_norm == "head" else (q_width, kv_width)
            self.q_norm = make_norm(norm, q_size, eps, unit_offset)
            self.k_norm = make_norm(norm, k_size, eps, unit_offset)
        self.split_heads = SplitHeads(n_heads)
        if n_kv_heads != n_heads:  # only GQA / MQA has these two steps (and its trace shows them)
            self.split_kv_heads = SplitHeads(n_kv_heads)
            self.repeat_kv = RepeatKV(n_heads // n_kv_heads)
        self.rope = None
        if rope_base is not None:
            self.rope = RotaryEmbedding(self.d_head if rotary_dim is None else rotary_dim, rope_base, rope_interleaved)
        self.scores = ScaledScores(scale)
        self.softmax = nn.Softmax(dim=-1)
        self.dropout = nn.Dropout(dropout)
        self.merge_heads = MergeHeads()
        self.out_proj = nn.Linear(q_width, d_model, bias=out_bias)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # As nn.MultiheadAttention: Xavier-uniform Q/K/V, zero biases.
        for proj in (self.q_proj, self.k_proj, self.v_proj):
            nn.init.xavier_uniform_(proj.weight)
            if proj.bias is not None:
                nn.init.zeros_(proj.bias)
        if self.out_proj.bias is not None:
            nn.init.zeros_(self.out_proj.bias)

    def forward(
        self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None, need_weights: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        expect_shape(x, "attention input", "batch", "seq", ("d_model", self.d_model))
        batch, seq, _ = x.shape
        grouped = self.n_kv_heads != self.n_heads
        split_kv = self.split_kv_heads if grouped else self.split_heads
        q = self.q_proj(x)
        if self.qk_norm == "all":
            q = self.q_norm(q)
        q = self.split_heads(q)  # (batch, heads, seq, head_dim)
        k = self.k_proj(x)
        if self.qk_norm == "all":
            k = self.k_norm(k)
        k = split_kv(k)  # (batch, kv_heads, seq, head_dim)
        v = split_kv(self.v_proj(x))
        if self.qk_norm == "head":
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rope is not None:
            q, k = self.rope(q, k)
        if grouped:
            k, v = self.repeat_kv(k), self.repeat_kv(v)  # (batch, heads, seq, head_dim)
        scores = self.scores(q, k)  # (batch, heads, seq, seq)
        blocked = self._blocked_positions(key_padding_mask, batch, seq, x.device)
        if blocked is not None:
            scores = scores.masked_fill(blocked, torch.finfo(scores.dtype).min)
        weights = self.softmax(scores)  # each row sums to 1 over the keys
        out = self.merge_heads(self.dropout(weights) @ v)  # (batch, seq, heads * head_dim)
        out = self.out_proj(out)
        return (out, weights) if need_weights else out

    def _blocked_positions(
        self, key_padding_mask: Tensor | None, batch: int, seq: int, device: torch.device
    ) -> Tensor | None:
        """Bool (batch or 1, 1, seq or 1, seq), True where a query may not look."""
        blocked = None
        if self.causal:
            # query i may not see key j > i: the strict upper triangle
            blocked = torch.ones(seq, seq, dtype=torch.bool, device=device).triu(1)[None, None]
        if key_padding_mask is not None:
            expect_shape(key_padding_mask, "key_padding_mask", ("batch", batch), ("seq", seq))
            if key_padding_mask.dtype != torch.bool:
                raise ShapeError(
                    f"key_padding_mask: expected dtype torch.bool (True = padding), got {key_padding_mask.dtype}"
                )
            # one row per sequence, broadcast over heads and queries: hides padded *keys*
            padded = key_padding_mask[:, None, None, :]
            blocked = padded if blocked is None else blocked | padded
        return blocked
