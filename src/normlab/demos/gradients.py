"""Demo 2, gradient norm by layer: ||dLoss/dW2|| of every block's FFN at initialisation,
for a chosen placement and depth (Xiong et al. 2020, Fig. 3a,b; facts.md section 2).

Measured in :data:`normlab.experiments.GRADIENT_SETTING` (tokens sharing 90 % of their
variance within a sequence, Xavier init, per-token cross-entropy), the setting in which
our sweep saw post-norm's rising profile; see book/measurements.md for the sweep.
"""

from __future__ import annotations

import functools

import numpy as np

from ..blocks import PLACEMENTS
from ..experiments import GRADIENT_SETTING, Setting, mean_layer_gradients, profile_slope
from ..widgets import Control, precomputed_demo
from ._plot import PLACEMENT_COLORS, log_axes, new_figure

DEMO_SETTING = GRADIENT_SETTING
SEEDS = range(2)


@functools.lru_cache(maxsize=128)
def gradients(placement: str, n_layers: int, setting: Setting = DEMO_SETTING) -> tuple[float, ...]:
    """Per-layer FFN W2 gradient norms (bottom block first), mean over SEEDS."""
    return tuple(mean_layer_gradients(placement, n_layers, setting, SEEDS))


def render(placement: str = "post", n_layers: int = 12):
    fig, ax = new_figure()
    layers = np.arange(1, n_layers + 1)
    shown = [placement] + [p for p in ("post", "pre") if p != placement]
    for p in shown:
        grads = gradients(p, n_layers)
        ratio = np.exp(profile_slope(grads)) if n_layers > 1 else 1.0
        chosen = p == placement
        ax.plot(layers, grads, marker="o" if chosen else None, markersize=3,
                color=PLACEMENT_COLORS[p], alpha=1.0 if chosen else 0.35,
                linewidth=2 if chosen else 1, label=f"{p} (top/bottom of fit ×{ratio:.2f})")
    log_axes(ax, x=False)
    ax.set_xlabel("block (1 = next to the input)")
    ax.set_ylabel("||dLoss/dW2||  (FFN, at init)")
    ax.set_title(f"FFN gradient by layer, {n_layers} blocks", fontsize=10)
    ax.legend(fontsize=8)
    return fig


CONTROLS = {
    "placement": Control(list(PLACEMENTS), kind="dropdown", label="placement", value="post"),
    "n_layers": Control([2, 6, 12, 24, 48], label="blocks", value=12),
}


def demo(live: bool | None = None):
    return precomputed_demo(render, CONTROLS, live=live)
