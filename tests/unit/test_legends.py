"""No legend of a figure is drawn on another legend or on another panel (issue 26: chapter
2's two panels had both legends on top of each other under the bottom one, because
``legend_below`` put each one at the figure's bottom).

Figures are rendered as the book renders them: a chapter's cells run as written (their
``show_figure`` encodes the PNG), a demo's ``render`` with its training replaced by a
stand-in result (the layout does not depend on the numbers). Then the bounding boxes of
the legend artists are compared in the drawn figure."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from normlab.demos import figures

ROOT = Path(__file__).resolve().parents[2]
CELL = re.compile(r"^```\{code-cell\}[^\n]*\n((?::[^\n]*\n)*)(.*?)^```", re.M | re.S)
LEGEND_CALL = re.compile(r"legend_below\(|\.legend\(")


def code_cells(chapter: Path) -> list[str]:
    return [body for options, body in CELL.findall(chapter.read_text(encoding="utf-8")) if "quiz" not in options]


def chapters_with_several_legends() -> list[str]:
    """Chapters with a cell that draws more than one legend (into one figure or several)."""
    return sorted(
        chapter.name
        for chapter in (ROOT / "book").glob("*.md")
        if any(len(LEGEND_CALL.findall(cell)) > 1 for cell in code_cells(chapter))
    )


def clashes(fig) -> list[str]:
    """Every pair of legends that overlap, and every legend on a panel it does not belong to
    (a figure legend belongs to none), in the drawn figure."""
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    legends = [(f"figure legend {i}", legend, None) for i, legend in enumerate(fig.legends)]
    legends += [(f"legend of panel {i}", ax.get_legend(), ax) for i, ax in enumerate(fig.axes) if ax.get_legend()]
    boxes = {name: legend.get_window_extent(renderer) for name, legend, _ in legends}

    def overlap(a, b) -> float:
        width = min(a.x1, b.x1) - max(a.x0, b.x0)
        height = min(a.y1, b.y1) - max(a.y0, b.y0)
        return max(width, 0) * max(height, 0)

    found = [f"{a} overlaps {b}" for a, b in itertools.combinations(boxes, 2) if overlap(boxes[a], boxes[b]) > 1]
    for name, legend, owner in legends:
        for i, ax in enumerate(fig.axes):
            if ax is owner:
                continue
            legend.set_visible(False)  # the panel's box without this legend (a panel's box holds its legend)
            panel = ax.get_tightbbox(renderer)
            legend.set_visible(True)
            if overlap(boxes[name], panel) > 1:
                found.append(f"{name} overlaps panel {i}")
    return found


def test_the_chapters_with_several_legends_are_found():
    assert "02-attention-cost.md" in chapters_with_several_legends()


@pytest.mark.parametrize("chapter", chapters_with_several_legends())
def test_no_chapter_figure_has_overlapping_legends(chapter, monkeypatch):
    drawn = []
    show = figures.show_figure

    def keep(fig, *args, **kwargs):
        drawn.append(fig)
        return show(fig, *args, **kwargs)  # encodes the PNG, as the page does

    monkeypatch.setattr(figures, "show_figure", keep)
    namespace = {"display": lambda *args, **kwargs: None, "__name__": "__chapter__"}
    cells = code_cells(ROOT / "book" / chapter)
    last = max(i for i, cell in enumerate(cells) if len(LEGEND_CALL.findall(cell)) > 1)
    for cell in cells[: last + 1]:
        exec(compile(cell, f"{chapter} cell", "exec"), namespace)
    several = [fig for fig in drawn if len(fig.legends) + sum(ax.get_legend() is not None for ax in fig.axes) > 1]
    assert several, f"{chapter}: no figure with more than one legend was drawn"
    for fig in several:
        assert clashes(fig) == []


def fake_lm_result(n_layers: int) -> dict:
    steps = 200
    return {
        "loss": list(np.linspace(4.5, 2.4, steps)),
        "val_loss": 2.5,
        "profiles": {step: list(np.geomspace(1e-2, 1e-1, n_layers)) for step in (0, 100, 199)},
    }


def fake_task_result(steps: int = 120) -> dict:
    return {"loss": list(np.linspace(3.0, 0.5, steps)), "lr": list(np.linspace(0, 0.1, steps)), "accuracy": 0.9}


def test_no_demo_figure_with_two_panels_has_overlapping_legends(monkeypatch):
    from normlab.demos import attention_logits, small_lm, training_deep

    # ensembles: the demos draw every seed (two stand-in seeds here)
    monkeypatch.setattr(small_lm, "train_lm", lambda placement, n_layers, config: (fake_lm_result(n_layers),) * 2)
    monkeypatch.setattr(training_deep, "run", lambda lr, recipe: (fake_task_result(),) * 2)
    for render in (small_lm.render, training_deep.render, attention_logits.render):
        fig = render().figure
        assert len(fig.axes) == 2
        assert clashes(fig) == [], render.__module__
