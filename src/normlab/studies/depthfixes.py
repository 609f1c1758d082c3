"""Four fixes for pre-norm's cost at depth, trained and measured like the models of
book/11-small-language-model.md.

Mix-LN              Li et al. 2025 (Fig. 1c): post-norm blocks for the first
                    floor(alpha * L) layers, pre-norm for the rest; alpha = 25 % in
                    their experiments up to 1B parameters (their Tables 5 and 7)
LayerNorm scaling   Sun et al. 2025 (section 4): in block l (counted from 1)
                    the output of both norms is multiplied by 1/sqrt(l); the authors'
                    code does this before attention and before the MLP (book/references/facts.md §7)
Peri-LN             Kim et al. 2025: a norm on the input and on the output of every
                    sub-layer, y = x + LN(F(LN(x))): normlab's "sandwich" placement
NormFormer          Shleifer et al. 2021 (section 2, Fig. 1): pre-norm plus a norm on the
                    attention output before the residual add and a norm after the FFN's
                    activation; their learned scale per attention head is left out here

DepthScaledNorm(norm, layer)       norm(x) / sqrt(layer)
scale_norms_by_depth(model)        LayerNorm scaling applied to a pre-norm stack
mix_ln(model, post_fraction)       Mix-LN made from a pre-norm stack
normformer(model)                  NormFormer's two extra norms added to a pre-norm stack
DEPTH_FIXES                        name -> train_lm arguments (pre-norm and the fixes)
train_depth_fix(name)              one of them trained like that page's models, 8 seeds (cached)
stream_size(model, inputs)         ||x_l||^2 / d after each block, on validation text
measure_trained(runs, config)      that page's curse-of-depth measurements of an ensemble
                                   (normlab.studies.claims compares each fix with pre-norm)
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nn.stack import TransformerStack
from .analysis import block_io
from .lm import LMConfig, drop_layer_loss_change, layer_cosine_similarity, train_lm, validation_batch
from .seeds import ENSEMBLE


def _require_pre_norm(model: TransformerStack, fix: str) -> None:
    # Mix-LN, LayerNorm scaling and NormFormer start from a stack of pre-norm blocks;
    # rewriting another placement (or a stack already rewritten) would silently build
    # something no paper describes.
    placements = {block.placement for block in model.blocks}
    if getattr(model, "placement", None) != "pre" or placements != {"pre"}:
        raise ValueError(f"{fix} starts from a stack of pre-norm blocks; got blocks of placement {sorted(placements)}")


class DepthScaledNorm(nn.Module):
    """A norm whose output is scaled by 1/sqrt(layer): (..., d_model) -> (..., d_model).

    The wrapped norm keeps its own gain and bias (learned as usual); the factor is fixed,
    as in Sun et al.'s code (not a learned parameter).
    """

    def __init__(self, norm: nn.Module, layer: int) -> None:
        super().__init__()
        if not isinstance(layer, int) or layer < 1:
            raise ValueError(f"layer: expected the block's index counted from 1, got {layer!r}")
        self.norm, self.layer, self.scale = norm, layer, layer**-0.5

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x) * self.scale

    def extra_repr(self) -> str:
        return f"layer={self.layer}, scale=1/sqrt({self.layer})"


def scale_norms_by_depth(model: TransformerStack) -> TransformerStack:
    """LayerNorm scaling, in place: block l's two norms (before attention, before the FFN)
    get their output multiplied by 1/sqrt(l). The final norm is left as it is."""
    _require_pre_norm(model, "LayerNorm scaling")
    if any(isinstance(block.norm1, DepthScaledNorm) for block in model.blocks):
        raise ValueError("the norms of this stack are already scaled by depth")
    for layer, block in enumerate(model.blocks, start=1):
        block.norm1 = DepthScaledNorm(block.norm1, layer)
        block.norm2 = DepthScaledNorm(block.norm2, layer)
    return model


def mix_ln(model: TransformerStack, post_fraction: float = 0.25) -> TransformerStack:
    """Mix-LN, in place: the first floor(post_fraction * L) blocks become post-norm blocks
    carrying the same weights (``Block.rewired``), the rest stay pre-norm; the stack keeps
    its final norm, which the pre-norm blocks at the top need."""
    _require_pre_norm(model, "Mix-LN")
    if not 0 < post_fraction < 1:
        raise ValueError(f"post_fraction: expected a share strictly between 0 and 1, got {post_fraction!r}")
    n_post = math.floor(post_fraction * len(model.blocks))
    if n_post == 0:
        raise ValueError(f"post_fraction={post_fraction} of {len(model.blocks)} blocks leaves no post-norm block")
    for i in range(n_post):
        model.blocks[i] = model.blocks[i].rewired("post")
    return model


class NormedOutput(nn.Module):
    """``norm(sublayer(x, **kwargs))``: a norm on a sub-layer's output, (..., d) -> (..., d)."""

    def __init__(self, sublayer: nn.Module, norm: nn.Module) -> None:
        super().__init__()
        self.sublayer, self.norm = sublayer, norm

    def forward(self, x: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        return self.norm(self.sublayer(x, **kwargs))


def normformer(model: TransformerStack) -> TransformerStack:
    """NormFormer, in place, on a pre-norm stack of blocks with a two-layer FFN: every block's
    attention output is normalised before the residual add, and the FFN's hidden activation
    (width d_ff) is normalised before its second linear layer. No per-head scale."""
    _require_pre_norm(model, "NormFormer")
    for block in model.blocks:
        if isinstance(block.attn, NormedOutput):
            raise ValueError("this stack already has NormFormer's norms")
        if not hasattr(block.ffn, "linear1"):
            raise ValueError("NormFormer's FFN norm needs a two-layer FFN (linear1, activation, linear2)")
        block.attn = NormedOutput(block.attn, block.config.make_norm())
        hidden = block.config.make_norm(block.ffn.linear1.out_features)
        block.ffn.activation = nn.Sequential(block.ffn.activation, hidden)
    return model


# name on the page -> the arguments of train_lm that build it (same sizes, seed and data).
# The modifiers are module-level functions, so train_lm's cache recognises the runs.
DEPTH_FIXES: dict[str, dict[str, Any]] = {
    "pre-norm": {"placement": "pre"},
    "Mix-LN": {"placement": "pre", "modify": mix_ln},
    "LayerNorm scaling": {"placement": "pre", "modify": scale_norms_by_depth},
    "Peri-LN": {"placement": "sandwich"},
    "NormFormer": {"placement": "pre", "modify": normformer},
}


def stream_size(model: TransformerStack, inputs: torch.Tensor) -> np.ndarray:
    """Per block: mean over tokens of ||x_l||^2 / d for the block's output x_l, (n_layers,)
    from token ids (batch, seq). For pre-norm and Peri-LN blocks x_l is the residual
    stream (1 would be a normalised one); a post-norm block's output is normalised."""
    return np.array([out.pow(2).mean().item() for _, out in block_io(model, inputs)])


def train_depth_fix(
    name: str, config: LMConfig = LMConfig(), n_layers: int = 8, seeds: tuple[int, ...] = ENSEMBLE
) -> tuple[dict, ...]:
    """train_lm's records for the fix called ``name`` in DEPTH_FIXES (cached like train_lm:
    "pre-norm" is the very ensemble book/11-small-language-model.md trains with
    ``train_lm("pre", 8, config)``)."""
    if name not in DEPTH_FIXES:
        raise ValueError(f"unknown depth fix {name!r}: expected one of {tuple(DEPTH_FIXES)}")
    return train_lm(n_layers=n_layers, config=config, seeds=seeds, **DEPTH_FIXES[name])


def measure_trained(runs: tuple[dict, ...], config: LMConfig = LMConfig()) -> dict[str, np.ndarray]:
    """The measurements of book/11-small-language-model.md on each trained model of an
    ensemble, on its validation windows:
    {"val_loss" (seeds,), "cosine" (cos(block input, output)), "dropped" (loss change when the
    block is skipped), "stream" (stream_size)}, the last three (seeds, blocks)."""
    inputs, targets = validation_batch(config)
    return {
        "val_loss": np.array([run["val_loss"] for run in runs]),
        "cosine": np.array([layer_cosine_similarity(run["model"], inputs) for run in runs]),
        "dropped": np.array([drop_layer_loss_change(run["model"], inputs, targets) for run in runs]),
        "stream": np.array([stream_size(run["model"], inputs) for run in runs]),
    }
