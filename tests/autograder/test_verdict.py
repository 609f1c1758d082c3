"""The verdict on answer values is the grader's, not the kernel's (issue 10 item 2, design
direction): on the real exercise design_review, a `str` subclass that compares equal to
anything, and a check helper whose `__code__` was swapped for a no-op, both score what
their plain answers deserve, flagged; an honest classmate in the same run gets full marks."""

import os

import nbformat
import pytest
from autograder_helpers import REPO

from autograder.course import Course, release
from autograder.grade import grade
from autograder.kernel.client import Limits
from autograder.synthetic import fill, solution_answers, write_submission
from autograder.verdict import answer_checks, judge

pytestmark = pytest.mark.slow
EXERCISES = os.path.join(REPO, "exercises")
ASSIGNMENT = "design_review"
CHOICES = (
    "ROOT_CAUSE",
    "SHAPES_CHANGED",
    "DEEP_MODEL_PLACEMENT",
    "PRE_NORM_COST",
    "INCIDENT_CAUSE",
    "ATTENTION_WEIGHTS_SHAPE",
)
LIAR = (
    "class Sure(str):\n    def __eq__(self, other):\n        return True\n"
    "    __hash__ = str.__hash__\n    def upper(self):\n        return self\n"
    "    def strip(self, *args):\n        return self\n"
)


def answered(source, release_nb, override):
    answers = solution_answers(source)
    for gid, text in answers.items():
        if any(name in text for name in CHOICES):
            answers[gid] = override(text)
    return fill(release_nb, answers)


@pytest.fixture(scope="session")
def graded(tmp_path_factory):
    if not os.path.exists(os.path.join(EXERCISES, ASSIGNMENT, f"{ASSIGNMENT}.ipynb")):
        pytest.skip("needs exercises/design_review")
    course = Course(root=str(tmp_path_factory.mktemp("verdict") / "course"), exercises=EXERCISES)
    release(course, [ASSIGNMENT], log=lambda *_: None)
    source = course.source_notebook(ASSIGNMENT, ASSIGNMENT)
    release_nb = course.release_notebook(ASSIGNMENT, ASSIGNMENT)
    write_submission(course, "honest", ASSIGNMENT, ASSIGNMENT, fill(release_nb, solution_answers(source)))

    def every_choice_is(text, value):  # 'ROOT_CAUSE = "B"' -> 'ROOT_CAUSE = <value>'
        return "\n".join(
            f"{line.split('=')[0].strip()} = {value}" if line.split("=")[0].strip() in CHOICES else line
            for line in text.splitlines()
        )

    write_submission(
        course,
        "liar",
        ASSIGNMENT,
        ASSIGNMENT,
        answered(source, release_nb, lambda t: LIAR + every_choice_is(t, 'Sure("A")')),
    )
    write_submission(
        course,
        "code_swap",
        ASSIGNMENT,
        ASSIGNMENT,
        answered(
            source,
            release_nb,
            lambda t: (
                "from normlab import checks\n"
                "checks.expect_choice.__code__ = (lambda *a, **k: None).__code__\n" + every_choice_is(t, '"A"')
            ),
        ),
    )
    summary = grade(course, [ASSIGNMENT], jobs=2, limits=Limits(timeout=20), log=lambda *_: None)
    return course, summary


def entry(course, student):
    import json

    with open(os.path.join(course.state_dir, "reports", ASSIGNMENT, f"{student}.json")) as f:
        return json.load(f)[ASSIGNMENT]


def auto_points(course):
    nb = nbformat.read(course.release_notebook(ASSIGNMENT, ASSIGNMENT), as_version=4)
    return sum(
        c.metadata.nbgrader["points"]
        for c in nb.cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("grade")
    )


def test_honest_student_gets_every_autograded_point(graded):
    course, _ = graded
    honest = entry(course, "honest")
    assert honest["score"] == auto_points(course) and honest["flags"] == []


def test_lying_str_subclass_gets_what_its_plain_letters_deserve(graded):
    # every letter is "A": only PRE_NORM_COST (1 point) is right; the select-all answer is the solution (3)
    course, summary = graded
    liar = entry(course, "liar")
    assert liar["score"] == 4.0, liar
    assert any("not a plain value" in f for f in liar["flags"]), liar
    assert any(item["student"] == f"{ASSIGNMENT}/liar" for item in summary["flagged"])
    assert entry(course, "honest")["score"] == auto_points(course)


def test_swapped_check_code_is_undone(graded):
    course, _ = graded
    swapped = entry(course, "code_swap")
    assert swapped["score"] == 4.0, swapped
    assert any("expect_choice.__code__" in n for n in swapped["notes"]), swapped
    assert entry(course, "honest")["score"] == auto_points(course)


def test_answer_checks_read_from_the_test_source():
    [check] = answer_checks('checks.expect_choice(ROOT_CAUSE, "B", name="ROOT_CAUSE", why={"A": "no"})')
    assert (check.kind, check.variable, check.correct) == ("expect_choice", "ROOT_CAUSE", "B")
    assert judge(check, {"kind": "str", "value": " b "})[0]
    assert not judge(check, {"kind": "str", "value": "A"})[0]
    assert not judge(check, {"kind": "other", "type": "int"})[0]
