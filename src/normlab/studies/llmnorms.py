"""The norms large language models use, and the alternatives without normalisation.

    invariance_table(d)          what LayerNorm and RMSNorm ignore: scaling, shifting
    rms_norm_half(x, upcast)     RMSNorm on float16 input, with or without fp32 upcasting
    GemmaRMSNorm                 x / rms(x) * (1 + w), w initialised to 0 (Gemma's code)
    DyT                          gamma * tanh(alpha x) + beta, alpha = 0.5 (Zhu et al. 2025)
    ngpt_stream_norms            nGPT-style update on the unit sphere against pre-norm's sum

All act on the last axis of (..., d_model).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import torch
from torch import nn

from ..nn.norms import RMSNorm
from .seeds import generator


def invariance_table(d_model: int = 64, seed: int = 0) -> dict[str, dict[str, float]]:
    """max |norm(T x) - norm(x)| for T = scale by 5, shift every feature by 3, both."""
    x = torch.randn(4, d_model, generator=generator(0, seed))
    norms = {"LayerNorm": nn.LayerNorm(d_model), "RMSNorm": RMSNorm(d_model)}
    transforms = {"x * 5": lambda v: v * 5, "x + 3": lambda v: v + 3, "5x + 3": lambda v: 5 * v + 3}
    with torch.no_grad():
        return {
            name: {t: float((norm(f(x)) - norm(x)).abs().max()) for t, f in transforms.items()}
            for name, norm in norms.items()
        }


def rms_norm_half(x: torch.Tensor, upcast: bool, eps: float = 1e-6) -> torch.Tensor:
    """RMSNorm (unit gain) of a float16 tensor: computed in float16 throughout, or with the
    statistics in float32 and the result cast back (what LLaMA's and Gemma's code do)."""
    if x.dtype != torch.float16:
        raise ValueError(f"expected a float16 tensor, got {x.dtype}")
    h = x.float() if upcast else x
    out = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + eps)
    return out.to(torch.float16)


class GemmaRMSNorm(nn.Module):
    """x / sqrt(mean(x^2) + eps) * (1 + w), w = 0 at init: the same function as RMSNorm with
    gain g = 1 + w, parameterised so that w = 0 (not g = 0) is the neutral value."""

    def __init__(self, d_model: int, eps: float = 1e-6) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return (h * (1.0 + self.weight.float())).type_as(x)


class DyT(nn.Module):
    """Dynamic Tanh, a drop-in replacement for a norm: gamma * tanh(alpha * x) + beta, one
    learnable scalar alpha (0.5 at init) and per-feature gamma = 1, beta = 0. No statistics
    over the features: each element is squashed on its own. (..., d) -> (..., d)."""

    def __init__(self, d_model: int, alpha: float = 0.5) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.tensor(float(alpha)))
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tanh(self.alpha * x) * self.weight + self.bias


def output_lengths(norm: nn.Module, lengths: Iterable[float], d_model: int = 64, seed: int = 0) -> np.ndarray:
    """||norm(x)|| / sqrt(d) for one random direction x stretched to each length."""
    x = torch.randn(d_model, generator=generator(0, seed))
    with torch.no_grad():
        return np.array([float(norm(x * (length / x.norm())).norm()) / d_model**0.5 for length in lengths])


def ngpt_stream_norms(
    n_layers: int = 24, d_model: int = 64, alpha: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """||h_l|| after each of n_layers updates by random unit-length branch outputs b_l:
    pre-norm-like h <- h + sqrt(d) b_l, against nGPT's h <- Norm(h + alpha (b_l - h)) with
    h and b_l on the unit sphere. Returns (pre-norm ||h_l|| / sqrt(d), nGPT ||h_l||)."""
    g = generator(0, seed)
    branches = nn.functional.normalize(torch.randn(n_layers, d_model, generator=g), dim=-1)
    start = nn.functional.normalize(torch.randn(d_model, generator=g), dim=-1)
    summed, sphere, pre, ngpt = start * d_model**0.5, start, [], []
    for b in branches:
        summed = summed + d_model**0.5 * b
        sphere = nn.functional.normalize(sphere + alpha * (b - sphere), dim=-1)
        pre.append(float(summed.norm()) / d_model**0.5)
        ngpt.append(float(sphere.norm()))
    return np.array(pre), np.array(ngpt)


def float16_square_overflow_threshold() -> int:
    """Integer part of sqrt(largest float16): from there on x^2 overflows in float16."""
    return int(torch.finfo(torch.float16).max ** 0.5)
