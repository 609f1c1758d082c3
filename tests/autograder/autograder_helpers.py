"""Helpers for the autograder tests (a unique module name: several test folders have a
conftest.py): the fixture assignment ps1, synthetic submissions, and reading back what
the grader decided.  The pytest fixtures themselves are in conftest.py."""

import glob
import io
import json
import os
import shutil
import threading
import warnings
import zipfile

import nbformat

from autograder.__main__ import main as cli
from autograder.course import Course, release
from autograder.notebooks import grade_id, is_answer
from autograder.synthetic import fill, solution_answers, write_submission

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

FIXTURES = os.path.join(REPO, "tests", "autograder", "fixtures")
ASSIGNMENT = "ps1"


def released_fixture_course(root):
    """A course folder at `root` with the fixture assignment ps1 released."""
    course = Course(root=str(root), exercises=FIXTURES)
    release(course, [ASSIGNMENT], log=lambda *_: None)
    return course


def copy_course(released_course, dest):
    shutil.copytree(released_course.root, dest)
    return Course(root=str(dest), exercises=FIXTURES)


class Class:
    """Writes submissions for ps1 into a course: `correct`, answers overridden, or raw."""

    def __init__(self, course):
        self.course = course
        self.solutions = {}
        for notebook in course.notebooks(ASSIGNMENT):
            self.solutions.update(solution_answers(course.source_notebook(ASSIGNMENT, notebook)))

    def notebook(self, notebook, answers=None, edit=None):
        """The release of `notebook`, answered correctly except for `answers`; `edit(nb)` may
        then tamper with the cells (delete, duplicate, reorder...)."""
        chosen = dict(self.solutions)
        chosen.update(answers or {})
        nb = fill(self.course.release_notebook(ASSIGNMENT, notebook), chosen)
        if edit:
            edit(nb)
        return nb

    def submit(self, student, notebook, content):
        return write_submission(self.course, student, ASSIGNMENT, notebook, content)

    def submit_all_correct(self, student):
        for notebook in self.course.notebooks(ASSIGNMENT):
            self.submit(student, notebook, self.notebook(notebook))


def report(course, student):
    with open(os.path.join(course.state_dir, "reports", ASSIGNMENT, f"{student}.json")) as f:
        return json.load(f)


def autograded(course, student, notebook):
    return nbformat.read(course.autograded_notebook(student, ASSIGNMENT, notebook), as_version=4)


def cell_by_id(nb, grade_id):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def all_output_text(cell):
    parts = []
    for output in cell.outputs:
        parts.append(output.get("text", ""))
        parts.append(output.get("evalue", ""))
        parts.extend(str(v) for v in output.get("data", {}).values())
    return "\n".join(parts)


def descendants(root):
    """Every process below `root` now (children, their children...), by pid."""
    children = {}
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status) as f:
                ppid = int(next(line for line in f if line.startswith("PPid:")).split()[1])
        except (OSError, StopIteration, ValueError):
            continue
        children.setdefault(ppid, []).append(int(status.split("/")[2]))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def alive(pid):
    """The process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/status") as f:
            return "State:\tZ" not in f.read()
    except OSError:
        return False


class HostDiskSampler:
    """Samples the used space and inodes of the file systems holding `paths` (the host's
    disk: /tmp, the course) in a background thread; `growth()` is the most either grew
    above its level at the start, in bytes and inodes.  Used as a context manager around
    a grading run: a submission that writes to the host's disk shows up here even though
    its files are deleted when its kernel is discarded."""

    def __init__(self, *paths, every=0.1):
        self.every = every
        devices = {}
        for path in paths:
            devices.setdefault(os.stat(path).st_dev, path)
        self.paths = list(devices.values())
        self.start = {path: self._used(path) for path in self.paths}
        self.peak = dict(self.start)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _used(path):
        st = os.statvfs(path)
        return (st.f_blocks - st.f_bfree) * st.f_frsize, st.f_files - st.f_ffree

    def _run(self):
        while not self._stop.wait(self.every):
            for path in self.paths:
                used = self._used(path)
                self.peak[path] = tuple(max(p, u) for p, u in zip(self.peak[path], used))

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def growth(self):
        """(bytes, inodes): the largest growth seen on any of the file systems."""
        grown = [tuple(p - s for p, s in zip(self.peak[path], self.start[path])) for path in self.paths]
        return max(g[0] for g in grown), max(g[1] for g in grown)


def lms_zip(entries):
    """The bytes of an LMS zip: (member name, notebook or text, submission time or None).
    None leaves the entry without a time (zip's 1980-01-01), as some tools write it."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, nb, when in entries:
            info = zipfile.ZipInfo(name, date_time=when.timetuple()[:6] if when else (1980, 1, 1, 0, 0, 0))
            archive.writestr(info, nb if isinstance(nb, str) else nbformat.writes(nb))
    return buffer.getvalue()


LMS_FIXTURES = os.path.join(FIXTURES, "lms")


def record_scores(course, fractions, pending=()):
    """Gradebook entries without running a kernel: student -> share of every ps1 question's
    points (a submission folder is made too, as `collect` would); students in `pending`
    still wait for a hand grade."""
    from nbgrader.api import Gradebook

    with warnings.catch_warnings(), Gradebook(course.db_url, "normlab") as gb:
        warnings.filterwarnings("ignore", module="nbgrader.api")  # its autoflush noise, as in grade.py
        for student, share in fractions.items():
            os.makedirs(course.path("submitted", student, ASSIGNMENT), exist_ok=True)
            gb.update_or_create_student(student)
            submission = gb.update_or_create_submission(ASSIGNMENT, student)
            for nb in submission.notebooks:
                for grade in nb.grades:
                    grade.auto_score = grade.max_score * share
                    grade.needs_manual_grade = student in pending
        gb.db.commit()


# ----------------------------------------------------------------------------- the end-to-end class
EXERCISES = os.path.join(REPO, "exercises")
GRADE_ARGS = ["--timeout", "8"]


def real_assignments():
    if not os.path.isdir(EXERCISES):
        return []
    return Course(root=os.path.join("/tmp", "unused-course"), exercises=EXERCISES).available_exercises()


ASSIGNMENTS = real_assignments()


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
