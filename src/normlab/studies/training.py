"""The training loop shared by the chapters that train models, and the reverse-task
runs of book/09-training-deep-stacks.md and the measurements page.

    fit(models, next_batches, loss_fn, optimiser, lr_at, steps)   the loop: one model per seed
    train_task(placement, peak_lr, schedule, warmup, ...)        the book's reverse task, 8 seeds

A measured claim is a statement about an ensemble of seeds (book/claims.md), so the loop
trains the seeds of one setting *together*: ``torch.func.stack_module_state`` stacks each
parameter of the n models on a new first axis (seeds, ...), and ``vmap(functional_call)``
runs the n models as one batched model, for much less than n times the cost of one
(benchmarks/ensembles.py). Nothing a seed computes depends on the others:

- each seed keeps its own initialisation and its own data stream;
- the loss minimised is the *sum* of the seeds' losses, so each seed's slice of a stacked
  gradient is that seed's own gradient (anything global, such as clipping by the global
  gradient norm, would have to be done per seed; nothing here does it);
- Adam and RAdam are element-wise, so one optimiser over the stacked tensors steps each
  slice exactly as that seed's own optimiser would;
- a seed whose loss becomes non-finite stops recording (it "diverged"); its slice goes on
  as NaN and touches no other slice.

Batched kernels round differently from unbatched ones, so a seed agrees with its run alone
to float tolerance, not bit for bit (tests/unit/test_training.py). The loop records, per
step and seed, the loss, the learning rate and the gradient norm, and at chosen steps
the per-block gradient norms of each FFN's W2 (the quantity of Xiong et al.'s Fig. 3), so
a chapter can plot gradient profiles *during* training.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import nn
from torch.func import functional_call, stack_module_state, vmap

from . import schedules
from .experiments import TaskConfig, reverse_task_batch, reverse_task_model, single_threaded
from .runcache import on_disk
from .seeds import ENSEMBLE, generator, seed_everything

OPTIMISERS = ("adam", "radam")
SCHEDULES = ("constant", "warmup", "cosine")
W2 = "ffn.linear2.weight"  # each block's second FFN weight, W^2 in Xiong et al.


def fit(
    models: Sequence[nn.Module],
    next_batches: Sequence[Callable[[], tuple[torch.Tensor, torch.Tensor]]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimiser: str,
    lr_at: Callable[[int], float],
    steps: int,
    profile_every: int = 0,
) -> list[dict]:
    """Train ``models`` (one per seed, all of one architecture) together for ``steps`` steps.

    ``next_batches[i]()`` returns seed i's (inputs, targets), ``loss_fn(outputs, targets)``
    one seed's scalar loss; ``optimiser`` is a name in OPTIMISERS; ``lr_at(step)`` sets
    the learning rate before each step. With ``profile_every = k > 0`` each block's
    ||dL/dW2|| is kept every k steps. The trained weights are copied back into ``models``.

    Returns one record per seed: {"loss", "lr", "grad_norm"} arrays (one value per step the
    seed took), "profiles" {step: per-block array}, "w2_change" (per block, how far W2
    moved relative to its start: ||W2_end - W2_start|| / ||W2_start||) and "diverged".
    """
    params, buffers = stack_module_state(list(models))  # each (seeds, ...)
    template = copy.deepcopy(models[0]).to("meta")
    forward = vmap(lambda p, b, x: functional_call(template, (p, b), (x,)))
    step_params = make_optimiser(optimiser, list(params.values()), lr_at(0))
    w2_names = [name for name in params if name.endswith(W2)]  # block order
    w2_start = [params[name].detach().clone() for name in w2_names]
    records: list[dict[str, Any]] = [
        {"loss": [], "lr": [], "grad_norm": [], "profiles": {}, "diverged": False} for _ in models
    ]
    seed_loss = vmap(loss_fn)  # (seeds, ...) outputs and targets -> (seeds,) losses, one op for all seeds
    for step in range(steps):
        batches = [next_batch() for next_batch in next_batches]
        inputs, targets = (torch.stack(part) for part in zip(*batches))
        losses = seed_loss(forward(params, buffers, inputs), targets)
        for record, finite in zip(records, torch.isfinite(losses).tolist()):
            record["diverged"] = record["diverged"] or not finite
        alive = [i for i, record in enumerate(records) if not record["diverged"]]
        if not alive:
            break
        step_params.zero_grad(set_to_none=True)
        (losses.sum() if len(alive) == len(records) else losses[alive].sum()).backward()
        grads = [p.grad.flatten(1) for p in params.values() if p.grad is not None]
        grad_norms = torch.linalg.vector_norm(torch.stack([g.norm(dim=1) for g in grads]), dim=0)  # (seeds,)
        if profile_every and step % profile_every == 0 and w2_names:
            profile = torch.stack([params[name].grad.flatten(1).norm(dim=1) for name in w2_names])  # (blocks, seeds)
            for i in alive:
                records[i]["profiles"][step] = profile[:, i].numpy()
        lr = lr_at(step)
        for group in step_params.param_groups:
            group["lr"] = lr
        step_params.step()
        seed_losses, seed_norms = losses.tolist(), grad_norms.tolist()
        for i in alive:
            records[i]["loss"].append(seed_losses[i])
            records[i]["lr"].append(lr)
            records[i]["grad_norm"].append(seed_norms[i])
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(params[name][i])
        # how far each block's W2 moved: ||W2_end - W2_start|| / ||W2_start||, (seeds, blocks)
        moved = [(params[name] - start).flatten(1).norm(dim=1) / start.flatten(1).norm(dim=1)
                 for name, start in zip(w2_names, w2_start)]  # fmt: skip
    for i, record in enumerate(records):
        record["w2_change"] = np.array([change[i].item() for change in moved])
    for record in records:
        for key in ("loss", "lr", "grad_norm"):
            record[key] = np.array(record[key])
    return records


def make_optimiser(name: str, params: Iterable[torch.nn.Parameter], lr: float) -> torch.optim.Optimizer:
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


def task_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over every position: logits (batch, seq, vocab), targets (batch, seq)."""
    return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())


@functools.lru_cache(maxsize=64)
@on_disk
@single_threaded
def train_task(
    placement: str,
    peak_lr: float,
    schedule: str = "constant",
    warmup: int = 0,
    optimiser: str = "adam",
    task: TaskConfig = TaskConfig(),
    seeds: tuple[int, ...] = ENSEMBLE,
) -> tuple[dict, ...]:
    """The book's reverse task (normlab.studies.experiments.TaskConfig), trained with a schedule
    and an optimiser chosen by name, one run per seed (trained together: ``fit``). Same model,
    data and held-out batch for every setting; each record adds "accuracy" (held-out
    token accuracy at the end, 0 for a run that diverged)."""
    models = []
    for seed in seeds:
        seed_everything(seed)
        models.append(reverse_task_model(placement, task))
    streams = [generator(30_000, seed) for seed in seeds]
    records = fit(
        models,
        [functools.partial(reverse_task_batch, task, stream) for stream in streams],
        task_loss,
        optimiser,
        lr_function(schedule, peak_lr, warmup, task.steps),
        task.steps,
    )
    tokens, targets = reverse_task_batch(replace(task, batch=256), generator(40_000))
    with torch.no_grad():
        for model, record in zip(models, records):
            hits = (model(tokens).argmax(-1) == targets).float().mean().item()
            record["accuracy"] = 0.0 if record["diverged"] else hits
    return tuple(records)


def loss_spikes(losses: ArrayLike, window: int = 10, factor: float = 1.5) -> np.ndarray:
    """Steps whose loss exceeds ``factor`` times the median of the ``window`` steps before.

    A crude but explicit definition of a "loss spike" (papers define them differently).
    """
    losses = np.asarray(losses, dtype=float)
    return np.array(
        [s for s in range(window, len(losses)) if losses[s] > factor * np.median(losses[s - window : s])], dtype=int
    )
