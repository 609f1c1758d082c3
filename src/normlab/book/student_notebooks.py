"""Sphinx extension: the student versions of the graded notebooks, for the downloads of the
appendix on the graded notebooks.

When the build starts it runs the instructors' own release command,

    python -m autograder --course _build/student-notebooks-course release

(nbgrader ``generate_assignment``: solutions and hidden tests removed, cells locked) and
copies each student notebook to ``_build/student-notebooks/<notebook>.ipynb``, which
``book/appendix-graded-notebooks.md`` links with the ``{download}`` role. The release runs again only
when something under ``exercises/`` changed (a content hash is kept next to the files).
As a last line of defence, a student notebook that still contains a solution or hidden
test marker stops the build.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

logger = logging.getLogger(__name__)

OUT_DIR = Path("_build") / "student-notebooks"
# The release's course folder holds source/ (solutions, hidden tests): beside the folder
# students download from, never inside it.
COURSE_DIR = Path("_build") / "student-notebooks-course"
LEAK_MARKERS = ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")


def exercises_hash(exercises: Path) -> str:
    """Hash of every file's path and content under ``exercises/`` (checkpoints ignored)."""
    digest = hashlib.sha256()
    for path in sorted(exercises.rglob("*")):
        if path.is_file() and ".ipynb_checkpoints" not in path.parts and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(exercises)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def release_student_notebooks(root: Path) -> list[Path]:
    """Release every exercise with the autograder and copy the student notebooks to
    ``root/_build/student-notebooks/``; return their paths. Skipped if nothing changed."""
    exercises, out = root / "exercises", root / OUT_DIR
    if not exercises.is_dir():
        raise ExtensionError(f"normlab.book.student_notebooks: no exercises folder at {exercises}")
    stamp, wanted = out / ".exercises-hash", exercises_hash(exercises)
    if stamp.is_file() and stamp.read_text() == wanted:
        return sorted(out.glob("*.ipynb"))
    course = root / COURSE_DIR
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(course, ignore_errors=True)
    out.mkdir(parents=True)
    result = subprocess.run(
        [sys.executable, "-m", "autograder", "--course", str(course), "release"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise ExtensionError(
            f"normlab.book.student_notebooks: `python -m autograder release` failed "
            f"(exit {result.returncode}):\n{result.stdout}\n{result.stderr}"
        )
    notebooks = []
    for released in sorted((course / "release").glob("*/*.ipynb")):
        text = released.read_text(encoding="utf-8")
        leaked = [m for m in LEAK_MARKERS if m in text]
        if leaked:
            raise ExtensionError(
                f"normlab.book.student_notebooks: student notebook {released} still "
                f"contains {leaked}; it must not be published"
            )
        target = out / released.name
        shutil.copyfile(released, target)
        notebooks.append(target)
    if not notebooks:
        raise ExtensionError(
            f"normlab.book.student_notebooks: the release produced no notebook in {course / 'release'}"
        )
    stamp.write_text(wanted)
    logger.info(f"normlab.book.student_notebooks: {len(notebooks)} student notebooks in {out}")
    return notebooks


def on_builder_inited(app: Sphinx) -> None:
    release_student_notebooks(Path(app.srcdir))


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", on_builder_inited)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
