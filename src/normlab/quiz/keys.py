"""Computed quiz answer keys: each builds the normlab object a question is about and
reads the answer off it (a shape, a count, a loss), so a quiz and the library can never
disagree. Quiz banks name them by dotted path, e.g.
``answer_from: normlab.quiz.keys.block_output_shape``. They build from normlab's public
names (``from normlab import Block``), so they follow the core wherever its modules live.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "block_output_shape",
    "ffn_hidden_shape",
    "block_parameter_count",
    "lm_logits_shape",
    "uniform_cross_entropy",
    "attention_weights_shape",
    "split_heads_shape",
    "norm_parameter_count",
    "stack_norm_count",
    "stack_output_shape",
    "deepnorm_constants",
    "lemma2_bound",
]


def block_output_shape(
    batch: int, seq: int, d_model: int, n_heads: int, d_ff: int, placement: str = "pre"
) -> tuple[int, ...]:
    """Shape of what a normlab Block of this placement returns for (batch, seq, d_model)."""
    from normlab import Block

    block = Block(d_model, n_heads, d_ff, placement=placement)
    with torch.no_grad():
        return tuple(block(torch.zeros(batch, seq, d_model)).shape)


def ffn_hidden_shape(batch: int, seq: int, d_model: int, d_ff: int) -> tuple[int, ...]:
    """Shape inside the feed-forward network, after its first linear layer (traced)."""
    from normlab import FeedForward, trace_shapes

    steps = trace_shapes(FeedForward(d_model, d_ff), torch.zeros(batch, seq, d_model))
    return next(s.output_shape for s in steps if s.name == "linear1")


def block_parameter_count(d_model: int, n_heads: int, d_ff: int, placement: str = "pre") -> int:
    """Learnable parameters of one normlab Block (attention, FFN and its norms)."""
    from normlab import Block

    return sum(p.numel() for p in Block(d_model, n_heads, d_ff, placement=placement).parameters())


def lm_logits_shape(
    batch: int, seq: int, vocab_size: int, n_layers: int = 2, d_model: int = 32, n_heads: int = 4, d_ff: int = 64
) -> tuple[int, ...]:
    """Shape of the logits a causal normlab language model returns for (batch, seq) token ids."""
    from normlab import TransformerStack

    model = TransformerStack(n_layers, d_model, n_heads, d_ff, causal=True, vocab_size=vocab_size)
    with torch.no_grad():
        return tuple(model(torch.zeros(batch, seq, dtype=torch.long)).shape)


def uniform_cross_entropy(vocab_size: int) -> float:
    """Cross-entropy (nats, rounded to 3 decimals) of a model that gives every token the
    same score: the loss a language model starts near before it has learned anything."""
    logits = torch.zeros(1, vocab_size)
    return round(F.cross_entropy(logits, torch.tensor([0])).item(), 3)


def attention_weights_shape(batch: int, seq: int, d_model: int, n_heads: int) -> tuple[int, ...]:
    """Shape of the attention weights that normlab's attention returns."""
    from normlab import MultiHeadSelfAttention

    attn = MultiHeadSelfAttention(d_model, n_heads)
    with torch.no_grad():
        _, weights = attn(torch.zeros(batch, seq, d_model), need_weights=True)
    return tuple(weights.shape)


def split_heads_shape(batch: int, seq: int, d_model: int, n_heads: int) -> tuple[int, ...]:
    """Shape of the queries after normlab's attention splits them into heads."""
    from normlab import MultiHeadSelfAttention

    attn = MultiHeadSelfAttention(d_model, n_heads)
    with torch.no_grad():
        q = attn.split_heads(attn.q_proj(torch.zeros(batch, seq, d_model)))
    return tuple(q.shape)


def norm_parameter_count(name: str, d_model: int) -> int:
    """Number of learnable parameters in ``make_norm(name, d_model)``."""
    from normlab import make_norm

    return sum(p.numel() for p in make_norm(name, d_model).parameters())


def stack_norm_count(n_layers: int, d_model: int = 16, n_heads: int = 2, d_ff: int = 32, placement: str = "pre") -> int:
    """Number of norm modules in a normlab stack of ``n_layers`` blocks (final norm included)."""
    from normlab import TransformerStack, make_norm

    stack = TransformerStack(n_layers, d_model, n_heads, d_ff, placement=placement)
    norm_types = tuple(type(make_norm(n, d_model)) for n in ("layer", "rms", "scale"))
    return sum(isinstance(m, norm_types) for m in stack.modules())


def stack_output_shape(
    batch: int, seq: int, d_model: int, n_heads: int, d_ff: int, n_layers: int, placement: str = "pre"
) -> tuple[int, ...]:
    """Shape a normlab stack returns for (batch, seq, d_model)."""
    from normlab import TransformerStack

    stack = TransformerStack(n_layers, d_model, n_heads, d_ff, placement=placement)
    with torch.no_grad():
        return tuple(stack(torch.zeros(batch, seq, d_model)).shape)


def deepnorm_constants(n_layers: int, which: str = "alpha") -> float:
    """DeepNorm's alpha or beta (encoder-only, N blocks) as normlab's block sets them, 3 decimals."""
    from normlab import Block

    block = Block(16, 2, 32, n_layers=n_layers, placement="deepnorm")
    return round(getattr(block, which), 3)


def lemma2_bound(layer: int, d_model: int, which: str = "upper") -> float:
    """Xiong et al.'s Lemma 2 bound on E||x_l||^2 for a pre-norm stack, read from
    :func:`normlab.studies.experiments.lemma2_bounds`: (1 + l/2) d ("lower") or (1 + 3l/2) d ("upper")."""
    from normlab.studies.experiments import lemma2_bounds

    lower, upper, _ = lemma2_bounds(layer, d_model)
    return float({"lower": lower, "upper": upper}[which][-1])
