"""The book's eight interactive demos, one small module each.

Every module has pure, seeded compute functions, a ``render(**values)`` that draws one
state of the demo (a matplotlib Figure, an HTML table or a small widget), its
``CONTROLS`` and a ``demo(live=None)`` that builds the widget through
:func:`normlab.page.widgets.precomputed_demo`: pre-rendered variants linked in the browser on
a static page, re-rendered on change in JupyterLab.

    from normlab.demos import stream
    stream.demo()
"""

from types import ModuleType
from typing import Any

from . import amplification, cost, depth, gradients, shapes, stream, warmup, wiring

# catalogue order (issue 4)
DEMOS = {
    "wiring": wiring,
    "gradients": gradients,
    "depth": depth,
    "stream": stream,
    "warmup": warmup,
    "shapes": shapes,
    "cost": cost,
    "amplification": amplification,
}


def default_values(module: ModuleType) -> dict[str, Any]:
    """The control values a demo opens with (its "default size")."""
    return {name: c.values[c.initial_index] for name, c in module.CONTROLS.items()}


__all__ = ["DEMOS", "default_values", *DEMOS]
