"""`grade`: autograde every (student, notebook) submission, N at a time: the driver.

One submission's path, each stage module entered once, in order:

    jobs      find_jobs: discovery, content hash (what changed since the last run)
    execute   read -> rebuild -> run (test cells guarded) -> verdict -> score
              (on an `executor.Executor`: the local warm-kernel pool, or Celery workers)
    gradebook record, late penalty
    report    state entry, the student's report; the run's summary at the end

like nbgrader's autograde converter, which runs a list of one-job preprocessors.  The
executor's threads or workers never touch the database: results come back to this
thread, the only gradebook writer, so there is no "database is locked" and the scores do
not depend on N.
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from nbgrader.api import Gradebook

from . import gradebook, report
from .distributed import CeleryExecutor
from .execute import grade_submission
from .executor import Executor, LocalExecutor
from .jobs import find_jobs, late_policy_keys, settings_key
from .kernel.client import Limits
from .model import Job, Result, Status

if TYPE_CHECKING:
    from .course import Course


def grade(
    course: Course,
    assignments: Sequence[str],
    jobs: int = 2,
    force: bool = False,
    limits: Limits | None = None,
    sandbox: bool = True,
    log: Callable[[str], object] = print,
    broker: str | None = None,
    students: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Grade new/changed submissions; returns the summary dict (also saved as JSON).
    With `broker` (a redis:// URL) the kernels run on Celery workers (autograder.distributed).
    With `students`, only their submissions (and `force` re-grades only those)."""
    # nbgrader's update_or_create_submission trips SQLAlchemy autoflush warnings: harmless noise.
    warnings.filterwarnings("ignore", module="nbgrader.api")
    limits = limits or Limits()
    started = time.monotonic()
    state = report.load_state(course)  # with `force` too: the others' entries stay
    all_jobs = find_jobs(course, assignments, settings_key(limits, sandbox))
    if students:
        unknown = sorted(set(students) - {job.student for job in all_jobs})
        if unknown:
            raise SystemExit(
                f"no submission of {', '.join(unknown)} for {', '.join(assignments)} in {course.path('submitted')}"
            )
        all_jobs = [job for job in all_jobs if job.student in students]
    results: list[tuple[Job, report.Entry]] = []
    isolation: dict[str, str] = {}
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment in assignments:
            gradebook.require_assignment(gb, course, assignment)
        # "unchanged" needs the grade to be in THIS gradebook: after switching to another
        # database (sqlite -> PostgreSQL) without `migrate`, everything is graded again.
        todo = [
            job
            for job in all_jobs
            if force or state.get(job.key, {}).get("digest") != job.digest or not gradebook.in_gradebook(gb, job)
        ]
        late_keys = {assignment: late_policy_keys(gb, course, assignment) for assignment in assignments}
        for job in all_jobs:
            job.late = late_keys[job.assignment](job.student)
        graded_keys = {job.key for job in todo}
        rescore = [job for job in all_jobs if job.key not in graded_keys and state[job.key].get("late") != job.late]
        changed = {}
        for job in rescore:  # due date, extension or late policy changed: the penalty only
            change = _rescore_late_penalty(gb, course, state, job)
            if change:
                changed[job.key] = change
        skipped = len(all_jobs) - len(todo)
        log(
            f"{len(all_jobs)} submissions found, {skipped} unchanged since the last run"
            + (f" ({len(rescore)} of them with a new late penalty: due date or late policy changed)" if rescore else "")
            + f", {len(todo)} to grade with {jobs} job(s)"
        )
        runnable = [job for job in todo if os.path.exists(job.path)]
        progress = report.Progress(len(todo))

        def finish(result: Result) -> None:
            """The stages after execute, for one result: record, then report."""
            gradebook.record(gb, course, result)
            entry = report.entry(result, gradebook.recorded_scores(gb, result.job))
            state[result.job.key] = entry
            results.append((result.job, entry))
            report.write_report(course, result.job, entry)
            progress.step(failed=result.status != Status.GRADED)

        for job in todo:
            if not os.path.exists(job.path):  # a missing notebook: read fails, no kernel needed
                finish(grade_submission(None, job, job.path, None, limits))
        if runnable:
            executor: Executor = (
                CeleryExecutor(broker, limits, sandbox, in_flight=jobs, log=log)
                if broker
                else LocalExecutor(jobs, limits, sandbox)
            )
            isolation = executor.run(runnable, course, finish)
        summary = report.run_summary(results, skipped, time.monotonic() - started, jobs)
        summary["late_penalty_rescored"] = len(rescore)
        summary["late_penalty_changed"] = changed
        summary["sandbox"] = isolation
    report.save_state(course, state)
    with open(os.path.join(course.state_dir, "last_grade_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    report.print_summary(summary, log)
    return summary


def _rescore_late_penalty(gb: Gradebook, course: Course, state: dict[str, report.Entry], job: Job) -> str:
    """Apply the late penalty again to an unchanged, already graded submission (its scores
    stay), then update its state entry and report.  Returns "old -> new" when the penalty
    changed, else ""."""
    gradebook.late_penalty(gb, course, job)
    entry = state[job.key]
    before = entry.get("late_penalty") or 0.0
    entry.update(gradebook.recorded_scores(gb, job))
    entry["late"] = job.late
    report.write_report(course, job, entry)
    return f"{before:g} -> {entry['late_penalty']:g}" if entry["late_penalty"] != before else ""
