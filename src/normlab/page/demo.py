"""The demo builder: controls that choose a render function's arguments, live or static.

One call, two modes (see :mod:`normlab.page.widgets` for the whole story): ``live_demo``
renders the current state on each change in a running kernel; ``static_demo`` renders
every state up front and links nested Stacks to the controls in the browser, so a built
page works without Python. Both read their views through one :class:`Renders` memo
(memory, then the disk cache, then ``render``).
"""

from __future__ import annotations

import html
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets

from ..studies.runcache import stable_repr
from .cache import ViewCache
from .controls import Control, combinations, describe_initial, describe_values
from .views import View, reserved_em, to_view, to_widget

STATIC_WIDGETS_ENV = "NORMLAB_STATIC_WIDGETS"


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

    def _ipython_display_(self) -> None:
        """The widget, then (static mode) a ``<noscript>`` copy of its first view: myst-nb
        writes each output of a cell to the page, and a reader without JavaScript sees the
        copy instead of an empty box."""
        from IPython.display import HTML, display

        display(self._repr_mimebundle_(), raw=True)
        if self.fallback:
            display(HTML(self.fallback))


BUSY_HTML = "<div role='status' class='normlab-busy' style='min-height:1.5em;font-style:italic'>{}</div>"


class Renders:
    """The views of one demo, each rendered at most once: from memory, from the disk cache
    (when the demo has a ``cache_key``), or by calling ``render`` now."""

    def __init__(self, render: Callable[..., Any], dpi: float | None, disk: ViewCache | None) -> None:
        self.render, self.dpi, self.disk = render, dpi, disk
        self.seen: dict[str, View] = {}

    def view_of(self, values: dict[str, Any]) -> Any:
        """The encoded :class:`View` of one state, or the widget ``render`` returned (shown as
        it is, never cached)."""
        key = stable_repr(values)
        if key in self.seen:
            return self.seen[key]
        view = self.disk.get(values) if self.disk else None
        if view is None:
            try:
                result = self.render(**values)
            except Exception as err:
                raise RuntimeError(f"precomputed_demo: render({describe_values(values)}) failed: {err}") from err
            view = to_view(result, self.dpi)
            if view is None:  # a widget: shown as it is, not cached
                return result
            if self.disk:
                self.disk.put(values, view)
        self.seen[key] = view
        return view

    def is_ready(self, values: dict[str, Any]) -> bool:
        """Whether ``view_of(values)`` returns without rendering."""
        if stable_repr(values) in self.seen:
            return True
        path = self.disk.path(values) if self.disk else None
        return path is not None and path.is_file()


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
        live = kernel_is_live()
    control_widgets = {name: spec.make_widget(name) for name, spec in specs.items()}
    renders = Renders(render, dpi, ViewCache(cache_key) if cache_key is not None else None)
    build = live_demo if live else static_demo
    demo = build(specs, control_widgets, renders, max_variants)
    demo.controls = control_widgets
    demo.mode = "live" if live else "static"
    demo.add_class("normlab-demo")
    return demo


def _panel(control_widgets: dict[str, widgets.Widget]) -> widgets.HBox:
    return widgets.HBox(list(control_widgets.values()), layout=widgets.Layout(flex_flow="row wrap"))


def live_demo(
    specs: dict[str, Control], control_widgets: dict[str, widgets.Widget], renders: Renders, max_variants: int = 0
) -> PrecomputedDemo:
    """Render the current state now and again on every change, with a "computing" line
    while a state that is not ready yet renders (``max_variants`` does not apply)."""
    status = widgets.HTML(BUSY_HTML.format(""))

    def current() -> dict[str, Any]:
        return {name: specs[name].values[w.index] for name, w in control_widgets.items()}

    view = widgets.Box([to_widget(renders.view_of(current()))], layout=widgets.Layout(width="100%"))

    def update(_change: Any) -> None:
        values = current()
        if not renders.is_ready(values):  # sent to the browser at once: the reader sees the old view is stale
            status.value = BUSY_HTML.format(f"computing {html.escape(describe_values(values))} …")
            for old in view.children:
                if isinstance(old, widgets.HTML):
                    old.value = f"<div style='opacity:0.35'>{old.value}</div>"
        try:
            view.children = [to_widget(renders.view_of(values))]
        finally:
            status.value = BUSY_HTML.format("")

    for w in control_widgets.values():
        w.observe(update, names="index")
    demo = PrecomputedDemo([_panel(control_widgets), status, view])
    demo.variants, demo.links, demo.status, demo.fallback = 1, [], status, ""
    return demo


def static_demo(
    specs: dict[str, Control], control_widgets: dict[str, widgets.Widget], renders: Renders, max_variants: int = 48
) -> PrecomputedDemo:
    """Render every state up front into nested Stacks, one level per control, each linked
    to its control in the browser; views without an image get the tallest view's height."""
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
    for combination in combinations(specs):  # every view first: their heights are reserved
        renders.view_of(combination)
    reserve = reserved_em(list(renders.seen.values()))

    def as_output(values: dict[str, Any]) -> widgets.Widget:
        view = renders.view_of(values)
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

    demo = PrecomputedDemo([_panel(control_widgets), stack_for(0, {})])
    demo.variants, demo.links = n_variants, links
    demo.status = widgets.HTML(BUSY_HTML.format(""))
    demo.fallback = ""
    first = renders.view_of({name: spec.values[spec.initial_index] for name, spec in specs.items()})
    if isinstance(first, View):
        demo.fallback = (
            f"<noscript><div class='normlab-noscript'>{first.html()}<p><em>JavaScript "
            f"is off: this is the demo's first view "
            f"({html.escape(describe_initial(specs))}).</em></p></div></noscript>"
        )
    return demo


def kernel_is_live() -> bool:
    """Whether this process runs in a live IPython kernel (and the book build did not ask for
    static demos with ``NORMLAB_STATIC_WIDGETS=1``)."""
    if os.environ.get(STATIC_WIDGETS_ENV) == "1":
        return False
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
