"""The data the grading stages hand each other, and nothing else.

A submission travels as a `Job` (from `autograder.jobs`), is graded into a `Result` (by
`autograder.execute`, on whichever executor), and leaves as a report entry (written by
`autograder.gradebook` and `autograder.report`).  Keeping these types apart from the
stages lets every stage, the local pool and the Celery workers share them without
importing each other.  The notebooks are nbformat nodes (`nbformat.NotebookNode`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from nbformat import NotebookNode


class Status(StrEnum):
    """How grading one submission went (a `str`: it is written to JSON as is)."""

    GRADED = "graded"  # every cell ran as the student wrote it
    PROBLEM = "problem"  # graded, but a cell was stopped (time, memory, disk, a dead kernel)
    FAILED = "failed"  # not gradable (missing, invalid JSON...) or the grader failed


@dataclass
class Job:
    """One (student, assignment, notebook) submission to grade, with its content hash."""

    student: str
    assignment: str
    notebook: str
    path: str
    digest: str
    late: str = ""  # what its late penalty depends on besides its time (`jobs.late_policy_keys`)

    @property
    def key(self) -> str:
        return f"{self.assignment}/{self.student}/{self.notebook}"


@dataclass
class AssignmentNotebooks:
    """The instructor's two versions of one notebook, already parsed: the source (hidden
    tests included) and the release students started from."""

    source: NotebookNode
    release: NotebookNode


@dataclass
class Result:
    """What grading one submission gave: plain data plus the executed notebook."""

    job: Job
    status: Status
    reason: str = ""
    infra: bool = False  # the grader failed, not the student: retried, never cached
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)  # tampering the defences caught: one summary line each
    notebook: NotebookNode | None = None  # the executed notebook (None when not gradable)
    seconds: float = 0.0
    # grade_id -> the autograded score of each graded cell (`execute.score`); None: needs a hand grade
    scores: dict[str, float | None] = field(default_factory=dict)
