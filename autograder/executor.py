"""Where submissions are executed: the one seam between the driver and the kernels.

`grade.grade` finds the jobs and writes the gradebook; an `Executor` runs
`execute.grade_in_fresh_kernel` for each job somewhere and hands every `Result` back
through `finish`, on the caller's thread (the one gradebook writer).  Two implement it:

* `LocalExecutor` here: a warm fork server and a `KernelPool` on this machine, N threads;
* `distributed.CeleryExecutor`: Celery workers, each with its own fork server and pool.

otter-grader names its seams the same way (a local and a containerised grading run behind
one call); the scores do not depend on which one ran (tests/autograder/test_distributed.py).
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from typing import TYPE_CHECKING, Protocol

import nbformat

from .execute import grade_in_fresh_kernel
from .kernel.client import KernelPool, Limits, Zygote
from .model import AssignmentNotebooks, Job, Result

if TYPE_CHECKING:
    from .course import Course

Finish = Callable[[Result], None]  # the gradebook writer: called once per job, on the caller's thread


class Executor(Protocol):
    """Runs the execute stage for `jobs` (submissions present on disk) and calls
    `finish(result)` once per job as results arrive; returns how the kernels were
    isolated (`kernel.sandbox.Isolation.describe`)."""

    def run(self, jobs: list[Job], course: Course, finish: Finish) -> dict[str, str]: ...


def assignment_notebooks(course: Course, job: Job) -> AssignmentNotebooks:
    """The instructor's source and release of `job`'s notebook, parsed."""
    return AssignmentNotebooks(
        source=nbformat.read(course.source_notebook(job.assignment, job.notebook), as_version=4),
        release=nbformat.read(course.release_notebook(job.assignment, job.notebook), as_version=4),
    )


class LocalExecutor:
    """`threads` submissions at a time on this machine, each in a fresh kernel of one warm
    fork server (torch imported once); one spare kernel is kept starting ahead of need."""

    def __init__(self, threads: int, limits: Limits, sandbox: bool = True) -> None:
        self.threads, self.limits, self.sandbox = threads, limits, sandbox

    def run(self, jobs: list[Job], course: Course, finish: Finish) -> dict[str, str]:
        zygote = Zygote(limits=self.limits, sandbox=self.sandbox)
        isolation = zygote.isolation.describe()
        pool = KernelPool(zygote, size=self.threads + 1, limits=self.limits)

        def grade_one(job: Job) -> Result:  # on a pool thread: the notebooks are read there, one job at a time
            return grade_in_fresh_kernel(pool, job, assignment_notebooks(course, job), self.limits)

        try:
            with ThreadPoolExecutor(max_workers=self.threads) as threads:
                for future in as_completed([threads.submit(grade_one, job) for job in jobs]):
                    finish(future.result())
        finally:
            pool.close()
            zygote.close()
        return isolation
