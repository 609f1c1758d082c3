"""normlab.book.student_notebooks: the graded notebooks' student versions are the release, never a leak.

The release itself (nbgrader through the autograder) is faked here, so these tests are
fast; tests/book/test_chapters.py checks the real downloads of the built book."""

from __future__ import annotations

import subprocess

import pytest
from sphinx.errors import ExtensionError

from normlab.book import student_notebooks


def fake_release(notebooks: dict[str, str]):
    """A stand-in for `python -m autograder --course C release` writing these notebooks."""
    calls = []

    def run(command, cwd, capture_output, text):
        course = command[command.index("--course") + 1]
        for name, text_ in notebooks.items():
            path = student_notebooks.Path(course) / "release" / name / f"{name}.ipynb"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text_)
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, "", "")

    return run, calls


@pytest.fixture
def book(tmp_path):
    (tmp_path / "exercises" / "ordering").mkdir(parents=True)
    (tmp_path / "exercises" / "ordering" / "ordering.ipynb").write_text("{}")
    return tmp_path


def test_student_notebooks_are_copied_and_the_release_is_not_repeated(book, monkeypatch):
    run, calls = fake_release({"ordering": '{"cells": ["# YOUR CODE HERE"]}'})
    monkeypatch.setattr(student_notebooks.subprocess, "run", run)
    first = student_notebooks.release_student_notebooks(book)
    assert [p.name for p in first] == ["ordering.ipynb"]
    assert student_notebooks.release_student_notebooks(book) == first
    assert len(calls) == 1, "unchanged exercises are not released again"
    (book / "exercises" / "ordering" / "ordering.ipynb").write_text('{"changed": 1}')
    student_notebooks.release_student_notebooks(book)
    assert len(calls) == 2, "a changed exercise is released again"


def test_the_release_course_is_not_in_the_download_folder(book, monkeypatch):
    """The course folder holds source/ (solutions, hidden tests): never under the folder
    students download from (issue 23)."""
    run, calls = fake_release({"ordering": '{"cells": ["# YOUR CODE HERE"]}'})
    monkeypatch.setattr(student_notebooks.subprocess, "run", run)
    student_notebooks.release_student_notebooks(book)
    course = book / calls[0][calls[0].index("--course") + 1]
    out = (book / student_notebooks.OUT_DIR).resolve()
    assert out not in course.resolve().parents and not list(out.rglob("source"))


@pytest.mark.parametrize("marker", student_notebooks.LEAK_MARKERS)
def test_a_leaked_solution_or_hidden_test_stops_the_build(book, monkeypatch, marker):
    run, _ = fake_release({"ordering": f'{{"cells": ["{marker}"]}}'})
    monkeypatch.setattr(student_notebooks.subprocess, "run", run)
    with pytest.raises(ExtensionError, match="must not be published"):
        student_notebooks.release_student_notebooks(book)
    assert not (book / student_notebooks.OUT_DIR / "ordering.ipynb").exists()


def test_a_failed_release_says_so(book, monkeypatch):
    monkeypatch.setattr(
        student_notebooks.subprocess, "run", lambda command, **kw: subprocess.CompletedProcess(command, 2, "", "boom")
    )
    with pytest.raises(ExtensionError, match=r"(?s)autograder release` failed .*boom"):
        student_notebooks.release_student_notebooks(book)
