"""Demo 2, gradient norm by layer: ||dLoss/dW2|| of every block's FFN at initialisation,
for post- and pre-norm (or all six placements) and a chosen depth (Xiong et al. 2020,
Fig. 3a,b; facts.md section 2).

Measured in :data:`normlab.experiments.GRADIENT_SETTING` (tokens sharing 90 % of their
variance within a sequence, Xavier init, per-token cross-entropy), the setting in which
our sweep saw post-norm's rising profile; see book/measurements.md for the sweep.
"""

from __future__ import annotations

import functools

import numpy as np

from ..blocks import PLACEMENTS
from ..experiments import GRADIENT_SETTING, mean_layer_gradients, profile_slope
from ..widgets import Control, precomputed_demo
from ._plot import PLACEMENT_COLORS, cached_figure, new_figure

DEMO_SETTING = GRADIENT_SETTING
SEEDS = range(2)
SHOWN = {"post and pre": ("post", "pre"), "all six": PLACEMENTS}


@functools.lru_cache(maxsize=128)
def gradients(placement: str, n_layers: int) -> tuple[float, ...]:
    """Per-layer FFN W2 gradient norms (bottom block first), mean over SEEDS."""
    return tuple(mean_layer_gradients(placement, n_layers, DEMO_SETTING, SEEDS))


@cached_figure
def render(placements: str = "post and pre", n_layers: int = 12):
    fig, ax = new_figure()
    layers = np.arange(1, n_layers + 1)
    for p in SHOWN[placements]:
        grads = gradients(p, n_layers)
        label = p
        if n_layers > 2:
            label += f" (top/bottom ×{np.exp(profile_slope(grads)):.2f})"
        ax.plot(layers, grads, marker="o", markersize=3, color=PLACEMENT_COLORS[p],
                linewidth=2 if p in ("post", "pre") else 1, label=label)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("block (1 = next to the input)")
    ax.set_ylabel("||dLoss/dW2||  (FFN, at init)")
    ax.set_title(f"{n_layers} blocks at init, mean of {len(SEEDS)} seeds", fontsize=9)
    ax.legend(fontsize=7)
    return fig


CONTROLS = {
    "placements": Control(list(SHOWN), label="placements"),
    "n_layers": Control([2, 6, 12, 24, 48], label="blocks", value=12),
}


def demo(live: bool | None = None):
    return precomputed_demo(render, CONTROLS, live=live)
