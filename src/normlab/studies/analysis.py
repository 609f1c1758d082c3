"""Measurements on a stack: per-layer gradient norms and residual-stream norms."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nn.blocks import Block
from .seeds import seed_base


def _grad(module: nn.Module, name: str) -> torch.Tensor:
    grad = dict(module.named_parameters())[name].grad
    assert grad is not None, f"{name} has no gradient: the loss does not depend on it"
    return grad


def _blocks(model: nn.Module) -> Any:
    if not hasattr(model, "blocks"):
        raise TypeError(f"expected a model with .blocks (e.g. a TransformerStack), got {type(model).__name__}")
    return model.blocks


def block_io(model: nn.Module, x: torch.Tensor, seed: int | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(input, output) of each block of ``model``, in order, from one forward pass of
    ``x`` without gradients; each tensor is (batch, seq, d_model). The one place that
    hooks the blocks: every per-block measurement of the residual stream reads it.
    ``seed`` (if given) is set just before the pass, which fixes any dropout."""
    pairs: list[tuple[torch.Tensor, torch.Tensor]] = []
    handles = [b.register_forward_hook(lambda mod, args, out: pairs.append((args[0], out))) for b in _blocks(model)]
    try:
        if seed is not None:
            torch.manual_seed(seed_base() + seed)
        with torch.no_grad():
            model(x)
    finally:
        for handle in handles:
            handle.remove()
    return pairs


def grad_norms_by_layer(
    model: nn.Module,
    x: torch.Tensor,
    loss_fn: Callable[[torch.Tensor], torch.Tensor],
    params: str | Sequence[str] = "ffn.linear2.weight",
    seed: int = 0,
) -> list[float] | dict[str, list[float]]:
    """Frobenius norm of dLoss/dparam for the named parameter of each block.

    ``params`` is a dotted name inside a block ("ffn.linear2.weight" is each FFN's
    second weight, W^2 in Xiong et al.), or a list of names (returns a dict).
    ``loss_fn`` maps the model's output to a scalar. ``seed`` fixes any dropout.
    """
    names = [params] if isinstance(params, str) else list(params)
    blocks = _blocks(model)
    for name in names:  # fail before the forward pass, naming what is missing
        if name not in dict(blocks[0].named_parameters()):
            raise KeyError(
                f"no parameter {name!r} in {type(blocks[0]).__name__}; "
                f"try one of {[n for n, _ in blocks[0].named_parameters()]}"
            )
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed_base() + seed)
    loss_fn(model(x)).backward()
    norms = {name: [_grad(b, name).norm().item() for b in blocks] for name in names}
    model.zero_grad(set_to_none=True)
    return norms[names[0]] if isinstance(params, str) else norms


def last_block_gradient_by_depth(
    build_stack: Callable[[int, int], nn.Module],
    make_batch: Callable[[int], tuple[torch.Tensor, Callable[[torch.Tensor], torch.Tensor]]],
    depths: Sequence[int],
    seeds: Iterable[int] = range(3),
    param: str = "ffn.linear2.weight",
) -> np.ndarray:
    """||dLoss/dparam|| of the *last* block at initialisation, for each depth, mean over seeds.

    ``build_stack(depth, seed)`` makes the model, ``make_batch(seed)`` its input
    (batch, seq, d_model) and loss. Xiong et al.'s Theorem 1 (arXiv 2002.04745, §3.2):
    for W2 this falls like 1/sqrt(depth) in a pre-norm stack and does not in a post-norm one.
    """

    def last(depth: int, seed: int) -> float:
        norms = grad_norms_by_layer(build_stack(depth, seed), *make_batch(seed), params=param)
        assert isinstance(norms, list)  # one name gives one list
        return norms[-1]

    return np.array([np.mean([last(depth, seed) for seed in seeds]) for depth in depths])


def activation_norms_by_layer(model: nn.Module, x: torch.Tensor, squared: bool = False, seed: int = 0) -> list[float]:
    """Mean over (batch, seq) of the residual stream's L2 norm after each block.

    With ``squared=True`` the mean of ||x_l||^2. This is the stream *between* blocks:
    for post-norm it is a LayerNorm output, exactly d by construction, while Xiong et
    al.'s Lemma 2 (3/2 d) speaks of the sum before that norm; see
    ``normlab.studies.experiments.stream_sq_norms`` for the Lemma's measurement point.
    """
    outputs = [out for _, out in block_io(model, x, seed=seed)]
    norms = [out.norm(dim=-1) for out in outputs]  # (batch, seq) each
    return [(n.pow(2) if squared else n).mean().item() for n in norms]


def silence_branches(block: Block) -> Block:
    """Zero the last linear layer of both core functions, so F(anything) = 0 in ``block``.

    What is left is the wiring alone: a block whose identity path is untouched then
    returns its input exactly. Returns the block (changed in place).
    """
    with torch.no_grad():
        for layer in (block.attn.out_proj, block.ffn.linear2):
            layer.weight.zero_()
            layer.bias.zero_()
    return block
