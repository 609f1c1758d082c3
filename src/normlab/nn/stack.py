"""A stack of N blocks of one placement, with the final norm that placement needs.

Pre-norm, sandwich and res-post leave the residual stream un-normalised, so the stack
ends with one more norm (GPT-2's ``ln_f``); post-norm and DeepNorm already end each
block with a norm, so they get none (BERT has no final LN). Each block class says which
(``final_norm``). For small language-model experiments, ``vocab_size`` adds a token (+
learned position, unless ``learned_positions=False``, e.g. with RoPE) embedding and an LM
head; ``embed_norm=True`` normalises the embeddings before the first block (BERT, BLOOM).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .blocks import BLOCKS, Block, BlockConfig
from .shapes import ShapeError, expect_shape

# placement -> does its stack end with a final norm (read off the block classes)
NEEDS_FINAL_NORM = {placement: cls.final_norm for placement, cls in BLOCKS.items()}


class TransformerStack(nn.Module):
    """(batch, seq, d_model) -> (batch, seq, d_model); with ``vocab_size``,
    token ids (batch, seq) -> logits (batch, seq, vocab_size).

    Further keyword arguments (eps, gated, rope_base, n_kv_heads ...) are ``BlockConfig``
    fields, the same for every block.
    """

    # An nn.ModuleList of blocks, and the norms (None where the placement has none). Studies
    # put wrappers and other modules in their place and read them by name, so they are typed
    # by what their readers may do: anything.
    blocks: Any
    final_norm: Any
    embed_norm: Any
    position_embedding: Any
    lm_head: Any

    def __init__(
        self,
        n_layers: int,
        d_model: int,
        n_heads: int,
        d_ff: int,
        placement: str = "pre",
        norm: str = "layer",
        dropout: float = 0.0,
        activation: str = "relu",
        causal: bool = False,
        vocab_size: int | None = None,
        max_seq_len: int = 512,
        *,
        embed_norm: bool = False,
        learned_positions: bool = True,
        lm_head_bias: bool = True,
        **block_options: Any,
    ) -> None:
        super().__init__()
        if placement not in BLOCKS:
            raise ValueError(f"unknown placement {placement!r}: expected one of {tuple(BLOCKS)}")
        self.placement, self.d_model, self.vocab_size = placement, d_model, vocab_size
        self.config = BlockConfig(
            d_model,
            n_heads,
            d_ff,
            dropout=dropout,
            norm=norm,
            activation=activation,
            causal=causal,
            n_layers=n_layers,
            **block_options,
        )
        self.blocks = nn.ModuleList(Block(self.config, placement=placement) for _ in range(n_layers))
        self.final_norm = self.config.make_norm() if BLOCKS[placement].final_norm else None
        self.embed_norm = None
        if vocab_size is not None:
            self.max_seq_len = max_seq_len
            self.token_embedding = nn.Embedding(vocab_size, d_model)
            self.position_embedding = nn.Embedding(max_seq_len, d_model) if learned_positions else None
            self.lm_head = nn.Linear(d_model, vocab_size, bias=lm_head_bias)
        if embed_norm:
            self.embed_norm = self.config.make_norm()

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.vocab_size is not None:
            x = self._embed(x)
        if self.embed_norm is not None:
            x = self.embed_norm(x)
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
            raise ShapeError(f"token ids: expected seq <= max_seq_len={self.max_seq_len}, got {tuple(tokens.shape)}")
        if self.position_embedding is None:
            return self.token_embedding(tokens)
        positions = torch.arange(tokens.shape[1], device=tokens.device)
        return self.token_embedding(tokens) + self.position_embedding(positions)
