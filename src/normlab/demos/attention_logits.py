"""The demo of book/10-beyond-placement.md: attention entropy against the scale of W_Q and
W_K, with and without QK-norm (normlab.studies.logits). Left: one head's attention weights;
right: the entropy curve.
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from ..nn.attention import MultiHeadSelfAttention
from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.logits import attention_weights, entropy_vs_qk_scale
from ..studies.seeds import seed_everything
from .figures import demo_widget, legend_below, log_axes, new_figure, styled

SCALES = (0.5, 1.0, 2.0, 4.0, 8.0, 16.0)
SEQ = 16


@functools.lru_cache(maxsize=4)
def curve(qk_norm: bool) -> dict:
    return entropy_vs_qk_scale(SCALES, qk_norm, seq=SEQ)


@styled
def render(scale: float = 1.0, qk_norm: str = "off") -> Picture:
    on = qk_norm == "on"
    seed_everything(0)
    attn = MultiHeadSelfAttention(64, 4)
    x = nn.functional.layer_norm(torch.randn(1, SEQ, 64), (64,))
    with torch.no_grad():
        weights, _ = attention_weights(attn, x, scale, on)
    fig, (ax_w, ax_e) = new_figure(6.4, nrows=2)
    ax_w.imshow(weights[0, 0].numpy(), vmin=0, vmax=1, cmap="viridis")
    ax_w.set_xlabel("key")
    ax_w.set_ylabel("query")
    ax_w.set_title(f"head 1, W_Q, W_K ×{scale:g}")
    for name, style in (
        ("off", {"color": "#d62728", "marker": "o"}),
        ("on", {"color": "#1f77b4", "marker": "s", "linestyle": "--"}),
    ):
        result = curve(name == "on")
        ax_e.plot(result["scale"], result["entropy"], markersize=4, label=f"QK-norm {name}", **style)
    ax_e.axhline(curve(False)["uniform"], color="gray", linestyle=":", linewidth=1, label="uniform: ln 16")
    current = curve(on)["entropy"][SCALES.index(scale)]
    ax_e.plot([scale], [current], "s", color="black", markersize=6)
    log_axes(ax_e, y=False, xticks=SCALES)
    ax_e.set_xlabel("scale of W_Q and W_K")
    ax_e.set_ylabel("mean attention entropy (nats)")
    legend_below(ax_e, ncol=3)
    alt = (
        f"attention weights of one head with W_Q and W_K scaled by {scale:g}, QK-norm {qk_norm}, "
        f"and mean attention entropy against the scale: {current:.2f} nats here, "
        f"uniform attention {curve(False)['uniform']:.2f}"
    )
    return Picture(fig, alt)


CONTROLS = {
    "scale": Control(list(SCALES), label="W_Q, W_K scale", value=1.0),
    "qk_norm": Control(["off", "on"], label="QK-norm"),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
