"""The book's figures: one style, one colour per placement, one way to become an image.

Demos and the chapters' static figures both draw here::

    from normlab.demos.figures import new_figure, placement_style, show_figure

    fig, ax = new_figure()
    ax.plot(x, y, **placement_style("pre"), label="pre")
    show_figure(fig, alt="...", caption="...")   # in a chapter cell

Sizes: a figure is FIGURE_WIDTH inches wide and every text in it at least
:func:`normlab.page.widgets.min_font_pt` points, so that the smallest label is at least 11
CSS px when the figure fills a phone's text column; it is encoded at 2x the largest size
it is shown at (:func:`normlab.page.widgets.figure_png`, the one PNG encoder).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager
from types import ModuleType
from typing import Any, ParamSpec, TypeVar

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.layout_engine import ConstrainedLayoutEngine
from matplotlib.legend import Legend
from numpy.typing import ArrayLike

from ..nn.blocks import PLACEMENTS
from ..page.widgets import PrecomputedDemo, figure_html, min_font_pt, precomputed_demo

P = ParamSpec("P")
R = TypeVar("R")

LOSS_WINDOW = 10  # steps in each point of a demo's loss curve

# One colour, marker and dash per placement, on every page of the book (issue 14.3), keyed
# by the placement's name (normlab.nn.blocks.PLACEMENTS): the Tableau colours matplotlib
# users know, post red, pre blue; placements whose curves can lie on top of each other
# (sandwich/res-post, pre/parallel) differ in marker and dash.
PLACEMENT_STYLE: dict[str, dict[str, Any]] = {
    "post": {"color": "#d62728", "marker": "o", "linestyle": "-"},
    "pre": {"color": "#1f77b4", "marker": "s", "linestyle": "-"},
    "sandwich": {"color": "#2ca02c", "marker": "^", "linestyle": "--"},
    "res-post": {"color": "#9467bd", "marker": "v", "linestyle": ":"},
    "deepnorm": {"color": "#ff7f0e", "marker": "D", "linestyle": "-."},
    "parallel": {"color": "#8c564b", "marker": "x", "linestyle": (0, (6, 2))},
}
assert list(PLACEMENT_STYLE) == list(PLACEMENTS), "one style per placement, in PLACEMENTS order"
PLACEMENT_COLORS = {name: style["color"] for name, style in PLACEMENT_STYLE.items()}
GUIDE = {"color": "#444444", "linestyle": "--", "linewidth": 1.2}  # theory lines and bounds

FIGURE_WIDTH = 4.2  # inches; tall figures keep this width and grow in height
BASE_FONT = math.ceil(min_font_pt(FIGURE_WIDTH) * 2) / 2  # points, the smallest text used


def placement_style(placement: str, markersize: float = 5, **overrides: Any) -> dict:
    """Keyword arguments for ``ax.plot`` that draw ``placement`` as everywhere in the book."""
    if placement not in PLACEMENT_STYLE:
        raise ValueError(f"unknown placement {placement!r}; expected one of {list(PLACEMENT_STYLE)}")
    return {**PLACEMENT_STYLE[placement], "markersize": markersize, **overrides}


STYLE = {
    "font.size": BASE_FONT,
    "axes.titlesize": BASE_FONT,
    "axes.labelsize": BASE_FONT,
    "xtick.labelsize": BASE_FONT,
    "ytick.labelsize": BASE_FONT,
    "legend.fontsize": BASE_FONT,
    "figure.titlesize": BASE_FONT,
    "legend.framealpha": 0.9,
    "legend.handlelength": 2.6,  # long enough to show a dash pattern
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def new_figure(height: float = 3.0, nrows: int = 1, ncols: int = 1, width: float = FIGURE_WIDTH) -> tuple[Figure, Any]:
    """A Figure and its Axes (one, or an array for several), in the book's style, not
    registered with pyplot (nothing leaks between renders), with constrained layout so
    no label is clipped. Panels go one above the other (``nrows``): side by side they
    would be too narrow on a phone."""
    fig = Figure(figsize=(width, height), layout="constrained")
    engine = fig.get_layout_engine()
    assert isinstance(engine, ConstrainedLayoutEngine)
    engine.set(h_pad=0.04, w_pad=0.04)
    with _style():
        axes = fig.subplots(nrows, ncols, squeeze=True)
    return fig, axes


def _style() -> AbstractContextManager[None]:
    from matplotlib import rc_context

    return rc_context(STYLE)  # type: ignore[arg-type]  # the stubs key rc dicts by Literal names


def styled(draw: Callable[P, R]) -> Callable[P, R]:
    """Run ``draw`` inside the book's rc style (fonts of text added after new_figure)."""
    import functools

    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with _style():
            return draw(*args, **kwargs)

    return wrapper


def smooth(values: ArrayLike, window: int = LOSS_WINDOW) -> np.ndarray:
    """Moving average over ``window`` steps (the raw per-batch loss is noisy)."""
    data = np.asarray(values, dtype=float)
    if len(data) < window:
        return data
    return np.convolve(data, np.ones(window) / window, mode="valid")


def plot_loss_curves(ax: Axes, losses: Iterable[ArrayLike], placement: str, label: str) -> None:
    """The training losses of a seed ensemble: each seed's LOSS_WINDOW-step mean as a faint
    line, and their median over the seeds still training at each step as a bold one (a
    run that diverged stops where its loss became non-finite)."""
    curves = [smooth(loss) for loss in losses]
    longest = max(len(curve) for curve in curves)
    steps = np.arange(longest) + LOSS_WINDOW
    style = placement_style(placement, marker="")
    for curve in curves:
        ax.plot(steps[: len(curve)], curve, color=style["color"], linewidth=0.8, alpha=0.3)
    padded = np.full((len(curves), longest), np.nan)
    for row, curve in zip(padded, curves):
        row[: len(curve)] = curve
    ax.plot(steps, np.nanmedian(padded, axis=0), **style, linewidth=2, label=label)


def legend_below(ax: Axes, ncol: int = 1, **kwargs: Any) -> Legend:
    """The legend of ``ax`` under it, so it never covers a curve. A figure of one panel gets
    it as the figure's legend, placed by the constrained layout and centred on the figure
    (a legend as wide as the figure fits). In a figure of several panels each panel's legend
    goes right under that panel's x axis (call this after ``set_xlabel``), so two panels'
    legends never land on each other at the bottom of the figure."""
    kwargs.setdefault("handlelength", STYLE["legend.handlelength"])
    kwargs.setdefault("fontsize", BASE_FONT)
    handles, labels = ax.get_legend_handles_labels()
    fig: Any = ax.get_figure()  # a Figure: the book draws no sub-figures
    if len(fig.axes) == 1:
        return fig.legend(handles, labels, loc="outside lower center", ncol=ncol, frameon=False, **kwargs)
    from matplotlib.transforms import ScaledTranslation

    under_axis = ScaledTranslation(0, -_x_axis_depth(ax), fig.dpi_scale_trans)
    return ax.legend(
        handles,
        labels,
        loc="upper center",
        bbox_to_anchor=(0.5, 0),
        bbox_transform=ax.transAxes + under_axis,
        ncol=ncol,
        frameon=False,
        **kwargs,
    )


def _x_axis_depth(ax: Axes) -> float:
    """Inches from the bottom of ``ax`` to the bottom of its x axis (ticks, tick labels and
    label), plus a small gap: the same wherever the layout later moves the panel."""
    fig: Any = ax.get_figure()  # a Figure, whose renderer is private API
    renderer = fig._get_renderer()
    axis = ax.xaxis.get_tightbbox(renderer)
    depth = ax.get_window_extent(renderer).y0 - axis.y0 if axis is not None else 0.0
    return max(depth, 0.0) / fig.dpi + BASE_FONT / 144  # gap: half a line


def _plain_power(value: float, _position: int | None) -> str:
    return f"{value:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def log_axes(
    ax: Axes, x: bool = True, y: bool = True, xticks: Iterable[float] | None = None, y_subs: Sequence[float] = (1.0,)
) -> None:
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


def demo_config(module: ModuleType) -> tuple:
    """What a demo's numbers depend on: its name and its module-level settings (upper-case
    names: SEEDS, DEPTHS, TASK...). The on-disk cache key, so a changed setting (a test's
    smaller SEEDS, say) never reads another setting's figures."""
    return (module.__name__, {k: v for k, v in vars(module).items() if k.isupper() and not k.startswith("_")})


def demo_widget(module_name: str, live: bool | None = None) -> PrecomputedDemo:
    """The demo of module ``module_name`` (its ``render`` and ``CONTROLS``), cached on disk
    under :func:`demo_config`."""
    module = sys.modules[module_name]
    return precomputed_demo(module.render, module.CONTROLS, live=live, cache_key=demo_config(module))


def show_figure(fig: Figure, alt: str, caption: str = "") -> Any:
    """A chapter's static figure as a cell output: the same 2x image as the demos', with
    alt text and a caption (an HTML ``<figure>``, rendered by myst-nb and JupyterLab)."""
    from IPython.display import HTML

    if not alt.strip():
        raise ValueError("show_figure: give alt text, a sentence saying what the figure shows")
    import html

    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return HTML(f"<figure class='normlab-static-figure'>{figure_html(fig, alt)}{cap}</figure>")
