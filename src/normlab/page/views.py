"""Views: what a demo's render function returned, encoded once into images and HTML.

A view is what both modes of a demo show and what the disk cache stores, so it is plain
data (serialisable to JSON) and is turned into a widget only at the last step.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass
from typing import Any

import ipywidgets as widgets

from .images import PIXEL_RATIO, EncodedImage, Picture, encode_figure, is_figure


@dataclass(frozen=True)
class View:
    """One state of a demo as it is shown: a sequence of parts, each an
    :class:`EncodedImage` or an HTML string. Serialisable (see :class:`ViewCache`)."""

    parts: tuple

    def images(self) -> list[EncodedImage]:
        return [p for p in self.parts if isinstance(p, EncodedImage)]

    def html(self) -> str:
        return "".join(p.html() if isinstance(p, EncodedImage) else p for p in self.parts)

    def to_json(self) -> str:
        return json.dumps(
            [
                {
                    "png": base64.b64encode(p.png).decode("ascii"),
                    "alt": p.alt,
                    "width": p.width,
                    "height": p.height,
                    "width_in": p.width_in,
                    "min_font_pt": p.min_font_pt,
                }
                if isinstance(p, EncodedImage)
                else {"html": p}
                for p in self.parts
            ]
        )

    @classmethod
    def from_json(cls, text: str) -> View:
        return cls(
            tuple(
                EncodedImage(
                    base64.b64decode(p["png"]), p["alt"], p["width"], p["height"], p["width_in"], p["min_font_pt"]
                )
                if "png" in p
                else p["html"]
                for p in json.loads(text)
            )
        )


def to_view(result: Any, dpi: float | None = None) -> View | None:
    """Encode what a render function returned; None for a widget (shown as it is)."""
    if isinstance(result, widgets.Widget):
        return None
    if isinstance(result, (list, tuple)) and not isinstance(result, Picture):
        views = [to_view(r, dpi) for r in result]
        encoded = [v for v in views if v is not None]
        if len(encoded) < len(views):  # a widget among them
            return None
        return View(tuple(part for view in encoded for part in view.parts))
    if isinstance(result, EncodedImage):
        return View((result,))
    if isinstance(result, Picture):
        return View((encode_figure(result.figure, result.alt, dpi),))
    if is_figure(result):
        return View((encode_figure(result, dpi=dpi),))
    if hasattr(result, "_repr_html_"):
        return View((result._repr_html_(),))
    if isinstance(result, str):
        if result.lstrip().startswith("<"):
            return View((result,))
        return View((f"<pre>{html.escape(result)}</pre>",))
    raise TypeError(
        f"render returned {type(result).__name__}; expected a matplotlib Figure, a Picture, an "
        f"HTML string, text, an object with _repr_html_, an ipywidget, or a list of these"
    )


def to_widget(result: Any, dpi: float | None = None) -> widgets.Widget:
    """Turn what a render function returned (or a :class:`View`) into a widget."""
    if isinstance(result, widgets.Widget):
        return result
    view = result if isinstance(result, View) else to_view(result, dpi)
    if view is None:  # a list holding a widget
        return widgets.VBox([to_widget(r, dpi) for r in result])
    return widgets.HTML(view.html(), layout=widgets.Layout(width="100%"))


def estimated_em(view: View) -> float:
    """A rough height of a view in em (16 px): images at their widest, table rows, captions."""
    em = sum(image.height / PIXEL_RATIO / 16 for image in view.images())
    for part in view.parts:
        if isinstance(part, str):
            em += 2.0 * part.count("<tr") + 3.0 * part.count("<caption") + 1.4 * part.count("\n")
            em += 3.0 * part.count("normlab-error")
    return em


def reserved_em(views: list) -> float:
    """The height every view without an image is given (the tallest view's estimate), so
    that moving a control from a figure or a long table to a short one does not move the
    page; 0 when every view is the same kind of figure (its aspect ratio reserves it)."""
    views = [v for v in views if isinstance(v, View)]
    if not views or all(v.images() for v in views):
        return 0.0
    return max(estimated_em(v) for v in views)
