"""The source notebooks release cleanly: nbgrader generate_assignment works, and the student
version holds no solution, no hidden test and no mark scheme. (That the model answers pass
every visible and hidden test is test_exercise_grading's solution, graded by nbgrader
autograde; nbgrader's validate button is driven in tests/lab.)"""

from __future__ import annotations

import re

import pytest
from nbgrader_course import (
    ASSIGNMENTS,
    EXERCISES,
    autograded_cells,
    cells_by_id,
    nbgrader_meta,
    read_notebook,
    written_cells,
)

from normlab.checks import REGISTRY

pytestmark = pytest.mark.filterwarnings("ignore::Warning:nbgrader.api")

HIDDEN = re.compile(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", re.S)
SOLUTION = re.compile(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", re.S)
HIDDEN_CHECK = re.compile(r"\bchecks\.(?:expect\w*|selection_credit)\(")
VISIBLE_CALL = re.compile(r"^checks\.(\w+)\.(\w+)\(", re.M)
MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS", "Model answer", "Mark scheme")


def notebook_text(nb) -> str:
    return "\n".join(cell.source for cell in nb.cells)


def distinctive_lines(regions: list[str], elsewhere: str) -> set[str]:
    """Lines of the given regions that appear nowhere else in the source notebook."""
    lines = {line.strip() for region in regions for line in region.splitlines()}
    return {line for line in lines if len(line) > 12 and line not in elsewhere}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_notebook_is_committed_without_outputs(assignment):
    nb = read_notebook(EXERCISES / assignment / f"{assignment}.ipynb")
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert all(not c.outputs and c.execution_count is None for c in code)
    assert nb.metadata["kernelspec"]["name"] == "python3"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_instructions_render_as_text_not_code_blocks(assignment):
    # Markdown indented by four spaces renders as a code block: the student would see
    # the title and instructions as raw source.
    nb = read_notebook(EXERCISES / assignment / f"{assignment}.ipynb")
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            assert not cell.source.startswith("    "), cell.source[:60]


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_generate_assignment_releases_every_graded_cell(released, assignment):
    r = released(assignment)
    assert list(cells_by_id(r.release)) == list(cells_by_id(r.source))
    assert autograded_cells(r.release) == autograded_cells(r.source)
    for grade_id, cell in cells_by_id(r.release).items():
        if nbgrader_meta(cell).get("solution"):
            stub = "raise NotImplementedError()" if cell.cell_type == "code" else "YOUR ANSWER HERE"
            assert stub in cell.source, f"{grade_id} has no answer stub in the release"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_contains_no_solution_no_hidden_test_no_mark_scheme(released, assignment):
    r = released(assignment)
    source, release = notebook_text(r.source), notebook_text(r.release)
    for marker in MARKERS:
        assert marker not in release
    hidden, solutions = HIDDEN.findall(source), SOLUTION.findall(source)
    assert hidden and solutions
    outside = SOLUTION.sub("", HIDDEN.sub("", source))
    leaked = {line for line in distinctive_lines(hidden + solutions, outside) if line in release}
    assert not leaked, f"release of {assignment} leaks: {sorted(leaked)[:5]}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_test_cell_announces_its_true_number_of_hidden_checks(assignment):
    """What the student is told ("3 hidden checks will also run") is what the source holds."""
    nb = read_notebook(EXERCISES / assignment / f"{assignment}.ipynb")
    seen = set()
    for grade_id in autograded_cells(nb):
        source = cells_by_id(nb)[grade_id].source
        calls = [m for m in VISIBLE_CALL.findall(HIDDEN.sub("", source))]
        assert len(calls) == 1, f"{grade_id} should call exactly one visible check"
        module, key = calls[0]
        assert module == assignment
        question = REGISTRY[assignment][key]
        hidden_checks = sum(len(HIDDEN_CHECK.findall(block)) for block in HIDDEN.findall(source))
        assert hidden_checks == question.hidden, f"{grade_id}: {hidden_checks} hidden checks in the source"
        seen.add(key)
    assert seen == set(REGISTRY[assignment]), "every registered question has exactly one test cell"


def test_points_add_up():
    totals = {
        a: (sum(autograded_cells(nb).values()), sum(written_cells(nb).values()))
        for a in ASSIGNMENTS
        for nb in [read_notebook(EXERCISES / a / f"{a}.ipynb")]
    }
    assert totals == {"ordering": (14, 0), "fix_block": (12, 0), "shape_debugging": (10, 0), "design_review": (12, 7)}
