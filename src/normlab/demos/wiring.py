"""Demo 1, wiring explorer: one sub-layer of each placement drawn as a diagram, the
identity path highlighted, its formula, and what a stack of such blocks does to a
random input.

The identity path is the route from the input x to the output y that skips the
sub-layer F. Drawn green where nothing touches it; red where it passes a norm (post,
DeepNorm) or is rescaled (DeepNorm's alpha): facts.md section 1.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import ipywidgets as widgets
import torch
from matplotlib.patches import Circle, FancyBboxPatch

from ..analysis import seed_everything
from ..blocks import PLACEMENTS
from ..display import table_html
from ..experiments import one_thread
from ..stack import TransformerStack
from ..widgets import Control, precomputed_demo
from ._plot import image, new_figure, png_bytes


@dataclass(frozen=True)
class Wiring:
    formula: str                 # one sub-layer, F = attention or FFN (facts.md section 1)
    branch: tuple[str, ...]      # boxes on the branch, in order
    after_add: tuple[str, ...]   # boxes on the stream after the add
    identity_scale: str = ""     # a factor on the identity path, if any
    used_by: str = ""


WIRINGS = {
    "post": Wiring("y = LN(x + F(x))", ("F",), ("LN",), used_by="Transformer 2017, BERT, GPT-1"),
    "pre": Wiring("y = x + F(LN(x))", ("LN", "F"), (), used_by="GPT-2/3, T5, LLaMA (+ a final LN)"),
    "sandwich": Wiring("y = x + LN(F(LN(x)))", ("LN", "F", "LN"), (), used_by="CogView, Gemma 2/3"),
    "res-post": Wiring("y = x + LN(F(x))", ("F", "LN"), (), used_by="Swin V2, OLMo 2"),
    "deepnorm": Wiring("y = LN(α·x + F(x)),  F's weights ×β at init", ("F",), ("LN",),
                       identity_scale="×α", used_by="DeepNet (Wang et al. 2022)"),
    "parallel": Wiring("y = x + Attn(LN(x)) + FFN(LN(x))", ("LN", "Attn + FFN"), (),
                       used_by="GPT-J, PaLM"),
}

CLEAN, TOUCHED, BRANCH = "#2ca02c", "#d62728", "#555555"


def identity_is_clean(placement: str) -> bool:
    """True when nothing normalises or rescales the path x -> y that skips F."""
    wiring = WIRINGS[placement]
    return not wiring.after_add and not wiring.identity_scale


def draw(placement: str):
    """The diagram of one sub-layer of ``placement`` (a matplotlib Figure)."""
    wiring = WIRINGS[placement]
    fig, ax = new_figure(6.0, 2.4)
    ax.set_xlim(-0.3, 10.3)
    ax.set_ylim(-1.0, 2.0)
    ax.axis("off")
    add_x = 6.5
    clean = identity_is_clean(placement)
    identity_color = CLEAN if clean else TOUCHED

    def box(x, y, text, edge):
        ax.add_patch(FancyBboxPatch((x - 0.55, y - 0.25), 1.1, 0.5, boxstyle="round,pad=0.05",
                                    facecolor="white", edgecolor=edge, linewidth=1.5, zorder=3))
        ax.text(x, y, text, ha="center", va="center", fontsize=9, zorder=4)

    # identity path along y = 0, from x to the add and on to y
    ax.plot([0.3, 9.7], [0, 0], color=identity_color, linewidth=4, zorder=1, solid_capstyle="round")
    ax.text(0.0, 0, "x", ha="center", va="center", fontsize=12)
    ax.text(10.0, 0, "y", ha="center", va="center", fontsize=12)
    if wiring.identity_scale:
        box(3.5, 0, wiring.identity_scale, TOUCHED)
    # the branch: up at 1.0, through its boxes, down into the add
    ax.plot([1.0, 1.0, add_x, add_x], [0, 1.2, 1.2, 0.25], color=BRANCH, linewidth=1.5, zorder=2)
    step = (add_x - 1.6) / max(len(wiring.branch), 1)
    for i, name in enumerate(wiring.branch):
        box(1.6 + step * (i + 0.5), 1.2, name, BRANCH)
    ax.add_patch(Circle((add_x, 0), 0.25, facecolor="white", edgecolor="black", zorder=3))
    ax.text(add_x, 0, "+", ha="center", va="center", fontsize=12, zorder=4)
    for i, name in enumerate(wiring.after_add):
        box(8.3 + i, 0, name, TOUCHED)
    verdict = ("identity path untouched: gradients reach x unchanged" if clean
               else "identity path passes a norm or a scale")
    ax.text(5.0, -0.75, verdict, ha="center", fontsize=9, color=identity_color)
    ax.set_title(f"{placement}:  {wiring.formula}", fontsize=10)
    return fig


@functools.lru_cache(maxsize=64)
def output_stats(placement: str, n_layers: int, seed: int = 0) -> dict:
    """What a freshly initialised stack does to a random input (batch 4, seq 16, d 64).

    Returns mean ||x||^2 / d of the input, of the last block's output before any final
    norm, and of the stack's output, and the relative change ||y - x|| / ||x||.
    """
    with one_thread():
        seed_everything(seed)
        stack = TransformerStack(n_layers, 64, 4, 256, placement=placement)
        x = torch.randn(4, 16, 64)
        with torch.no_grad():
            stream = x
            for block in stack.blocks:
                stream = block(stream)
            y = stack(x)
    per_feature = lambda t: t.pow(2).sum(-1).mean().item() / 64  # noqa: E731
    return {"input": per_feature(x), "last_block": per_feature(stream), "output": per_feature(y),
            "change": ((y - x).norm(dim=-1) / x.norm(dim=-1)).mean().item(),
            "final_norm": stack.final_norm is not None}


@functools.lru_cache(maxsize=16)
def diagram_png(placement: str) -> bytes:
    """The diagram as PNG bytes, drawn once per placement (it does not depend on depth)."""
    return png_bytes(draw(placement))


def render(placement: str = "pre", n_layers: int = 6):
    stats = output_stats(placement, n_layers)
    rows = [
        ["input x", f"{stats['input']:.2f}"],
        [f"after block {n_layers} (residual stream)", f"{stats['last_block']:.2f}"],
        ["stack output" + (" (after the final norm)" if stats["final_norm"] else ""),
         f"{stats['output']:.2f}"],
    ]
    table = table_html(["where", "mean ||·||² / d_model"], rows,
                       caption=f"{n_layers} freshly initialised {placement} blocks, d_model 64, random "
                               f"N(0, 1) input; relative change ||y − x|| / ||x|| = {stats['change']:.2f}. "
                               f"Used by: {WIRINGS[placement].used_by}.")
    return widgets.VBox([image(diagram_png(placement)), widgets.HTML(table)])


CONTROLS = {
    "placement": Control(list(PLACEMENTS), kind="dropdown", label="placement", value="pre"),
    "n_layers": Control([1, 6, 24], label="blocks", value=6),
}


def demo(live: bool | None = None):
    return precomputed_demo(render, CONTROLS, live=live)
