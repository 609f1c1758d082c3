"""Demo 3, depth scaling: the last block's FFN W2 gradient against depth, post vs pre,
on log-log axes with Theorem 1's 1/sqrt(L) guide (Xiong et al. 2020, Fig. 3c,d;
and Theorem 1: post-norm independent of L, pre-norm shrinking like 1/sqrt(L)).
"""

from __future__ import annotations

import functools

import numpy as np

from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.experiments import Setting, last_layer_gradient_vs_depth, loglog_slope
from .figures import GUIDE, demo_widget, legend_below, log_axes, new_figure, placement_style, styled

DEPTHS = (6, 12, 24)
SEEDS = range(3)
SETTINGS = {
    "Xavier init": Setting(init="xavier"),
    "PyTorch default init": Setting(init="torch"),
}


@functools.lru_cache(maxsize=16)
def curve(placement: str, setting_name: str) -> tuple[float, ...]:
    return tuple(last_layer_gradient_vs_depth(placement, DEPTHS, SETTINGS[setting_name], SEEDS))


@styled
def render(setting: str = "Xavier init") -> Picture:
    fig, ax = new_figure(3.4)
    depths = np.array(DEPTHS)
    slopes = {}
    for placement in ("post", "pre"):
        values = curve(placement, setting)
        slopes[placement] = loglog_slope(depths, values)
        ax.plot(depths, values, **placement_style(placement), label=f"{placement}: slope {slopes[placement]:+.2f}")
    pre = curve("pre", setting)
    guide = pre[0] * np.sqrt(depths[0] / depths)
    ax.plot(depths, guide, **GUIDE, label="1/√L guide (slope −0.5)")
    log_axes(ax, xticks=DEPTHS, y_subs=(1.0, 2.0, 5.0))
    ax.set_xlabel("number of blocks L")
    ax.set_ylabel("‖dLoss/dW2‖, last block")
    ax.set_title(f"{setting}, mean of {len(SEEDS)} seeds")
    legend_below(ax)
    alt = (
        f"last block's FFN gradient against depth ({', '.join(map(str, DEPTHS))} blocks, log-log), "
        f"{setting}: post slope {slopes['post']:+.2f}, pre slope {slopes['pre']:+.2f}, "
        f"beside a 1/sqrt(L) guide of slope -0.5"
    )
    return Picture(fig, alt)


CONTROLS = {"setting": Control(list(SETTINGS), label="initialisation")}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
