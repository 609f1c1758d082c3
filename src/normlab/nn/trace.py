"""``trace_shapes``: the ordered steps through a module, with their shapes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class TraceStep:
    name: str  # the sub-module's dotted name, e.g. "attn.q_proj"
    op: str  # its type, e.g. "Linear"
    input_shape: tuple[int, ...]
    output_shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.name:<22} {self.op:<14} {self.input_shape} -> {self.output_shape}"


def trace_shapes(module: nn.Module, x: torch.Tensor, **forward_kwargs: Any) -> list[TraceStep]:
    """Run ``module(x)`` once and return every leaf step in the order it ran.

    A leaf is a sub-module with no children (a Linear, a norm, SplitHeads, Softmax ...).
    The input shape is that of the step's first tensor argument. Uses forward hooks,
    removed afterwards; runs under ``no_grad``.
    """
    steps: list[TraceStep] = []

    def record(name: str) -> Callable[..., None]:
        def hook(mod: nn.Module, args: tuple[Any, ...], output: Any) -> None:
            first = next((a for a in args if isinstance(a, torch.Tensor)), None)
            out = output[0] if isinstance(output, tuple) else output
            steps.append(
                TraceStep(name, type(mod).__name__, tuple(first.shape) if first is not None else (), tuple(out.shape))
            )

        return hook

    handles = [
        mod.register_forward_hook(record(name))
        for name, mod in module.named_modules()
        if name and not any(True for _ in mod.children())
    ]
    try:
        with torch.no_grad():
            module(x, **forward_kwargs)
    finally:
        for handle in handles:
            handle.remove()
    return steps


def format_trace(steps: list[TraceStep]) -> str:
    """A plain-text table of a trace, one step per line."""
    header = f"{'step':<22} {'op':<14} input -> output"
    return "\n".join([header] + [str(s) for s in steps])
