"""The graded notebooks as the book presents them: the points of each notebook, and what
a visible check says about an answer (the appendix on the graded notebooks shows both)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbformat import NotebookNode


def exercise_summary(notebook: NotebookNode) -> dict:
    """Points of an nbgrader notebook, read from its cells' ``nbgrader`` metadata.

    Returns ``{"autograded": points of test cells, "manual": points of answers a person
    grades, "tests": number of test cells, "answers": number of cells the student fills}``.
    """
    import json
    from pathlib import Path

    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    summary = {"autograded": 0.0, "manual": 0.0, "tests": 0, "answers": 0}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            summary["answers"] += 1
        if meta.get("grade") and not meta.get("solution") and not meta.get("task"):
            summary["autograded"] += meta.get("points", 0)
            summary["tests"] += 1
        elif meta.get("grade") or meta.get("task"):
            summary["manual"] += meta.get("points", 0)
    return summary


def check_feedback(check: Callable[..., Any], answer: Any, code: str = "") -> str:
    """What a student sees when an exercise's visible check runs on ``answer``: the
    check's printed lines if it passes, its message if it fails. Returns HTML (with the
    answer's ``code`` above the feedback)."""
    import contextlib
    import html
    import io

    from ..checks import CheckFailed

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            check(answer)
        verdict, outcome, message = "visible checks passed", "pass", printed.getvalue()
    except CheckFailed as failure:
        verdict, outcome, message = "visible check failed", "fail", str(failure)
    shown = f"<pre>{html.escape(code)}</pre>" if code else ""
    return (
        f"<div class='normlab-check-feedback'>{shown}<p><b class='nl-check-{outcome}'>{verdict}</b></p>"
        f"<pre style='white-space:pre-wrap'>{html.escape(message.strip())}</pre></div>"
    )
