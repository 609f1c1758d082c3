"""Through nbgrader autograde: the solution gets full marks, the untouched release gets 0,
and each realistic wrong submission gets exactly the marks it deserves, with feedback
that names its mistake."""

from __future__ import annotations

import pytest
from nbgrader_course import ASSIGNMENTS, autograded_cells, written_cells
from wrong_submissions import RELEASE, RIGHT, SOLUTION, WRONG

# nbgrader's own gradebook code trips SQLAlchemy's autoflush warnings; they are not ours.
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::Warning:nbgrader.api")]


def autograded_scores(graded, student: str) -> dict[str, float]:
    results = graded.results[student]
    return {grade_id: results[grade_id].score for grade_id in autograded_cells(graded.source)}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_solution_scores_full_marks(graded, assignment):
    g = graded(assignment)
    assert autograded_scores(g, SOLUTION) == autograded_cells(g.source)
    for grade_id, cell in g.results[SOLUTION].items():
        assert not cell.error, f"{grade_id}: {cell.error}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_release_scores_zero(graded, assignment):
    g = graded(assignment)
    assert set(autograded_scores(g, RELEASE).values()) == {0}
    for grade_id in written_cells(g.source):  # unanswered written parts: 0 too
        assert g.results[RELEASE][grade_id].score == 0


@pytest.mark.xdist_group("design_review")  # the worker that grades design_review (tests/conftest.py)
def test_written_answers_wait_for_the_instructor(graded):
    g = graded("design_review")
    for grade_id, points in written_cells(g.source).items():
        assert g.results[SOLUTION][grade_id].score is None  # needs manual grading
        assert g.results[SOLUTION][grade_id].max_score == points


@pytest.mark.parametrize(
    "assignment,right",
    [(a, r) for a in ASSIGNMENTS for r in RIGHT[a]],
    ids=[f"{a}-{r.name}" for a in ASSIGNMENTS for r in RIGHT[a]],
)
def test_right_but_different_submission_scores_full_marks(graded, assignment, right):
    g = graded(assignment)
    assert autograded_scores(g, right.name) == autograded_cells(g.source), right.mistake
    for grade_id, cell in g.results[right.name].items():
        assert not cell.error, f"{grade_id}: {cell.error}"


@pytest.mark.parametrize(
    "assignment,wrong",
    [(a, w) for a in ASSIGNMENTS for w in WRONG[a]],
    ids=[f"{a}-{w.name}" for a in ASSIGNMENTS for w in WRONG[a]],
)
def test_wrong_submission_scores_expected_marks(graded, assignment, wrong):
    g = graded(assignment)
    expected = autograded_cells(g.source)
    expected.update({grade_id: lost.score for grade_id, lost in wrong.lost.items()})
    assert autograded_scores(g, wrong.name) == expected, wrong.mistake
    for grade_id, lost in wrong.lost.items():
        cell = g.results[wrong.name][grade_id]
        feedback = cell.error + cell.output
        assert lost.says in feedback, f"{grade_id} should say {lost.says!r}; it said {feedback!r}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_at_least_five_realistic_wrong_submissions(assignment):
    wrongs = WRONG[assignment]
    assert len(wrongs) >= 5
    assert len({w.name for w in wrongs}) == len(wrongs)
    assert all(w.lost for w in wrongs)
