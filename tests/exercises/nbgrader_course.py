"""Build a throwaway nbgrader course around exercises/ and grade notebooks in it.

The whole pipeline an instructor runs, through nbgrader's own Python API:

    course = Course.create(tmp_path, ["ordering"])      # source/<a>/ + nbgrader_config.py
    release = course.generate("ordering")               # nbgrader generate_assignment
    course.submit("ordering", "alice", notebook)        # submitted/alice/ordering/ordering.ipynb
    results = course.autograde("ordering", ["alice"])   # nbgrader autograde, one kernel each
    results["alice"]["test_post_norm_order"].score

Kept free of pytest. The grading tests drive plain nbgrader on purpose; instructors
(and the book's download links) use the autograder, ``python -m autograder release``.
"""

from __future__ import annotations

import copy
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat import NotebookNode

REPO = Path(__file__).resolve().parents[2]
EXERCISES = REPO / "exercises"
ASSIGNMENTS = ("ordering", "fix_block", "shape_debugging", "design_review")

CONFIG = """\
c = get_config()
c.CourseDirectory.course_id = "normlab-exercises"
c.CourseDirectory.root = {root!r}
c.CourseDirectory.db_url = "sqlite:///{root}/gradebook.db"
# A kernel that imports torch needs a few seconds to start on a busy machine.
c.Execute.timeout = 60
c.Execute.startup_timeout = 120
"""


@dataclass(frozen=True)
class CellResult:
    score: float | None  # None: waits for a human (written answers)
    max_score: float
    error: str  # the test cell's error message, "" when it passed
    output: str  # what the test cell printed


def venv_environment() -> dict[str, str]:
    """Environment for nbgrader and its kernels: this interpreter's bin/ first on PATH, so
    the 'python3' kernelspec resolves to the venv that has torch, and this checkout's
    src/ on PYTHONPATH, so the kernels grade with this checkout's normlab.checks (even
    while a concurrent `pip install -e .` rewrites the editable install)."""
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO / "src"), env.get("PYTHONPATH")]))
    env.setdefault("PYTHONHASHSEED", "0")
    return env


def read_notebook(path: Path) -> NotebookNode:
    return nbformat.read(str(path), as_version=4)


def nbgrader_meta(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {})


def cells_by_id(nb: NotebookNode) -> dict[str, NotebookNode]:
    return {nbgrader_meta(c)["grade_id"]: c for c in nb.cells if "grade_id" in nbgrader_meta(c)}


def autograded_cells(nb: NotebookNode) -> dict[str, float]:
    """Autograded test cells: grade_id -> points."""
    return {
        meta["grade_id"]: float(meta["points"])
        for c in nb.cells
        if (meta := nbgrader_meta(c)).get("grade") and not meta.get("solution")
    }


def written_cells(nb: NotebookNode) -> dict[str, float]:
    """Manually graded answers: grade_id -> points."""
    return {
        meta["grade_id"]: float(meta["points"])
        for c in nb.cells
        if (meta := nbgrader_meta(c)).get("grade") and meta.get("solution")
    }


SOLUTION = re.compile(r"^[ \t]*### BEGIN SOLUTION\n(.*?)^[ \t]*### END SOLUTION\n?", re.S | re.M)


def solution_text(source: str) -> str:
    """A source cell with its solution markers removed: what a perfect student writes."""
    return SOLUTION.sub(lambda m: m.group(1), source)


def fill(
    release: NotebookNode, source: NotebookNode, answers: dict[str, str] | None = None, untouched: tuple[str, ...] = ()
) -> NotebookNode:
    """A student's submission: the released notebook with every answer cell holding the
    model answer, except those in ``answers`` (grade_id -> the student's text) and those
    named in ``untouched`` (left as released)."""
    answers = answers or {}
    model = cells_by_id(source)
    nb = copy.deepcopy(release)
    for cell in nb.cells:
        meta = nbgrader_meta(cell)
        if not meta.get("solution"):
            continue
        grade_id = meta["grade_id"]
        if grade_id in untouched:
            continue
        cell.source = answers.get(grade_id, solution_text(model[grade_id].source))
    unknown = set(answers) - {nbgrader_meta(c).get("grade_id") for c in nb.cells}
    if unknown:
        raise KeyError(f"no answer cells called {sorted(unknown)}")
    return nb


class Course:
    """An nbgrader course directory holding copies of the exercises."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self._api = None

    @classmethod
    def create(cls, root: Path, assignments=ASSIGNMENTS) -> Course:
        root = Path(root)
        for assignment in assignments:
            shutil.copytree(
                EXERCISES / assignment,
                root / "source" / assignment,
                ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"),
            )
        (root / "nbgrader_config.py").write_text(CONFIG.format(root=str(root)))
        return cls(root)

    @property
    def api(self):
        if self._api is None:
            from nbgrader.apps import NbGraderAPI
            from traitlets.config.loader import PyFileConfigLoader

            # the same nbgrader_config.py the CLI reads in the course directory
            config = PyFileConfigLoader("nbgrader_config.py", path=str(self.root)).load_config()
            self._api = NbGraderAPI(config=config)
        return self._api

    def source(self, assignment: str) -> NotebookNode:
        return read_notebook(self.root / "source" / assignment / f"{assignment}.ipynb")

    def release_path(self, assignment: str) -> Path:
        return self.root / "release" / assignment / f"{assignment}.ipynb"

    def generate(self, assignment: str) -> NotebookNode:
        """nbgrader generate_assignment; returns the student version."""
        with _path_to_this_venv():
            result = self.api.generate_assignment(assignment)
        if not result["success"]:
            raise RuntimeError(f"generate_assignment {assignment} failed:\n{result.get('error')}\n{result.get('log')}")
        return read_notebook(self.release_path(assignment))

    def submit(self, assignment: str, student: str, nb: NotebookNode) -> Path:
        path = self.root / "submitted" / student / assignment / f"{assignment}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, str(path))
        return path

    def autograde(self, assignment: str, students) -> dict[str, dict[str, CellResult]]:
        """nbgrader autograde each student's submission (one after the other: nbgrader's
        sqlite gradebook takes one writer) and read back every grade cell's result."""
        results = {}
        for student in students:
            with _path_to_this_venv():
                result = self.api.autograde(assignment, student)
            if not result["success"]:
                raise RuntimeError(
                    f"autograde {assignment}/{student} failed:\n{result.get('error')}\n{result.get('log')}"
                )
            results[student] = self.grades(assignment, student)
        return results

    def grades(self, assignment: str, student: str) -> dict[str, CellResult]:
        from nbgrader.api import Gradebook

        graded = read_notebook(self.root / "autograded" / student / assignment / f"{assignment}.ipynb")
        outputs = {gid: _cell_text(cell) for gid, cell in cells_by_id(graded).items()}
        with Gradebook(f"sqlite:///{self.root}/gradebook.db") as gb:
            notebook = gb.find_submission_notebook(assignment, assignment, student)
            return {
                g.name: CellResult(
                    g.auto_score if g.manual_score is None else g.manual_score,
                    g.max_score,
                    *outputs.get(g.name, ("", "")),
                )
                for g in notebook.grades
            }


def _cell_text(cell) -> tuple[str, str]:
    error, printed = "", []
    for output in cell.get("outputs", []):
        if output.output_type == "error":
            error = f"{output.ename}: {output.evalue}"
        elif output.output_type == "stream":
            printed.append(output.text)
        elif "text/plain" in output.get("data", {}):
            printed.append(output.data["text/plain"])
    return error, "".join(printed)


class _path_to_this_venv:
    """Use venv_environment()'s PATH and PYTHONPATH while nbgrader starts kernels."""

    NAMES = ("PATH", "PYTHONPATH")

    def __enter__(self):
        self._old = {name: os.environ.get(name) for name in self.NAMES}
        env = venv_environment()
        for name in self.NAMES:
            os.environ[name] = env[name]

    def __exit__(self, *exc):
        for name, value in self._old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
