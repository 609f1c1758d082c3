"""The demo of book/11-small-language-model.md: the character LM on the standard library's
source (normlab.studies.lm), one placement and depth at a time, over that page's 8 seeds:
the loss curve of every seed (faint) and their median, and the per-block gradient norms of
each FFN's W2 at four moments of training (the median over the seeds).
"""

from __future__ import annotations

import numpy as np

from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.lm import LMConfig, train_lm, unigram_loss
from .figures import PLACEMENT_COLORS, demo_widget, legend_below, new_figure, plot_loss_curves, styled

CONFIG = LMConfig()
PLACEMENTS = ("post", "pre")
DEPTHS = (2, 4, 8)


@styled
def render(placement: str = "pre", n_layers: int = 8) -> Picture:
    runs = train_lm(placement, n_layers, CONFIG)
    val_loss = np.median([run["val_loss"] for run in runs])
    profiles = {step: np.median([run["profiles"][step] for run in runs], axis=0) for step in runs[0]["profiles"]}
    fig, (ax_loss, ax_grad) = new_figure(6.4, nrows=2)
    plot_loss_curves(ax_loss, [run["loss"] for run in runs], placement, f"train, median of {len(runs)} seeds")
    ax_loss.axhline(unigram_loss(CONFIG), color="gray", linestyle=":", linewidth=1, label="character frequencies only")
    ax_loss.set_ylim(2.0, 5.0)
    ax_loss.set_xlabel("training step")
    ax_loss.set_ylabel("loss, nats per character")
    ax_loss.legend()
    shades = np.linspace(0.3, 1.0, len(profiles))
    for shade, (step, grads) in zip(shades, profiles.items()):
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
    ax_grad.set_ylabel("||dL/dW2||, median")
    legend_below(ax_grad, ncol=len(profiles))
    ax_loss.set_title(f"{placement}-norm, {n_layers} blocks, d_model {CONFIG.d_model}, {CONFIG.steps} steps")
    alt = (
        f"character language model, {placement}-norm, {n_layers} blocks: training loss over "
        f"{CONFIG.steps} steps for {len(runs)} seeds (median validation loss {val_loss:.2f} nats per "
        f"character, character frequencies alone {unigram_loss(CONFIG):.2f}) and the median per-block "
        f"FFN gradient norms at steps " + ", ".join(str(step) for step in profiles)
    )
    return Picture(fig, alt)


CONTROLS = {
    "placement": Control(list(PLACEMENTS), label="placement", value="pre"),
    "n_layers": Control(list(DEPTHS), label="blocks", value=8),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
