"""The position-wise feed-forward network: ``linear2(dropout(act(linear1(x))))``."""

from __future__ import annotations

import torch
from torch import nn

from .shapes import expect_shape

ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU}


class FeedForward(nn.Module):
    """(batch, seq, d_model) -> (batch, seq, d_ff) -> (batch, seq, d_model), per position."""

    def __init__(self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu"):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}: expected 'relu' or 'gelu'")
        self.d_model = d_model
        self.linear1 = nn.Linear(d_model, d_ff)
        self.activation = ACTIVATIONS[activation]()
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape(x, "feed-forward input", "batch", "seq", ("d_model", self.d_model))
        return self.linear2(self.dropout(self.activation(self.linear1(x))))
