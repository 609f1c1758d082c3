"""Small, labelled matplotlib figures shared by the demos (no pyplot state kept)."""

from __future__ import annotations

import functools
import io

import ipywidgets as widgets
from matplotlib.figure import Figure

# one colour per placement, the same in every demo
PLACEMENT_COLORS = {"post": "#d62728", "pre": "#1f77b4", "sandwich": "#2ca02c",
                    "res-post": "#9467bd", "deepnorm": "#ff7f0e", "parallel": "#8c564b"}


def new_figure(width: float = 5.0, height: float = 3.2, ncols: int = 1):
    """A Figure and its Axes (one, or a tuple of ``ncols``), not registered with pyplot,
    so nothing leaks between renders. Fixed margins instead of a layout engine: each
    extra layout pass costs a full draw, and a live update should stay fast."""
    fig = Figure(figsize=(width, height))
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.15, top=0.89, wspace=0.4)
    return fig, (fig.add_subplot() if ncols == 1 else tuple(fig.subplots(1, ncols)))


DPI = 80


def png_bytes(fig, dpi: int = DPI) -> bytes:
    """PNG of a figure in one draw (no tight bounding box, which draws twice)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()


def image(png: bytes) -> widgets.Image:
    return widgets.Image(value=png, format="png", layout=widgets.Layout(max_width="100%", height="auto"))


def cached_figure(draw):
    """``draw(**values) -> Figure`` becomes ``render(**values) -> Image widget``.

    The PNG is cached per combination of values, so going back to a state already seen
    costs nothing; ``render.cache_clear()`` forgets the drawings (not the computations,
    which each demo caches separately).
    """
    @functools.lru_cache(maxsize=64)
    def png(*args, **kwargs) -> bytes:
        return png_bytes(draw(*args, **kwargs))

    @functools.wraps(draw)
    def render(*args, **kwargs):
        return image(png(*args, **kwargs))

    render.cache_clear = png.cache_clear
    render.draw = draw
    return render


def _plain_power(value, _position) -> str:
    return f"{value:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def log_axes(ax, x: bool = True, y: bool = True, xticks=None, y_subs=(1.0,)) -> None:
    """Log scale on the chosen axes, without minor ticks and with plain-text labels
    ("1e5"): mathtext tick labels over many decades make each render slow.
    ``y_subs=(1, 2, 5)`` labels 1, 2 and 5 times each power of ten (for short ranges)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullLocator

    for on, axis, set_scale in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if on:
            set_scale("log")
            axis.set_minor_locator(NullLocator())
            axis.set_major_formatter(FuncFormatter(_plain_power))
    if y and tuple(y_subs) != (1.0,):
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=y_subs))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.2g}"))
    if xticks is not None:
        ax.set_xticks(list(xticks), [str(t) for t in xticks])
