"""A small training loop shared by the chapters that train models, and the reverse-task
runs of chapter 9 (schedules and optimisers beyond normlab.studies.experiments.train_reverse).

    fit(model, next_batch, loss_fn, optimiser, lr_at, steps)   the loop itself
    train_task(placement, peak_lr, schedule, warmup, ...)      the book's reverse task

The loop records, per step, the loss, the learning rate and the global gradient norm,
and at chosen steps the per-block gradient norms of each FFN's W2 (the quantity of
Xiong et al.'s Fig. 3), so a chapter can plot gradient profiles *during* training.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from . import schedules
from .analysis import seed_everything
from .experiments import TaskConfig, reverse_task_batch, reverse_task_model, single_threaded

OPTIMISERS = ("adam", "radam")
SCHEDULES = ("constant", "warmup", "cosine")


def fit(
    model: nn.Module,
    next_batch: Callable[[], tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimiser: torch.optim.Optimizer,
    lr_at: Callable[[int], float],
    steps: int,
    profile_every: int = 0,
) -> dict:
    """Train ``model`` for ``steps`` steps; stop early if the loss becomes non-finite.

    ``next_batch()`` returns (inputs, targets); ``loss_fn(model(inputs), targets)`` is a
    scalar; ``lr_at(step)`` sets every parameter group's learning rate before the step.
    With ``profile_every = k > 0`` the per-block ||dL/dW2|| is kept every k steps.

    Returns {"loss", "lr", "grad_norm"} arrays (one value per step taken),
    "profiles" {step: per-block array}, and "diverged".
    """
    losses, rates, grad_norms, profiles = [], [], [], {}
    diverged = False
    for step in range(steps):
        inputs, targets = next_batch()
        loss = loss_fn(model(inputs), targets)
        if not torch.isfinite(loss):
            diverged = True
            break
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if profile_every and step % profile_every == 0 and hasattr(model, "blocks"):
            profiles[step] = np.array([b.ffn.linear2.weight.grad.norm().item() for b in model.blocks])
        grads = [p.grad for p in model.parameters() if p.grad is not None]
        grad_norms.append(torch.linalg.vector_norm(torch.stack([g.norm() for g in grads])).item())
        lr = lr_at(step)
        for group in optimiser.param_groups:
            group["lr"] = lr
        optimiser.step()
        losses.append(loss.item())
        rates.append(lr)
    return {
        "loss": np.array(losses),
        "lr": np.array(rates),
        "grad_norm": np.array(grad_norms),
        "profiles": profiles,
        "diverged": diverged,
    }


def make_optimiser(name: str, params, lr: float) -> torch.optim.Optimizer:
    """Adam or RAdam with the original Transformer's betas (0.9, 0.98), eps 1e-9."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(0.9, 0.98), eps=1e-9)
    if name == "radam":
        return torch.optim.RAdam(params, lr=lr, betas=(0.9, 0.98), eps=1e-9)
    raise ValueError(f"unknown optimiser {name!r}: expected one of {OPTIMISERS}")


def lr_function(schedule: str, peak_lr: float, warmup: int, steps: int) -> Callable[[int], float]:
    """The learning rate at each step for a schedule named in SCHEDULES."""
    if schedule == "constant":
        return lambda step: schedules.constant_with_warmup(step, peak_lr, 0)
    if schedule == "warmup":
        return lambda step: schedules.constant_with_warmup(step, peak_lr, warmup)
    if schedule == "cosine":
        return lambda step: schedules.warmup_cosine(step, peak_lr, warmup, steps)
    raise ValueError(f"unknown schedule {schedule!r}: expected one of {SCHEDULES}")


@functools.lru_cache(maxsize=64)
@single_threaded
def train_task(
    placement: str,
    peak_lr: float,
    schedule: str = "constant",
    warmup: int = 0,
    optimiser: str = "adam",
    task: TaskConfig = TaskConfig(),
    seed: int = 0,
) -> dict:
    """The book's reverse task (normlab.studies.experiments.TaskConfig), trained with a schedule
    and an optimiser chosen by name. Same model, data and held-out batch as
    ``train_reverse``; adds "accuracy" (held-out token accuracy at the end)."""
    seed_everything(seed)
    model = reverse_task_model(placement, task)
    data = torch.Generator().manual_seed(30_000 + seed)
    result = fit(
        model,
        lambda: reverse_task_batch(task, data),
        lambda logits, targets: nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten()),
        make_optimiser(optimiser, model.parameters(), peak_lr),
        lr_function(schedule, peak_lr, warmup, task.steps),
        task.steps,
    )
    tokens, targets = reverse_task_batch(replace(task, batch=256), torch.Generator().manual_seed(40_000))
    with torch.no_grad():
        result["accuracy"] = 0.0 if result["diverged"] else (model(tokens).argmax(-1) == targets).float().mean().item()
    return result


def loss_spikes(losses, window: int = 10, factor: float = 1.5) -> np.ndarray:
    """Steps whose loss exceeds ``factor`` times the median of the ``window`` steps before.

    A crude but explicit definition of a "loss spike" (papers define them differently).
    """
    losses = np.asarray(losses, dtype=float)
    return np.array(
        [s for s in range(window, len(losses)) if losses[s] > factor * np.median(losses[s - window : s])], dtype=int
    )
