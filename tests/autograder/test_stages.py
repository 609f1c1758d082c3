"""The grading stages that need no kernel, each on its own: read, rebuild, output cap,
hidden-test split, scoring (autograder/execute.py), the content hash (jobs.py), the
worker's result round trip (distributed.py) and the late penalty (gradebook.py, on the
released fixture course's sqlite gradebook).  Each runs in well under a second, so a
change to a stage is checked without starting a kernel."""

import copy
import datetime
import json
import os

import nbformat
import pytest
from autograder_helpers import ASSIGNMENT, FIXTURES, Class, cell_by_id

from autograder import gradebook
from autograder.distributed import WorkerResult, cell_sources_digest
from autograder.execute import error_output, score, score_cell
from autograder.jobs import content_digest, find_jobs, settings_key
from autograder.kernel.client import Limits, OutputCap, RunStatus
from autograder.model import AssignmentNotebooks, Job, Result, Status
from autograder.notebooks import BadSubmission, build_graded_notebook, read_submission, split_hidden_tests

SOURCE = os.path.join(FIXTURES, ASSIGNMENT, "layernorm.ipynb")  # the instructor's notebook, hidden tests included


@pytest.fixture
def source():
    return nbformat.read(SOURCE, as_version=4)


def released(source):
    """What students get: the source with its hidden tests and solutions taken out (the
    ids, points and locks stay, as nbgrader's generate_assignment leaves them)."""
    release = copy.deepcopy(source)
    for cell in release.cells:
        cell.source = split_hidden_tests(cell.source)[0]
        if cell.metadata.nbgrader.get("solution"):
            cell.source = "def layer_norm(x, eps=1e-5):\n    raise NotImplementedError"
    return release


# ----------------------------------------------------------------------------- read
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (None, "missing notebook"),
        (b"", "empty file"),
        (b'{"cells": [', "invalid JSON"),
        (b'{"some": "json"}', "valid JSON but not a Jupyter notebook"),
    ],
)
def test_read_turns_a_bad_file_into_a_reason(tmp_path, content, reason):
    path = tmp_path / "layernorm.ipynb"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(BadSubmission, match=reason):
        read_submission(str(path))


def test_read_gives_the_notebook(tmp_path, source):
    path = tmp_path / "layernorm.ipynb"
    nbformat.write(source, path)
    assert [c.source for c in read_submission(str(path)).cells] == [c.source for c in source.cells]


# ----------------------------------------------------------------------------- rebuild
def test_rebuild_takes_answers_from_the_student_and_tests_from_the_source(source):
    release = released(source)
    student = copy.deepcopy(release)
    cell_by_id(student, "layer_norm").source = "def layer_norm(x, eps=1e-5):\n    return x"
    cell_by_id(student, "layer_norm_values").source = "pass"  # an edited test
    del student.cells[1]  # the locked setup cell deleted
    student.cells.reverse()  # and the rest reordered
    graded, _ = build_graded_notebook(source, release, student)
    assert [c.metadata.nbgrader.grade_id for c in graded.cells] == [
        c.metadata.nbgrader.grade_id for c in source.cells
    ]  # the source's order, the deleted cell back
    assert cell_by_id(graded, "layer_norm").source == "def layer_norm(x, eps=1e-5):\n    return x"
    assert cell_by_id(graded, "layer_norm_values").source == cell_by_id(source, "layer_norm_values").source
    assert "### BEGIN HIDDEN TESTS" in cell_by_id(graded, "layer_norm_values").source  # hidden tests are back


def test_rebuild_is_deterministic(source):
    """The coordinator of a distributed run rebuilds what its worker ran (distributed.py)."""
    release = released(source)
    one, _ = build_graded_notebook(source, release, copy.deepcopy(release))
    two, _ = build_graded_notebook(source, release, copy.deepcopy(release))
    assert cell_sources_digest(one) == cell_sources_digest(two)


# ----------------------------------------------------------------------------- hidden-test split
def test_hidden_test_split():
    text = "assert a\n### BEGIN HIDDEN TESTS\nassert secret == 1\n### END HIDDEN TESTS\nassert b"
    kept, hidden = split_hidden_tests(text)
    assert kept == "assert a\nassert b" and hidden == ["assert secret == 1"]
    assert split_hidden_tests("no markers") == ("no markers", [])


def test_the_release_holds_no_hidden_test(source):
    _, hidden = split_hidden_tests(cell_by_id(source, "layer_norm_values").source)
    released_text = "\n".join(c.source for c in released(source).cells)
    assert hidden and not [line for line in hidden if line.strip() and line in released_text]


# ----------------------------------------------------------------------------- output cap
def stream(text):
    return {"output_type": "stream", "name": "stdout", "text": text}


def test_output_cap_keeps_the_start_of_a_flood_and_counts_the_rest():
    cap = OutputCap(100)
    cap.add(stream("x" * 80))
    cap.add(stream("y" * 50))
    cap.add(stream("z" * 10))
    assert "".join(o["text"] for o in cap.outputs) == "x" * 80 + "y" * 20
    assert cap.dropped == 30 + 10


def test_output_cap_always_keeps_an_error():
    cap = OutputCap(10)
    cap.add(stream("x" * 10))
    cap.add({"output_type": "error", "ename": "AssertionError", "evalue": "wrong", "traceback": ["AssertionError"]})
    assert [o["output_type"] for o in cap.outputs] == ["stream", "error"]


def test_clear_output_gives_the_room_back():
    cap = OutputCap(10)
    cap.add(stream("x" * 10))
    cap.clear(wait=True)  # as Jupyter: cleared at the next output
    cap.add(stream("y" * 10))
    assert [o["text"] for o in cap.outputs] == ["y" * 10] and cap.dropped == 0


# ----------------------------------------------------------------------------- score
def executed(source, outputs):
    """The source notebook as if run: grade_id -> that cell's outputs."""
    nb = copy.deepcopy(source)
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = outputs.get(cell.metadata.nbgrader.grade_id, [])
    return nb


def test_score_follows_nbgrader_except_that_stderr_is_free(source):
    warning = nbformat.v4.new_output("stream", name="stderr", text="UserWarning: ...")
    nb = executed(source, {"layer_norm_shape": [warning], "layer_norm_values": [error_output("AssertionError", "no")]})
    assert score(nb) == {"layer_norm_shape": 1.0, "layer_norm_values": 0.0}
    partial = nbformat.v4.new_output("execute_result", data={"text/plain": "0.5"}, execution_count=1)
    assert score_cell(executed(source, {"layer_norm_values": [partial]}).cells[4]) == (0.5, 2.0)


def test_run_statuses_that_stop_the_kernel():
    assert {s for s in RunStatus if s.stops_kernel} == {
        RunStatus.TIMEOUT,
        RunStatus.DIED,
        RunStatus.NOT_RUN,
        RunStatus.MEMORY,
    }
    assert json.dumps([Status.GRADED, RunStatus.NOT_RUN]) == '["graded", "not-run"]'  # JSON as the plain strings


# ----------------------------------------------------------------------------- jobs
def test_content_hash_covers_the_files_and_the_settings(tmp_path):
    path = tmp_path / "a.ipynb"
    path.write_text("one")
    settings = settings_key(Limits(), sandbox=True)
    first = content_digest(settings, str(path))
    assert content_digest(settings, str(path)) == first
    assert content_digest(settings_key(Limits(timeout=60), sandbox=True), str(path)) != first
    path.write_text("two")
    assert content_digest(settings, str(path)) != first
    assert content_digest(settings, str(tmp_path / "missing")) != content_digest(settings, str(path))


# ----------------------------------------------------------------------------- the worker's result
def test_worker_result_round_trip(source):
    job = Job("ann", ASSIGNMENT, "layernorm", "/nowhere/layernorm.ipynb", "d1")
    nb = executed(source, {"layer_norm_shape": [error_output("AssertionError", "no")]})
    result = Result(job, Status.PROBLEM, reason="why", notes=["a note"], notebook=nb, seconds=1.5)
    plain = WorkerResult.of(result, {"disk": "tmpfs"})
    back = WorkerResult.from_json(plain.to_json())
    assert back == plain and back.status is Status.PROBLEM
    assert len(back.cells) == sum(c.cell_type == "code" for c in nb.cells)
    assert back.executed == cell_sources_digest(nb) and "source" not in plain.to_json()  # no cell source travels
    failed = WorkerResult.failure({"key": job.key, "digest": "d1"}, "grader error")
    assert (failed.status, failed.infra, failed.cells) == (Status.FAILED, True, None)


# ----------------------------------------------------------------------------- late penalty
@pytest.mark.filterwarnings("ignore:Object of type")  # nbgrader's autoflush noise, as grade.grade ignores it
def test_late_penalty_is_nbgraders_for_the_configured_policy(fresh_course):
    """gradebook.record then the late penalty, on a result made without a kernel: 'zero'
    takes every point of a late notebook, an extension makes it on time."""
    from nbgrader.api import Gradebook

    due = datetime.datetime(2026, 12, 2, tzinfo=datetime.UTC)
    fresh_course.set_due_date(ASSIGNMENT, due.isoformat())
    with open(fresh_course.path("nbgrader_config.py"), "a") as f:
        f.write("c.LateSubmissionPlugin.penalty_method = 'zero'\n")
    klass = Class(fresh_course)
    klass.submit("ann", "layernorm", klass.notebook("layernorm"))
    with open(fresh_course.timestamp_file("ann", ASSIGNMENT), "w") as f:
        f.write(str(due + datetime.timedelta(hours=2)))
    [job] = [j for j in find_jobs(fresh_course, [ASSIGNMENT]) if j.notebook == "layernorm"]
    notebooks = AssignmentNotebooks(
        nbformat.read(fresh_course.source_notebook(ASSIGNMENT, "layernorm"), as_version=4),
        nbformat.read(fresh_course.release_notebook(ASSIGNMENT, "layernorm"), as_version=4),
    )
    graded, _ = build_graded_notebook(notebooks.source, notebooks.release, read_submission(job.path))
    result = Result(job, Status.GRADED, notebook=graded, scores={"layer_norm_shape": 1.0, "layer_norm_values": 2.0})
    with Gradebook(fresh_course.db_url, "normlab") as gb:
        gradebook.record(gb, fresh_course, result)
        recorded = gradebook.recorded_scores(gb, job)
        assert (recorded["score"], recorded["late_penalty"], recorded["score_after_late_penalty"]) == (3.0, 3.0, 0.0)
        fresh_course.set_extension("ann", ASSIGNMENT, 3)
        gradebook.late_penalty(gb, fresh_course, job)
        assert gradebook.recorded_scores(gb, job)["late_penalty"] == 0.0
    assert os.path.exists(fresh_course.autograded_notebook("ann", ASSIGNMENT, "layernorm"))


# ----------------------------------------------------------------------------- retries
class NeverStarts:
    """A kernel that never becomes ready (the grader's failure, not the student's)."""

    ready = False

    def __init__(self):
        self.files, self.discarded = [], False

    def add_file(self, src, name):
        self.files.append(name)

    def wait_ready(self, timeout):
        return False

    def startup_log(self):
        return "no kernel today"

    def discard(self):
        self.discarded = True


class Kernels:
    """An `execute.KernelSource` of `NeverStarts` kernels, remembering each one handed out."""

    def __init__(self):
        self.taken = []

    def take(self):
        self.taken.append(NeverStarts())
        return self.taken[-1]


def test_a_grader_failure_is_retried_in_a_new_kernel_and_never_cached(tmp_path, source):
    from autograder import report
    from autograder.execute import INFRA_RETRIES, grade_in_fresh_kernel

    path = tmp_path / "layernorm.ipynb"
    nbformat.write(released(source), path)
    job = Job("ann", ASSIGNMENT, "layernorm", str(path), "d1")
    kernels = Kernels()
    result = grade_in_fresh_kernel(kernels, job, AssignmentNotebooks(source, released(source)), Limits())
    assert (result.status, result.infra) == (Status.FAILED, True)
    assert "kernel did not start: no kernel today" in result.reason
    assert len(kernels.taken) == INFRA_RETRIES + 1 and all(k.discarded for k in kernels.taken)
    assert result.notes[0].startswith("attempt 1: kernel did not start") and "retried" in result.notes[0]
    assert report.entry(result, {})["digest"] is None  # not cached: the next run grades it again
