"""Figures as images on a page: one size rule, one PNG encoder, alt text, and the font checks.

Every figure of the book goes through :func:`encode_figure`, so its resolution and its
smallest readable label are decided in one place (the browser tests measure them).
"""

from __future__ import annotations

import base64
import html
import io
import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily at run time
    from matplotlib.figure import Figure


# Figure size and resolution (one place for every figure in the book).
# A figure is shown at most FIGURE_CSS_WIDTH CSS pixels wide (the desktop text column is
# wider: a cap keeps desktop labels from growing huge) and fills a narrower column. Its PNG
# has PIXEL_RATIO natural pixels per CSS pixel at that widest size. At a 390 px phone
# viewport the text column is about PHONE_COLUMN_CSS wide (tests/browser/test_figures.py
# measures it), so a label of p points in a figure w inches wide is shown at
# p / 72 * dpi * PHONE_COLUMN_CSS / (w * dpi) = p * PHONE_COLUMN_CSS / (72 w) CSS px:
# :func:`min_font_pt` gives the p that keeps it at MIN_TEXT_CSS.
FIGURE_CSS_WIDTH = 560
PIXEL_RATIO = 2
PHONE_COLUMN_CSS = 340
MIN_TEXT_CSS = 11


def figure_dpi(fig: Figure) -> float:
    """The dpi that gives ``fig`` PIXEL_RATIO pixels per CSS pixel at FIGURE_CSS_WIDTH."""
    return FIGURE_CSS_WIDTH * PIXEL_RATIO / fig.get_figwidth()


def min_font_pt(width_in: float) -> float:
    """The smallest font (points) readable at phone width in a figure ``width_in`` wide."""
    return MIN_TEXT_CSS * 72 * width_in / PHONE_COLUMN_CSS


def shown_text_px(font_pt: float, width_in: float, column_css: float = PHONE_COLUMN_CSS) -> float:
    """CSS px of a ``font_pt`` label in a figure ``width_in`` wide, shown in ``column_css``."""
    return font_pt / 72 * min(column_css, FIGURE_CSS_WIDTH) / width_in


@dataclass(frozen=True)
class Picture:
    """A matplotlib Figure and the alt text that says what it shows in this state."""

    figure: Any
    alt: str


@dataclass(frozen=True)
class EncodedImage:
    """A figure drawn once: PNG bytes, their natural size in pixels, and alt text."""

    png: bytes
    alt: str
    width: int
    height: int
    width_in: float = 0.0  # the figure's width in inches ...
    min_font_pt: float = 0.0  # ... and its smallest text: a browser test turns them into CSS px

    @property
    def css_width(self) -> int:
        """The largest width it is shown at (natural width / PIXEL_RATIO)."""
        return round(self.width / PIXEL_RATIO)

    def html(self) -> str:
        """An ``<img>`` that fills the column up to :attr:`css_width`; its width and height
        attributes give the browser the aspect ratio before it decodes the image, so the
        page does not jump."""
        data = base64.b64encode(self.png).decode("ascii")
        return (
            f'<img class="normlab-figure" src="data:image/png;base64,{data}" '
            f'alt="{html.escape(self.alt)}" width="{self.css_width}" '
            f'height="{round(self.height / PIXEL_RATIO)}" '
            f'data-width-in="{self.width_in:g}" data-min-font-pt="{self.min_font_pt:g}" '
            f'style="width:100%;max-width:{self.css_width}px;height:auto">'
        )


def png_size(png: bytes) -> tuple[int, int]:
    """(width, height) in pixels, read from the PNG header."""
    if png[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG: expected the 8-byte PNG signature")
    return struct.unpack(">II", png[16:24])


def figure_png(fig: Figure, dpi: float | None = None) -> bytes:
    """PNG bytes of a matplotlib figure (the one encoder of the book's figures).

    ``dpi`` defaults to :func:`figure_dpi`. A figure with a layout engine (e.g.
    ``layout="constrained"``) is drawn once as it is; one without is cropped to its
    content (``bbox_inches="tight"``, which draws twice). A pyplot figure is closed, so a
    notebook does not show it a second time.
    """
    buffer = io.BytesIO()
    tight: dict[str, Any] = {} if fig.get_layout_engine() is not None else {"bbox_inches": "tight", "pad_inches": 0.05}
    fig.savefig(buffer, format="png", dpi=dpi or figure_dpi(fig), **tight)
    if getattr(fig, "number", None) is not None:  # registered with pyplot
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buffer.getvalue()


def default_alt(fig: Figure) -> str:
    """Alt text from what the figure says about itself: titles, axis labels, legend."""
    parts = []
    suptitle = getattr(fig, "_suptitle", None)  # private: the stubs do not list it
    if suptitle is not None and suptitle.get_text():
        parts.append(suptitle.get_text())
    for ax in fig.get_axes():
        bits = [t for t in (ax.get_title(), ax.get_title("left")) if t]
        if ax.get_xlabel() or ax.get_ylabel():
            bits.append(f"{ax.get_ylabel() or 'value'} against {ax.get_xlabel() or 'x'}")
        legend = ax.get_legend()
        if legend is not None:
            bits.append("series: " + ", ".join(t.get_text() for t in legend.get_texts()))
        if bits:
            parts.append("; ".join(bits))
    return "chart: " + (". ".join(parts) if parts else "a figure")


def drawn_texts(fig: Figure) -> list:
    """The texts a drawn figure shows: not empty, visible, and no tick label of a hidden
    axis or outside its axis's view limits (matplotlib keeps such ticks, undrawn)."""
    from matplotlib.text import Text

    undrawn: set[Text] = set()
    for ax in fig.get_axes():
        for axis in (ax.xaxis, ax.yaxis):
            low, high = sorted(axis.get_view_interval())
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not ax.axison or not (
                    low - 1e-9 * abs(high - low) <= tick.get_loc() <= high + 1e-9 * abs(high - low)
                ):
                    undrawn.update((tick.label1, tick.label2))
            if not ax.axison:
                undrawn.add(axis.label)
    return [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip() and t not in undrawn]


def smallest_font_pt(fig: Figure) -> float:
    """The smallest font size (points) of the texts a drawn figure shows."""
    return min((t.get_fontsize() for t in drawn_texts(fig)), default=0.0)


def encode_figure(fig: Figure, alt: str | None = None, dpi: float | None = None) -> EncodedImage:
    alt = alt or default_alt(fig)
    width_in = fig.get_figwidth()
    png = figure_png(fig, dpi=dpi)  # draws the figure: its ticks exist now
    width, height = png_size(png)
    return EncodedImage(png, alt, width, height, width_in, smallest_font_pt(fig))


def figure_html(fig: Figure, alt: str | None = None) -> str:
    """A figure as an ``<img>`` with alt text (see :meth:`EncodedImage.html`)."""
    return encode_figure(fig, alt).html()


def is_figure(obj: Any) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    return isinstance(obj, Figure)
