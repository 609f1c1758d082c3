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

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import os
import struct
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..studies.runcache import cache_folder, source_digest, stable_repr

STATIC_WIDGETS_ENV = "NORMLAB_STATIC_WIDGETS"
CACHE_ENV = "NORMLAB_DEMO_CACHE"  # a directory, or "off"
KINDS = ("slider", "dropdown", "toggle")

# --- figure size and resolution (one place for every figure in the book) --------------------
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


def figure_dpi(fig) -> float:
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


def figure_png(fig, dpi: float | None = None) -> bytes:
    """PNG bytes of a matplotlib figure (the one encoder of the book's figures).

    ``dpi`` defaults to :func:`figure_dpi`. A figure with a layout engine (e.g.
    ``layout="constrained"``) is drawn once as it is; one without is cropped to its
    content (``bbox_inches="tight"``, which draws twice). A pyplot figure is closed, so a
    notebook does not show it a second time.
    """
    buffer = io.BytesIO()
    tight = {} if fig.get_layout_engine() is not None else {"bbox_inches": "tight", "pad_inches": 0.05}
    fig.savefig(buffer, format="png", dpi=dpi or figure_dpi(fig), **tight)
    if getattr(fig, "number", None) is not None:  # registered with pyplot
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buffer.getvalue()


def default_alt(fig) -> str:
    """Alt text from what the figure says about itself: titles, axis labels, legend."""
    parts = []
    if fig._suptitle is not None and fig._suptitle.get_text():
        parts.append(fig._suptitle.get_text())
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


def drawn_texts(fig) -> list:
    """The texts a drawn figure shows: not empty, visible, and no tick label of a hidden
    axis or outside its axis's view limits (matplotlib keeps such ticks, undrawn)."""
    from matplotlib.text import Text

    undrawn = set()
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


def smallest_font_pt(fig) -> float:
    """The smallest font size (points) of the texts a drawn figure shows."""
    return min((t.get_fontsize() for t in drawn_texts(fig)), default=0.0)


def encode_figure(fig, alt: str | None = None, dpi: float | None = None) -> EncodedImage:
    alt = alt or default_alt(fig)
    width_in = fig.get_figwidth()
    png = figure_png(fig, dpi=dpi)  # draws the figure: its ticks exist now
    width, height = png_size(png)
    return EncodedImage(png, alt, width, height, width_in, smallest_font_pt(fig))


def figure_html(fig, alt: str | None = None) -> str:
    """A figure as an ``<img>`` with alt text (see :meth:`EncodedImage.html`)."""
    return encode_figure(fig, alt).html()


# --- views: what a render returned, encoded once ---------------------------------------------


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
        parts = [to_view(r, dpi) for r in result]
        if any(p is None for p in parts):
            return None
        return View(tuple(part for view in parts for part in view.parts))
    if isinstance(result, EncodedImage):
        return View((result,))
    if isinstance(result, Picture):
        return View((encode_figure(result.figure, result.alt, dpi),))
    if _is_figure(result):
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


# --- the on-disk cache the book build writes and a live kernel reads ------------------------


def code_version() -> str:
    """normlab's source digest (studies.runcache) and the ipywidgets version: any change to
    either gives new cache keys, so a stale view is never read."""
    return hashlib.sha256(f"{source_digest()} {ipywidgets_version()}".encode()).hexdigest()[:16]


def ipywidgets_version() -> str:
    return widgets.__version__


class ViewCache:
    """Encoded views on disk, one file per state, keyed by :func:`code_version`, the demo's
    ``key`` (its name and every setting its numbers depend on) and the control values.

    The directory is ``$NORMLAB_DEMO_CACHE`` (``off`` disables the cache), else
    ``$XDG_CACHE_HOME/normlab/demos`` or ``~/.cache/normlab/demos``. Files are written
    to a temporary name and renamed, so a reader never sees half a file; a file that
    cannot be read is treated as missing.
    """

    def __init__(self, key: Any, directory: Path | None = None):
        self.key = hashlib.sha256(stable_repr(key).encode()).hexdigest()[:16]
        self.directory = directory

    @staticmethod
    def root() -> Path | None:
        return cache_folder(CACHE_ENV, "demos")

    def path(self, values: Mapping[str, Any]) -> Path | None:
        root = self.directory or self.root()
        if root is None:
            return None
        state = hashlib.sha256(stable_repr(dict(values)).encode()).hexdigest()[:24]
        return root / code_version() / self.key / f"{state}.json"

    def get(self, values: Mapping[str, Any]) -> View | None:
        path = self.path(values)
        if path is None or not path.is_file():
            return None
        try:
            return View.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, values: Mapping[str, Any], view: View) -> None:
        path = self.path(values)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
            ) as tmp:
                tmp.write(view.to_json())
            os.replace(tmp.name, path)
        except OSError:
            pass  # a read-only or full disk only costs a recomputation


# --- controls ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Control:
    """One control: its values (in display order) and, optionally, how to show it.

    ``kind`` is "slider", "dropdown" or "toggle" (default: toggle buttons for booleans and
    up to 4 short labels, a slider for numbers, a dropdown otherwise); ``label`` is shown
    beside it (default: the parameter name); ``value`` is the initial value (default: the
    first one).
    """

    values: Sequence[Any]
    kind: str | None = None
    label: str | None = None
    value: Any = None

    def __post_init__(self):
        if len(self.values) == 0:
            raise ValueError(f"Control {self.label or ''}: needs at least one value")
        if self.kind is not None and self.kind not in KINDS:
            raise ValueError(f"Control kind must be one of {KINDS}, got {self.kind!r}")
        if self.value is not None and self.value not in self.values:
            raise ValueError(f"Control initial value {self.value!r} is not one of {list(self.values)}")

    @property
    def initial_index(self) -> int:
        return 0 if self.value is None else list(self.values).index(self.value)

    def chosen_kind(self) -> str:
        if self.kind:
            return self.kind
        values = list(self.values)
        if all(isinstance(v, bool) for v in values):
            return "toggle"
        if all(isinstance(v, Real) for v in values):
            return "slider"
        if len(values) <= 4 and all(len(str(v)) <= 12 for v in values):
            return "toggle"
        return "dropdown"

    def make_widget(self, name: str) -> widgets.Widget:
        """A selection widget whose ``index`` (synced to the browser) picks the value.

        Sliders move on release (``continuous_update=False``), so dragging across values
        renders only the one let go on. The label is the widget's description, which
        ipywidgets ties to the control, and the page's demo script (static/normlab-demos.js)
        gives a slider's handle that name and its value text for screen readers.
        """
        options = [(str(v), i) for i, v in enumerate(self.values)]
        label = self.label or name
        common = dict(
            options=options,
            index=self.initial_index,
            description=label,
            description_allow_html=False,
            style={"description_width": "initial"},
        )
        kind = self.chosen_kind()
        if kind == "slider":
            return widgets.SelectionSlider(**common, continuous_update=False)
        if kind == "toggle":
            return widgets.ToggleButtons(**common)
        # a dropdown as wide as its longest option (plus the label), never cut
        longest = max(len(str(v)) for v in self.values)
        return widgets.Dropdown(**common, layout=widgets.Layout(width=f"min(100%, {longest + len(label) + 6}ch)"))


class PrecomputedDemo(widgets.VBox):
    """The widget returned by :func:`precomputed_demo`: controls above the output.

    ``controls`` maps each parameter name to its control widget; ``mode`` is "static" or
    "live"; ``variants`` counts the renders made up front (1 in live mode); ``links`` are
    the browser-side links from controls to Stacks (none in live mode); ``status`` is the
    line that says "computing" while a live update runs; ``fallback`` is the HTML shown
    where JavaScript is off (the initial view, static mode only).
    """

    controls: dict[str, widgets.Widget]
    mode: str
    variants: int
    links: list[widgets.Widget]
    status: widgets.HTML
    fallback: str

    def _ipython_display_(self):
        """The widget, then (static mode) a ``<noscript>`` copy of its first view: myst-nb
        writes each output of a cell to the page, and a reader without JavaScript sees the
        copy instead of an empty box."""
        from IPython.display import HTML, display

        display(self._repr_mimebundle_(), raw=True)
        if self.fallback:
            display(HTML(self.fallback))


BUSY_HTML = "<div role='status' class='normlab-busy' style='min-height:1.5em;font-style:italic'>{}</div>"


def precomputed_demo(
    render: Callable[..., Any],
    controls: Mapping[str, Sequence[Any] | Control],
    *,
    live: bool | None = None,
    dpi: float | None = None,
    max_variants: int = 48,
    cache_key: Any = None,
) -> PrecomputedDemo:
    """Build a demo whose controls choose the arguments of ``render``.

    Parameters
    ----------
    render:
        ``render(**values)`` with one keyword argument per control; returns a matplotlib
        ``Figure`` or a :class:`Picture` (figure plus alt text; shown as a 2x PNG), an HTML
        string (starting with ``<``), plain text, an object with ``_repr_html_`` (e.g. a
        DataFrame), a list of these (shown one above the other), or any ipywidget. It must
        be deterministic (seed inside it): the static book shows what it returned at build
        time.
    controls:
        Ordered mapping ``name -> values`` (a list) or ``name -> Control(...)``; each
        becomes a slider, dropdown or toggle buttons (see :class:`Control`).
    live:
        ``True`` re-renders on change (needs a kernel); ``False`` pre-renders every
        combination and links them in the browser; ``None`` picks automatically.
    dpi:
        Resolution of figure PNGs; by default :func:`figure_dpi` (2x the largest shown size).
    max_variants:
        Refuse static grids larger than this (the product of the numbers of values),
        so a page stays light and the book builds quickly.
    cache_key:
        Any value that names the demo and every setting its output depends on (e.g.
        ``("normlab.demos.depth", DEPTHS, SEEDS)``). With it, each view is also kept on
        disk (:class:`ViewCache`): what the book build precomputes, a live kernel reuses.
        Without it, views are only kept for the life of the widget.

    Returns the demo widget; put it last in a cell (or ``display`` it).
    """
    specs = {
        name: spec if isinstance(spec, Control) else Control(list(spec), label=name) for name, spec in controls.items()
    }
    if not specs:
        raise ValueError("precomputed_demo: give at least one control, e.g. {'n_layers': [2, 4, 8]}")
    if live is None:
        live = _kernel_is_live()
    control_widgets = {name: spec.make_widget(name) for name, spec in specs.items()}
    panel = widgets.HBox(list(control_widgets.values()), layout=widgets.Layout(flex_flow="row wrap"))
    disk = ViewCache(cache_key) if cache_key is not None else None
    seen: dict[str, View] = {}

    def view_of(values: dict[str, Any]) -> View | None:
        """The encoded view of one state: from memory, from disk, or rendered now."""
        key = stable_repr(values)
        if key in seen:
            return seen[key]
        view = disk.get(values) if disk else None
        if view is None:
            try:
                result = render(**values)
            except Exception as err:
                raise RuntimeError(f"precomputed_demo: render({_describe(values)}) failed: {err}") from err
            view = to_view(result, dpi)
            if view is None:  # a widget: shown as it is, not cached
                return result
            if disk:
                disk.put(values, view)
        seen[key] = view
        return view

    def as_output(values: dict[str, Any]) -> widgets.Widget:
        return to_widget(view_of(values))

    status = widgets.HTML(BUSY_HTML.format(""))
    fallback = ""
    if live:

        def current() -> dict[str, Any]:
            return {name: specs[name].values[w.index] for name, w in control_widgets.items()}

        view = widgets.Box([as_output(current())], layout=widgets.Layout(width="100%"))

        def update(_change) -> None:
            values = current()
            slow = stable_repr(values) not in seen and not (disk and disk.path(values) and disk.path(values).is_file())
            if slow:  # sent to the browser at once: the reader sees the old view is stale
                status.value = BUSY_HTML.format(f"computing {html.escape(_describe(values))} …")
                for old in view.children:
                    if isinstance(old, widgets.HTML):
                        old.value = f"<div style='opacity:0.35'>{old.value}</div>"
            try:
                view.children = [as_output(values)]
            finally:
                status.value = BUSY_HTML.format("")

        for w in control_widgets.values():
            w.observe(update, names="index")
        demo = PrecomputedDemo([panel, status, view])
        demo.variants = 1
        demo.links = []
    else:
        n_variants = 1
        for spec in specs.values():
            n_variants *= len(spec.values)
        if n_variants > max_variants:
            sizes = " x ".join(f"{len(s.values)} {n}" for n, s in specs.items())
            raise ValueError(
                f"precomputed_demo: {sizes} = {n_variants} variants would be stored in the page; "
                f"expected at most max_variants={max_variants}. Use fewer values per control."
            )
        names = list(specs)
        links: list[widgets.Widget] = []
        for combination in _combinations(specs):  # every view first: their heights are reserved
            view_of(combination)
        reserve = reserved_em(list(seen.values()))

        def as_output(values: dict[str, Any]) -> widgets.Widget:  # noqa: F811 (static: with the reserve)
            view = view_of(values)
            if isinstance(view, View) and not view.images() and reserve:
                return widgets.HTML(
                    f"<div style='min-height:{reserve:.1f}em'>{view.html()}</div>", layout=widgets.Layout(width="100%")
                )
            return to_widget(view)

        def stack_for(level: int, fixed: dict[str, Any]) -> widgets.Widget:
            # One Stack per level of the control tree; every Stack of level k follows control k.
            name = names[level]
            spec = specs[name]
            if level == len(names) - 1:
                children = [as_output({**fixed, name: v}) for v in spec.values]
            else:
                children = [stack_for(level + 1, {**fixed, name: v}) for v in spec.values]
            stack = widgets.Stack(children, selected_index=spec.initial_index)
            links.append(widgets.jslink((control_widgets[name], "index"), (stack, "selected_index")))
            return stack

        demo = PrecomputedDemo([panel, stack_for(0, {})])
        demo.variants = n_variants
        demo.links = links
        first = view_of({name: spec.values[spec.initial_index] for name, spec in specs.items()})
        if isinstance(first, View):
            fallback = (
                f"<noscript><div class='normlab-noscript'>{first.html()}<p><em>JavaScript "
                f"is off: this is the demo's first view "
                f"({html.escape(_describe_labels(specs))}).</em></p></div></noscript>"
            )
    demo.controls = control_widgets
    demo.status = status
    demo.fallback = fallback
    demo.mode = "live" if live else "static"
    demo.add_class("normlab-demo")
    return demo


def _combinations(specs: Mapping[str, Control]):
    import itertools

    names = list(specs)
    for values in itertools.product(*(specs[n].values for n in names)):
        yield dict(zip(names, values))


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


def _is_figure(obj: Any) -> bool:
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return False
    return isinstance(obj, Figure)


def _kernel_is_live() -> bool:
    if os.environ.get(STATIC_WIDGETS_ENV) == "1":
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _describe(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


def _describe_labels(specs: Mapping[str, Control]) -> str:
    return ", ".join(f"{spec.label or name} {spec.values[spec.initial_index]}" for name, spec in specs.items())
