"""The position-wise feed-forward network, plain or gated, and its activations.

    plain:  linear2(dropout(act(linear1(x))))            Vaswani et al. 2017, section 3.3
    gated:  down(dropout(act(gate(x)) * up(x)))           Shazeer 2020 (GLU variants), section 2

With ``act`` = SiLU the gated FFN is SwiGLU (LLaMA, Mistral, OLMo 2); with the tanh GELU
it is GeGLU as Gemma computes it. Dropout sits on the hidden layer in both.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .shapes import expect_shape


class GELUTanh(nn.Module):
    """GELU's tanh approximation (Hendrycks & Gimpel 2016, section 2):
    ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``. GPT-2, GPT-J and Gemma use it
    (``gelu_new`` / ``gelu_pytorch_tanh`` in transformers)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x.pow(3))))


class GELU(nn.Module):
    """Exact GELU: ``x * Phi(x) = 0.5 x (1 + erf(x / sqrt(2)))`` (BERT, GPT-NeoX)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * x * (1.0 + torch.erf(x / math.sqrt(2.0)))


class SiLU(nn.Module):
    """SiLU (swish with beta = 1): ``x * sigmoid(x)`` (Ramachandran et al. 2017)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(x)


# "gelu" stays torch's nn.GELU (the same exact formula) so existing traces keep their op name.
ACTIVATIONS = {"relu": nn.ReLU, "gelu": nn.GELU, "gelu_exact": GELU, "gelu_tanh": GELUTanh, "silu": SiLU}


def make_activation(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}: expected one of {', '.join(map(repr, ACTIVATIONS))}")
    return ACTIVATIONS[name]()


class FeedForward(nn.Module):
    """(batch, seq, d_model) -> (batch, seq, d_ff) -> (batch, seq, d_model), per position."""

    def __init__(
        self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "relu", bias: bool = True
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.linear1 = nn.Linear(d_model, d_ff, bias=bias)
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape(x, "feed-forward input", "batch", "seq", ("d_model", self.d_model))
        return self.linear2(self.dropout(self.activation(self.linear1(x))))


class GatedFeedForward(nn.Module):
    """(batch, seq, d_model) -> two (batch, seq, d_ff) -> (batch, seq, d_model), per position:
    ``down(act(gate(x)) * up(x))``. The gate decides, feature by feature, how much of
    ``up(x)`` passes."""

    def __init__(
        self, d_model: int, d_ff: int, dropout: float = 0.0, activation: str = "silu", bias: bool = False
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.gate_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.up_proj = nn.Linear(d_model, d_ff, bias=bias)
        self.activation = make_activation(activation)
        self.dropout = nn.Dropout(dropout)
        self.down_proj = nn.Linear(d_ff, d_model, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        expect_shape(x, "feed-forward input", "batch", "seq", ("d_model", self.d_model))
        return self.down_proj(self.dropout(self.activation(self.gate_proj(x)) * self.up_proj(x)))
