"""Stage 2, execute: one submission from plain inputs to a scored `Result`, in order

    read -> rebuild -> run (test cells guarded) -> verdict -> score

as nbgrader's autograde converter runs its preprocessors one after the other
(nbgrader/converters/autograde.py).  The inputs are the submitted file, the instructor's
notebooks already parsed (`AssignmentNotebooks`), the settings (`Limits`) and kernels
(`KernelSource`): never the course folder nor the gradebook, so the same functions grade
in the local pool and on a Celery worker (`autograder.executor`, `autograder.distributed`)
and the result does not depend on where they ran.  Never raises for student mistakes.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

from .kernel.client import Kernel, Limits, RunStatus, close_thread_event_loop
from .model import AssignmentNotebooks, Job, Result, Status
from .notebooks import BadSubmission, build_graded_notebook, is_test, read_submission
from .verdict import answer_checks, judge

INFRA_RETRIES = 1  # a failure of the grader itself (kernel did not start...) is retried
MEMORY_REPLAYS = 2  # cells over the memory limit left out (each costs one more run of the notebook)
SELF_CHECK = re.compile(r"^(?:checks\.)?self_check\([^()]*\)\s*;?$")
WORD = re.compile(r"[A-Za-z_]\w*")


class KernelSource(Protocol):
    """Where fresh kernels come from: `kernel.client.KernelPool`, or a worker's pool
    behind its task time limit (`distributed`)."""

    def take(self) -> Kernel: ...


@dataclass
class CellsRun:
    """What running a notebook's cells said about the notebook as a whole."""

    stopped: str = ""  # the kernel stopped at a cell: why (nothing ran after it)
    interrupted: str = ""  # the first cell interrupted at the timeout
    disk_full: str = ""  # the first cell that ran out of disk space or files
    memory_cell: tuple[int, str] | None = None  # (index, why) of the cell over the memory limit
    flags: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- the whole stage
def grade_in_fresh_kernel(
    kernels: KernelSource, job: Job, notebooks: AssignmentNotebooks, limits: Limits, retries: int = INFRA_RETRIES
) -> Result:
    """One submission in a kernel nobody used before; a failure of the grader (not of the
    student: the kernel did not start, an exception in our code) is retried in a new kernel.
    Every kernel taken is discarded before this returns."""
    retried = []
    for attempt in range(retries + 1):
        taken: list[Kernel] = []

        def fresh_kernel(taken: list[Kernel] = taken) -> Kernel:
            taken.append(kernels.take())
            return taken[-1]

        try:
            result = grade_submission(fresh_kernel(), job, job.path, notebooks, limits, fresh_kernel)
        except Exception as exc:  # noqa: BLE001  a grader bug must not stop the other submissions
            result = Result(job, Status.FAILED, reason=f"internal grader error: {exc!r}", infra=True)
        finally:
            for kernel in taken:
                kernel.discard()
            close_thread_event_loop()
        if not result.infra:
            break
        retried.append(f"attempt {attempt + 1}: {result.reason} (a grader failure: retried)")
    result.notes[:0] = retried
    return result


def grade_submission(
    kernel: Kernel | None,
    job: Job,
    submitted_path: str,
    notebooks: AssignmentNotebooks | None,
    limits: Limits,
    fresh_kernel: Callable[[], Kernel] | None = None,
) -> Result:
    """Grade ONE submission: read it, rebuild the notebook to run, run it, score it.  A
    submission that cannot be read (missing, invalid JSON...) needs neither `kernel` nor
    `notebooks`.

    A cell that takes the kernel over its memory limit gets it killed (the OOM killer:
    nothing of that kernel survives).  With `fresh_kernel` (a callable handing out another
    unused kernel) the notebook is run again from the top in a new kernel with that cell
    left out (it gets the memory-limit error, so its question scores 0): the later,
    independent questions are still graded, as after a timeout."""
    started = time.monotonic()
    try:
        submitted = read_submission(submitted_path)
    except BadSubmission as exc:
        return Result(job, Status.FAILED, reason=str(exc), seconds=time.monotonic() - started)
    assert kernel is not None and notebooks is not None, "a readable submission needs a kernel and its notebooks"
    over_memory: dict[int, str] = {}  # index of a cell that went over the memory limit -> why
    replay_notes = []
    while True:
        graded, notes = build_graded_notebook(notebooks.source, notebooks.release, submitted)
        kernel.add_file(submitted_path, job.notebook + ".ipynb")
        if not kernel.ready and not kernel.wait_ready(limits.startup_timeout):
            return Result(
                job,
                Status.FAILED,
                reason=f"kernel did not start: {kernel.startup_log()[-300:]}",
                seconds=time.monotonic() - started,
                infra=True,
            )
        run = run_cells(kernel, graded, notes, limits, over_memory)
        if run.memory_cell is None or fresh_kernel is None or len(over_memory) >= MEMORY_REPLAYS:
            break
        index, reason = run.memory_cell
        over_memory[index] = reason
        replay_notes.append(
            f"{label(graded.cells[index], index)}: {reason}; the notebook was run again in a fresh kernel "
            "without that cell"
        )
        kernel = fresh_kernel()
    problem = run.stopped or run.interrupted or over_memory or run.disk_full
    return Result(
        job,
        Status.PROBLEM if problem else Status.GRADED,
        reason=run.stopped or (replay_notes[0] if replay_notes else "") or run.interrupted or run.disk_full,
        notes=replay_notes + notes,
        notebook=graded,
        seconds=time.monotonic() - started,
        flags=list(dict.fromkeys(run.flags)),
        scores=score(graded),
    )


# ----------------------------------------------------------------------------- run
def is_self_check(cell: NotebookNode) -> bool:
    """The notebook's `checks.self_check()` cell: it runs every visible test again, which
    grading does itself (and would call a looping function once more)."""
    return not nbgrader_utils.is_grade(cell) and bool(SELF_CHECK.match(cell.source.strip()))


def _calls_looping(cell: NotebookNode, looping: set[str], limits: Limits) -> str:
    """Why a cell is not run, or "": it names a function that already ran out of time (it
    would run out again: an infinite loop costs one timeout, not one per test)."""
    names = sorted(looping & set(WORD.findall(cell.source)))
    if names:
        return f"not run: {', '.join(names)} did not finish within {limits.timeout:g} s before (an infinite loop?)"
    return ""


def _guard_broken(kernel: Kernel) -> str:
    return f"the grader's test guard did not answer properly ({kernel.last_guard_error})"


def run_cells(
    kernel: Kernel, graded: NotebookNode, notes: list[str], limits: Limits, over_memory: dict[int, str]
) -> CellsRun:
    """Execute the graded notebook's code cells in order in `kernel` (test cells guarded),
    leaving out the cells in `over_memory` (index -> reason: they get that error), the
    self-check cell, and cells calling a function that already ran out of time."""
    result = CellsRun()
    count = 0
    looping: set[str] = set()
    for index, cell in enumerate(graded.cells):
        if cell.cell_type != "code":
            continue
        name = label(cell, index)
        if result.stopped:
            if is_test(cell):
                cell.outputs = [error_output("NotRun", f"not run: {result.stopped}")]
            continue
        if index in over_memory:
            cell.outputs = [error_output("MemoryLimit", f"not run again: {over_memory[index]}")]
            continue
        if is_self_check(cell):
            text = "self_check() is not run at grading: it repeats the tests, which the grader runs itself\n"
            cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text=text)]
            continue
        skip = _calls_looping(cell, looping, limits)
        if skip:
            cell.outputs = [error_output("NotRun", skip)]
            notes.append(f"{name}: {skip}")
            continue
        test = is_test(cell)
        guard_broken = ""
        if test:
            restored = kernel.guard("before_test")
            if restored is None:
                guard_broken = _guard_broken(kernel)
            elif restored:
                notes.append(f"before {name}: restored what student code had replaced: {', '.join(restored)}")
                result.flags.append(f"replaced test helpers (restored): {', '.join(restored)}")
        count += 1
        run = kernel.run_cell(cell.source, limits, store_history=not test)
        cell.execution_count = count
        cell.outputs = [nbformat.from_dict(output) for output in run.outputs]
        if run.reason:
            notes.append(f"{name}: {run.reason}")
        if run.status == RunStatus.INTERRUPTED:
            result.interrupted = result.interrupted or f"{name}: {run.reason}"
            looping |= run.frames  # the functions it was stuck in: not called again
        if run.disk_full:
            result.disk_full = result.disk_full or f"{name}: {run.reason}"
        if run.status == RunStatus.MEMORY:
            result.memory_cell = (index, run.reason)
        if run.status.stops_kernel:
            result.stopped = f"the kernel stopped at {name} ({run.reason})"
            kind = "MemoryLimit" if run.status == RunStatus.MEMORY else "KernelStopped"
            cell.outputs.append(error_output(kind, result.stopped))
            continue
        if run.status == RunStatus.ERROR and not test:
            error = next(o for o in run.outputs if o["output_type"] == "error")
            notes.append(f"{name} raised {error['ename']}: {str(error['evalue'])[:120]}")
        if test:
            replaced = kernel.guard("after_test")
            if replaced is None and not guard_broken:
                guard_broken = _guard_broken(kernel)
            if guard_broken:
                notes.append(f"{name}: {guard_broken} -> 0 points")
                result.flags.append(guard_broken)
                cell.outputs.append(error_output("AutograderTampering", guard_broken))
            elif replaced:
                notes.append(f"{name}: replaced while the test ran: {', '.join(replaced)} -> 0 points")
                result.flags.append(f"replaced test helpers during a test: {', '.join(replaced)}")
                cell.outputs.append(
                    error_output(
                        "AutograderTampering", "test helpers were replaced while this test ran: " + ", ".join(replaced)
                    )
                )
            verdict(kernel, cell, name, notes, result.flags)
    return result


# ----------------------------------------------------------------------------- verdict
def verdict(kernel: Kernel, cell: NotebookNode, name: str, notes: list[str], flags: list[str]) -> None:
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
            notes.append(f"{name}: {check.variable} is a subclass of a plain type: judged on its plain value")
        passed, partial_score, message = judge(check, plain)
        if not passed:
            failed.append(message)
        elif partial_score is not None:
            partial = partial_score
    if failed:
        cell.outputs.append(
            error_output("AnswerCheck", "; ".join(failed) + " (checked by the grader on the plain value)")
        )
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
            f"{name}: the kernel's check gave {kernel_score:g}, the grader's check of the plain "
            f"answer {grader_score:g}: {grader_score:g} counts"
        )
        flags.append(f"{name}: an answer passed in the kernel but not on its plain value")


# ----------------------------------------------------------------------------- score
def score_cell(cell: NotebookNode) -> tuple[float | None, float]:
    """nbgrader's rule (error -> 0, a float result -> partial, else full) except that
    stderr (PyTorch warnings, say) never costs points.  Returns (score, max score)."""
    scored = copy.deepcopy(cell)
    if scored.cell_type == "code":
        scored.outputs = [o for o in scored.outputs if not (o.output_type == "stream" and o.name == "stderr")]
    return nbgrader_utils.determine_grade(scored)


def score(notebook: NotebookNode) -> dict[str, float | None]:
    """grade_id -> the autograded score of each graded cell of an executed notebook."""
    return {
        cell.metadata.nbgrader.grade_id: score_cell(cell)[0]
        for cell in notebook.cells
        if cell.metadata.get("nbgrader", {}).get("grade_id") and nbgrader_utils.is_grade(cell)
    }


# ----------------------------------------------------------------------------- helpers
def label(cell: NotebookNode, index: int) -> str:
    """How the report names a cell: its grade id, else its position."""
    gid = cell.metadata.get("nbgrader", {}).get("grade_id")
    return f"cell '{gid}'" if gid else f"cell {index + 1}"


def error_output(name: str, message: str) -> NotebookNode:
    return nbformat.v4.new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])
