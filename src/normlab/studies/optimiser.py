"""The optimiser and depth-aware scaling: the measurements of book/optimiser-and-depth.md.

Normalisation and the optimiser (Liu et al. 2020, Adam, RAdam):

    step_sizes(placement, optimiser)   per block of the 8-block reverse-task model, the
                                       W2 gradient norm at step 0 and how far W2 moved,
                                       ||W2_K - W2_0|| / ||W2_0||, after STEPS steps; one
                                       row per seed (SEEDS)
    radam_rectifier(steps, beta2)      RAdam's rho_t and its rectification term r_t
                                       (Liu et al. 2020, Algorithm 2), computed

Depth-aware scaling (Bordelon et al. 2023, Yang et al. 2023, GPT-2 §2.3, DeepNet,
Sun et al. 2025), at initialisation on chapter 4's stacks (studies.experiments.Setting):

    ScaledBranch(sublayer, scale)      scale * sublayer(x): a fixed multiplier on a branch
    scaled_stack(variant, L, seed)     a pre-norm stack with one of SCALINGS applied
    stream_growth(variant, depths)     ||x_L||^2 / ||x_0||^2 entering the final norm, and
                                       each block's relative contribution
                                       ||x_l - x_(l-1)|| / ||x_(l-1)||, one row per seed

Every seed goes through normlab.studies.seeds; everything runs on one thread.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from torch import nn

from .analysis import block_io
from .deepstacks import _scale_weights
from .depthfixes import scale_norms_by_depth
from .experiments import (
    Setting,
    TaskConfig,
    build_stack,
    make_batch,
    reverse_task_batch,
    reverse_task_model,
    single_threaded,
)
from .seeds import generator, seed_everything
from .training import W2, make_optimiser, task_loss

SEEDS = tuple(range(16))  # cheap: 16 seeds of every setting
STEPS = 10  # the first steps, where Adam's and RAdam's steps differ most
STEP_LR = {"adam": 1e-3, "radam": 1e-3, "sgd": 0.1}  # SGD's step is lr * gradient: a larger lr
OPTIMISERS = tuple(STEP_LR)


# --- the optimiser: gradient norm against update size --------------------------------------


def _optimiser(name: str, params: Iterable[nn.Parameter], lr: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)  # plain SGD: the step is lr times the gradient
    return make_optimiser(name, params, lr)  # Adam / RAdam with the book's betas (book/09-training-deep-stacks.md)


@single_threaded
def _one_run(placement: str, optimiser: str, seed: int, task: TaskConfig, gpt2_init: bool, loss_scale: float) -> tuple:
    seed_everything(seed)
    model = reverse_task_model(placement, task)
    if gpt2_init:  # GPT-2 §2.3, read as Hugging Face does: 1/sqrt(2 * blocks) on W_O and W2
        _scale_weights(model, ("attn.out_proj", "ffn.linear2"), 1 / math.sqrt(2 * task.n_layers))
    w2 = [block.get_parameter(W2) for block in model.blocks]
    start = [w.detach().clone() for w in w2]
    step = _optimiser(optimiser, model.parameters(), STEP_LR[optimiser])
    stream = generator(30_000, seed)  # this seed's data stream in book/09-training-deep-stacks.md
    held_out, _ = reverse_task_batch(task, generator(40_000))  # that page's held-out batch
    with torch.no_grad():
        before = model(held_out)
    gradients, first_change = None, None
    for t in range(STEPS):
        tokens, targets = reverse_task_batch(task, stream)
        step.zero_grad(set_to_none=True)
        (loss_scale * task_loss(model(tokens), targets)).backward()
        if t == 0:
            gradients = [float(w.grad.norm()) for w in w2]
        step.step()
        if t == 0:  # Liu et al.'s quantity: how much one update changes the output
            with torch.no_grad():
                first_change = float((model(held_out) - before).norm() / before.norm())
    moved = [float((w.detach() - s).norm() / s.norm()) for w, s in zip(w2, start)]
    return gradients, moved, first_change


@functools.lru_cache(maxsize=16)
def step_sizes(
    placement: str, optimiser: str, gpt2_init: bool = False, loss_scale: float = 1.0
) -> dict[str, np.ndarray]:
    """For the 8-block reverse-task model of book/09-training-deep-stacks.md, one row per
    seed: "gradient" ||dL/dW2|| at step 0 and "moved" ||W2_K - W2_0|| / ||W2_0|| after STEPS
    steps, each (seeds, blocks); "output change" ||f(W_1) - f(W_0)|| / ||f(W_0)|| on the held-out batch
    after the first step, (seeds,). ``loss_scale`` multiplies the loss (and so every gradient)."""
    runs = [_one_run(placement, optimiser, seed, TaskConfig(), gpt2_init, loss_scale) for seed in SEEDS]
    return {
        "gradient": np.array([r[0] for r in runs]),
        "moved": np.array([r[1] for r in runs]),
        "output change": np.array([r[2] for r in runs]),
    }


def bottom_over_top(profile: np.ndarray) -> np.ndarray:
    """Per seed: block 1's value over the last block's, (seeds,)."""
    return profile[:, 0] / profile[:, -1]


def radam_rectifier(steps: int, beta2: float = 0.98) -> tuple[np.ndarray, np.ndarray]:
    """RAdam's rho_t and rectification term r_t for t = 1..steps (Liu et al. 2020, Algorithm 2);
    r_t is NaN where rho_t <= 4 (PyTorch's RAdam takes an un-adapted momentum step while
    rho_t <= 5)."""
    rho_inf = 2 / (1 - beta2) - 1
    t = np.arange(1, steps + 1)
    rho = rho_inf - 2 * t * beta2**t / (1 - beta2**t)
    with np.errstate(invalid="ignore"):
        r = np.sqrt((rho - 4) * (rho - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho))
    return rho, np.where(rho > 4, r, np.nan)


# --- depth-aware scaling at initialisation -------------------------------------------------


class ScaledBranch(nn.Module):
    """``scale * sublayer(x, **kwargs)``, (..., d) -> (..., d): a fixed (not learned)
    multiplier on a residual branch, kept in the forward pass."""

    def __init__(self, sublayer: nn.Module, scale: float) -> None:
        super().__init__()
        self.sublayer, self.scale = sublayer, float(scale)

    def forward(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.scale * self.sublayer(x, **kwargs)

    def extra_repr(self) -> str:
        return f"scale={self.scale:.4g}"


def _branch_scaled(n_layers: int, setting: Setting, seed: int) -> nn.Module:
    stack = build_stack("pre", n_layers, setting, seed)
    for block in stack.blocks:
        block.attn = ScaledBranch(block.attn, 1 / math.sqrt(n_layers))
        block.ffn = ScaledBranch(block.ffn, 1 / math.sqrt(n_layers))
    return stack


def _gpt2(n_layers: int, setting: Setting, seed: int) -> nn.Module:
    stack = build_stack("pre", n_layers, setting, seed)
    _scale_weights(stack, ("attn.out_proj", "ffn.linear2"), 1 / math.sqrt(2 * n_layers))
    return stack


SCALINGS = {
    "pre-norm": lambda n, s, seed: build_stack("pre", n, s, seed),
    "branches x 1/sqrt(L)": _branch_scaled,
    "GPT-2 init": _gpt2,
    "LayerNorm scaling": lambda n, s, seed: scale_norms_by_depth(build_stack("pre", n, s, seed)),
}
DEPTHS = (4, 16, 64)


def scaled_stack(variant: str, n_layers: int, setting: Setting = Setting(), seed: int = 0) -> nn.Module:
    """A seeded pre-norm stack of ``n_layers`` blocks with the scaling named ``variant``."""
    if variant not in SCALINGS:
        raise ValueError(f"unknown scaling {variant!r}: expected one of {tuple(SCALINGS)}")
    return SCALINGS[variant](n_layers, setting, seed)


@single_threaded
def _stream(variant: str, n_layers: int, seed: int) -> tuple[float, np.ndarray]:
    setting = Setting()
    stack = scaled_stack(variant, n_layers, setting, seed)
    x, _ = make_batch(setting, seed)
    pairs = block_io(stack, x)
    growth = float((pairs[-1][1].pow(2).sum(-1).mean() / pairs[0][0].pow(2).sum(-1).mean()).item())
    contributions = np.array([((out - inp).norm(dim=-1) / inp.norm(dim=-1)).mean().item() for inp, out in pairs])
    return growth, contributions


@functools.lru_cache(maxsize=8)
def stream_growth(variant: str) -> dict[int, dict[str, np.ndarray]]:
    """Per depth in DEPTHS: {"growth": ||x_L||^2 / ||x_0||^2 (seeds,), "contribution": each
    block's ||x_l - x_(l-1)|| / ||x_(l-1)|| (seeds, blocks)}, at initialisation."""
    out = {}
    for depth in DEPTHS:
        runs = [_stream(variant, depth, seed) for seed in SEEDS]
        out[depth] = {"growth": np.array([r[0] for r in runs]), "contribution": np.array([r[1] for r in runs])}
    return out
