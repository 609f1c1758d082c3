"""Demo 8, amplification: how much a stack's output moves under a small random change
of its weights, against depth (Liu et al. 2020, the amplification effect: the output change
is O(N) for post-norm). At initialisation, every weight matrix gets Gaussian noise of
``scale`` times its own standard deviation; we plot
E||f(x, w + delta) - f(x, w)||^2 / E||f(x, w)||^2.
"""

from __future__ import annotations

import functools

from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.experiments import Setting, loglog_slope, output_change_vs_depth
from .figures import demo_widget, legend_below, log_axes, new_figure, placement_style, styled

DEPTHS = (2, 4, 8, 16, 24)
SEEDS = range(2)
PLACEMENTS_SHOWN = ("post", "pre", "sandwich", "deepnorm")


@functools.lru_cache(maxsize=32)
def change(placement: str, scale: float) -> tuple[float, ...]:
    return tuple(output_change_vs_depth(placement, DEPTHS, Setting(), scale, SEEDS))


@styled
def render(scale: float = 0.01) -> Picture:
    fig, ax = new_figure(3.6)
    slopes = {}
    for placement in PLACEMENTS_SHOWN:
        values = change(placement, scale)
        slopes[placement] = loglog_slope(DEPTHS, values)
        ax.plot(DEPTHS, values, **placement_style(placement), label=f"{placement}: slope {slopes[placement]:+.2f}")
    log_axes(ax, xticks=DEPTHS, y_subs=(1.0, 3.0))
    ax.set_xlabel("number of blocks N")
    ax.set_ylabel("relative output change")
    ax.set_title(f"weight noise × {scale:g} (slope 1: grows like N)")
    legend_below(ax, ncol=2)
    alt = (
        f"relative output change against depth ({DEPTHS[0]} to {DEPTHS[-1]} blocks, log-log), "
        f"weight noise {scale:g}: log-log slope " + ", ".join(f"{p} {s:+.2f}" for p, s in slopes.items())
    )
    return Picture(fig, alt)


CONTROLS = {"scale": Control([0.001, 0.01, 0.1], label="noise scale", value=0.01)}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
