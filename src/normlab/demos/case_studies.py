"""Chapter 7's demo: normlab's debugging tools on the case studies' blocks.

Pick a case's buggy block (or the reference pre-norm block) and a tool; the view is
what that tool shows for that block: its trace, its wiring checks, the gradient norms or
the residual-stream norms of a stack of :data:`DEPTH` blocks at initialisation.
The blocks and checks are those of :mod:`normlab.studies.casestudies`.

    from normlab.demos import case_studies
    case_studies.demo()
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from ..nn.blocks import PostNormBlock, PreNormBlock
from ..nn.trace import trace_shapes
from ..page.display import table_html
from ..page.widgets import Control, Picture, PrecomputedDemo, precomputed_demo
from ..studies.analysis import activation_norms_by_layer, grad_norms_by_layer
from ..studies.casestudies import (
    BATCH,
    D_FF,
    D_MODEL,
    N_HEADS,
    SEQ,
    NormOnceBlock,
    future_leak,
    identity_path_is_clean,
    sequence_norm_block,
    small_batch,
    stack_of,
    unused_parameters,
    wiring_signature,
)
from ..studies.seeds import generator, seed_everything
from .figures import new_figure, styled

# name -> factory(d_model, n_heads, d_ff) of one block; each a case's buggy block or the reference
BLOCKS: dict[str, Any] = {  # name -> a block class, or a function that builds a block
    "reference pre-norm": PreNormBlock,
    "case 1: refactored (post-norm)": PostNormBlock,
    "case 2: norm over the sequence": sequence_norm_block,
    "case 4: norm computed once": NormOnceBlock,
}
TOOLS = ("trace_shapes", "wiring checks", "gradient norms by layer", "stream norms by layer")
DEPTH = 8

CONTROLS = {
    "block": Control(list(BLOCKS), kind="dropdown", label="block"),
    "tool": Control(list(TOOLS), kind="dropdown", label="tool"),
}


def render(block: str = "reference pre-norm", tool: str = "trace_shapes") -> Picture | str:
    """One view of the demo: ``tool`` applied to the block named ``block``."""
    factory = BLOCKS[block]
    seed_everything(0)
    x = small_batch()
    if tool == "trace_shapes":
        rows = [
            [s.name, s.op, str(s.input_shape), str(s.output_shape)]
            for s in trace_shapes(factory(D_MODEL, N_HEADS, D_FF), x)
        ]
        return table_html(
            ["step", "op", "input", "output"], rows, caption=f"{block}: every leaf module in the order it ran"
        )
    if tool == "wiring checks":
        one = factory(D_MODEL, N_HEADS, D_FF)
        causal = (
            sequence_norm_block(D_MODEL, N_HEADS, D_FF)
            if factory is sequence_norm_block
            else factory(D_MODEL, N_HEADS, D_FF, causal=True)
        )
        checks: list[list[Any]] = [
            ["wiring signature (norms and sub-layer ends, in order)", " → ".join(wiring_signature(one, x))],
            ["identity path clean", identity_path_is_clean(one, x)],
            ["parameters without a gradient", ", ".join(unused_parameters(one, x)) or "none"],
            ["future leak when built causal (must be 0)", f"{future_leak(causal, x):.3g}"],
        ]
        return table_html(["check", "result"], checks, caption=f"{block}: normlab's wiring checks")
    stack = stack_of(factory, DEPTH)

    @styled
    def draw() -> Picture:
        fig, ax = new_figure(3.0)
        layers = range(1, DEPTH + 1)
        if tool == "gradient norms by layer":
            g = generator(1)
            head = torch.randn(D_MODEL, 10, generator=g) / math.sqrt(D_MODEL)
            target = torch.randint(0, 10, (BATCH * SEQ,), generator=g)
            norms = grad_norms_by_layer(
                stack, x, lambda out: nn.functional.cross_entropy((out @ head).flatten(0, 1), target)
            )
            assert isinstance(norms, list)  # one parameter name: one list
            values = norms
            what = "‖dLoss/dW2‖ (FFN)"
        else:
            values = activation_norms_by_layer(stack, x)
            what = "mean token norm"
        ax.bar(list(layers), values, color="#555555")
        ax.set_ylabel(what)
        ax.set_xlabel(f"block (stack of {DEPTH}, at init)")
        ax.set_title(f"{block}:\n{tool}")
        alt = (
            f"{tool} for a stack of {DEPTH} blocks, {block}: bars from "
            f"{min(values):.3g} to {max(values):.3g}, block 1 {values[0]:.3g}, block "
            f"{DEPTH} {values[-1]:.3g}"
        )
        return Picture(fig, alt)

    return draw()


def demo(live: bool | None = None) -> PrecomputedDemo:
    """Pick a case study's block and a tool; see what the tool shows (16 precomputed views)."""
    return precomputed_demo(
        render,
        CONTROLS,
        live=live,
        # the key it had in normlab.studies.casestudies: the views cached before the move stay valid
        cache_key=("normlab.casestudies.demo", DEPTH, D_MODEL, N_HEADS, D_FF, BATCH, SEQ),
    )
