"""Demo 2, gradient norm by layer: ||dLoss/dW2|| of every block's FFN at initialisation,
for post- and pre-norm (or all six placements) and a chosen depth (Xiong et al. 2020,
Fig. 3a,b).

Measured in :data:`normlab.studies.experiments.GRADIENT_SETTING` (tokens sharing 90 % of their
variance within a sequence, Xavier init, per-token cross-entropy), the setting in which
our sweep saw post-norm's rising profile; see book/measurements.md for the sweep.
"""

from __future__ import annotations

import functools

import numpy as np

from ..nn.blocks import PLACEMENTS
from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.experiments import GRADIENT_SETTING, mean_layer_gradients, profile_slope
from .figures import demo_widget, legend_below, new_figure, placement_style, styled

DEMO_SETTING = GRADIENT_SETTING
SEEDS = range(2)
SHOWN = {"post and pre": ("post", "pre"), "all six": PLACEMENTS}


@functools.lru_cache(maxsize=128)
def gradients(placement: str, n_layers: int) -> tuple[float, ...]:
    """Per-layer FFN W2 gradient norms (bottom block first), mean over SEEDS."""
    return tuple(mean_layer_gradients(placement, n_layers, DEMO_SETTING, SEEDS))


OVERLAP = 0.03  # curves closer than this (relative, at every block) are said to coincide


def coinciding(curves: dict[str, tuple[float, ...]]) -> dict[str, tuple[str, float]]:
    """For each curve drawn on top of an earlier one: (that one, their largest relative gap)."""
    found = {}
    names = list(curves)
    for i, name in enumerate(names):
        for other in names[:i]:
            a, b = np.asarray(curves[name]), np.asarray(curves[other])
            gap = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-12)))
            if gap < OVERLAP and other not in found:
                found[name] = (other, gap)
                break
    return found


@styled
def render(placements: str = "post and pre", n_layers: int = 12) -> Picture:
    fig, ax = new_figure(4.6)  # one size for every state: the page does not jump
    layers = np.arange(1, n_layers + 1)
    curves = {p: gradients(p, n_layers) for p in SHOWN[placements]}
    same = coinciding(curves)
    ratios = {}
    for p, grads in curves.items():
        label = p
        if n_layers > 2:
            ratios[p] = float(np.exp(profile_slope(grads)))
            label += f" ×{ratios[p]:.2f}"
        if p in same:
            label += f" (on {same[p][0]})"
        ax.plot(
            layers,
            grads,
            **placement_style(p, markersize=6 if p in same else 4),
            linewidth=2 if p in ("post", "pre") else 1.4,
            label=label,
            markerfacecolor="none" if p in same else None,
            zorder=3 if p in same else 2,
        )
    ax.set_ylim(bottom=0)
    ax.set_xlabel("block (1 = next to the input)")
    ax.set_ylabel("‖dLoss/dW2‖ (FFN, at init)")
    ax.set_title(
        f"{n_layers} blocks at init, mean of {len(SEEDS)} seeds" + ("\n(×: top/bottom ratio)" if ratios else "")
    )
    legend_below(ax, ncol=2 if placements == "all six" else 1)
    alt = f"gradient norm per layer, {n_layers} blocks, " + " vs ".join(curves)
    if ratios:
        alt += ": top/bottom ratio " + ", ".join(f"{p} {r:.2f}" for p, r in ratios.items())
    if same:
        alt += "; " + "; ".join(f"{p} lies on {o}" for p, (o, _) in same.items())
    return Picture(fig, alt)


CONTROLS = {
    "placements": Control(list(SHOWN), label="placements"),
    "n_layers": Control([2, 6, 12, 24, 48], label="blocks", value=12),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
