"""Synthetic submissions for any released assignment (benchmark, tests, dry runs).

`solution_answers(source_nb)` takes the instructor's own answers (the solution regions
of the answer cells), so a "correct" student works for the real exercises as well as
for fixtures; an "unanswered" student submits the release as is.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from nbformat import NotebookNode

if TYPE_CHECKING:
    from .course import Course

import os

import nbformat

from .notebooks import grade_id, is_answer


def solution_answers(source_path: str) -> dict[str, str]:
    """grade_id -> the instructor's answer text (solution markers removed)."""
    nb = nbformat.read(source_path, as_version=4)
    answers: dict[str, str] = {}
    for cell in nb.cells:
        if is_answer(cell) and cell.cell_type == "code":
            lines = [
                line
                for line in cell.source.splitlines()
                if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")
            ]
            answers[str(grade_id(cell))] = "\n".join(lines)  # an answer cell has a grade id
    return answers


def fill(release_path: str, answers: dict[str, str]) -> NotebookNode:
    """The released notebook with answer cells replaced by `answers[grade_id]`."""
    nb = nbformat.read(release_path, as_version=4)
    for cell in nb.cells:
        gid = grade_id(cell)
        if gid is not None and gid in answers:
            cell.source = answers[gid]
    return nb


def write_submission(
    course: Course, student: str, assignment: str, notebook: str, nb_or_text: NotebookNode | str | bytes
) -> str:
    """Put a notebook (or raw text/bytes, for broken files) into submitted/."""
    path = course.submitted_notebook(student, assignment, notebook)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(nb_or_text, bytes):
        with open(path, "wb") as f:
            f.write(nb_or_text)
    elif isinstance(nb_or_text, str):
        with open(path, "w") as f:
            f.write(nb_or_text)
    else:
        nbformat.write(nb_or_text, path)
    return path


def class_of(course: Course, assignment: str, n_students: int) -> None:
    """n students: most answer everything correctly, every third notebook is left unanswered."""
    for i in range(n_students):
        for j, notebook in enumerate(course.notebooks(assignment)):
            release = course.release_notebook(assignment, notebook)
            k = j + course.released().index(assignment)  # varies across one-notebook assignments too
            answers = solution_answers(course.source_notebook(assignment, notebook)) if (i + k) % 3 else {}
            write_submission(course, f"student{i:02d}", assignment, notebook, fill(release, answers))
