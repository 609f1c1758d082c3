"""Chapter 11's demo: the character LM on the standard library's source (normlab.studies.lm),
one placement and depth at a time: its loss curve, and the per-block gradient norms of
each FFN's W2 at four moments of training.
"""

from __future__ import annotations

import numpy as np

from ..page.widgets import Control, Picture
from ..studies.lm import LMConfig, train_lm, unigram_loss
from .figures import PLACEMENT_COLORS, demo_widget, legend_below, new_figure, plot_loss_curve, styled

CONFIG = LMConfig()
PLACEMENTS = ("post", "pre")
DEPTHS = (2, 4, 8)


@styled
def render(placement: str = "pre", n_layers: int = 8) -> Picture:
    result = train_lm(placement, n_layers, CONFIG)
    fig, (ax_loss, ax_grad) = new_figure(6.4, nrows=2)
    plot_loss_curve(ax_loss, result["loss"], placement, f"train (validation {result['val_loss']:.2f})")
    ax_loss.axhline(unigram_loss(CONFIG), color="gray", linestyle=":", linewidth=1, label="character frequencies only")
    ax_loss.set_ylim(2.0, 5.0)
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("loss, nats per character")
    ax_loss.legend()
    shades = np.linspace(0.3, 1.0, len(result["profiles"]))
    for shade, (step, grads) in zip(shades, result["profiles"].items()):
        ax_grad.plot(
            range(1, n_layers + 1),
            grads,
            marker="o",
            markersize=3,
            color=PLACEMENT_COLORS[placement],
            alpha=float(shade),
            label=f"step {step}",
        )
    ax_grad.set_yscale("log")
    ax_grad.set_xlabel("block")
    ax_grad.set_ylabel("||dL/dW2||")
    legend_below(ax_grad, ncol=len(result["profiles"]))
    ax_loss.set_title(f"{placement}-norm, {n_layers} blocks, d_model {CONFIG.d_model}, {CONFIG.steps} steps")
    alt = (
        f"character language model, {placement}-norm, {n_layers} blocks: training loss over "
        f"{CONFIG.steps} steps (validation {result['val_loss']:.2f} nats per character, "
        f"character frequencies alone {unigram_loss(CONFIG):.2f}) and per-block FFN gradient "
        f"norms at steps " + ", ".join(str(step) for step in result["profiles"])
    )
    return Picture(fig, alt)


CONTROLS = {
    "placement": Control(list(PLACEMENTS), label="placement", value="pre"),
    "n_layers": Control(list(DEPTHS), label="blocks", value=8),
}


def demo(live: bool | None = None):
    return demo_widget(__name__, live)
