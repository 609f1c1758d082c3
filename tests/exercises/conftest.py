"""Fixtures for the graded exercises: one nbgrader course per assignment, made once.

Grading is the slow part (one kernel per submission, ~3-10 s each), so each assignment's
solution, untouched release and wrong submissions are graded in one batch per course
directory and shared by every test of that assignment. tests/conftest.py gives the tests
of each assignment (parametrized by ``assignment``) an ``xdist_group``, so
``pytest -n 2 --dist loadgroup`` grades two assignments at once without grading any twice.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from nbgrader_course import CellResult, Course, cells_by_id, fill, solution_text
from wrong_submissions import RELEASE, RIGHT, SOLUTION, WRONG


@dataclass
class Released:
    assignment: str
    course: Course
    source: object  # the source notebook (nbformat NotebookNode)
    release: object  # the student version made by generate_assignment


@dataclass
class Graded(Released):
    results: dict[str, dict[str, CellResult]]  # student -> grade_id -> result


_released: dict[str, Released] = {}
_graded: dict[str, Graded] = {}


def model_cells(source) -> dict[str, str]:
    """What the wrong-submission builders start from: every grade_id's text, with the
    model answers unwrapped from their solution markers."""
    return {gid: solution_text(cell.source) for gid, cell in cells_by_id(source).items()}


@pytest.fixture(scope="session")
def courses_dir():
    """Where the course directories live. Not pytest's tmp_path: a concurrent pytest run on
    the same machine prunes old basetemp folders, which would delete a course mid-grading."""
    with tempfile.TemporaryDirectory(prefix="normlab-exercises-") as root:
        yield Path(root)


@pytest.fixture(scope="session")
def released(courses_dir):
    def get(assignment: str) -> Released:
        if assignment not in _released:
            course = Course.create(courses_dir / assignment, [assignment])
            release = course.generate(assignment)
            _released[assignment] = Released(assignment, course, course.source(assignment), release)
        return _released[assignment]

    return get


@pytest.fixture(scope="session")
def graded(released):
    def get(assignment: str) -> Graded:
        if assignment not in _graded:
            r = released(assignment)
            r.course.submit(assignment, SOLUTION, r.source)
            r.course.submit(assignment, RELEASE, r.release)
            cells = model_cells(r.source)
            others = WRONG[assignment] + RIGHT[assignment]
            for other in others:
                r.course.submit(assignment, other.name, fill(r.release, r.source, other.answers(cells)))
            students = [SOLUTION, RELEASE] + [w.name for w in others]
            _graded[assignment] = Graded(
                assignment, r.course, r.source, r.release, r.course.autograde(assignment, students)
            )
        return _graded[assignment]

    return get
