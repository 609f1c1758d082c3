"""A stack of N blocks of one placement, with the final norm that placement needs.

Pre-norm, sandwich and res-post leave the residual stream un-normalised, so the stack
ends with one more norm (GPT-2's ``ln_f``); post-norm and DeepNorm already end each
block with a norm, so they get none (BERT has no final LN). For small language-model
experiments, ``vocab_size`` adds a token + learned position embedding and an LM head.
"""

from __future__ import annotations

import torch
from torch import nn

from .blocks import Block
from .norms import make_norm
from .shapes import ShapeError, expect_shape

NEEDS_FINAL_NORM = {"post": False, "pre": True, "sandwich": True, "res-post": True,
                    "deepnorm": False, "parallel": True}


class TransformerStack(nn.Module):
    """(batch, seq, d_model) -> (batch, seq, d_model); with ``vocab_size``,
    token ids (batch, seq) -> logits (batch, seq, vocab_size)."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int,
                 placement: str = "pre", norm: str = "layer", dropout: float = 0.0,
                 activation: str = "relu", causal: bool = False,
                 vocab_size: int | None = None, max_seq_len: int = 512):
        super().__init__()
        self.placement, self.d_model, self.vocab_size = placement, d_model, vocab_size
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, d_ff, dropout=dropout, norm=norm, activation=activation,
                  causal=causal, n_layers=n_layers, placement=placement)
            for _ in range(n_layers)
        )
        self.final_norm = make_norm(norm, d_model) if NEEDS_FINAL_NORM[placement] else None
        if vocab_size is not None:
            self.max_seq_len = max_seq_len
            self.token_embedding = nn.Embedding(vocab_size, d_model)
            self.position_embedding = nn.Embedding(max_seq_len, d_model)
            self.lm_head = nn.Linear(d_model, vocab_size)

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.vocab_size is not None:
            x = self._embed(x)
        for block in self.blocks:
            x = block(x, key_padding_mask)
        if self.final_norm is not None:
            x = self.final_norm(x)
        return self.lm_head(x) if self.vocab_size is not None else x

    def _embed(self, tokens: torch.Tensor) -> torch.Tensor:
        expect_shape(tokens, "token ids", "batch", "seq")
        if tokens.dtype not in (torch.int64, torch.int32):
            raise ShapeError(f"token ids: expected an integer tensor (batch, seq), got {tokens.dtype}")
        if tokens.shape[1] > self.max_seq_len:
            raise ShapeError(f"token ids: expected seq <= max_seq_len={self.max_seq_len}, "
                             f"got {tuple(tokens.shape)}")
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.token_embedding(tokens) + self.position_embedding(positions)
