"""Interactive demos that also work on a static page, with no kernel.

    from normlab.page.widgets import precomputed_demo, Control

    def render(n_layers, norm):
        fig = ...                       # a matplotlib Figure, an HTML string or plain text
        return fig

    precomputed_demo(render, {"n_layers": [2, 4, 6], "norm": ["layer", "rms"]})

Two modes, one call:

- **static** (the book build, or any process without a live kernel): ``render`` is called
  for every combination of control values up front; the results sit in nested
  ``widgets.Stack``s whose ``selected_index`` is ``jslink``ed to the controls. The links
  run in the browser, so the built page responds without Python. A ``<noscript>`` copy
  of the first view is shown where JavaScript is off.
- **live** (a notebook in JupyterLab): only the current combination is rendered, and an
  ``observe`` callback re-renders when a control changes (sliders on release), with a
  visible "computing" line while it works. Each view is encoded once per process; with a
  ``cache_key``, views are also kept on disk (see :class:`ViewCache`): the book build
  writes every variant it precomputes there and a live kernel reads them back.

The mode is chosen automatically: static when ``NORMLAB_STATIC_WIDGETS=1`` (set by the
book build, see :mod:`normlab.book.offline`) or when no IPython kernel is running;
live otherwise. Pass ``live=True`` / ``live=False`` to force it.

Figures become ``<img>`` tags with alt text (:class:`Picture` gives it; a bare Figure
gets one from its titles and labels), drawn at :data:`PIXEL_RATIO` times the largest
size they are shown at, so they stay sharp on phones and high-density screens.
"""

# The demos' runtime is split by idea (images, views, cache, controls, demo); this module
# keeps the one import path chapters and notebooks use: ``from normlab.page.widgets import ...``.
from ..studies.runcache import stable_repr
from .cache import CACHE_ENV, ViewCache, code_version, ipywidgets_version
from .controls import KINDS, Control
from .demo import BUSY_HTML, STATIC_WIDGETS_ENV, PrecomputedDemo, precomputed_demo
from .images import (
    FIGURE_CSS_WIDTH,
    MIN_TEXT_CSS,
    PHONE_COLUMN_CSS,
    PIXEL_RATIO,
    EncodedImage,
    Picture,
    default_alt,
    drawn_texts,
    encode_figure,
    figure_dpi,
    figure_html,
    figure_png,
    min_font_pt,
    png_size,
    shown_text_px,
    smallest_font_pt,
)
from .views import View, estimated_em, reserved_em, to_view, to_widget

__all__ = [
    "BUSY_HTML",
    "CACHE_ENV",
    "FIGURE_CSS_WIDTH",
    "KINDS",
    "MIN_TEXT_CSS",
    "PHONE_COLUMN_CSS",
    "PIXEL_RATIO",
    "STATIC_WIDGETS_ENV",
    "Control",
    "EncodedImage",
    "Picture",
    "PrecomputedDemo",
    "View",
    "ViewCache",
    "code_version",
    "default_alt",
    "drawn_texts",
    "encode_figure",
    "estimated_em",
    "figure_dpi",
    "figure_html",
    "figure_png",
    "ipywidgets_version",
    "min_font_pt",
    "png_size",
    "precomputed_demo",
    "reserved_em",
    "shown_text_px",
    "smallest_font_pt",
    "stable_repr",
    "to_view",
    "to_widget",
]
