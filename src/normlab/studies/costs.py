"""What self-attention costs beyond one forward pass: parallelism, paths, inference, the KV cache.

Counts are multiply-adds, as in :mod:`normlab.studies.experiments` (which holds the per-layer
formulas ``attention_flops`` = ``4 n d^2 + 2 n^2 d`` and ``rnn_flops`` = ``2 n d^2`` and
the measured timings); ``n`` is the sequence length and ``d`` is d_model. This module
adds the quantities of Vaswani et al. 2017, Table 1, that are not about arithmetic, and
the cost of generating text one token at a time:

    per layer                 self-attention     recurrent (Elman) layer
    multiply-adds             4 n d^2 + 2 n^2 d  2 n d^2
    numbers held for context  heads * n^2        d (the state)
    sequential steps          1                  n   (step t needs h_{t-1})
    longest path, 2 tokens    1                  n - 1

Autoregressive decoding with a KV cache keeps every past key and value, so producing
token t costs ``4 d^2 + 2 t d`` per layer instead of re-running the whole prefix
(``4 t d^2 + 2 t^2 d``); the cache holds ``2 * n_layers * n * d`` numbers per sequence.
"""

from __future__ import annotations

import torch

from ..nn.attention import MultiHeadSelfAttention
from .experiments import attention_flops, attention_memory_bytes

MIB = 2**20
KINDS = ("attention", "rnn")


def _positive(**values: int) -> None:
    for name, value in values.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _kind(kind: str) -> str:
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    return kind


def attention_score_mib(seq: int, n_heads: int = 1, batch: int = 1) -> float:
    """float32 attention weights of one layer, in MiB: ``batch * heads * n^2 * 4`` bytes."""
    _positive(seq=seq, n_heads=n_heads, batch=batch)
    return attention_memory_bytes(seq, n_heads, batch) / MIB


def sequential_steps(kind: str, seq: int) -> int:
    """Steps of one layer that must run one after another: 1 for attention, n for an RNN."""
    _positive(seq=seq)
    return {"attention": 1, "rnn": seq}[_kind(kind)]


def max_path_length(kind: str, seq: int) -> int:
    """Most steps inside one layer that information takes between two of n tokens."""
    _positive(seq=seq)
    return {"attention": 1, "rnn": seq - 1}[_kind(kind)]


def crossover_seq(d_model: int) -> int:
    """The n at which attention's n^2 term equals its projections: ``2 n^2 d = 4 n d^2``."""
    _positive(d_model=d_model)
    return 2 * d_model


def kv_cache_numbers(n_layers: int, seq: int, d_model: int, batch: int = 1) -> int:
    """Numbers in a KV cache: one key and one value of size d per token, per layer."""
    _positive(n_layers=n_layers, seq=seq, d_model=d_model, batch=batch)
    return 2 * n_layers * seq * d_model * batch


def kv_cache_mib(n_layers: int, seq: int, d_model: int, batch: int = 1, bytes_per_number: int = 2) -> float:
    """KV cache size in MiB (16-bit numbers by default)."""
    _positive(bytes_per_number=bytes_per_number)
    return kv_cache_numbers(n_layers, seq, d_model, batch) * bytes_per_number / MIB


def decode_step_flops(step: int, d_model: int, cached: bool) -> int:
    """Multiply-adds of one attention layer to produce token ``step`` (1-based).

    With a cache only the new token is projected (``4 d^2``) and it attends to ``step``
    cached keys and values (``2 step d``); without one the whole prefix runs again.
    """
    _positive(step=step, d_model=d_model)
    if cached:
        return 4 * d_model**2 + 2 * step * d_model
    return int(attention_flops(step, d_model))


def decode_total_flops(seq: int, d_model: int, cached: bool) -> int:
    """Multiply-adds of one attention layer to generate ``seq`` tokens one at a time."""
    _positive(seq=seq)
    return sum(decode_step_flops(t, d_model, cached) for t in range(1, seq + 1))


def cached_attention_step(
    attn: MultiHeadSelfAttention, x_new: torch.Tensor, cache: dict | None = None
) -> tuple[torch.Tensor, dict]:
    """One decoding step of ``attn`` (a normlab MultiHeadSelfAttention) with a KV cache.

    ``x_new`` is the newest token, (batch, 1, d_model); ``cache`` holds the keys and values
    of every earlier token, ``{"k": (batch, heads, t-1, d_head), "v": same}`` (None or {}
    at the first step). Returns ``(out (batch, 1, d_model), cache with t tokens)``.
    The new query needs no causal mask: the cache holds only the past.
    """
    import torch

    q = attn.split_heads(attn.q_proj(x_new))  # (batch, heads, 1, d_head)
    k = attn.split_heads(attn.k_proj(x_new))
    v = attn.split_heads(attn.v_proj(x_new))
    if cache:
        k = torch.cat([cache["k"], k], dim=2)  # (batch, heads, t, d_head)
        v = torch.cat([cache["v"], v], dim=2)
    weights = attn.softmax(attn.scores(q, k))  # (batch, heads, 1, t): one row, not t rows
    out = attn.out_proj(attn.merge_heads(weights @ v))
    return out, {"k": k, "v": v}
