"""Attention-logit growth and its fixes: QK-norm, soft-capping, z-loss.

In a pre-norm (or sandwich) block the attention input is already normalised, so the
attention logits q.k / sqrt(d_head) grow only if W_Q and W_K grow during training
(Dehghani et al. 2023; Wortsman et al. 2023). Large logits make each softmax row nearly
one-hot: its entropy collapses. QK-norm normalises q and k per head before the dot
product, so the logits no longer scale with W_Q, W_K.

    attention_weights(attn, x, qk_scale, qk_norm)   (batch, heads, seq, seq)
    row_entropy(weights)                            mean entropy of the rows, nats
    entropy_vs_qk_scale(scales, qk_norm)            the chapter's measurement
    soft_cap(logits, cap)                           cap * tanh(logits / cap) (Gemma 2)
    z_loss(logits, coefficient)                     coefficient * mean(log Z)^2 (PaLM)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..nn.attention import MultiHeadSelfAttention
from .seeds import seed_everything


def attention_weights(
    attn: MultiHeadSelfAttention, x: torch.Tensor, qk_scale: float = 1.0, qk_norm: bool = False
) -> tuple[torch.Tensor, torch.Tensor]:
    """(weights, logits) of ``attn`` on x (batch, seq, d_model), with W_Q and W_K
    multiplied by ``qk_scale``; ``qk_norm`` LayerNorms q and k over each head's d_head
    features (no gain) before the scaled dot product, as ViT-22B does."""
    q = attn.split_heads(attn.q_proj(x) * qk_scale)  # (batch, heads, seq, d_head)
    k = attn.split_heads(attn.k_proj(x) * qk_scale)  # biases are zero at init
    if qk_norm:
        q = nn.functional.layer_norm(q, q.shape[-1:])
        k = nn.functional.layer_norm(k, k.shape[-1:])
    logits = attn.scores(q, k)  # (batch, heads, seq, seq)
    return torch.softmax(logits, dim=-1), logits


def row_entropy(weights: torch.Tensor) -> float:
    """Mean over rows of -sum_j p_j ln p_j (0 = one-hot, ln(seq) = uniform)."""
    return float(-(weights * weights.clamp_min(1e-30).log()).sum(-1).mean())


def entropy_vs_qk_scale(
    scales: Sequence[float],
    qk_norm: bool,
    d_model: int = 64,
    n_heads: int = 4,
    seq: int = 32,
    batch: int = 4,
    seed: int = 0,
) -> dict:
    """Mean attention entropy and largest |logit| as W_Q, W_K are scaled, on normalised
    random tokens (what a pre-norm block's attention reads). Returns arrays per scale."""
    seed_everything(seed)
    attn = MultiHeadSelfAttention(d_model, n_heads)
    x = nn.functional.layer_norm(torch.randn(batch, seq, d_model), (d_model,))
    entropy, max_logit = [], []
    with torch.no_grad():
        for s in scales:
            weights, logits = attention_weights(attn, x, s, qk_norm)
            entropy.append(row_entropy(weights))
            max_logit.append(float(logits.abs().max()))
    return {
        "scale": np.asarray(scales, float),
        "entropy": np.array(entropy),
        "max_logit": np.array(max_logit),
        "uniform": math.log(seq),
    }


def soft_cap(logits: torch.Tensor, cap: float) -> torch.Tensor:
    """cap * tanh(logits / cap): about the identity for |logits| << cap, never beyond cap."""
    if cap <= 0:
        raise ValueError(f"cap must be > 0, got {cap}")
    return cap * torch.tanh(logits / cap)


def z_loss(logits: torch.Tensor, coefficient: float = 1e-4) -> torch.Tensor:
    """PaLM's auxiliary loss coefficient * mean((log Z)^2), Z = sum exp(logits) over the
    last axis: cross-entropy ignores a constant added to every logit, this does not."""
    return coefficient * torch.logsumexp(logits, dim=-1).pow(2).mean()
