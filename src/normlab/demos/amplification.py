"""Demo 8, amplification: how much a stack's output moves under a small random change
of its weights, against depth (Liu et al. 2020; facts.md section 3: the output change
is O(N) for post-norm). At initialisation, every weight matrix gets Gaussian noise of
``scale`` times its own standard deviation; we plot
E||f(x, w + delta) - f(x, w)||^2 / E||f(x, w)||^2.
"""

from __future__ import annotations

import functools


from ..experiments import Setting, loglog_slope, output_change_vs_depth
from ..widgets import Control, precomputed_demo
from ._plot import PLACEMENT_COLORS, cached_figure, log_axes, new_figure

DEPTHS = (2, 4, 8, 16, 24)
SEEDS = range(2)
PLACEMENTS_SHOWN = ("post", "pre", "sandwich", "deepnorm")


@functools.lru_cache(maxsize=32)
def change(placement: str, scale: float) -> tuple[float, ...]:
    return tuple(output_change_vs_depth(placement, DEPTHS, Setting(), scale, SEEDS))


@cached_figure
def render(scale: float = 0.01):
    fig, ax = new_figure()
    for placement in PLACEMENTS_SHOWN:
        values = change(placement, scale)
        ax.plot(DEPTHS, values, marker="o", markersize=3, color=PLACEMENT_COLORS[placement],
                label=f"{placement}: slope {loglog_slope(DEPTHS, values):+.2f}")
    log_axes(ax, xticks=DEPTHS, y_subs=(1.0, 3.0))
    ax.set_xlabel("number of blocks N")
    ax.set_ylabel("relative output change")
    ax.set_title(f"Weight noise × {scale:g} (slope 1: grows like N)", fontsize=9)
    ax.legend(fontsize=8)
    return fig


CONTROLS = {"scale": Control([0.001, 0.01, 0.1], label="noise scale", value=0.01)}


def demo(live: bool | None = None):
    return precomputed_demo(render, CONTROLS, live=live)
