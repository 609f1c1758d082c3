"""End to end on the repository's real exercises (exercises/<assignment>/<assignment>.ipynb):
release -> 10 synthetic students downloaded from an LMS -> collect -> grade --jobs 2 ->
export -> the expected CSV; the same CSV with --jobs 1; feedback without hidden tests;
a re-run grades nothing.  Expected scores are derived from the released max points, so
the test follows the exercises when their points change."""

import csv
import html
import io
import os
import re
import shutil
import zipfile

import nbformat
import pytest
from autograder_helpers import REPO, Class

from autograder.__main__ import main as cli
from autograder.course import Course
from autograder.notebooks import grade_id, is_answer
from autograder.synthetic import fill, solution_answers

pytestmark = pytest.mark.slow

EXERCISES = os.path.join(REPO, "exercises")
GRADE_ARGS = ["--timeout", "8"]


def real_assignments():
    if not os.path.isdir(EXERCISES):
        return []
    return Course(root=os.path.join("/tmp", "unused-course"), exercises=EXERCISES).available_exercises()


ASSIGNMENTS = real_assignments()
needs_exercises = pytest.mark.skipif(len(ASSIGNMENTS) < 3, reason="needs 3+ assignments in exercises/")


def run(course_root, *args):
    assert cli(["--course", str(course_root), "--exercises", EXERCISES, *args]) == 0


def answer_cells(nb):
    return [grade_id(c) for c in nb.cells if is_answer(c) and c.cell_type == "code"]


def class_downloads(course, folder):
    """Ten students as LMS downloads `<student>_<assignment>.ipynb`; returns expected scores
    as {(assignment, student): "full" | "zero"} and the per-student statuses to expect."""
    a = course.released()
    expected, statuses = {}, {}

    def put(student, assignment, nb_or_text, outcome):
        path = os.path.join(folder, f"{student}_{assignment}.ipynb")
        if isinstance(nb_or_text, str):
            with open(path, "w") as f:
                f.write(nb_or_text)
        else:
            nbformat.write(nb_or_text, path)
        expected[(assignment, student)] = outcome

    for assignment in a:
        [notebook] = course.notebooks(assignment)
        source = course.source_notebook(assignment, notebook)
        release = course.release_notebook(assignment, notebook)
        right = solution_answers(source)
        first = answer_cells(nbformat.read(source, as_version=4))[0]

        def wrong_first(text, release=release, right=right, first=first):
            return fill(release, {**right, first: text})

        put("s01_correct", assignment, fill(release, right), "full")
        put(
            "s02_partial",
            assignment,
            fill(release, right) if assignment in a[:2] else fill(release, {}),
            "full" if assignment in a[:2] else "zero",
        )
        put("s03_unanswered", assignment, fill(release, {}), "zero")
        put("s04_broken", assignment, fill(release, {gid: "def oops(:\n    pass" for gid in right}), "zero")
        if assignment == a[0]:
            put("s05_missing", assignment, fill(release, right), "full")
        else:
            expected[(assignment, "s05_missing")] = "not submitted"  # blank, not a zero
        if assignment == a[0]:
            put("s06_badjson", assignment, '{"cells": [', "zero")
        else:
            put("s06_badjson", assignment, fill(release, right), "full")
        put(
            "s07_hostile",
            assignment,
            fill(
                release,
                {
                    gid: (
                        "import torch, builtins\nfrom normlab import checks\n"
                        "torch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\n"
                        "checks.expect = lambda *a, **k: None\nbuiltins.print = lambda *a, **k: None"
                    )
                    for gid in right
                },
            ),
            "zero",
        )
        put(
            "s08_loop",
            assignment,
            wrong_first("while True:\n    pass") if assignment == a[1] else fill(release, right),
            "zero" if assignment == a[1] else "full",
        )
        put(
            "s09_exit",
            assignment,
            wrong_first("import os\nos._exit(1)") if assignment == a[2] else fill(release, right),
            "zero" if assignment == a[2] else "full",
        )
        tampered = fill(release, right)
        for cell in tampered.cells:
            if cell.metadata.get("nbgrader", {}).get("grade"):
                cell.source = "pass"
        tampered.cells.reverse()
        put("s10_tampered", assignment, tampered, "full")
    statuses = {
        ("s05_missing", a[1]): "not submitted",
        ("s06_badjson", a[0]): "invalid JSON",
        ("s08_loop", a[1]): "still running after 8 s",
        ("s09_exit", a[2]): "kernel died",
    }
    return expected, statuses


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


@pytest.fixture(scope="module")
def graded_twice(tmp_path_factory):
    if len(ASSIGNMENTS) < 3:
        pytest.skip("needs 3+ assignments in exercises/")
    base = tmp_path_factory.mktemp("e2e")
    root2 = base / "jobs2" / "course"
    run(root2, "release")
    course = Course(root=str(root2), exercises=EXERCISES)
    downloads = base / "downloads"
    downloads.mkdir()
    expected, statuses = class_downloads(course, str(downloads))
    run(root2, "collect", str(downloads))
    root1 = base / "jobs1" / "course"
    shutil.copytree(root2, root1)
    run(root2, "grade", "--jobs", "2", *GRADE_ARGS)
    run(root2, "export")
    run(root2, "feedback")
    run(root1, "grade", "--jobs", "1", *GRADE_ARGS)
    run(root1, "export")
    return course, Course(root=str(root1), exercises=EXERCISES), expected, statuses


@needs_exercises
def test_grades_csv_has_the_expected_scores(graded_twice):
    course, _, expected, statuses = graded_twice
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
def test_same_csv_with_one_job(graded_twice):
    two, one, _, _ = graded_twice
    with (
        open(os.path.join(two.state_dir, "export", "grades.csv")) as f2,
        open(os.path.join(one.state_dir, "export", "grades.csv")) as f1,
    ):
        assert f2.read() == f1.read()


@needs_exercises
def test_difficulty_table_and_histogram(graded_twice):
    course = graded_twice[0]
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
def test_feedback_html_contains_no_hidden_test_text(graded_twice):
    course = graded_twice[0]
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
def test_rerun_grades_only_changed_submissions(graded_twice, capsys):
    course = graded_twice[0]
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
