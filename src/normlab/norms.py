"""The three norms, chosen by name: ``make_norm("layer" | "rms" | "scale", d_model)``.

All act on the last axis of a ``(..., d_model)`` tensor (facts.md section 1):
- LayerNorm: ``(x - mean) / sqrt(var + eps) * gamma + beta`` (PyTorch's, biased variance).
- RMSNorm (Zhang & Sennrich 2019): ``x / sqrt(mean(x^2) + eps) * g``; no mean, no bias (LLaMA).
- ScaleNorm (Nguyen & Salazar 2019): ``g * x / max(||x||_2, eps)``; one scalar g = sqrt(d).
"""

from __future__ import annotations

import math

import torch
from torch import nn

NORMS = ("layer", "rms", "scale")


class RMSNorm(nn.Module):
    def __init__(self, d_model: int, eps: float = 1e-6):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x / rms * self.weight


class ScaleNorm(nn.Module):
    def __init__(self, d_model: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.tensor(math.sqrt(d_model)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g * x / x.norm(dim=-1, keepdim=True).clamp(min=self.eps)


def make_norm(name: str, d_model: int) -> nn.Module:
    """The norm called ``name`` over the last axis of size ``d_model``."""
    if name == "layer":
        return nn.LayerNorm(d_model, eps=1e-5)
    if name == "rms":
        return RMSNorm(d_model)
    if name == "scale":
        return ScaleNorm(d_model)
    raise ValueError(f"unknown norm {name!r}: expected one of {', '.join(map(repr, NORMS))}")
