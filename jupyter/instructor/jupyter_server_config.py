# Instructors: `make formgrader` starts JupyterLab in the course folder (course/, made by
# `python -m autograder release`) with this folder in front of ../ on JUPYTER_CONFIG_PATH,
# so the Formgrader opens on that course: its gradebook holds the autograded scores and
# the hand-graded parts of design_review wait there for a mark.
import os
from pathlib import Path

c = get_config()  # noqa: F821 (defined by Jupyter when it loads this file)

course = Path(os.environ.get("NORMLAB_COURSE", "course")).resolve()
c.ServerApp.root_dir = str(course)
c.ServerApp.jpserver_extensions = {
    "nbgrader.server_extensions.formgrader": True,
    "nbgrader.server_extensions.assignment_list": True,
    "nbgrader.server_extensions.course_list": True,
    "nbgrader.server_extensions.validate_assignment": True,
}
# The course's own exchange folder (the autograder makes it), so the Assignment and
# Course Lists read a folder that exists and is writable.
c.Exchange.root = str(course / "exchange")
c.CourseDirectory.root = str(course)
