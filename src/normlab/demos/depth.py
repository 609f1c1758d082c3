"""Demo 3, depth scaling: the last block's FFN W2 gradient against depth, post vs pre,
on log-log axes with Theorem 1's 1/sqrt(L) guide (Xiong et al. 2020, Fig. 3c,d;
facts.md section 2: post-norm independent of L, pre-norm shrinking like 1/sqrt(L)).
"""

from __future__ import annotations

import functools

import numpy as np

from ..experiments import Setting, last_layer_gradient_vs_depth, loglog_slope
from ..widgets import Control, precomputed_demo
from ._plot import PLACEMENT_COLORS, cached_figure, log_axes, new_figure

DEPTHS = (6, 12, 24)
SEEDS = range(3)
SETTINGS = {
    "Xavier init": Setting(init="xavier"),
    "PyTorch default init": Setting(init="torch"),
}


@functools.lru_cache(maxsize=16)
def curve(placement: str, setting_name: str) -> tuple[float, ...]:
    return tuple(last_layer_gradient_vs_depth(placement, DEPTHS, SETTINGS[setting_name], SEEDS))


@cached_figure
def render(setting: str = "Xavier init"):
    fig, ax = new_figure()
    depths = np.array(DEPTHS)
    for placement in ("post", "pre"):
        values = curve(placement, setting)
        ax.plot(depths, values, marker="o", color=PLACEMENT_COLORS[placement],
                label=f"{placement}: slope {loglog_slope(depths, values):+.2f}")
    pre = curve("pre", setting)
    guide = pre[0] * np.sqrt(depths[0] / depths)
    ax.plot(depths, guide, "k--", linewidth=1, label="1/√L guide (slope −0.5)")
    log_axes(ax, xticks=DEPTHS, y_subs=(1.0, 2.0, 5.0))
    ax.set_xlabel("number of blocks L")
    ax.set_ylabel("||dLoss/dW2|| of the last block")
    ax.set_title(f"{setting}, mean of {len(SEEDS)} seeds", fontsize=9)
    ax.legend(fontsize=8)
    return fig


CONTROLS = {"setting": Control(list(SETTINGS), label="initialisation")}


def demo(live: bool | None = None):
    return precomputed_demo(render, CONTROLS, live=live)
