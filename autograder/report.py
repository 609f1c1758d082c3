"""Stage 4, report: the state file, each student's report, the run's summary.

The state file (`<course>/autograder/state.json`) remembers each submission's content
hash, so the next run skips what did not change; the per-student reports
(`reports/<assignment>/<student>.json`) and `last_grade_summary.json` are what the
instructor reads, and what `feedback` and `export` build on.  Everything here is plain
data and files: no gradebook, no kernel.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TextIO

from .model import Job, Result

if TYPE_CHECKING:
    from .course import Course

Entry = dict[str, Any]  # one submission's line of the state file and of its student's report


class Progress:
    """A progress bar on stderr (one line per tenth when it is not a terminal)."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.done, self.failed, self.stream = total, 0, 0, stream
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self._last = -1

    def step(self, failed: bool = False) -> None:
        self.done += 1
        self.failed += failed
        width = 30
        filled = width * self.done // max(self.total, 1)
        elapsed = time.monotonic() - self.started
        line = (
            f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
            f"({self.failed} with problems) {elapsed:5.1f} s"
        )
        decile = 10 * self.done // max(self.total, 1)
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        elif decile != self._last or self.done == self.total:
            self.stream.write(line + "\n")
        self._last = decile
        self.stream.flush()


def load_state(course: Course) -> dict[str, Entry]:
    path = os.path.join(course.state_dir, "state.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def save_state(course: Course, state: dict[str, Entry]) -> None:
    path = os.path.join(course.state_dir, "state.json")
    with open(path + ".tmp", "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def entry(result: Result, recorded: dict[str, Any]) -> Entry:
    """The state and report entry of a result just recorded (`recorded`: what the gradebook
    now holds, `gradebook.recorded_scores`).  A grader failure is recorded but not cached
    (no digest): the next run grades it again."""
    return {
        "digest": None if result.infra else result.job.digest,
        "status": result.status,
        "reason": result.reason,
        "notes": result.notes,
        "flags": result.flags,
        "seconds": round(result.seconds, 3),
        "late": result.job.late,
        **recorded,
    }


def write_report(course: Course, job: Job, entry: Entry) -> None:
    """Put `entry` under the notebook's name in its student's report (without the hash and late key)."""
    folder = os.path.join(course.state_dir, "reports", job.assignment)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{job.student}.json")
    report = {}
    if os.path.exists(path):
        with open(path) as f:
            report = json.load(f)
    report[job.notebook] = {k: v for k, v in entry.items() if k not in ("digest", "late")}
    with open(path, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


def run_summary(results: list[tuple[Job, Entry]], skipped: int, seconds: float, jobs: int) -> dict[str, Any]:
    """Counts, one line per problem, missing notebooks grouped per student (they would flood
    the list), and one FLAGGED line per student whose submission tried to fool the grader."""
    ordered = sorted(results, key=lambda r: r[0].key)
    missing: dict[str, list[str]] = {}
    for job, e in ordered:
        if e["status"] == "failed" and e["reason"].startswith("missing notebook"):
            missing.setdefault(f"{job.assignment}/{job.student}", []).append(job.notebook)
    problems = [
        {"submission": job.key, "status": e["status"], "reason": e["reason"], "notes": e["notes"]}
        for job, e in ordered
        if (e["status"] != "graded" or e["notes"])
        and job.notebook not in missing.get(f"{job.assignment}/{job.student}", [])
    ]
    flagged: dict[str, list[str]] = {}
    for job, e in ordered:
        for flag in e.get("flags", []):
            flagged.setdefault(f"{job.assignment}/{job.student}", []).append(f"{job.notebook}: {flag}")
    executed = [e for job, e in results if job.notebook not in missing.get(f"{job.assignment}/{job.student}", [])]
    return {
        "graded": sum(e["status"] == "graded" for _, e in results),
        "with_problems": sum(e["status"] == "problem" for _, e in results),
        "failed": sum(e["status"] == "failed" for _, e in results),
        "missing_notebooks": sum(len(v) for v in missing.values()),
        "skipped_unchanged": skipped,
        "jobs": jobs,
        "seconds": round(seconds, 2),
        # per submission that was actually executed: a missing notebook costs no time
        "seconds_per_submission": round(seconds / len(executed), 3) if executed else 0.0,
        "problems": problems,
        "missing": missing,
        "flagged": [{"student": k, "flags": v} for k, v in flagged.items()],
    }


def print_summary(summary: dict[str, Any], log: Callable[[str], object]) -> None:
    log(
        f"graded {summary['graded']}, with problems {summary['with_problems']}, failed {summary['failed']} "
        f"(of which missing notebooks {summary['missing_notebooks']}), "
        f"unchanged {summary['skipped_unchanged']} in {summary['seconds']} s "
        f"({summary['seconds_per_submission']} s per executed submission, {summary['jobs']} job(s))"
    )
    for key, change in summary.get("late_penalty_changed", {}).items():
        log(f"  late penalty changed  {key}: {change}")
    if summary.get("sandbox"):
        log("  sandbox: " + "; ".join(f"{k}: {v}" for k, v in summary["sandbox"].items()))
    for item in summary["flagged"]:
        log(f"  FLAGGED  {item['student']}: {'; '.join(item['flags'])}")
    for problem in summary["problems"]:
        detail = problem["reason"] or "; ".join(problem["notes"])
        log(f"  {problem['status']:>8}  {problem['submission']}: {detail}")
    if summary["missing"]:
        shown = [f"{k} ({', '.join(v)})" for k, v in list(summary["missing"].items())[:10]]
        more = len(summary["missing"]) - len(shown)
        log(
            f"  missing  {len(summary['missing'])} student(s) without some notebooks: {'; '.join(shown)}"
            + (f"; and {more} more (see last_grade_summary.json)" if more > 0 else "")
        )
