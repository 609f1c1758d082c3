"""Interactive demos that also work on a static page, with no kernel.

    from normlab.widgets import precomputed_demo, Control

    def render(n_layers, norm):
        fig = ...                       # a matplotlib Figure, an HTML string or plain text
        return fig

    precomputed_demo(render, {"n_layers": [2, 4, 6], "norm": ["layer", "rms"]})

Two modes, one call:

- **static** (the book build, or any process without a live kernel): ``render`` is called
  for every combination of control values up front; the results sit in nested
  ``widgets.Stack``s whose ``selected_index`` is ``jslink``ed to the controls. The links
  run in the browser, so the built page responds without Python.
- **live** (a notebook in JupyterLab): only the current combination is rendered, and an
  ``observe`` callback re-renders when a control changes.

The mode is chosen automatically: static when ``NORMLAB_STATIC_WIDGETS=1`` (set by the
book build, see :mod:`normlab.sphinx_offline`) or when no IPython kernel is running;
live otherwise. Pass ``live=True`` / ``live=False`` to force it.
"""

from __future__ import annotations

import html
import io
import os
from dataclasses import dataclass
from numbers import Real
from typing import Any, Callable, Mapping, Sequence

import ipywidgets as widgets

STATIC_WIDGETS_ENV = "NORMLAB_STATIC_WIDGETS"
KINDS = ("slider", "dropdown", "toggle")


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
        """A selection widget whose ``index`` (synced to the browser) picks the value."""
        options = [(str(v), i) for i, v in enumerate(self.values)]
        common = dict(options=options, index=self.initial_index, description=self.label or name,
                      style={"description_width": "initial"})
        kind = self.chosen_kind()
        if kind == "slider":
            return widgets.SelectionSlider(**common, continuous_update=True)
        if kind == "toggle":
            return widgets.ToggleButtons(**common)
        return widgets.Dropdown(**common)


class PrecomputedDemo(widgets.VBox):
    """The widget returned by :func:`precomputed_demo`: controls above the output.

    ``controls`` maps each parameter name to its control widget; ``mode`` is "static" or
    "live"; ``variants`` counts the renders made up front (1 in live mode); ``links`` are
    the browser-side links from controls to Stacks (none in live mode).
    """

    controls: dict[str, widgets.Widget]
    mode: str
    variants: int
    links: list[widgets.Widget]


def precomputed_demo(
    render: Callable[..., Any],
    controls: Mapping[str, Sequence[Any] | Control],
    *,
    live: bool | None = None,
    dpi: int = 80,
    max_variants: int = 48,
) -> PrecomputedDemo:
    """Build a demo whose controls choose the arguments of ``render``.

    Parameters
    ----------
    render:
        ``render(**values)`` with one keyword argument per control; returns a matplotlib
        ``Figure`` (shown as a PNG at ``dpi`` and then closed), an HTML string (starting
        with ``<``), plain text, an object with ``_repr_html_`` (e.g. a DataFrame), or
        any ipywidget. It must be deterministic (seed inside it): the static book shows
        what it returned at build time.
    controls:
        Ordered mapping ``name -> values`` (a list) or ``name -> Control(...)``; each
        becomes a slider, dropdown or toggle buttons (see :class:`Control`).
    live:
        ``True`` re-renders on change (needs a kernel); ``False`` pre-renders every
        combination and links them in the browser; ``None`` picks automatically.
    dpi:
        Resolution of figure PNGs. Keep figures small (about 5x3 inches): every
        variant is stored in the page.
    max_variants:
        Refuse static grids larger than this (the product of the numbers of values),
        so a page stays light and the book builds quickly.

    Returns the demo widget; put it last in a cell (or ``display`` it).
    """
    specs = {name: spec if isinstance(spec, Control) else Control(list(spec), label=name)
             for name, spec in controls.items()}
    if not specs:
        raise ValueError("precomputed_demo: give at least one control, e.g. {'n_layers': [2, 4, 8]}")
    if live is None:
        live = _kernel_is_live()
    control_widgets = {name: spec.make_widget(name) for name, spec in specs.items()}
    panel = widgets.HBox(list(control_widgets.values()), layout=widgets.Layout(flex_flow="row wrap"))

    def as_output(values: dict[str, Any]) -> widgets.Widget:
        try:
            return to_widget(render(**values), dpi=dpi)
        except Exception as err:
            raise RuntimeError(f"precomputed_demo: render({_describe(values)}) failed: {err}") from err

    if live:
        def current() -> dict[str, Any]:
            return {name: specs[name].values[w.index] for name, w in control_widgets.items()}

        view = widgets.Box([as_output(current())])

        def update(_change) -> None:
            view.children = [as_output(current())]

        for w in control_widgets.values():
            w.observe(update, names="index")
        demo = PrecomputedDemo([panel, view])
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
    demo.controls = control_widgets
    demo.mode = "live" if live else "static"
    demo.add_class("normlab-demo")
    return demo


def to_widget(result: Any, dpi: int = 80) -> widgets.Widget:
    """Turn what a render function returned into a widget (see precomputed_demo)."""
    if isinstance(result, widgets.Widget):
        return result
    if _is_figure(result):
        return widgets.Image(value=figure_png(result, dpi=dpi), format="png",
                             layout=widgets.Layout(max_width="100%", height="auto"))
    if hasattr(result, "_repr_html_"):
        return widgets.HTML(result._repr_html_())
    if isinstance(result, str):
        if result.lstrip().startswith("<"):
            return widgets.HTML(result)
        return widgets.HTML(f"<pre>{html.escape(result)}</pre>")
    raise TypeError(
        f"render returned {type(result).__name__}; expected a matplotlib Figure, an HTML "
        f"string, text, an object with _repr_html_, or an ipywidget"
    )


def figure_png(fig, dpi: int = 80) -> bytes:
    """PNG bytes of a matplotlib figure; the figure is closed (so it is not shown twice)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return buffer.getvalue()


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
