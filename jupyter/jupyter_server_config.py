# The project's own Jupyter configuration, for learners: `make lab` puts this folder on
# JUPYTER_CONFIG_PATH and starts JupyterLab on the repository. (`make formgrader` adds
# instructor/ in front of it.) Nothing here touches your own ~/.jupyter.
from pathlib import Path

here = Path(__file__).resolve().parent
c = get_config()  # noqa: F821 (defined by Jupyter when it loads this file)

# Chapters (book/*.md, MyST) open as notebooks: jupytext's contents manager reads and
# writes them, and normlab's subclass shows MyST-only syntax (admonitions, citations,
# cross-references, included code) readable, saving the chapter back as MyST unchanged.
c.ServerApp.contents_manager_class = "normlab.book.contents.ChapterContentsManager"
# ... and JupyterLab opens a .md file with jupytext's notebook view by default
# (lab/settings/overrides.json; "Open With > Editor" still edits the text).
c.LabApp.app_settings_dir = str(here / "lab" / "settings")

# nbgrader, for students: only the Validate button. The graded notebooks come from the
# book's Exercises chapter and are handed in through the course's own channel, so there
# is no exchange to list assignments or courses from (which is what made the Assignment
# List say "Error fetching courses!"), and the Formgrader is for instructors.
c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": False,
    "nbgrader.server_extensions.assignment_list": False,
    "nbgrader.server_extensions.course_list": False,
    "nbgrader.server_extensions.validate_assignment": True,
}
