"""Demo 1, wiring explorer: one sub-layer of each placement drawn as a diagram, the
identity path highlighted, its formula, and what a stack of such blocks does to a
random input.

The identity path is the route from the input x to the output y that skips the
sub-layer F. Drawn green where nothing touches it; red where it passes a norm (post,
DeepNorm) or is rescaled (DeepNorm's alpha); each block class in normlab.nn.blocks
says which.
"""

from __future__ import annotations

import functools

import torch
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from ..nn.blocks import BLOCKS, PLACEMENTS
from ..nn.stack import TransformerStack
from ..page.display import table_html
from ..page.widgets import Control, EncodedImage, PrecomputedDemo, encode_figure
from ..studies.experiments import one_thread
from ..studies.seeds import seed_everything
from .figures import PLACEMENT_COLORS, demo_widget, new_figure, styled

# The identity path is drawn black: solid where nothing touches it, dotted where a norm or a
# scale sits on it (colours are kept for placements, one each across the book).
PATH = "#222222"
CLEAN_STYLE, TOUCHED_STYLE = {"linestyle": "-"}, {"linestyle": (0, (1, 1.2))}


def used_by(placement: str) -> str:
    """The models a placement's class names, as one line."""
    return ", ".join(BLOCKS[placement].models)


@styled
def draw(placement: str) -> Figure:
    """The diagram of one sub-layer of ``placement`` (a matplotlib Figure)."""
    block = BLOCKS[placement]
    wiring = block.wiring
    colour = PLACEMENT_COLORS[placement]
    fig, ax = new_figure(2.7)
    ax.set_xlim(-0.3, 10.3)
    ax.set_ylim(-1.05, 1.6)
    ax.axis("off")
    add_x = 6.6
    clean = wiring.identity_is_clean
    char = 0.21  # data units per character at the book's font size (10.3 units = 4.2 in)

    def width_of(text: str) -> float:
        return max(0.9, char * len(text) + 0.35)

    def box(x: float, y: float, text: str, edge: str, linestyle: str = "-") -> None:
        w = width_of(text)
        ax.add_patch(
            FancyBboxPatch(
                (x - w / 2, y - 0.27),
                w,
                0.54,
                boxstyle="round,pad=0.05",
                facecolor="white",
                edgecolor=edge,
                linewidth=1.6,
                linestyle=linestyle,
                zorder=3,
            )
        )
        ax.text(x, y, text, ha="center", va="center", zorder=4)

    # identity path along y = 0, from x to the add and on to y
    ax.plot(
        [0.3, 9.7],
        [0, 0],
        color=PATH,
        linewidth=3.5,
        zorder=1,
        solid_capstyle="round",
        **(CLEAN_STYLE if clean else TOUCHED_STYLE),
    )
    ax.text(0.0, 0, "x", ha="center", va="center", fontsize=13)
    ax.text(10.0, 0, "y", ha="center", va="center", fontsize=13)
    if wiring.identity_scale:
        box(3.5, 0, wiring.identity_scale, PATH, linestyle=":")
    # the branch: up at 1.0, through its boxes (laid out by their widths), down into the add
    ax.plot([1.0, 1.0, add_x, add_x], [0, 1.1, 1.1, 0.25], color=colour, linewidth=1.6, zorder=2)
    widths = [width_of(name) for name in wiring.branch]
    left, right = 1.35, add_x - 0.3
    gap = (right - left - sum(widths)) / (len(widths) + 1)
    x = left + gap
    for name, w in zip(wiring.branch, widths):
        box(x + w / 2, 1.1, name, colour)
        x += w + gap
    ax.plot(
        [add_x], [0], marker="o", markersize=20, markerfacecolor="white", markeredgecolor="black", zorder=3
    )  # a marker stays round whatever the axes' aspect
    ax.text(add_x, 0, "+", ha="center", va="center", fontsize=13, zorder=4)
    for i, name in enumerate(wiring.after_add):
        box(8.3 + i, 0, name, PATH, linestyle=":")
    verdict = (
        "identity path untouched (solid): dy/dx = I + dF/dx,\nand the identity term reaches x unchanged"
        if clean
        else "identity path (dotted) passes\na norm or a scale"
    )
    ax.text(5.0, -0.45, verdict, ha="center", va="top")
    formula = block.formula.replace(",  ", "\n")
    ax.set_title(f"{placement}:  {formula}")
    return fig


def alt_text(placement: str) -> str:
    block = BLOCKS[placement]
    wiring = block.wiring
    path = (
        "untouched: nothing normalises or rescales it"
        if wiring.identity_is_clean
        else "passes "
        + " and ".join(
            part
            for part, on in (("a scale α", wiring.identity_scale), ("a LayerNorm after the add", wiring.after_add))
            if on
        )
    )
    return (
        f"wiring of one {placement} sub-layer, {block.formula}: the branch runs "
        f"{' then '.join(wiring.branch)}; the identity path from x to y {path}"
    )


@functools.lru_cache(maxsize=16)
def diagram(placement: str) -> EncodedImage:
    """The diagram, encoded once per placement (it does not depend on depth)."""
    return encode_figure(draw(placement), alt_text(placement))


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
    return {
        "input": per_feature(x),
        "last_block": per_feature(stream),
        "output": per_feature(y),
        "change": ((y - x).norm(dim=-1) / x.norm(dim=-1)).mean().item(),
        "final_norm": stack.final_norm is not None,
    }


def render(placement: str = "pre", n_layers: int = 6) -> list[EncodedImage | str]:
    stats = output_stats(placement, n_layers)
    rows = [
        ["input x", f"{stats['input']:.2f}"],
        [f"after block {n_layers} (residual stream)", f"{stats['last_block']:.2f}"],
        ["stack output" + (" (after the final norm)" if stats["final_norm"] else ""), f"{stats['output']:.2f}"],
    ]
    table = table_html(
        ["where", "mean ||·||² / d_model"],
        rows,
        caption=f"{n_layers} freshly initialised {placement} blocks, d_model 64, random "
        f"N(0, 1) input; relative change ||y − x|| / ||x|| = {stats['change']:.2f}. "
        f"Used by: {used_by(placement)}.",
    )
    return [diagram(placement), table]


CONTROLS = {
    "placement": Control(list(PLACEMENTS), kind="dropdown", label="placement", value="pre"),
    "n_layers": Control([1, 6, 24], label="blocks", value=6),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
