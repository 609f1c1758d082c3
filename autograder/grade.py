"""`grade`: autograde every (student, notebook) submission, N at a time.

Pipeline per submission, like nbgrader's preprocessors but split in two sides:
  worker threads (N = --jobs), each with one fresh warm kernel:
    read_submission -> build_graded_notebook -> run cells (guarded test cells) -> Result
  the main thread, the ONLY gradebook writer:
    Result -> nbgrader gradebook (auto scores, comments) -> autograded/ notebook -> report
Because workers never touch the database there is no "database is locked", and the
scores do not depend on N.  A content hash per submission (submission + source +
release + grader version) lets a re-run skip what did not change.
"""
import copy
import hashlib
import json
import os
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.api import Gradebook

from .kernels import KernelPool, Limits, Zygote
from .notebooks import BadSubmission, build_graded_notebook, is_test, read_submission

GRADER_VERSION = "1"   # bump when grading rules change: every submission is re-graded


@dataclass
class Job:
    student: str
    assignment: str
    notebook: str
    path: str
    digest: str

    @property
    def key(self):
        return f"{self.assignment}/{self.student}/{self.notebook}"


@dataclass
class Result:
    job: Job
    status: str                      # graded | problem | failed
    reason: str = ""
    notes: list = field(default_factory=list)
    notebook: object = None          # the executed notebook (None when not gradable)
    seconds: float = 0.0


def _digest(*paths):
    h = hashlib.sha256(GRADER_VERSION.encode())
    for path in paths:
        h.update(b"\0")
        if os.path.exists(path):
            with open(path, "rb") as f:
                h.update(f.read())
        else:
            h.update(b"<missing>")
    return h.hexdigest()


def find_jobs(course, assignments):
    jobs = []
    for assignment in assignments:
        for student in course.students():
            for notebook in course.notebooks(assignment):
                path = course.submitted_notebook(student, assignment, notebook)
                digest = _digest(path, course.source_notebook(assignment, notebook),
                                 course.release_notebook(assignment, notebook))
                jobs.append(Job(student, assignment, notebook, path, digest))
    return jobs


# ----------------------------------------------------------------------------- workers
def grade_one(kernel, job, course, limits):
    """Execute one submission in its own kernel. Never raises for student mistakes."""
    started = time.monotonic()
    try:
        submitted = read_submission(job.path)
    except BadSubmission as exc:
        return Result(job, "failed", reason=str(exc), seconds=time.monotonic() - started)
    source = nbformat.read(course.source_notebook(job.assignment, job.notebook), as_version=4)
    release = nbformat.read(course.release_notebook(job.assignment, job.notebook), as_version=4)
    graded, notes = build_graded_notebook(source, release, submitted)
    kernel.add_file(job.path, job.notebook + ".ipynb")
    if not kernel.ready and not kernel.wait_ready(limits.startup_timeout):
        return Result(job, "failed", reason=f"kernel did not start: {kernel.startup_log()[-300:]}",
                      seconds=time.monotonic() - started)
    status, stopped = "graded", ""
    count = 0
    for index, cell in enumerate(graded.cells):
        if cell.cell_type != "code":
            continue
        label = _label(cell, index)
        if stopped:
            if is_test(cell):
                cell.outputs = [_error("NotRun", f"not run: {stopped}")]
            continue
        test = is_test(cell)
        if test:
            restored = kernel.guard("before_test")
            if restored:
                notes.append(f"before {label}: restored what student code had replaced: {', '.join(restored)}")
        count += 1
        run = kernel.run_cell(cell.source, limits)
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(output) for output in run.outputs]
        if run.reason:
            notes.append(f"{label}: {run.reason}")
        if run.status in ("timeout", "died", "not-run"):
            status = "problem"
            stopped = f"the kernel stopped at {label} ({run.reason})"
            if test:
                cell.outputs.append(_error("KernelStopped", stopped))
            continue
        if run.status == "error" and not test:
            error = next(o for o in run.outputs if o["output_type"] == "error")
            notes.append(f"{label} raised {error['ename']}: {str(error['evalue'])[:120]}")
        if test:
            replaced = kernel.guard("after_test")
            if replaced is None:
                replaced = ["the grader's integrity check did not answer"]
            if replaced:
                notes.append(f"{label}: replaced while the test ran: {', '.join(replaced)} -> 0 points")
                cell.outputs.append(_error("AutograderTampering",
                                           "test helpers were replaced while this test ran: " + ", ".join(replaced)))
    return Result(job, status, reason=stopped, notes=notes, notebook=graded, seconds=time.monotonic() - started)


def _label(cell, index):
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell '{gid}'" if gid else f"cell {index + 1}"


def _error(name, message):
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


# ----------------------------------------------------------------------------- writer
def score_cell(cell):
    """nbgrader's rule (error -> 0, a float result -> partial, else full) except that
    stderr (PyTorch warnings, say) never costs points."""
    scored = copy.deepcopy(cell)
    if scored.cell_type == "code":
        scored.outputs = [o for o in scored.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    return nbgrader_utils.determine_grade(scored)


def record(gb, course, result):
    """Write one result into nbgrader's gradebook and the autograded/ folder."""
    job = result.job
    gb.update_or_create_student(job.student)
    gb.update_or_create_submission(job.assignment, job.student)
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
            grade.auto_score, _ = score_cell(cell)
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        if nbgrader_utils.is_solution(cell) or nbgrader_utils.is_task(cell):
            comment = gb.find_comment(gid, job.notebook, job.assignment, job.student)
            unchanged = cell.metadata.nbgrader.get("checksum") == nbgrader_utils.compute_checksum(cell)
            comment.auto_comment = "No response." if unchanged and not nbgrader_utils.is_task(cell) else None
    gb.db.commit()
    out = course.autograded_notebook(job.student, job.assignment, job.notebook)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    nbformat.write(result.notebook, out)


def notebook_score(gb, job):
    nb_row = gb.find_submission_notebook(job.notebook, job.assignment, job.student)
    return nb_row.score, nb_row.max_score


# ----------------------------------------------------------------------------- driver
class Progress:
    def __init__(self, total, stream=sys.stderr):
        self.total, self.done, self.failed, self.stream = total, 0, 0, stream
        self.started = time.monotonic()
        self.tty = stream.isatty()
        self._last = -1

    def step(self, failed=False):
        self.done += 1
        self.failed += failed
        width = 30
        filled = width * self.done // max(self.total, 1)
        elapsed = time.monotonic() - self.started
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} "
                f"({self.failed} with problems) {elapsed:5.1f} s")
        decile = 10 * self.done // max(self.total, 1)
        if self.tty:
            self.stream.write("\r" + line + ("\n" if self.done == self.total else ""))
        elif decile != self._last or self.done == self.total:
            self.stream.write(line + "\n")
        self._last = decile
        self.stream.flush()


def load_state(course):
    path = os.path.join(course.state_dir, "state.json")
    if os.path.exists(path):
        with open(path) as f:
            return json.load(f)
    return {}


def save_state(course, state):
    path = os.path.join(course.state_dir, "state.json")
    with open(path + ".tmp", "w") as f:
        json.dump(state, f, indent=1, sort_keys=True)
    os.replace(path + ".tmp", path)


def grade(course, assignments, jobs=2, force=False, limits=None, sandbox=True, log=print):
    """Grade new/changed submissions; returns the summary dict (also saved as JSON)."""
    # nbgrader's update_or_create_submission trips SQLAlchemy autoflush warnings: harmless noise.
    warnings.filterwarnings("ignore", module="nbgrader.api")
    limits = limits or Limits()
    started = time.monotonic()
    state = {} if force else load_state(course)
    all_jobs = find_jobs(course, assignments)
    todo = [job for job in all_jobs if state.get(job.key, {}).get("digest") != job.digest]
    skipped = len(all_jobs) - len(todo)
    log(f"{len(all_jobs)} submissions found, {skipped} unchanged since the last run, "
        f"{len(todo)} to grade with {jobs} job(s)")
    results = []
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment in assignments:
            gb.find_assignment(assignment)  # raises MissingEntry if never released
        runnable = [job for job in todo if os.path.exists(job.path)]
        missing = [job for job in todo if not os.path.exists(job.path)]
        progress = Progress(len(todo))
        for job in missing:   # no kernel needed
            result = grade_one(None, job, course, limits)
            _finish(gb, course, state, result, results, progress)
        if runnable:
            zygote = Zygote(hide=course.secret_paths(), limits=limits, sandbox=sandbox)
            pool = KernelPool(zygote, size=jobs + 1, limits=limits)
            try:
                with ThreadPoolExecutor(max_workers=jobs) as executor:
                    futures = [executor.submit(_grade_in_fresh_kernel, pool, job, course, limits)
                               for job in runnable]
                    for future in as_completed(futures):
                        _finish(gb, course, state, future.result(), results, progress)
            finally:
                pool.close()
                zygote.close()
        summary = _summary(gb, results, skipped, time.monotonic() - started, jobs)
    save_state(course, state)
    with open(os.path.join(course.state_dir, "last_grade_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    _print_summary(summary, log)
    return summary


def _grade_in_fresh_kernel(pool, job, course, limits):
    kernel = pool.take()
    try:
        return grade_one(kernel, job, course, limits)
    except Exception as exc:  # noqa: BLE001  a grader bug must not stop the other submissions
        return Result(job, "failed", reason=f"internal grader error: {exc!r}")
    finally:
        kernel.discard()


def _finish(gb, course, state, result, results, progress):
    record(gb, course, result)
    score, max_score = notebook_score(gb, result.job)
    entry = {"digest": result.job.digest, "status": result.status, "reason": result.reason,
             "notes": result.notes, "score": score, "max_score": max_score,
             "seconds": round(result.seconds, 3)}
    state[result.job.key] = entry
    results.append((result.job, entry))
    _write_report(course, result.job, entry)
    progress.step(failed=result.status != "graded")


def _write_report(course, job, entry):
    folder = os.path.join(course.state_dir, "reports", job.assignment)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{job.student}.json")
    report = {}
    if os.path.exists(path):
        with open(path) as f:
            report = json.load(f)
    report[job.notebook] = {k: v for k, v in entry.items() if k != "digest"}
    with open(path, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


def _summary(gb, results, skipped, seconds, jobs):
    problems = [{"submission": job.key, "status": e["status"], "reason": e["reason"], "notes": e["notes"]}
                for job, e in sorted(results, key=lambda r: r[0].key) if e["status"] != "graded" or e["notes"]]
    return {"graded": sum(e["status"] == "graded" for _, e in results),
            "with_problems": sum(e["status"] == "problem" for _, e in results),
            "failed": sum(e["status"] == "failed" for _, e in results),
            "skipped_unchanged": skipped, "jobs": jobs, "seconds": round(seconds, 2),
            "seconds_per_submission": round(seconds / len(results), 3) if results else 0.0,
            "problems": problems}


def _print_summary(summary, log):
    log(f"graded {summary['graded']}, with problems {summary['with_problems']}, failed {summary['failed']}, "
        f"unchanged {summary['skipped_unchanged']} in {summary['seconds']} s "
        f"({summary['seconds_per_submission']} s/submission, {summary['jobs']} job(s))")
    for problem in summary["problems"]:
        detail = problem["reason"] or "; ".join(problem["notes"])
        log(f"  {problem['status']:>8}  {problem['submission']}: {detail}")

