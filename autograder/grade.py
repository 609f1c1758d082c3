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
import datetime
import hashlib
import json
import os
import re
import sys
import time
import warnings
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field

import nbformat
from nbgrader import utils as nbgrader_utils
from nbgrader.api import Gradebook, MissingEntry

from .kernel.client import KernelPool, Limits, Zygote, close_thread_event_loop
from .notebooks import BadSubmission, build_graded_notebook, is_test, read_submission
from .verdict import answer_checks, judge

GRADER_VERSION = "3"  # bump when grading rules change: every submission is re-graded
INFRA_RETRIES = 1  # a failure of the grader itself (kernel did not start...) is retried
MEMORY_REPLAYS = 2  # cells over the memory limit left out (each costs one more run of the notebook)


@dataclass
class Job:
    student: str
    assignment: str
    notebook: str
    path: str
    digest: str
    late: str = ""  # what its late penalty depends on besides its time (`late_policy_keys`)

    @property
    def key(self):
        return f"{self.assignment}/{self.student}/{self.notebook}"


@dataclass
class Result:
    job: Job
    status: str  # graded | problem | failed
    reason: str = ""
    infra: bool = False  # the grader failed, not the student: retried, never cached
    notes: list = field(default_factory=list)
    flags: list = field(default_factory=list)  # tampering the defences caught: one summary line each
    notebook: object = None  # the executed notebook (None when not gradable)
    seconds: float = 0.0


def settings_key(limits, sandbox):
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


def _digest(settings, *paths):
    h = hashlib.sha256(GRADER_VERSION.encode() + b"\0" + settings.encode())
    for path in paths:
        h.update(b"\0")
        if os.path.exists(path):
            with open(path, "rb") as f:
                h.update(f.read())
        else:
            h.update(b"<missing>")
    return h.hexdigest()


def late_policy_keys(gb, course, assignment):
    """What a late penalty depends on besides the submission's time (which is in the
    content hash): the assignment's due date, the student's extension and the course's
    late policy (its nbgrader_config.py, where `LateSubmissionPlugin` is configured).
    Returns student -> key.  A changed key re-scores the submission's late penalty with
    nbgrader's `AssignLatePenalties`; nothing is executed again."""
    row = gb.find_assignment(assignment)
    policy = _digest("", course.path("nbgrader_config.py"))[:16]
    due = row.duedate.isoformat() if row.duedate else "none"
    extensions = {student: f"{hours:g} h" for student, hours in course.extensions().get(assignment, {}).items()}
    return lambda student: f"due={due} extension={extensions.get(student, 'none')} policy={policy}"


def find_jobs(course, assignments, settings=""):
    jobs = []
    for assignment in assignments:
        for student in course.students(assignment):
            for notebook in course.notebooks(assignment):
                path = course.submitted_notebook(student, assignment, notebook)
                digest = _digest(
                    settings,
                    path,
                    course.timestamp_file(student, assignment),
                    course.source_notebook(assignment, notebook),
                    course.release_notebook(assignment, notebook),
                )
                jobs.append(Job(student, assignment, notebook, path, digest))
    return jobs


# ----------------------------------------------------------------------------- workers
def grade_one(kernel, job, course, limits, fresh_kernel=None):
    """The local pool's call: the course's files for this job, then `grade_submission`."""
    if not os.path.exists(job.path):
        return grade_submission(kernel, job, job.path, None, None, limits)
    source = nbformat.read(course.source_notebook(job.assignment, job.notebook), as_version=4)
    release = nbformat.read(course.release_notebook(job.assignment, job.notebook), as_version=4)
    return grade_submission(kernel, job, job.path, source, release, limits, fresh_kernel)


def grade_submission(kernel, job, submitted_path, source, release, limits, fresh_kernel=None):
    """Grade ONE submission from plain inputs: the submitted file, the instructor's source
    and release notebooks, the settings (`Limits`), and a fresh kernel.  Touches neither
    the course folder nor the gradebook, and returns a `Result` of plain data (the executed
    notebook is an nbformat node: `nbformat.writes` makes it JSON).  This is the seam for
    remote workers (a Celery task would call it with a kernel of its own fork server); the
    local pool calls it through `grade_one`.  Never raises for student mistakes.

    A cell that takes the kernel over its memory limit gets it killed (the OOM killer:
    nothing of that kernel survives).  With `fresh_kernel` (a callable handing out another
    unused kernel) the notebook is run again from the top in a new kernel with that cell
    left out (it gets the memory-limit error, so its question scores 0): the later,
    independent questions are still graded, as after a timeout."""
    started = time.monotonic()
    try:
        submitted = read_submission(submitted_path)
    except BadSubmission as exc:
        return Result(job, "failed", reason=str(exc), seconds=time.monotonic() - started)
    over_memory = {}  # index of a cell that went over the memory limit -> why
    replay_notes = []
    while True:
        graded, notes = build_graded_notebook(source, release, submitted)
        kernel.add_file(submitted_path, job.notebook + ".ipynb")
        if not kernel.ready and not kernel.wait_ready(limits.startup_timeout):
            return Result(
                job,
                "failed",
                reason=f"kernel did not start: {kernel.startup_log()[-300:]}",
                seconds=time.monotonic() - started,
                infra=True,
            )
        run = _run_cells(kernel, graded, notes, limits, over_memory)
        if run["memory_cell"] is None or fresh_kernel is None or len(over_memory) >= MEMORY_REPLAYS:
            break
        index, reason = run["memory_cell"]
        over_memory[index] = reason
        replay_notes.append(
            f"{_label(graded.cells[index], index)}: {reason}; the notebook was run again in a fresh kernel "
            "without that cell"
        )
        kernel = fresh_kernel()
    stopped, interrupted, disk = run["stopped"], run["interrupted"], run["disk_full"]
    status = "problem" if stopped or interrupted or over_memory or disk else "graded"
    return Result(
        job,
        status,
        reason=stopped or (replay_notes[0] if replay_notes else "") or interrupted or disk,
        notes=replay_notes + notes,
        notebook=graded,
        seconds=time.monotonic() - started,
        flags=list(dict.fromkeys(run["flags"])),
    )


SELF_CHECK = re.compile(r"^(?:checks\.)?self_check\([^()]*\)\s*;?$")
WORD = re.compile(r"[A-Za-z_]\w*")


def is_self_check(cell):
    """The notebook's `checks.self_check()` cell: it runs every visible test again, which
    grading does itself (and would call a looping function once more)."""
    return not nbgrader_utils.is_grade(cell) and bool(SELF_CHECK.match(cell.source.strip()))


def _calls_looping(cell, looping, limits):
    """Why a cell is not run, or "": it names a function that already ran out of time (it
    would run out again: an infinite loop costs one timeout, not one per test)."""
    names = sorted(looping & set(WORD.findall(cell.source)))
    if names:
        return f"not run: {', '.join(names)} did not finish within {limits.timeout:g} s before (an infinite loop?)"
    return ""


def _run_cells(kernel, graded, notes, limits, over_memory):
    """Execute the graded notebook's code cells in order in `kernel` (test cells guarded),
    leaving out the cells in `over_memory` (index -> reason: they get that error), the
    self-check cell, and cells calling a function that already ran out of time."""
    stopped, interrupted, disk_full, memory_cell = "", "", "", None
    flags = []
    count = 0
    looping = set()
    for index, cell in enumerate(graded.cells):
        if cell.cell_type != "code":
            continue
        label = _label(cell, index)
        if stopped:
            if is_test(cell):
                cell.outputs = [_error("NotRun", f"not run: {stopped}")]
            continue
        if index in over_memory:
            cell.outputs = [_error("MemoryLimit", f"not run again: {over_memory[index]}")]
            continue
        if is_self_check(cell):
            text = "self_check() is not run at grading: it repeats the tests, which the grader runs itself\n"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
            continue
        skip = _calls_looping(cell, looping, limits)
        if skip:
            cell.outputs = [_error("NotRun", skip)]
            notes.append(f"{label}: {skip}")
            continue
        test = is_test(cell)
        guard_broken = ""
        if test:
            restored = kernel.guard("before_test")
            if restored is None:
                guard_broken = f"the grader's test guard did not answer properly ({kernel.last_guard_error})"
            elif restored:
                notes.append(f"before {label}: restored what student code had replaced: {', '.join(restored)}")
                flags.append(f"replaced test helpers (restored): {', '.join(restored)}")
        count += 1
        run = kernel.run_cell(cell.source, limits, store_history=not test)
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(output) for output in run.outputs]
        if run.reason:
            notes.append(f"{label}: {run.reason}")
        if run.status == "interrupted":
            interrupted = interrupted or f"{label}: {run.reason}"
            looping |= run.frames  # the functions it was stuck in: not called again
        if run.disk_full:
            disk_full = disk_full or f"{label}: {run.reason}"
        if run.status == "memory":
            memory_cell = (index, run.reason)
        if run.status in ("timeout", "died", "not-run", "memory"):
            stopped = f"the kernel stopped at {label} ({run.reason})"
            cell.outputs.append(_error("MemoryLimit" if run.status == "memory" else "KernelStopped", stopped))
            continue
        if run.status == "error" and not test:
            error = next(o for o in run.outputs if o["output_type"] == "error")
            notes.append(f"{label} raised {error['ename']}: {str(error['evalue'])[:120]}")
        if test:
            replaced = kernel.guard("after_test")
            if replaced is None and not guard_broken:
                guard_broken = f"the grader's test guard did not answer properly ({kernel.last_guard_error})"
            if guard_broken:
                notes.append(f"{label}: {guard_broken} -> 0 points")
                flags.append(guard_broken)
                cell.outputs.append(_error("AutograderTampering", guard_broken))
            elif replaced:
                notes.append(f"{label}: replaced while the test ran: {', '.join(replaced)} -> 0 points")
                flags.append(f"replaced test helpers during a test: {', '.join(replaced)}")
                cell.outputs.append(
                    _error(
                        "AutograderTampering", "test helpers were replaced while this test ran: " + ", ".join(replaced)
                    )
                )
            _grader_verdict(kernel, cell, label, notes, flags)
    return {
        "stopped": stopped,
        "interrupted": interrupted,
        "disk_full": disk_full,
        "memory_cell": memory_cell,
        "flags": flags,
    }


def _grader_verdict(kernel, cell, label, notes, flags):
    """Re-run the cell's answer checks here, on plain values (autograder.verdict); the
    grader's verdict wins over the kernel's."""
    checks = answer_checks(cell.source)
    if not checks:
        return
    kernel_score = score_cell(cell)[0] or 0
    failed, partial = [], None
    for check in checks:
        plain = kernel.ask("plain", check.variable)
        if plain is None:
            failed.append(f"{check.variable} could not be read as plain data ({kernel.last_guard_error})")
            continue
        if plain.get("lied"):
            flags.append(f"{check.variable} is not a plain value (a subclass that can lie in comparisons)")
            notes.append(f"{label}: {check.variable} is a subclass of a plain type: judged on its plain value")
        passed, score, message = judge(check, plain)
        if not passed:
            failed.append(message)
        elif score is not None:
            partial = score
    if failed:
        cell.outputs.append(_error("AnswerCheck", "; ".join(failed) + " (checked by the grader on the plain value)"))
    elif partial is not None:
        results = [o for o in cell.outputs if o.output_type == "execute_result"]
        if results and results[-1].data.get("text/plain") != repr(partial):
            results[-1].data = {"text/plain": repr(partial)}
        elif not results:
            cell.outputs.append(
                nbformat.v4.new_output(
                    "execute_result", data={"text/plain": repr(partial)}, execution_count=cell.execution_count
                )
            )
    grader_score = score_cell(cell)[0] or 0
    if grader_score < kernel_score:
        notes.append(
            f"{label}: the kernel's check gave {kernel_score:g}, the grader's check of the plain "
            f"answer {grader_score:g}: {grader_score:g} counts"
        )
        flags.append(f"{label}: an answer passed in the kernel but not on its plain value")


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
            grade.auto_score, _ = score_cell(cell)
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        if nbgrader_utils.is_solution(cell) or nbgrader_utils.is_task(cell):
            comment = gb.find_comment(gid, job.notebook, job.assignment, job.student)
            unchanged = cell.metadata.nbgrader.get("checksum") == nbgrader_utils.compute_checksum(cell)
            comment.auto_comment = "No response." if unchanged and not nbgrader_utils.is_task(cell) else None
    gb.db.commit()
    _late_penalty(gb, course, job)
    out = course.autograded_notebook(job.student, job.assignment, job.notebook)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    nbformat.write(result.notebook, out)


def _late_penalty(gb, course, job):
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
    from nbgrader.preprocessors import AssignLatePenalties

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


def grade(course, assignments, jobs=2, force=False, limits=None, sandbox=True, log=print, broker=None, students=None):
    """Grade new/changed submissions; returns the summary dict (also saved as JSON).
    With `broker` (a redis:// URL) the kernels run on Celery workers (autograder.distributed).
    With `students`, only their submissions (and `force` re-grades only those)."""
    # nbgrader's update_or_create_submission trips SQLAlchemy autoflush warnings: harmless noise.
    warnings.filterwarnings("ignore", module="nbgrader.api")
    limits = limits or Limits()
    started = time.monotonic()
    state = load_state(course)  # with `force` too: the others' entries stay
    all_jobs = find_jobs(course, assignments, settings_key(limits, sandbox))
    if students:
        unknown = sorted(set(students) - {job.student for job in all_jobs})
        if unknown:
            raise SystemExit(
                f"no submission of {', '.join(unknown)} for {', '.join(assignments)} in {course.path('submitted')}"
            )
        all_jobs = [job for job in all_jobs if job.student in students]
    results = []
    isolation = {}
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment in assignments:
            _require_assignment(gb, course, assignment)
        # "unchanged" needs the grade to be in THIS gradebook: after switching to another
        # database (sqlite -> PostgreSQL) without `migrate`, everything is graded again.
        todo = [
            job
            for job in all_jobs
            if force or state.get(job.key, {}).get("digest") != job.digest or not _in_gradebook(gb, job)
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
        missing = [job for job in todo if not os.path.exists(job.path)]
        progress = Progress(len(todo))
        for job in missing:  # no kernel needed
            result = grade_one(None, job, course, limits)
            _finish(gb, course, state, result, results, progress)
        if runnable and broker:
            from .distributed import grade_remotely

            isolation = grade_remotely(
                broker,
                runnable,
                course,
                limits,
                sandbox,
                jobs,
                log=log,
                finish=lambda result: _finish(gb, course, state, result, results, progress),
            )
        elif runnable:
            zygote = Zygote(limits=limits, sandbox=sandbox)
            isolation = zygote.isolation.describe()
            pool = KernelPool(zygote, size=jobs + 1, limits=limits)
            try:
                with ThreadPoolExecutor(max_workers=jobs) as executor:
                    futures = [executor.submit(_grade_in_fresh_kernel, pool, job, course, limits) for job in runnable]
                    for future in as_completed(futures):
                        _finish(gb, course, state, future.result(), results, progress)
            finally:
                pool.close()
                zygote.close()
        summary = _summary(gb, results, skipped, time.monotonic() - started, jobs)
        summary["late_penalty_rescored"] = len(rescore)
        summary["late_penalty_changed"] = changed
        summary["sandbox"] = isolation
    save_state(course, state)
    with open(os.path.join(course.state_dir, "last_grade_summary.json"), "w") as f:
        json.dump(summary, f, indent=1)
    _print_summary(summary, log)
    return summary


def _in_gradebook(gb, job):
    try:
        gb.find_submission_notebook(job.notebook, job.assignment, job.student)
        return True
    except MissingEntry:
        return False


def _require_assignment(gb, course, assignment):
    """A released assignment missing from the gradebook (a new, empty database) is added
    from its source, as nbgrader's generate_assignment would."""
    try:
        gb.find_assignment(assignment)
    except MissingEntry:
        from .course import release

        release(course, [assignment])


def _grade_in_fresh_kernel(pool, job, course, limits):
    """One submission in a kernel nobody used before; a failure of the grader (not of the
    student: the kernel did not start, an exception in our code) is retried in a new kernel."""
    retried = []
    for attempt in range(INFRA_RETRIES + 1):
        taken = []

        def fresh_kernel(taken=taken):
            taken.append(pool.take())
            return taken[-1]

        try:
            result = grade_one(fresh_kernel(), job, course, limits, fresh_kernel)
        except Exception as exc:  # noqa: BLE001  a grader bug must not stop the other submissions
            result = Result(job, "failed", reason=f"internal grader error: {exc!r}", infra=True)
        finally:
            for kernel in taken:
                kernel.discard()
            close_thread_event_loop()
        if not result.infra:
            break
        retried.append(f"attempt {attempt + 1}: {result.reason} (a grader failure: retried)")
    result.notes[:0] = retried
    return result


def _rescore_late_penalty(gb, course, state, job):
    """Apply the late penalty again to an unchanged, already graded submission (its scores
    stay), then update its state entry and report.  Returns "old -> new" when the penalty
    changed, else ""."""
    _late_penalty(gb, course, job)
    entry = state[job.key]
    before = entry.get("late_penalty") or 0.0
    entry["score"], entry["max_score"] = notebook_score(gb, job)
    entry["late_penalty"] = _penalty(gb, job)
    entry["late"] = job.late
    entry.update(_per_question(gb, job))
    _write_report(course, job, entry)
    return f"{before:g} -> {entry['late_penalty']:g}" if entry["late_penalty"] != before else ""


def _per_question(gb, job):
    """For the per-student report: each question's score (None while it waits for a hand
    grade) and the notebook's score after its late penalty."""
    row = gb.find_submission_notebook(job.notebook, job.assignment, job.student)
    return {
        "questions": {g.name: g.score if not g.needs_manual_grade else None for g in row.grades},
        "score_after_late_penalty": row.score - (row.late_submission_penalty or 0.0),
    }


def _penalty(gb, job):
    return gb.find_submission_notebook(job.notebook, job.assignment, job.student).late_submission_penalty or 0.0


def _finish(gb, course, state, result, results, progress):
    record(gb, course, result)
    score, max_score = notebook_score(gb, result.job)
    # A grader failure is recorded but not cached: the next run grades it again.
    entry = {
        "digest": None if result.infra else result.job.digest,
        "status": result.status,
        "reason": result.reason,
        "notes": result.notes,
        "flags": result.flags,
        "score": score,
        "max_score": max_score,
        "seconds": round(result.seconds, 3),
        "late_penalty": _penalty(gb, result.job),
        "late": result.job.late,
        **_per_question(gb, result.job),
    }
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
    report[job.notebook] = {k: v for k, v in entry.items() if k not in ("digest", "late")}
    with open(path, "w") as f:
        json.dump(report, f, indent=1, sort_keys=True)


def _summary(gb, results, skipped, seconds, jobs):
    """Counts, one line per problem, missing notebooks grouped per student (they would flood
    the list), and one FLAGGED line per student whose submission tried to fool the grader."""
    ordered = sorted(results, key=lambda r: r[0].key)
    missing = {}
    for job, e in ordered:
        if e["status"] == "failed" and e["reason"].startswith("missing notebook"):
            missing.setdefault(f"{job.assignment}/{job.student}", []).append(job.notebook)
    problems = [
        {"submission": job.key, "status": e["status"], "reason": e["reason"], "notes": e["notes"]}
        for job, e in ordered
        if (e["status"] != "graded" or e["notes"])
        and job.notebook not in missing.get(f"{job.assignment}/{job.student}", [])
    ]
    flagged = {}
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


def _print_summary(summary, log):
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
