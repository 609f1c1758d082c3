"""The course folder (created on first use) and nbgrader's view of it.

course/
  nbgrader_config.py      so `nbgrader formgrader` etc. see the same course
  gradebook.db            nbgrader's gradebook (unless --db-url points elsewhere)
  source/<assignment>/    copied from exercises/ at release time (with solutions + hidden tests)
  release/<assignment>/   student versions (nbgrader generate_assignment)
  submitted/<student>/<assignment>/<notebook>.ipynb   filled by `collect`
  autograded/...          executed notebooks, as nbgrader lays them out
  feedback/...            HTML feedback, hidden tests stripped
  unmatched/              collected files whose names matched no student/notebook
  autograder/             our reports, the content-hash state, exports
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from traitlets.config import Config

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_EXERCISES = os.path.join(REPO_ROOT, "exercises")
DEFAULT_COURSE = os.path.join(REPO_ROOT, "course")
COURSE_ID = "normlab"

# nbgrader's Gradebook runs the `alembic` executable found on PATH: make it the venv's.
_VENV_BIN = os.path.dirname(sys.executable)
if _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _VENV_BIN + os.pathsep + os.environ.get("PATH", "")


DB_URL_ENV = "AUTOGRADER_DB_URL"  # a gradebook URL with a password: here, never on a command line


def normalise_db_url(url: str) -> str:
    """`postgresql://` (SQLAlchemy's default driver is psycopg2, not installed) -> psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def redact(url: str) -> str:
    """The URL without its password (for config files, logs and the content hash)."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass
class Course:
    root: str = DEFAULT_COURSE
    exercises: str = DEFAULT_EXERCISES
    db_url: str = ""

    def __post_init__(self) -> None:
        self.root = os.path.abspath(self.root)
        self.exercises = os.path.abspath(self.exercises)
        if os.path.exists(self.root) and not os.path.isdir(self.root):
            raise SystemExit(f"--course {self.root} is a file; expected a course folder (new or existing)")
        config_file = os.path.join(self.root, "nbgrader_config.py")
        if os.path.isdir(self.root) and os.listdir(self.root) and not os.path.exists(config_file):
            raise SystemExit(
                f"--course {self.root} exists and is not a course folder (it has files but no "
                "nbgrader_config.py); give a new folder or an existing course"
            )
        self.db_url = normalise_db_url(
            self.db_url or os.environ.get(DB_URL_ENV, "") or "sqlite:///" + os.path.join(self.root, "gradebook.db")
        )
        created = not os.path.isdir(self.root)
        os.makedirs(self.root, exist_ok=True)
        if created or os.path.exists(config_file):
            os.chmod(self.root, 0o700)  # other local users stay out of OUR folder (never chmod someone else's)
        os.makedirs(self.path("exchange"), exist_ok=True)  # nbgrader complains when it is missing
        self._write_config(config_file)

    def _write_config(self, config_file: str) -> None:
        """nbgrader_config.py follows the gradebook in use (so `nbgrader formgrader` sees the
        same one); a URL with a password is read from the environment, not written down."""
        url = self.db_url
        db_line = (
            f"c.CourseDirectory.db_url = os.environ.get({DB_URL_ENV!r}, {redact(url)!r})"
            if urlsplit(url).password
            else f"c.CourseDirectory.db_url = {url!r}"
        )
        managed = ("import os", "c = get_config()", "c.CourseDirectory.course_id", "c.CourseDirectory.db_url")
        old = open(config_file).read() if os.path.exists(config_file) else None
        # The instructor's own lines (the late policy: c.LateSubmissionPlugin...) are kept.
        own = [line for line in (old or "").splitlines() if not line.startswith(managed)]
        text = f"import os  # noqa\nc = get_config()  # noqa\nc.CourseDirectory.course_id = {COURSE_ID!r}\n{db_line}\n"
        text += "".join(line + "\n" for line in own)
        if old != text:
            with open(config_file, "w") as f:
                f.write(text)

    @property
    def db_label(self) -> str:
        return redact(self.db_url)

    def path(self, *parts: str) -> str:
        return os.path.join(self.root, *parts)

    @property
    def state_dir(self) -> str:
        folder = self.path("autograder")
        os.makedirs(folder, exist_ok=True)
        return folder

    def nbgrader_config(self) -> Config:
        """The course's nbgrader_config.py (late-penalty plugin, ...) plus our paths."""
        from traitlets.config.loader import PyFileConfigLoader

        config = Config()
        if os.path.exists(self.path("nbgrader_config.py")):
            config.merge(PyFileConfigLoader("nbgrader_config.py", path=self.root).load_config())
        config.CourseDirectory.root = self.root
        config.CourseDirectory.course_id = COURSE_ID
        config.CourseDirectory.db_url = self.db_url
        config.Exchange.root = self.path("exchange")
        return config

    def available_exercises(self) -> list[str]:
        if not os.path.isdir(self.exercises):
            return []
        folders = [os.path.join(self.exercises, name) for name in os.listdir(self.exercises)]
        return sorted(
            os.path.basename(f)
            for f in folders
            if os.path.isdir(f) and any(n.endswith(".ipynb") for n in os.listdir(f))
        )

    def check_assignments(self, names: list[str], what: str = "assignment") -> list[str]:
        """Unknown names stop with the list of known ones (not a traceback)."""
        known = self.released() or self.available_exercises()
        unknown = [n for n in names if n not in known]
        if unknown:
            raise SystemExit(f"no such {what}: {', '.join(unknown)}; known: {', '.join(known) or '(none)'}")
        return names

    def released(self) -> list[str]:
        folder = self.path("release")
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def notebooks(self, assignment: str) -> list[str]:
        """Notebook names (without .ipynb) of a released assignment, from its source."""
        folder = self.path("source", assignment)
        return sorted(f[:-6] for f in os.listdir(folder) if f.endswith(".ipynb"))

    def source_notebook(self, assignment: str, notebook: str) -> str:
        return self.path("source", assignment, notebook + ".ipynb")

    def release_notebook(self, assignment: str, notebook: str) -> str:
        return self.path("release", assignment, notebook + ".ipynb")

    def submitted_notebook(self, student: str, assignment: str, notebook: str) -> str:
        return self.path("submitted", student, assignment, notebook + ".ipynb")

    def timestamp_file(self, student: str, assignment: str) -> str:
        """nbgrader's `timestamp.txt` beside the submitted notebooks (written by `collect`)."""
        return self.path("submitted", student, assignment, "timestamp.txt")

    def submission_time(self, student: str, assignment: str) -> datetime.datetime | None:
        from nbgrader.utils import parse_utc

        path = self.timestamp_file(student, assignment)
        if not os.path.exists(path):
            return None
        with open(path) as f:
            return parse_utc(f.read().strip())

    def set_due_date(self, assignment: str, when: str) -> None:
        """Due date of an assignment in nbgrader's gradebook (an ISO date-time, UTC if no zone)."""
        from nbgrader.api import Gradebook
        from nbgrader.utils import parse_utc

        with Gradebook(self.db_url, COURSE_ID) as gb:
            gb.update_or_create_assignment(assignment, duedate=parse_utc(when))

    def due_dates(self) -> dict[str, datetime.datetime | None]:
        """assignment -> its due date in the gradebook (None when it has none)."""
        from nbgrader.api import Gradebook, MissingEntry

        dates = {}
        with Gradebook(self.db_url, COURSE_ID) as gb:
            for assignment in self.released():
                try:
                    dates[assignment] = gb.find_assignment(assignment).duedate
                except MissingEntry:
                    dates[assignment] = None
        return dates

    def _extensions_file(self) -> str:
        return os.path.join(self.state_dir, "extensions.json")

    def extensions(self) -> dict[str, dict[str, float]]:
        """{assignment: {student: hours}}: extensions given with `extend` (they apply when the
        submission is graded or its late penalty re-scored, as nbgrader's own extension)."""
        if not os.path.exists(self._extensions_file()):
            return {}
        with open(self._extensions_file()) as f:
            return json.load(f)

    def set_extension(self, student: str, assignment: str, hours: float) -> None:
        """`hours` more for `student` on `assignment` (0 removes the extension)."""
        extensions = self.extensions()
        per_student = extensions.setdefault(assignment, {})
        if hours:
            per_student[student] = float(hours)
        else:
            per_student.pop(student, None)
        with open(self._extensions_file(), "w") as f:
            json.dump(extensions, f, indent=1, sort_keys=True)

    def autograded_notebook(self, student: str, assignment: str, notebook: str) -> str:
        return self.path("autograded", student, assignment, notebook + ".ipynb")

    def students(self, assignment: str | None = None) -> list[str]:
        """Everyone with a submitted/<student>/ folder; with `assignment`, only those who
        submitted something for it.  A student who did not submit an assignment is "not
        submitted" for it (no job, no zero, no feedback page), never "failed"."""
        folder = self.path("submitted")
        if not os.path.isdir(folder):
            return []
        return sorted(
            s
            for s in os.listdir(folder)
            if os.path.isdir(os.path.join(folder, s, *([assignment] if assignment else [])))
        )


def release(course: Course, assignments: list[str] | None = None, log: Callable[[str], object] = print) -> list[str]:
    """Copy exercises/<a>/ to source/<a>/ and run nbgrader's generate_assignment on it."""
    from nbgrader.apps.api import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    assignments = assignments or course.available_exercises()
    if not assignments:
        raise SystemExit(f"no assignments found in {course.exercises} (expected <assignment>/<notebook>.ipynb)")
    config = course.nbgrader_config()
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    for assignment in assignments:
        source = os.path.join(course.exercises, assignment)
        if not os.path.isdir(source):
            raise SystemExit(f"no such assignment: {source}")
        dest = course.path("source", assignment)
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__"))
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result["success"]:
            raise SystemExit(f"nbgrader generate_assignment {assignment} failed:\n{result['error']}\n{result['log']}")
        log(f"released {assignment}: {', '.join(course.notebooks(assignment))} -> {course.path('release', assignment)}")
    return assignments
