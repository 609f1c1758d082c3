"""A demo's controls: the values a reader can choose, and the widget that chooses them.

A :class:`Control` is data (values, kind, label, initial value); ``make_widget`` is the
one place that turns it into a slider, toggle buttons or a dropdown.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from numbers import Real
from typing import Any

import ipywidgets as widgets

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

    def __post_init__(self) -> None:
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


def combinations(specs: Mapping[str, Control]) -> Iterator[dict[str, Any]]:
    """Every assignment of values to the controls, first control slowest."""
    names = list(specs)
    for values in itertools.product(*(specs[n].values for n in names)):
        yield dict(zip(names, values))


def describe_values(values: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in values.items())


def describe_initial(specs: Mapping[str, Control]) -> str:
    return ", ".join(f"{spec.label or name} {spec.values[spec.initial_index]}" for name, spec in specs.items())
