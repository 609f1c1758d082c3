"""What a learner does in `make lab`'s JupyterLab, in headless chromium: open a chapter,
run it, move a demo's slider, answer a live quiz, and validate a graded notebook."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import nbformat
import pytest

from normlab.quiz import get_question

RUN_TIMEOUT = 900_000  # ms: chapter 4 runs its experiments (a minute or two on two busy cores)


def put_notebook(lab, path: str, notebook) -> None:
    body = json.dumps({"type": "notebook", "format": "json", "content": notebook}).encode()
    request = urllib.request.Request(
        f"{lab.url}/api/contents/{path}", data=body, method="PUT", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=30).close()


def open_notebook(page, lab, path: str):
    """Open ``path`` in a fresh workspace (only this document, none restored from an earlier
    test) and wait until its kernel is idle."""
    page.goto(f"{lab.url}/lab/workspaces/test-{uuid.uuid4().hex[:8]}/tree/{path}")
    panel = page.locator(".jp-NotebookPanel:visible").first
    panel.locator(".jp-Cell").first.wait_for()
    page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"Python 3.*\| Idle")).first.wait_for(timeout=300_000)
    return panel


def run_all(page, panel, timeout: float = RUN_TIMEOUT) -> None:
    """Restart the kernel and run all cells, with the notebook's own toolbar button."""
    panel.locator(".jp-Toolbar [data-command='notebook:restart-run-all']").first.click()
    page.locator(".jp-Dialog button.jp-mod-accept").first.click()
    # every code cell ran: its prompt holds a number (not "*", not blank)
    page.wait_for_function(
        """panel => [...panel.querySelectorAll('.jp-CodeCell .jp-InputPrompt')]
             .every(p => /\\[\\d+\\]/.test(p.textContent))""",
        arg=panel.element_handle(),
        timeout=timeout,
        polling=1000,
    )


def error_outputs(panel) -> list[str]:
    """The text of every error (traceback) output in the notebook."""
    return panel.evaluate(
        """panel => [...panel.querySelectorAll(
                 '.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')]
             .map(o => o.textContent).filter(t => /Traceback|Error/.test(t))"""
    )


def test_a_chapter_opens_as_a_notebook_runs_and_its_demo_slider_redraws(page, lab):
    panel = open_notebook(page, lab, "book/04-post-norm.md")
    assert panel.locator(".jp-CodeCell").count() >= 3
    assert panel.locator(".jp-MarkdownCell").count() >= 3
    # the included PostNormBlock.forward reads as code in a rendered markdown cell
    assert panel.locator(".jp-MarkdownCell pre", has_text="x = self.norm1(x + self._sa_block(").count() == 1

    run_all(page, panel)
    assert error_outputs(panel) == []

    demo = panel.locator(".jp-CodeCell", has_text="gradients.demo()").first
    image = demo.locator(".jp-OutputArea img").first
    image.wait_for()
    before = image.get_attribute("src")
    value = demo.locator(".widget-slider .widget-readout").first
    shown = value.inner_text()
    handle = demo.locator(".widget-slider .noUi-handle").first
    handle.focus()
    handle.press("ArrowRight")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and demo.locator(".jp-OutputArea img").first.get_attribute("src") == before:
        page.wait_for_timeout(500)
    assert value.inner_text() != shown  # the slider moved
    assert demo.locator(".jp-OutputArea img").first.get_attribute("src") != before  # and the figure changed


QUIZ = "post-norm-formula"  # single choice, math in its prompt and options


def _open_quiz(page, lab):
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell(f'from normlab import quiz\nquiz.show("{QUIZ}")')]
    )
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    put_notebook(lab, "quiz-live.ipynb", notebook)
    panel = open_notebook(page, lab, "quiz-live.ipynb")
    run_all(page, panel, timeout=180_000)
    assert error_outputs(panel) == []
    output = panel.locator(".jp-OutputArea-output").first
    output.locator("button", has_text="Check").wait_for()
    return output


def test_a_live_quiz_typesets_its_prompt_and_grades_the_right_answer(page, lab):
    output = _open_quiz(page, lab)
    question = get_question(QUIZ)
    assert output.locator("mjx-container").first.is_visible(timeout=30_000)  # the prompt's $F$
    correct = next(i for i, choice in enumerate(question.choices) if choice.correct)
    # one tick box per option, in the shuffled order the book shows (Question.display_order)
    output.locator("input[type=checkbox]").nth(question.display_order().index(correct)).check()
    output.locator("button", has_text="Check").click()
    output.get_by_text("Correct!").wait_for(timeout=30_000)


def test_a_live_quiz_typesets_its_options(page, lab):
    output = _open_quiz(page, lab)
    choices = get_question(QUIZ).choices
    labels = output.locator(".widget-hbox:has(input[type=checkbox]) .widget-htmlmath")
    assert labels.count() == len(choices)
    texts = [labels.nth(i).inner_text() for i in range(labels.count())]
    assert not any("$" in text or "\\" in text for text in texts), texts  # no raw LaTeX left
    with_math = sum("$" in choice.text for choice in choices)
    assert output.locator(".widget-hbox:has(input[type=checkbox]) mjx-container").count() >= with_math


# --------------------------------------------------------------------------- graded notebooks


@pytest.fixture(scope="module")
def released(lab):
    """The ordering assignment as a student gets it (released by the autograder), untouched
    and solved (the model answers written into the answer cells), in the lab's folder."""
    with tempfile.TemporaryDirectory(prefix="normlab-lab-course-") as course:
        subprocess.run(
            [sys.executable, "-m", "autograder", "--course", course, "release", "ordering"],
            cwd=lab.root,
            env=lab.env,
            check=True,
            capture_output=True,
        )
        release = nbformat.read(Path(course) / "release" / "ordering" / "ordering.ipynb", as_version=4)
    source = nbformat.read(lab.root / "exercises" / "ordering" / "ordering.ipynb", as_version=4)
    answers = {
        c.metadata["nbgrader"]["grade_id"]: c.source
        for c in source.cells
        if c.metadata.get("nbgrader", {}).get("solution")
    }
    solved = nbformat.from_dict(json.loads(json.dumps(release)))
    for cell in solved.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = "\n".join(
                line
                for line in answers[grade_id].split("\n")
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            )
    (lab.root / "graded").mkdir(exist_ok=True)
    put_notebook(lab, "graded/ordering-untouched.ipynb", release)
    put_notebook(lab, "graded/ordering-solved.ipynb", solved)
    return {"untouched": "graded/ordering-untouched.ipynb", "solved": "graded/ordering-solved.ipynb"}


def validate(page, panel) -> str:
    panel.locator(".validate-button").first.click()
    message = page.locator("#validation-message")
    message.wait_for(timeout=300_000)
    text = message.inner_text()
    page.locator(".jp-Dialog button", has_text="OK").first.click()
    return text


def test_a_solved_graded_notebook_runs_and_validates(page, lab, released):
    panel = open_notebook(page, lab, released["solved"])
    run_all(page, panel, timeout=300_000)
    assert error_outputs(panel) == []
    summary = panel.locator(".jp-CodeCell", has_text="checks.self_check();").last
    assert "5/8 questions pass their visible checks, 3 more are well-formed" in summary.inner_text()
    assert "Success! Your notebook passes all the tests." in validate(page, panel)


def test_an_unanswered_graded_notebook_fails_validation(page, lab, released):
    panel = open_notebook(page, lab, released["untouched"])
    text = validate(page, panel)
    assert "Success" not in text
    assert "NotImplementedError" in text or "failed" in text.lower()
