"""Small, labelled matplotlib figures shared by the demos (no pyplot state kept)."""

from __future__ import annotations

from matplotlib.figure import Figure

# one colour per placement, the same in every demo
PLACEMENT_COLORS = {"post": "#d62728", "pre": "#1f77b4", "sandwich": "#2ca02c",
                    "res-post": "#9467bd", "deepnorm": "#ff7f0e", "parallel": "#8c564b"}


def new_figure(width: float = 5.0, height: float = 3.2, ncols: int = 1):
    """A Figure and its Axes (one, or a tuple of ``ncols``), not registered with pyplot,
    so nothing leaks between renders."""
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig, (fig.add_subplot() if ncols == 1 else tuple(fig.subplots(1, ncols)))


def html_table(header: list[str], rows: list[list], caption: str = "") -> str:
    """A plain HTML table (strings are inserted as they are: pass escaped text)."""
    head = "".join(f"<th style='padding:2px 8px'>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in row) + "</tr>"
                   for row in rows)
    cap = f"<caption style='caption-side:bottom'>{caption}</caption>" if caption else ""
    return f"<table class='normlab-table'>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _plain_power(value, _position) -> str:
    return f"{value:.0e}".replace("e+0", "e").replace("e-0", "e-").replace("e+", "e")


def log_axes(ax, x: bool = True, y: bool = True, xticks=None) -> None:
    """Log scale on the chosen axes, without minor ticks and with plain-text labels
    ("1e5"): mathtext tick labels over many decades make each render slow."""
    from matplotlib.ticker import FuncFormatter, NullLocator

    for on, axis, set_scale in ((x, ax.xaxis, ax.set_xscale), (y, ax.yaxis, ax.set_yscale)):
        if on:
            set_scale("log")
            axis.set_minor_locator(NullLocator())
            axis.set_major_formatter(FuncFormatter(_plain_power))
    if xticks is not None:
        ax.set_xticks(list(xticks), [str(t) for t in xticks])
