"""Demo 4, residual stream growth: mean ||x_l||^2 per layer for pre- and post-norm
against Xiong et al.'s Lemma 2 (facts.md section 2): pre-norm between (1 + l/2) d and
(1 + 3l/2) d, post-norm 3/2 d.

Where x_l is measured (see :func:`normlab.experiments.stream_sq_norms`): for pre-norm,
the residual stream after block l; for post-norm, the un-normalised sum x + FFN(x) that
enters block l's last LayerNorm. The post-norm block's *output* has ||.||^2 = d exactly.
"""

from __future__ import annotations

import functools
from dataclasses import replace

import numpy as np

from ..experiments import PAPER_SETTING, lemma2_bounds, mean_stream_sq_norms
from ..widgets import Control, precomputed_demo
from ._plot import PLACEMENT_COLORS, cached_figure, new_figure

SEEDS = range(2)
ATTENTION = {
    "uniform (W^Q = W^K = 0, the paper's setting)": PAPER_SETTING,
    "softmax attention, Xavier Q/K": replace(PAPER_SETTING, uniform_attention=False),
}


@functools.lru_cache(maxsize=32)
def stream(placement: str, n_layers: int, attention: str) -> tuple[float, ...]:
    return tuple(mean_stream_sq_norms(placement, n_layers, ATTENTION[attention], SEEDS))


@cached_figure
def render(attention: str = list(ATTENTION)[0], n_layers: int = 12):
    d = ATTENTION[attention].d_model
    layers = np.arange(1, n_layers + 1)
    lower, upper, post_value = lemma2_bounds(n_layers, d)
    fig, ax = new_figure()
    ax.fill_between(layers, lower / d, upper / d, color=PLACEMENT_COLORS["pre"], alpha=0.15,
                    label="Lemma 2, pre: (1 + l/2) … (1 + 3l/2)")
    ax.axhline(post_value / d, color=PLACEMENT_COLORS["post"], linestyle="--", linewidth=1,
               label="Lemma 2, post: 3/2")
    ax.plot(layers, np.array(stream("pre", n_layers, attention)) / d, "o-", markersize=3,
            color=PLACEMENT_COLORS["pre"], label="pre: stream after block l")
    ax.plot(layers, np.array(stream("post", n_layers, attention)) / d, "s-", markersize=3,
            color=PLACEMENT_COLORS["post"], label="post: x + FFN(x) before the last LN")
    ax.set_xlabel("layer l")
    ax.set_ylabel("mean ||x_l||² / d")
    ax.set_title(f"d = {d}, mean of {len(SEEDS)} seeds", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    return fig


CONTROLS = {
    "attention": Control(list(ATTENTION), kind="dropdown", label="attention at init"),
    "n_layers": Control([6, 12, 24], label="blocks", value=12),
}


def demo(live: bool | None = None):
    return precomputed_demo(render, CONTROLS, live=live)
