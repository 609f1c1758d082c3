"""Stage 1, jobs: which submissions exist, and a content hash of each.

The hash covers the submission, its time stamp, the instructor's source and release
notebooks, the grading settings that can change a score and `GRADER_VERSION`, so a
re-run grades only what changed (`grade.grade` compares it with the state file).  What a
late penalty depends on besides the submission's time is a separate key
(`late_policy_keys`): a changed due date re-scores the penalty without running anything.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from nbgrader.api import Gradebook

from .kernel.client import Limits
from .model import Job

if TYPE_CHECKING:  # the course is only read through its methods here
    from .course import Course

GRADER_VERSION = "3"  # bump when grading rules change: every submission is re-graded


def settings_key(limits: Limits, sandbox: bool) -> str:
    """The grading settings that can change a score: part of every content hash, so
    `--timeout 60` or `--memory-mb 8000` re-grades what they affect (everything)."""
    return json.dumps(
        {
            "timeout": float(limits.timeout),
            "memory_bytes": int(limits.memory_bytes),
            "file_bytes": limits.file_bytes,
            "disk_bytes": limits.disk_bytes,
            "disk_files": limits.disk_files,
            "processes": limits.processes,
            "output_chars": limits.output_chars,
            "sandbox": bool(sandbox),
        },
        sort_keys=True,
    )


def content_digest(settings: str, *paths: str) -> str:
    """sha256 of the grader version, `settings` and the bytes of `paths` (a missing file
    hashes as `<missing>`, so submitting it later changes the digest)."""
    h = hashlib.sha256(GRADER_VERSION.encode() + b"\0" + settings.encode())
    for path in paths:
        h.update(b"\0")
        if os.path.exists(path):
            with open(path, "rb") as f:
                h.update(f.read())
        else:
            h.update(b"<missing>")
    return h.hexdigest()


def late_policy_keys(gb: Gradebook, course: Course, assignment: str) -> Callable[[str], str]:
    """What a late penalty depends on besides the submission's time (which is in the
    content hash): the assignment's due date, the student's extension and the course's
    late policy (its nbgrader_config.py, where `LateSubmissionPlugin` is configured).
    Returns student -> key.  A changed key re-scores the submission's late penalty with
    nbgrader's `AssignLatePenalties`; nothing is executed again."""
    row = gb.find_assignment(assignment)
    policy = content_digest("", course.path("nbgrader_config.py"))[:16]
    due = row.duedate.isoformat() if row.duedate else "none"
    extensions = {student: f"{hours:g} h" for student, hours in course.extensions().get(assignment, {}).items()}
    return lambda student: f"due={due} extension={extensions.get(student, 'none')} policy={policy}"


def find_jobs(course: Course, assignments: Iterable[str], settings: str = "") -> list[Job]:
    """One `Job` per (assignment, student who submitted it, notebook of the assignment),
    a missing notebook included (it is graded as "missing notebook")."""
    jobs = []
    for assignment in assignments:
        for student in course.students(assignment):
            for notebook in course.notebooks(assignment):
                path = course.submitted_notebook(student, assignment, notebook)
                digest = content_digest(
                    settings,
                    path,
                    course.timestamp_file(student, assignment),
                    course.source_notebook(assignment, notebook),
                    course.release_notebook(assignment, notebook),
                )
                jobs.append(Job(student, assignment, notebook, path, digest))
    return jobs
