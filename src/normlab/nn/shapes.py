"""Shape contracts: every public module checks its inputs and says what it expected.

A dimension is written symbolically, with its required size when the module knows it:
``expect_shape(x, "attention input", "batch", "seq", ("d_model", 64))`` raises

    ShapeError: attention input: expected (batch, seq, d_model=64), got (2, 10, 32)
"""

from __future__ import annotations

import torch

Dim = str | tuple[str, int]


class ShapeError(ValueError):
    """A tensor (or a configuration) does not have the shape a module needs."""


def describe(dims: tuple[Dim, ...]) -> str:
    """``("batch", ("d_model", 64))`` -> ``"(batch, d_model=64)"``."""
    parts = [d if isinstance(d, str) else f"{d[0]}={d[1]}" for d in dims]
    return "(" + ", ".join(parts) + ")"


def expect_shape(tensor: torch.Tensor, name: str, *dims: Dim, hint: str = "") -> None:
    """Raise ShapeError unless ``tensor`` has ``len(dims)`` axes with the given sizes."""
    if not isinstance(tensor, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor {describe(dims)}, got {type(tensor).__name__}")
    shape = tuple(tensor.shape)
    fits = len(shape) == len(dims) and all(isinstance(d, str) or size == d[1] for d, size in zip(dims, shape))
    if not fits:
        if len(shape) == len(dims) - 1 and not hint:
            hint = "a single example needs a batch dimension first, e.g. x.unsqueeze(0)"
        message = f"{name}: expected {describe(dims)}, got {shape}"
        raise ShapeError(message + (f"; {hint}" if hint else ""))


def expect_divisible(d_model: int, n_heads: int) -> int:
    """Each head gets ``d_head = d_model / n_heads`` features, so that must be whole."""
    if n_heads <= 0 or d_model % n_heads != 0:
        raise ShapeError(
            f"d_model={d_model} is not divisible by n_heads={n_heads}: "
            f"expected d_model % n_heads == 0 so each head gets d_model / n_heads features"
        )
    return d_model // n_heads
