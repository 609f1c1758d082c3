"""Deep stacks at initialisation: Xiong et al.'s Lemma 3, and depth-aware initialisations.

Lemma 3 (Xiong et al. 2020): the Jacobian of LayerNorm at x has norm O(sqrt(d) / ||x||).
For a centred x (and gamma = 1, eps -> 0) it is exactly (sqrt(d) / ||x||) times an
orthogonal projection, so its spectral norm is sqrt(d) / ||x||:

    layernorm_jacobian_norm(x)   measured spectral norm of d LN(x) / dx
    lemma3_prediction(x)         sqrt(d) / ||x - mean(x)||
    stream_and_last_gradient     ||x_L|| entering the final norm and ||dL/dW2|| of the
                                 last block, pre-norm at init (Theorem 1's mechanism)
    relative_block_updates       ||x_l - x_{l-1}|| / ||x_{l-1}|| per block

Depth-aware initialisations, each a function that builds a seeded stack of N blocks
(``INITS``), all measured with normlab.studies.experiments' amplification experiment:

    post, pre        the library's blocks, Xavier init (normlab.studies.experiments.build_stack)
    gpt2             pre-norm; W_O and W2 scaled by 1/sqrt(2N) (GPT-2 §2.3: 1/sqrt(number
                     of residual layers); two residual layers per block is Hugging Face's
                     and Megatron-LM's reading, OpenAI's released code does not scale)
    t-fixup          no norms; W_V, W_O, W1, W2 scaled by 0.67 N^(-1/4) (Huang et al.
                     2020, encoder rule; our inputs stand in for the embeddings)
    rezero           no norms; y = x + a F(x), a scalar a = 0 per sub-layer (Bachlechner
                     et al. 2020; SkipInit, De & Smith 2020, is the same at init)
    admin            post-norm with y = LN(w_i x + F(x)), w_i from one profiling pass
                     (Liu et al. 2020; our reading: w_i^2 = Var(x_0) + sum_{j<i} Var F_j)
    deepnorm         normlab's DeepNormBlock (Wang et al. 2022)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from ..nn.stack import TransformerStack
from .analysis import block_io
from .experiments import Setting, build_stack, make_batch, perturbed_output_change, single_threaded
from .seeds import generator

# --- Lemma 3 ----------------------------------------------------------------------------


def layernorm_jacobian_norm(x: torch.Tensor, eps: float = 1e-5) -> float:
    """Spectral norm of the Jacobian of LayerNorm (gamma = 1, beta = 0) at one vector x (d,)."""
    if x.dim() != 1:
        raise ValueError(f"expected one vector x of shape (d,), got shape {tuple(x.shape)}")
    jacobian = torch.autograd.functional.jacobian(lambda v: nn.functional.layer_norm(v, v.shape, eps=eps), x.double())
    return float(torch.linalg.matrix_norm(jacobian, ord=2))


def lemma3_prediction(x: torch.Tensor) -> float:
    """sqrt(d) / ||x - mean(x)||: Lemma 3's scale, exact for eps -> 0."""
    return math.sqrt(x.numel()) / float((x - x.mean()).norm())


@single_threaded
def stream_and_last_gradient(n_layers: int, setting: Setting = Setting(), seed: int = 0) -> tuple[float, float]:
    """Pre-norm at init: (mean ||x_L|| entering the final norm, ||dL/dW2|| of the last block)."""
    stack = build_stack("pre", n_layers, setting, seed)
    x, loss_fn = make_batch(setting, seed)
    captured = []
    handle = stack.final_norm.register_forward_pre_hook(lambda mod, args: captured.append(args[0].detach()))
    try:
        loss_fn(stack(x)).backward()
    finally:
        handle.remove()
    return (float(captured[0].norm(dim=-1).mean()), float(stack.blocks[-1].ffn.linear2.weight.grad.norm()))


@single_threaded
def relative_block_updates(placement: str, n_layers: int, setting: Setting = Setting(), seed: int = 0) -> np.ndarray:
    """Per block l: mean over tokens of ||x_l - x_{l-1}|| / ||x_{l-1}|| at init."""
    stack = build_stack(placement, n_layers, setting, seed)
    x, _ = make_batch(setting, seed)
    pairs = block_io(stack, x)
    ratios = [((out - inp).norm(dim=-1) / inp.norm(dim=-1)).mean().item() for inp, out in pairs]
    return np.array(ratios)


# --- depth-aware initialisations ----------------------------------------------------------


class ScaledResidualBlock(nn.Module):
    """Wraps a block's attention and FFN with a scalar weight on each residual term.

    mode "rezero": y = x + a F(x), no norm, a = 0 (learnable).
    mode "admin":  y = LN(w x + F(x)), w fixed (set by :func:`admin_stack`).
    (batch, seq, d_model) -> (batch, seq, d_model).
    """

    attn: Any  # the wrapped block's sub-modules
    ffn: Any
    norm1: Any
    norm2: Any
    omega: Tensor  # admin: the fixed weights w of the residual terms

    def __init__(self, block: nn.Module, mode: str) -> None:
        super().__init__()
        if mode not in ("rezero", "admin"):
            raise ValueError(f"mode must be 'rezero' or 'admin', got {mode!r}")
        self.mode, self.attn, self.ffn = mode, block.attn, block.ffn
        if mode == "rezero":
            self.alpha = nn.Parameter(torch.zeros(2))  # one per sub-layer
        else:
            self.norm1, self.norm2 = block.norm1, block.norm2
            self.register_buffer("omega", torch.ones(2))

    def sublayers(self) -> tuple[Callable[[Tensor, Tensor | None], Tensor], ...]:
        return (lambda x, mask: self.attn(x, key_padding_mask=mask), lambda x, mask: self.ffn(x))

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        for i, f in enumerate(self.sublayers()):
            if self.mode == "rezero":
                x = x + self.alpha[i] * f(x, key_padding_mask)
            else:
                norm = self.norm1 if i == 0 else self.norm2
                x = norm(self.omega[i] * x + f(x, key_padding_mask))
        return x


def _scale_weights(stack: TransformerStack, names: Iterable[str], factor: float) -> None:
    with torch.no_grad():
        for block in stack.blocks:
            for name in names:
                block.get_submodule(name).weight.mul_(factor)


def _drop_norms(stack: TransformerStack) -> TransformerStack:
    for block in stack.blocks:
        block.norm1, block.norm2 = nn.Identity(), nn.Identity()
    stack.final_norm = None
    return stack


def gpt2_stack(n_layers: int, setting: Setting, seed: int) -> TransformerStack:
    stack = build_stack("pre", n_layers, setting, seed)
    _scale_weights(stack, ("attn.out_proj", "ffn.linear2"), 1 / math.sqrt(2 * n_layers))
    return stack


def tfixup_stack(n_layers: int, setting: Setting, seed: int) -> TransformerStack:
    stack = _drop_norms(build_stack("pre", n_layers, setting, seed))
    _scale_weights(stack, ("attn.v_proj", "attn.out_proj", "ffn.linear1", "ffn.linear2"), 0.67 * n_layers**-0.25)
    return stack


def rezero_stack(n_layers: int, setting: Setting, seed: int) -> TransformerStack:
    stack = build_stack("pre", n_layers, setting, seed)
    stack.blocks = nn.ModuleList(ScaledResidualBlock(b, "rezero") for b in stack.blocks)
    stack.final_norm = None
    return stack


def admin_stack(n_layers: int, setting: Setting, seed: int) -> TransformerStack:
    """Post-norm with Admin's w_i, set by one forward pass over the seeded batch."""
    stack = build_stack("post", n_layers, setting, seed)
    stack.blocks = nn.ModuleList(ScaledResidualBlock(b, "admin") for b in stack.blocks)
    x, _ = make_batch(setting, seed)
    accumulated = float(x.var())  # Var(x_0): the input counts as the first term
    with torch.no_grad():
        for block in stack.blocks:
            for i, f in enumerate(block.sublayers()):
                out = f(x, None)
                block.omega[i] = math.sqrt(accumulated)
                accumulated += float(out.var())
                x = (block.norm1, block.norm2)[i](block.omega[i] * x + out)
    return stack


INITS = {
    "post": lambda n, s, seed: build_stack("post", n, s, seed),
    "pre": lambda n, s, seed: build_stack("pre", n, s, seed),
    "gpt2": gpt2_stack,
    "t-fixup": tfixup_stack,
    "rezero": rezero_stack,
    "admin": admin_stack,
    "deepnorm": lambda n, s, seed: build_stack("deepnorm", n, s, seed),
}


def build_initialised(init: str, n_layers: int, setting: Setting = Setting(), seed: int = 0) -> TransformerStack:
    """A seeded stack of ``n_layers`` blocks with the initialisation named ``init``."""
    if init not in INITS:
        raise ValueError(f"unknown initialisation {init!r}: expected one of {tuple(INITS)}")
    return INITS[init](n_layers, setting, seed)


@single_threaded
def init_output_change(
    init: str, n_layers: int, setting: Setting = Setting(), scale: float = 0.01, seed: int = 0
) -> float:
    """Liu et al.'s amplification measurement (normlab.studies.experiments.output_change) for a
    stack initialised by ``init``."""
    stack = build_initialised(init, n_layers, setting, seed)
    x, _ = make_batch(setting, seed)
    return perturbed_output_change(stack, x, scale, seed)


def init_output_change_vs_depth(
    init: str, depths: Sequence[int], setting: Setting = Setting(), scale: float = 0.01, seeds: Iterable[int] = range(2)
) -> np.ndarray:
    return np.array([np.mean([init_output_change(init, n, setting, scale, s) for s in seeds]) for n in depths])


# --- computed quiz keys -------------------------------------------------------------------


def gpt2_residual_scale(n_blocks: int) -> float:
    """GPT-2's init factor 1/sqrt(N) for N residual layers, counted two per block as Hugging
    Face and Megatron-LM do (GPT-2 §2.3 does not say), rounded to 3 places."""
    return round(1 / math.sqrt(2 * n_blocks), 3)


def lemma3_jacobian_for_norm(d_model: int, norm: float) -> float:
    """Measured spectral norm (3 places) of LayerNorm's Jacobian at a centred vector of
    length ``norm`` in ``d_model`` dimensions (Lemma 3: sqrt(d) / ||x||)."""
    x = torch.randn(d_model, generator=generator(0), dtype=torch.float64)
    x = x - x.mean()
    return round(layernorm_jacobian_norm(x * norm / x.norm(), eps=0.0), 3)
