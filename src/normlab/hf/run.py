"""Calling a Hugging Face layer the way its model would, so it can be compared with normlab's block.

Masks and positions live outside a Hugging Face layer (its model builds them);
``run_hf_layer`` builds them from a normlab-style ``key_padding_mask`` (True = padding).
Sliding-window attention (Mistral, Gemma 2/3) is such a mask: on sequences shorter than
the window it changes nothing, and normlab's block attends to the whole (causal) sequence.
"""

from __future__ import annotations

import sys
from typing import Any

import torch
from torch import Tensor, nn

from .convert import FROM_HF, HFModule

CAUSAL = {name for name in FROM_HF if name != "BertLayer"}


def hf_attention_mask(
    key_padding_mask: torch.Tensor | None, batch: int, seq: int, causal: bool, dtype: torch.dtype = torch.float32
) -> torch.Tensor | None:
    """The 4-D additive mask (batch, 1, seq, seq) a transformers layer takes: 0 where a query
    may look, the dtype's minimum where it may not (the model builds this from its inputs)."""
    blocked = torch.zeros(batch, 1, seq, seq, dtype=torch.bool)
    if causal:
        blocked |= torch.ones(seq, seq, dtype=torch.bool).triu(1)
    if key_padding_mask is not None:
        blocked |= key_padding_mask[:, None, None, :]
    if not blocked.any():
        return None
    return torch.zeros(blocked.shape, dtype=dtype).masked_fill(blocked, torch.finfo(dtype).min)


def _rotary(layer: HFModule, x: Tensor, positions: Tensor) -> tuple[Tensor, Tensor]:
    """(cos, sin) from the layer family's own rotary module, as its model computes them."""
    name = type(layer).__name__
    prefix = name.removesuffix("DecoderLayer").removesuffix("Layer")
    module = sys.modules[type(layer).__module__]
    attn = getattr(layer, "self_attn", None) or layer.attention
    rotary = getattr(module, f"{prefix}RotaryEmbedding")(config=attn.config)
    if name == "Gemma3DecoderLayer":
        return rotary(x, positions, attn.layer_type)
    return rotary(x, positions)


def run_hf_layer(layer: nn.Module, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Call a transformers layer on x (batch, seq, d_model) as its model would, with the mask
    made from ``key_padding_mask`` (True = padding) and positions 0..seq-1; returns the
    hidden states (batch, seq, d_model)."""
    name = type(layer).__name__
    batch, seq, _ = x.shape
    mask = hf_attention_mask(key_padding_mask, batch, seq, name in CAUSAL, x.dtype)
    positions = torch.arange(seq)[None].expand(batch, seq)
    kwargs: dict[str, Any] = {"attention_mask": mask}
    if name in ("GPTJBlock", "OPTDecoderLayer"):
        kwargs["position_ids"] = positions
    elif name not in ("GPT2Block", "BertLayer"):
        kwargs["position_embeddings"] = _rotary(layer, x, positions)
    out = layer(x, **kwargs)
    return out[0] if isinstance(out, tuple) else out
