"""Demo 4, residual stream growth: mean ||x_l||^2 per layer for pre- and post-norm
against Xiong et al.'s Lemma 2 (Xiong et al. 2020): pre-norm between (1 + l/2) d and
(1 + 3l/2) d, post-norm 3/2 d.

Where x_l is measured (see :func:`normlab.studies.experiments.stream_sq_norms`): for pre-norm,
the residual stream after block l; for post-norm, the un-normalised sum x + FFN(x) that
enters block l's last LayerNorm. The post-norm block's *output* has ||.||^2 = d exactly.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.experiments import PAPER_SETTING, lemma2_bounds, mean_stream_sq_norms
from .figures import PLACEMENT_COLORS, demo_widget, legend_below, new_figure, placement_style, styled

SEEDS = range(2)
ATTENTION = {
    "uniform (zero query and key weights, as in the paper)": PAPER_SETTING,
    "softmax (Xavier query and key weights)": replace(PAPER_SETTING, uniform_attention=False),
}


@functools.lru_cache(maxsize=32)
def stream(placement: str, n_layers: int, attention: str) -> tuple[float, ...]:
    return tuple(mean_stream_sq_norms(placement, n_layers, ATTENTION[attention], SEEDS))


@styled
def render(attention: str = list(ATTENTION)[0], n_layers: int = 12) -> Picture:
    d = ATTENTION[attention].d_model
    layers = np.arange(1, n_layers + 1)
    lower, upper, post_value = lemma2_bounds(n_layers, d)
    fig, ax = new_figure(3.9)
    ax.fill_between(
        layers,
        lower / d,
        upper / d,
        color=PLACEMENT_COLORS["pre"],
        alpha=0.15,
        label="Lemma 2, pre: (1 + l/2) … (1 + 3l/2)",
    )
    ax.axhline(
        post_value / d, color=PLACEMENT_COLORS["post"], linestyle="--", linewidth=1.2, label="Lemma 2, post: 3/2"
    )
    pre = np.array(stream("pre", n_layers, attention)) / d
    post = np.array(stream("post", n_layers, attention)) / d
    ax.plot(layers, pre, **placement_style("pre", markersize=4), label="pre: stream after block l")
    ax.plot(layers, post, **placement_style("post", markersize=4), label="post: x + FFN(x) before the last LN")
    ax.set_xlabel("layer l")
    ax.set_ylabel("mean ‖x_l‖² / d")
    ax.set_title(f"d = {d}, {attention.split(' (')[0]} attention, mean of {len(SEEDS)} seeds")
    legend_below(ax)
    alt = (
        f"residual stream size per layer, {n_layers} blocks, {attention} attention: pre-norm "
        f"grows from {pre[0]:.1f} to {pre[-1]:.1f} times d inside Lemma 2's band; post-norm "
        f"stays near {post.mean():.2f} times d (Lemma 2: 1.5)"
    )
    return Picture(fig, alt)


CONTROLS = {
    "attention": Control(list(ATTENTION), kind="dropdown", label="attention at init"),
    "n_layers": Control([6, 12, 24], label="blocks", value=12),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
