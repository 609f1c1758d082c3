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
import os
import shutil
import sys
from dataclasses import dataclass

from traitlets.config import Config

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_EXERCISES = os.path.join(REPO_ROOT, "exercises")
DEFAULT_COURSE = os.path.join(REPO_ROOT, "course")
COURSE_ID = "normlab"

# nbgrader's Gradebook runs the `alembic` executable found on PATH: make it the venv's.
_VENV_BIN = os.path.dirname(sys.executable)
if _VENV_BIN not in os.environ.get("PATH", "").split(os.pathsep):
    os.environ["PATH"] = _VENV_BIN + os.pathsep + os.environ.get("PATH", "")


@dataclass
class Course:
    root: str = DEFAULT_COURSE
    exercises: str = DEFAULT_EXERCISES
    db_url: str = ""

    def __post_init__(self):
        self.root = os.path.abspath(self.root)
        self.exercises = os.path.abspath(self.exercises)
        if not self.db_url:
            self.db_url = "sqlite:///" + os.path.join(self.root, "gradebook.db")
        os.makedirs(self.root, exist_ok=True)
        os.chmod(self.root, 0o700)  # other local users (and sandboxed kernels) stay out
        os.makedirs(self.path("exchange"), exist_ok=True)  # nbgrader complains when it is missing
        config_file = os.path.join(self.root, "nbgrader_config.py")
        if not os.path.exists(config_file):
            with open(config_file, "w") as f:
                f.write("c = get_config()  # noqa\n"
                        f"c.CourseDirectory.course_id = {COURSE_ID!r}\n"
                        f"c.CourseDirectory.db_url = {self.db_url!r}\n")

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    @property
    def state_dir(self):
        folder = self.path("autograder")
        os.makedirs(folder, exist_ok=True)
        return folder

    def nbgrader_config(self):
        config = Config()
        config.CourseDirectory.root = self.root
        config.CourseDirectory.course_id = COURSE_ID
        config.CourseDirectory.db_url = self.db_url
        config.Exchange.root = self.path("exchange")
        return config

    def available_exercises(self):
        if not os.path.isdir(self.exercises):
            return []
        folders = [os.path.join(self.exercises, name) for name in os.listdir(self.exercises)]
        return sorted(os.path.basename(f) for f in folders
                      if os.path.isdir(f) and any(n.endswith(".ipynb") for n in os.listdir(f)))

    def released(self):
        folder = self.path("release")
        return sorted(os.listdir(folder)) if os.path.isdir(folder) else []

    def notebooks(self, assignment):
        """Notebook names (without .ipynb) of a released assignment, from its source."""
        folder = self.path("source", assignment)
        return sorted(f[:-6] for f in os.listdir(folder) if f.endswith(".ipynb"))

    def source_notebook(self, assignment, notebook):
        return self.path("source", assignment, notebook + ".ipynb")

    def release_notebook(self, assignment, notebook):
        return self.path("release", assignment, notebook + ".ipynb")

    def submitted_notebook(self, student, assignment, notebook):
        return self.path("submitted", student, assignment, notebook + ".ipynb")

    def autograded_notebook(self, student, assignment, notebook):
        return self.path("autograded", student, assignment, notebook + ".ipynb")

    def students(self):
        """Everyone who submitted anything: a student missing one assignment still gets a
        row (and zeros with the reason "missing notebook") for it."""
        folder = self.path("submitted")
        if not os.path.isdir(folder):
            return []
        return sorted(s for s in os.listdir(folder) if os.path.isdir(os.path.join(folder, s)))

    def secret_paths(self):
        """Folders a sandboxed kernel must not see (hidden by an empty mount)."""
        paths = [self.root, self.exercises, os.path.join(REPO_ROOT, "tests"), os.path.join(REPO_ROOT, ".git")]
        return [p for p in paths if os.path.isdir(p)]


def release(course, assignments=None, log=print):
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
