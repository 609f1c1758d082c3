"""Stage 3, gradebook: a `Result` into nbgrader's gradebook, then the late penalty.

Only the driver's thread calls this (`grade.grade`): executors hand their results to it
one at a time, so there is one gradebook writer and never a "database is locked".  The
late penalty is nbgrader's own step (`AssignLatePenalties` with the course's configured
`LateSubmissionPlugin`), so a course's late policy means here what it means in nbgrader.
"""

from __future__ import annotations

import datetime
import os
from typing import TYPE_CHECKING, Any

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import AssignLatePenalties

from .course import release
from .model import Job, Result

if TYPE_CHECKING:
    from .course import Course


def record(gb: Gradebook, course: Course, result: Result) -> None:
    """Write one result into nbgrader's gradebook and the autograded/ folder, then apply
    its late penalty."""
    job = result.job
    gb.update_or_create_student(job.student)
    timestamp = course.submission_time(job.student, job.assignment)
    gb.update_or_create_submission(
        job.assignment, job.student, **({"timestamp": timestamp} if timestamp is not None else {})
    )
    nb_row = gb.find_submission_notebook(job.notebook, job.assignment, job.student)
    if result.notebook is None:  # not gradable: every grade is zero, nothing left to review
        for grade in nb_row.grades:
            grade.auto_score, grade.needs_manual_grade = 0, False
        for comment in nb_row.comments:
            comment.auto_comment = result.reason
        gb.db.commit()
        stale = course.autograded_notebook(job.student, job.assignment, job.notebook)
        if os.path.exists(stale):  # an earlier, gradable version must not reach the feedback
            os.remove(stale)
        return
    for cell in result.notebook.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if not gid:
            continue
        if nbgrader_utils.is_grade(cell):
            grade = gb.find_grade(gid, job.notebook, job.assignment, job.student)
            grade.auto_score = result.scores[gid]
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        if nbgrader_utils.is_solution(cell) or nbgrader_utils.is_task(cell):
            comment = gb.find_comment(gid, job.notebook, job.assignment, job.student)
            unchanged = cell.metadata.nbgrader.get("checksum") == nbgrader_utils.compute_checksum(cell)
            comment.auto_comment = "No response." if unchanged and not nbgrader_utils.is_task(cell) else None
    gb.db.commit()
    late_penalty(gb, course, job)
    out = course.autograded_notebook(job.student, job.assignment, job.notebook)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    nbformat.write(result.notebook, out)


def late_penalty(gb: Gradebook, course: Course, job: Job) -> None:
    """nbgrader's own mechanism: its AssignLatePenalties step with the LateSubmissionPlugin
    configured in the course's nbgrader_config.py (`c.LateSubmissionPlugin.penalty_method`,
    or `c.AssignLatePenalties.plugin_class` for a course's own rule), against the
    assignment's due date plus the student's extension (`extend`).  On time (or no due
    date): no penalty."""
    submission = gb.find_submission(job.assignment, job.student)
    hours = course.extensions().get(job.assignment, {}).get(job.student)
    extension = datetime.timedelta(hours=hours) if hours else None
    if submission.extension != extension:
        submission.extension = extension
        gb.db.commit()
    if not submission.total_seconds_late:
        gb.find_submission_notebook(job.notebook, job.assignment, job.student).late_submission_penalty = None
        gb.db.commit()
        return
    step = AssignLatePenalties(config=course.nbgrader_config())
    step.preprocess(
        nbformat.v4.new_notebook(),
        {
            "nbgrader": {
                "notebook": job.notebook,
                "assignment": job.assignment,
                "student": job.student,
                "db_url": course.db_url,
            }
        },
    )
    gb.db.expire_all()


def recorded_scores(gb: Gradebook, job: Job) -> dict[str, Any]:
    """What the gradebook now holds for `job`, as the report shows it: the notebook's
    score and maximum, its late penalty, each question's score (None while it waits for a
    hand grade) and the score after the penalty."""
    row = gb.find_submission_notebook(job.notebook, job.assignment, job.student)
    return {
        "score": row.score,
        "max_score": row.max_score,
        "late_penalty": row.late_submission_penalty or 0.0,
        "questions": {g.name: g.score if not g.needs_manual_grade else None for g in row.grades},
        "score_after_late_penalty": row.score - (row.late_submission_penalty or 0.0),
    }


def in_gradebook(gb: Gradebook, job: Job) -> bool:
    try:
        gb.find_submission_notebook(job.notebook, job.assignment, job.student)
        return True
    except MissingEntry:
        return False


def require_assignment(gb: Gradebook, course: Course, assignment: str) -> None:
    """A released assignment missing from the gradebook (a new, empty database) is added
    from its source, as nbgrader's generate_assignment would."""
    try:
        gb.find_assignment(assignment)
    except MissingEntry:
        release(course, [assignment])
