"""End to end on the repository's real exercises (exercises/<assignment>/<assignment>.ipynb):
release -> 10 synthetic students downloaded from an LMS -> collect -> grade --jobs 2 ->
export -> the expected CSV; feedback without hidden tests;
a re-run grades nothing.  The class is graded once per session (conftest.exercise_class,
shared with test_distributed.py).  Expected scores are derived from the released max points, so
the test follows the exercises when their points change."""

import csv
import html
import io
import os
import re
import zipfile

import nbformat
import pytest
from autograder_helpers import ASSIGNMENTS, GRADE_ARGS, Class, run

from autograder.__main__ import main as cli
from autograder.synthetic import fill, solution_answers

pytestmark = pytest.mark.slow

needs_exercises = pytest.mark.skipif(len(ASSIGNMENTS) < 3, reason="needs 3+ assignments in exercises/")


def auto_points(course, assignment):
    """Points the autograder can give (manually graded answers are left for the instructor)."""
    total = 0.0
    for notebook in course.notebooks(assignment):
        for cell in nbformat.read(course.release_notebook(assignment, notebook), as_version=4).cells:
            meta = cell.metadata.get("nbgrader", {})
            if cell.cell_type == "code" and meta.get("grade") and not meta.get("solution"):
                total += float(meta["points"])
    return total


def read_csv(path):
    with open(path) as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="session")
def graded(exercise_class):
    """The session's end-to-end class (conftest.exercise_class), graded with --jobs 2."""
    if exercise_class is None:
        pytest.skip("needs 3+ assignments in exercises/")
    return exercise_class.course, exercise_class.expected, exercise_class.statuses


@needs_exercises
def test_grades_csv_has_the_expected_scores(graded):
    course, expected, statuses = graded
    rows = read_csv(os.path.join(course.state_dir, "export", "grades.csv"))
    got = {
        (r["assignment"], r["student"]): (float(r["score"]) if r["score"] else None, float(r["max_score"]))
        for r in rows
    }
    assert len(got) == 10 * len(course.released())
    for key, outcome in expected.items():
        score, max_score = got[key]
        full = auto_points(course, key[0])
        assert 0 < full <= max_score
        want = {"full": full, "zero": 0.0, "not submitted": None}[outcome]
        assert score == want, (key, outcome, score, full)
    status = {(r["student"], r["assignment"]): r["status"] for r in rows}
    for key, text in statuses.items():
        assert text in status[key], (key, status[key])
    assert status[("s01_correct", course.released()[0])] == "ok"


@needs_exercises
def test_difficulty_table_and_histogram(graded):
    course = graded[0]
    rows = read_csv(os.path.join(course.state_dir, "export", "questions.csv"))
    first = course.released()[0]  # s05_missing submitted only the first assignment: not a zero elsewhere
    assert rows and all(r["submissions"] == ("10" if r["assignment"] == first else "9") for r in rows), rows
    assert all(0.0 <= float(r["full_marks_share"]) <= 1.0 for r in rows)
    for assignment in course.released():
        with open(os.path.join(course.state_dir, "export", f"histogram_{assignment}.png"), "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"


def _hidden_test_lines(course):
    """Lines of hidden tests that appear nowhere in what students were given."""
    released = "\n".join(
        cell.source
        for a in course.released()
        for nb in course.notebooks(a)
        for cell in nbformat.read(course.release_notebook(a, nb), as_version=4).cells
    )
    lines = set()
    for assignment in course.released():
        for notebook in course.notebooks(assignment):
            text = nbformat.read(course.source_notebook(assignment, notebook), as_version=4)
            for cell in text.cells:
                hidden = False
                for line in cell.source.splitlines():
                    mark = line.strip().upper()
                    if mark.startswith("### BEGIN HIDDEN TESTS"):
                        hidden = True
                    elif mark.startswith("### END HIDDEN TESTS"):
                        hidden = False
                    elif hidden and len(line.strip()) >= 12 and not line.strip().startswith("#"):
                        lines.add(line.strip())
    return {line for line in lines if line not in released}


@needs_exercises
def test_feedback_html_contains_no_hidden_test_text(graded):
    course = graded[0]
    hidden = _hidden_test_lines(course)
    assert hidden
    pages = [
        os.path.join(folder, f)
        for folder, _, files in os.walk(course.path("feedback"))
        for f in files
        if f.endswith(".html")
    ]
    # one per student and notebook, gradable or not; none where s05_missing did not submit
    assert len(pages) == 10 * len(course.released()) - (len(course.released()) - 1)
    first = course.released()[0]
    with open(course.path("feedback", "s06_badjson", first, course.notebooks(first)[0] + ".html")) as f:
        assert "could not be graded: invalid JSON" in f.read()
    for page in pages:
        with open(page) as f:
            text = html.unescape(re.sub(r"<[^>]+>", "", f.read()))
        leaked = [line for line in hidden if line in text]
        assert not leaked, (page, leaked[:3])


@needs_exercises
def test_rerun_grades_only_changed_submissions(graded, capsys):
    course = graded[0]
    capsys.readouterr()
    run(course.root, "grade", "--jobs", "2", *GRADE_ARGS)
    out = capsys.readouterr().out
    assert "0 to grade" in out
    assignment = course.released()[0]
    [notebook] = course.notebooks(assignment)
    path = course.submitted_notebook("s03_unanswered", assignment, notebook)
    nbformat.write(
        fill(
            course.release_notebook(assignment, notebook),
            solution_answers(course.source_notebook(assignment, notebook)),
        ),
        path,
    )
    run(course.root, "grade", "--jobs", "2", *GRADE_ARGS)
    out = capsys.readouterr().out
    assert "1 to grade" in out and "graded 1," in out


def test_collect_zip_and_submitted_layout(fresh_course, tmp_path):
    """A zip of LMS downloads and nbgrader's submitted/ layout; unknown names reported."""
    from autograder.collect import collect

    klass = Class(fresh_course)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("ann_ps1_layernorm.ipynb", nbformat.writes(klass.notebook("layernorm")))
        archive.writestr("folder/ben/ps1/rmsnorm.ipynb", nbformat.writes(klass.notebook("rmsnorm")))
        archive.writestr("notes.txt", "not a notebook")
        archive.writestr("../escape_ps1_layernorm.ipynb", "{}")
    zip_path = tmp_path / "downloads.zip"
    zip_path.write_bytes(buffer.getvalue())
    rep = collect(fresh_course, str(zip_path), log=lambda *_: None)
    got = sorted((c["student"], c["notebook"]) for c in rep["collected"])
    assert got == [("ann", "layernorm"), ("ben", "rmsnorm")]
    assert [u["file"] for u in rep["unmatched"]] == ["notes.txt"]
    assert os.path.exists(fresh_course.submitted_notebook("ann", "ps1", "layernorm"))


def test_db_url_points_the_gradebook_elsewhere(tmp_path):
    """--db-url is handed to nbgrader as is (sqlite here; a postgresql:// URL works the same
    way through SQLAlchemy); nothing is written to the default gradebook."""
    from autograder_helpers import FIXTURES

    db = tmp_path / "elsewhere" / "gradebook.db"
    db.parent.mkdir()
    assert (
        cli(
            [
                "--course",
                str(tmp_path / "course"),
                "--exercises",
                FIXTURES,
                "--db-url",
                f"sqlite:///{db}",
                "release",
                "ps1",
            ]
        )
        == 0
    )
    assert db.exists() and not (tmp_path / "course" / "gradebook.db").exists()
