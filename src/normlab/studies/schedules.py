"""Learning-rate schedules real Transformers use, as plain functions of the step.

Each returns the learning rate at optimiser step ``step`` (0-based, the step about to
be taken), so ``torch.optim.lr_scheduler.LambdaLR(opt, lambda s: f(s) / peak)`` runs it.

    constant_with_warmup   linear ramp over ``warmup`` steps, then constant
                           (the warm-up of the reverse task: normlab.studies.training)
    warmup_cosine          linear ramp, then cosine decay to ``final_fraction * peak``
                           (LLaMA: 2,000 warm-up steps, decay to 10 % of the peak)
    inverse_sqrt           d_model^-0.5 * min(s^-0.5, s * warmup^-1.5), s = step + 1
                           (Vaswani et al. 2017, the original Transformer's schedule)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np


def _check(step: int, warmup: int, total: int | None = None) -> None:
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    if warmup < 0:
        raise ValueError(f"warmup must be >= 0 steps, got {warmup}")
    if total is not None and total <= warmup:
        raise ValueError(f"total steps ({total}) must exceed the warm-up ({warmup})")


def constant_with_warmup(step: int, peak: float, warmup: int) -> float:
    """``peak * min(1, (step + 1) / warmup)``; ``warmup = 0`` is a constant ``peak``."""
    _check(step, warmup)
    return peak * (min(1.0, (step + 1) / warmup) if warmup else 1.0)


def warmup_cosine(step: int, peak: float, warmup: int, total: int, final_fraction: float = 0.1) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then a half cosine from ``peak``
    down to ``final_fraction * peak`` at step ``total`` (and flat after it)."""
    _check(step, warmup, total)
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = min(1.0, (step - warmup) / (total - warmup))
    floor = final_fraction * peak
    return floor + (peak - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def inverse_sqrt(step: int, d_model: int = 512, warmup: int = 4000) -> float:
    """The original Transformer's rate: rises linearly for ``warmup`` steps, peaks at
    ``(d_model * warmup)^-0.5``, then decays like ``1 / sqrt(step)``."""
    _check(step, warmup)
    if warmup == 0:
        raise ValueError("inverse_sqrt needs warmup >= 1 (its formula divides by it)")
    s = step + 1
    return d_model**-0.5 * min(s**-0.5, s * warmup**-1.5)


def curve(schedule: Callable[..., float], steps: int, **kwargs: Any) -> np.ndarray:
    """``schedule(step, **kwargs)`` for step = 0 .. steps - 1, as an array (for plots)."""
    return np.array([schedule(step, **kwargs) for step in range(steps)])
