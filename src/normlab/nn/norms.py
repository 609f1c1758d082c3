"""The three norms, chosen by name: ``make_norm("layer" | "rms" | "scale", d_model)``.

All act on the last axis of a ``(..., d_model)`` tensor:
- LayerNorm (Ba et al. 2016, section 3): ``(x - mean) / sqrt(var + eps) * gamma + beta``
  (PyTorch's, biased variance).
- RMSNorm (Zhang & Sennrich 2019, section 3): ``x / sqrt(mean(x^2) + eps) * g``; no mean, no
  bias (LLaMA). With ``unit_offset=True`` the gain is ``(1 + g)`` and ``g`` starts at 0,
  as Gemma stores it (``GemmaRMSNorm`` in transformers).
- ScaleNorm (Nguyen & Salazar 2019): ``g * x / max(||x||_2, eps)``; one
  scalar g, initialised to sqrt(d).

``eps=None`` keeps each norm's usual default (1e-5, 1e-6, 1e-5); BERT uses 1e-12.
"""

from __future__ import annotations

import math

import torch
from torch import nn

NORMS = ("layer", "rms", "scale")
DEFAULT_EPS = {"layer": 1e-5, "rms": 1e-6, "scale": 1e-5}


class RMSNorm(nn.Module):
    def __init__(self, d_model: int, eps: float = 1e-6, unit_offset: bool = False) -> None:
        super().__init__()
        self.eps, self.unit_offset = eps, unit_offset
        self.weight = nn.Parameter(torch.zeros(d_model) if unit_offset else torch.ones(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rms = torch.sqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        gain = 1 + self.weight if self.unit_offset else self.weight
        return x / rms * gain

    def extra_repr(self) -> str:
        return f"{self.weight.shape[0]}, eps={self.eps}" + (", gain=1+w" if self.unit_offset else "")


class ScaleNorm(nn.Module):
    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.g = nn.Parameter(torch.tensor(math.sqrt(d_model)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.g * x / x.norm(dim=-1, keepdim=True).clamp(min=self.eps)


def make_norm(name: str, d_model: int, eps: float | None = None, unit_offset: bool = False) -> nn.Module:
    """The norm called ``name`` over the last axis of size ``d_model``.

    ``unit_offset`` (RMSNorm only) stores the gain as ``1 + w``, as Gemma does.
    """
    if name not in NORMS:
        raise ValueError(f"unknown norm {name!r}: expected one of {', '.join(map(repr, NORMS))}")
    if unit_offset and name != "rms":
        raise ValueError(f"unit_offset=True (a gain of 1 + w) exists for the 'rms' norm only, got norm={name!r}")
    eps = DEFAULT_EPS[name] if eps is None else eps
    if name == "layer":
        return nn.LayerNorm(d_model, eps=eps)
    if name == "rms":
        return RMSNorm(d_model, eps=eps, unit_offset=unit_offset)
    return ScaleNorm(d_model, eps=eps)
