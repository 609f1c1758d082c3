"""Grading on many machines: Celery workers fed through a Redis broker.

    python -m autograder worker --broker redis://HOST:6379/0 [--concurrency N]   # on each grading host
    python -m autograder grade  --broker redis://HOST:6379/0 [--jobs N]          # on the instructor's host

A worker is the local grader's execution side in a process of its own: one warm fork
server (`kernels.Zygote`, torch imported once) and a `KernelPool`, and N Celery threads
(`--concurrency`, the worker's kernels), each grading one submission at a time with
`execute.grade_in_fresh_kernel`, the very function `grade --jobs N` runs locally
(`executor.LocalExecutor`).  The coordinator (`grade --broker`, `CeleryExecutor`) finds
what needs grading exactly as a local run does and stays the only gradebook writer: it
hands each result to the driver's `finish`, as the local executor does.

What travels (JSON, through Redis, nothing on a shared file system):
  task   -> the submitted file's bytes, the key of this run's copy of the assignment's
            source + release notebooks (stored once per notebook and run, by content hash,
            `<run>:blob:<sha256>`, deleted when the run ends), the grading limits.
  result <- plain data only (`WorkerResult`): status, reason, notes, flags, seconds, which
            worker, and the outputs + execution count of each code cell.  No cell source travels back: the
            coordinator rebuilds the executed notebook from its own source and the
            submission (`build_graded_notebook`, deterministic), puts the outputs in, and
            checks a hash of the cell sources the worker ran against its own.
            Results go to a per-run Redis list the coordinator pops (no Celery result
            backend: nothing is kept after it is read; the list expires).

Reliability: tasks are acknowledged late (after the result is pushed) and rejected when
the worker is lost, so a worker that dies mid-task leaves its message unacknowledged and
Redis hands it to another worker once the visibility timeout has passed (`--task-time-limit`
+ `VISIBILITY_MARGIN` s; a live worker checks every 5 s).  A submission may thus be graded
twice; the coordinator writes the first result per submission key and digest and drops
the rest.  Each task has a time limit (`--task-time-limit`, above all per-cell timeouts of a
notebook): a watchdog kills the kernel and the submission is reported as stopped.  The first
Ctrl-C on the coordinator stops sending, revokes what is still queued and ends the run with
everything received written (the state file saved); a re-run grades the rest.

Secrets: hidden tests exist on a worker only inside a task being graded (memory and the
kernel socket), never on its disk; the submission's own bytes go to a 0700 folder and
into that kernel's folder.  The broker URL (it may hold a password) is read from
`--broker`, `$AUTOGRADER_BROKER_URL` or `--broker-file`, and removed from the worker's
environment before the fork server starts, so no kernel can find it in an environment;
kernels see neither the worker's /proc nor its files (`autograder.kernel.sandbox`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import nbformat
import redis
from nbformat import NotebookNode

from .execute import KernelSource, grade_in_fresh_kernel, score
from .executor import Finish, assignment_notebooks
from .jobs import GRADER_VERSION
from .kernel.client import Kernel, KernelPool, Limits, Zygote
from .model import AssignmentNotebooks, Job, Result, Status
from .notebooks import BadSubmission, build_graded_notebook, read_submission

if TYPE_CHECKING:
    from celery import Celery

    from .course import Course

BROKER_ENV = "AUTOGRADER_BROKER_URL"
QUEUE = "autograder"
PREFIX = "autograder:"
TASK_TIME_LIMIT = 900  # seconds one submission may take on a worker (all its cells)
VISIBILITY_MARGIN = 15  # an unacknowledged task goes to another worker this long after the limit
KEY_TTL = 24 * 3600  # blobs, results and the run marker expire even if a coordinator vanishes
ZYGOTE_FIELDS = ("memory_bytes", "file_bytes", "processes", "disk_bytes", "disk_files")


# ----------------------------------------------------------------------------- configuration
def broker_url(argument: str = "", file: str | None = None) -> str:
    """The broker URL from --broker, --broker-file or $AUTOGRADER_BROKER_URL, with a clear
    message when none is given or it is not a redis:// URL."""
    url = argument
    if file:
        with open(file) as f:
            url = f.read().strip()
    url = url or os.environ.get(BROKER_ENV, "")
    if not url:
        raise SystemExit(f"no broker: give --broker redis://HOST:6379/0, --broker-file FILE or ${BROKER_ENV}")
    if urlsplit(url).scheme not in ("redis", "rediss"):
        raise SystemExit(f"--broker {redact(url)}: expected a Redis URL, redis://[:password@]HOST:6379/0")
    if argument and urlsplit(argument).password:
        print(
            f"warning: --broker carries a password that other local users can read in the process list; "
            f"use ${BROKER_ENV} or --broker-file instead",
            file=sys.stderr,
        )
    return url


def redact(url: str) -> str:
    parts = urlsplit(url)
    return url.replace(f":{parts.password}@", ":***@", 1) if parts.password else url


def make_app(url: str, task_time_limit: float = TASK_TIME_LIMIT) -> Celery:
    """The Celery app both sides use.  Tasks are JSON (never pickle), acknowledged late and
    rejected when their worker is lost; a thread takes one task at a time (prefetch 1)."""
    from celery import Celery  # here, not at the top: a local `grade` never pays for importing Celery

    app = Celery("autograder", broker=url, set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        task_default_queue=QUEUE,
        # A task whose worker died is handed out again once it has been unacknowledged for
        # longer than any task may run; live workers look for such tasks every 5 s
        # (kombu's default: every 10 s x 10 polls).
        broker_transport_options={
            "visibility_timeout": task_time_limit + VISIBILITY_MARGIN,
            "unacked_restore_interval": 5,
            "unacked_restore_throttle": 1,
        },
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=False,
        worker_send_task_events=False,
        task_send_sent_event=False,
    )
    app.task(name="autograder.grade_submission", bind=True)(_grade_task)
    app.task(name="autograder.ping", bind=True)(_ping_task)
    return app


def _redis(url: str) -> redis.Redis:
    return redis.Redis.from_url(url)


def zygote_key(limits: Limits, sandbox: bool) -> str:
    return json.dumps({**{f: getattr(limits, f) for f in ZYGOTE_FIELDS}, "sandbox": bool(sandbox)}, sort_keys=True)


def cell_sources_digest(nb: NotebookNode) -> str:
    """A hash of what was executed (cell types and sources): the coordinator's rebuild must
    match the worker's, or the outputs would be put under the wrong cells."""
    h = hashlib.sha256()
    for cell in nb.cells:
        h.update(cell.cell_type.encode() + b"\0" + cell.source.encode() + b"\0")
    return h.hexdigest()


@dataclass
class WorkerResult:
    """What a worker sends back for one task, through Redis as JSON: plain data, and no cell
    source (the coordinator rebuilds the cells, `CeleryExecutor._to_result`)."""

    key: str
    digest: str
    status: Status
    reason: str = ""
    infra: bool = False
    notes: list[str] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    seconds: float = 0.0
    cells: list[dict[str, Any]] | None = None  # execution count and outputs of each code cell
    executed: str | None = None  # `cell_sources_digest` of the notebook the worker ran
    sandbox: dict[str, str] = field(default_factory=dict)
    worker: str = ""
    task_seconds: float = 0.0

    @classmethod
    def of(cls, result: Result, sandbox: dict[str, str]) -> WorkerResult:
        plain = cls(
            key=result.job.key,
            digest=result.job.digest,
            status=result.status,
            reason=result.reason,
            infra=result.infra,
            notes=result.notes,
            flags=result.flags,
            seconds=result.seconds,
            sandbox=sandbox,
        )
        if result.notebook is not None:
            plain.cells = [
                {"execution_count": c.get("execution_count"), "outputs": c.get("outputs", [])}
                for c in result.notebook.cells
                if c.cell_type == "code"
            ]
            plain.executed = cell_sources_digest(result.notebook)
        return plain

    @classmethod
    def failure(cls, task: dict[str, Any], reason: str, seconds: float = 0.0) -> WorkerResult:
        """The grader failed on the worker: reported, never cached, retried by the next run."""
        return cls(
            key=task["key"], digest=task["digest"], status=Status.FAILED, reason=reason, infra=True, seconds=seconds
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str | bytes) -> WorkerResult:
        fields = json.loads(text)
        return cls(**{**fields, "status": Status(fields["status"])})


# ----------------------------------------------------------------------------- worker
class _Worker:
    """What one worker process holds: warm fork servers (one per distinct memory/process
    limit, usually one) with their kernel pools, and its settings."""

    def __init__(self, url: str, concurrency: int, task_time_limit: float) -> None:
        self.url, self.concurrency, self.task_time_limit = url, concurrency, task_time_limit
        self.redis = _redis(url)
        self.pools: dict[str, tuple[Zygote, KernelPool]] = {}
        self.lock = threading.Lock()
        self.hostname = ""

    def pool(self, limits: Limits, sandbox: bool) -> tuple[Zygote, KernelPool]:
        key = zygote_key(limits, sandbox)
        with self.lock:
            if key not in self.pools:
                zygote = Zygote(limits=limits, sandbox=sandbox)
                self.pools[key] = (zygote, KernelPool(zygote, size=self.concurrency + 1, limits=limits))
            return self.pools[key]

    def close(self) -> None:
        for zygote, pool in self.pools.values():
            pool.close()
            zygote.close()
        self.pools.clear()


WORKER: _Worker | None = None  # set in the worker process by run_worker


class _TimeLimitedKernels:
    """The worker's kernels for one task (an `execute.KernelSource`): when the task's time
    limit passes, the kernel in use is killed, and so is any taken after that."""

    def __init__(self, pool: KernelSource) -> None:
        self.pool = pool
        self.kernel: Kernel | None = None
        self.expired = False

    def take(self) -> Kernel:
        self.kernel = self.pool.take()
        if self.expired:
            self.kernel.kill()
        return self.kernel

    def expire(self) -> None:
        self.expired = True
        if self.kernel is not None:
            self.kernel.kill()


def grade_plain(task: dict[str, Any], source_text: str, release_text: str, worker: _Worker) -> WorkerResult:
    """Grade one submission from plain inputs (the task: file bytes, limits; the assignment's
    source and release notebook JSON) -> a `WorkerResult` (no cell source in it)."""
    limits = Limits(**task["limits"])
    notebooks = AssignmentNotebooks(
        nbformat.reads(source_text, as_version=4), nbformat.reads(release_text, as_version=4)
    )
    folder = tempfile.mkdtemp(prefix="ag-task-")  # 0700: the submission's own bytes, for its kernel
    try:
        path = os.path.join(folder, task["notebook"] + ".ipynb")
        with open(path, "wb") as f:
            f.write(base64.b64decode(task["submission"]))
        job = Job(task["student"], task["assignment"], task["notebook"], path, task["digest"])
        zygote, pool = worker.pool(limits, task["sandbox"])
        kernels = _TimeLimitedKernels(pool)
        timer = threading.Timer(worker.task_time_limit, kernels.expire)
        timer.daemon = True
        timer.start()
        try:
            result = grade_in_fresh_kernel(kernels, job, notebooks, limits)
        finally:
            timer.cancel()
        if kernels.expired:
            result.status = Status.PROBLEM
            result.reason = (
                f"the submission ran longer than the task time limit ({worker.task_time_limit:g} s) and was stopped"
            )
            result.notes.append(result.reason)
        return WorkerResult.of(result, zygote.isolation.describe())
    finally:
        shutil.rmtree(folder, ignore_errors=True)


_PUSH_IF_RUNNING = """
if redis.call('exists', KEYS[1]) == 1 then
  redis.call('rpush', KEYS[2], ARGV[1])
  redis.call('expire', KEYS[2], ARGV[2])
  return 1
end
return 0
"""


def _push(worker: _Worker, run: str, payload: str) -> bool:
    """Hand a result to the coordinator, unless its run is over (Ctrl-C, or finished): one
    atomic step, so nothing is left behind a coordinator that has just cleaned up."""
    return bool(worker.redis.eval(_PUSH_IF_RUNNING, 2, PREFIX + run, f"{PREFIX}{run}:results", payload, KEY_TTL))


def _grade_task(self: Any, task: dict[str, Any]) -> None:
    worker = WORKER
    assert worker is not None, "a task runs in a worker process (run_worker)"
    started = time.monotonic()
    hostname = self.request.hostname or worker.hostname
    if task.get("grader_version") != GRADER_VERSION:
        plain = WorkerResult.failure(
            task,
            f"worker {hostname} runs grader version {GRADER_VERSION}, the coordinator "
            f"{task.get('grader_version')}: update the worker",
        )
    else:
        source, release = worker.redis.mget(
            [f"{PREFIX}{task['run']}:blob:{task['source']}", f"{PREFIX}{task['run']}:blob:{task['release']}"]
        )
        if not isinstance(source, bytes) or not isinstance(release, bytes):  # the run is over: nothing to grade for
            return None
        try:
            plain = grade_plain(task, source.decode(), release.decode(), worker)
        except Exception as exc:  # noqa: BLE001  reported to the coordinator, retried by its next run
            plain = WorkerResult.failure(
                task, f"internal grader error on worker {hostname}: {exc!r}", time.monotonic() - started
            )
        finally:
            source = release = None  # the hidden tests are dropped as soon as they are graded
    plain.worker = hostname
    plain.task_seconds = time.monotonic() - started
    _push(worker, task["run"], plain.to_json())
    return None


def _ping_task(self: Any, run: str, sent: float) -> None:
    """A task that does nothing: measures the queue's own cost per task (benchmark)."""
    assert WORKER is not None
    _push(WORKER, run, json.dumps({"key": "ping", "sent": sent, "worker": self.request.hostname}))


def run_worker(
    url: str,
    concurrency: int = 1,
    task_time_limit: float = TASK_TIME_LIMIT,
    name: str | None = None,
    sandbox: bool = True,
    loglevel: str = "INFO",
) -> None:
    """Start a worker: the fork server first (warm before the first task arrives), then
    Celery's consumer with `concurrency` threads."""
    global WORKER
    os.environ.pop(BROKER_ENV, None)  # not inherited by the fork server, hence by no kernel
    WORKER = _Worker(url, concurrency, task_time_limit)
    name = name or f"autograder-{os.getpid()}"
    WORKER.hostname = name if "@" in name else f"{name}@{socket.gethostname()}"  # Celery's node name form
    WORKER.pool(Limits(), sandbox)  # warm for the default limits
    app = make_app(url, task_time_limit)
    try:
        app.worker_main(
            [
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                str(concurrency),
                "--hostname",
                WORKER.hostname,
                "--queues",
                QUEUE,
                "--loglevel",
                loglevel,
                "--without-gossip",
            ]
        )
    finally:
        WORKER.close()


# ----------------------------------------------------------------------------- coordinator
def workers_online(app: Celery, timeout: float = 1.0) -> dict[str, int]:
    """{worker name: its kernels (pool size)} of the workers that answer now."""
    replies = app.control.inspect(timeout=timeout).stats() or {}
    return {name: stats.get("pool", {}).get("max-concurrency", 1) for name, stats in replies.items()}


class _StopOnCtrlC:
    """The first Ctrl-C asks the run to stop after the result being written; the second
    one interrupts at once (Python's default)."""

    def __init__(self, log: Callable[[str], object]) -> None:
        self.log, self.stop = log, False
        self.previous: Any = None

    def __enter__(self) -> _StopOnCtrlC:
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, *_: object) -> None:
        self.stop = True
        self.log("Ctrl-C: stopping after the results received so far are written (Ctrl-C again to abort)")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    def __exit__(self, *exc: object) -> None:
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class CeleryExecutor:
    """The Celery side of the executor seam (`executor.Executor`): sends the jobs to the
    workers and hands each result to `finish` as it comes back.  `in_flight` is the least
    number of tasks kept queued (more when more worker kernels are online)."""

    def __init__(
        self, url: str, limits: Limits, sandbox: bool, in_flight: int, log: Callable[[str], object] = print
    ) -> None:
        self.url, self.limits, self.sandbox, self.in_flight, self.log = url, limits, sandbox, in_flight, log

    def _to_result(self, job: Job, plain: WorkerResult, course: Course) -> Result:
        """A worker's plain result -> `Result`, the executed notebook rebuilt here and scored."""
        result = Result(
            job,
            plain.status,
            reason=plain.reason,
            infra=plain.infra,
            notes=plain.notes,
            flags=plain.flags,
            seconds=plain.seconds,
        )
        if plain.cells is None:
            return result
        try:
            submitted = read_submission(job.path)
        except BadSubmission as exc:  # changed on disk while it was graded: grade it again next run
            return Result(job, Status.FAILED, reason=f"the submission changed while it was graded ({exc})", infra=True)
        notebooks = assignment_notebooks(course, job)
        graded, _ = build_graded_notebook(notebooks.source, notebooks.release, submitted)
        code = [c for c in graded.cells if c.cell_type == "code"]
        if cell_sources_digest(graded) != plain.executed or len(code) != len(plain.cells):
            return Result(
                job,
                Status.FAILED,
                infra=True,
                reason=f"worker {plain.worker or None} executed another notebook "
                "than the coordinator rebuilt (different grader code?): not recorded",
            )
        for cell, ran in zip(code, plain.cells):
            cell.execution_count = ran["execution_count"]
            cell.outputs = [nbformat.from_dict(o) for o in ran["outputs"]]
        result.notebook = graded
        result.scores = score(graded)
        return result

    def run(self, jobs: list[Job], course: Course, finish: Finish) -> dict[str, str]:
        """Send `jobs` (submissions present on disk) to the workers, call `finish` (the
        gradebook writer) once per submission as results come back; returns the workers'
        sandbox description."""
        url, log = self.url, self.log
        app = make_app(url)
        client = _redis(url)
        run = secrets.token_hex(8)
        run_key, results_key = PREFIX + run, f"{PREFIX}{run}:results"
        try:
            client.set(run_key, "1", ex=KEY_TTL)
        except redis.RedisError as exc:
            raise SystemExit(
                f"cannot use the broker {redact(url)}: {exc} (is redis-server running there, and the password right?)"
            ) from None
        blobs: dict[str, str] = {}
        for job in jobs:
            for path in (
                course.source_notebook(job.assignment, job.notebook),
                course.release_notebook(job.assignment, job.notebook),
            ):
                if path not in blobs:
                    with open(path, "rb") as f:
                        data = f.read()
                    blobs[path] = hashlib.sha256(data).hexdigest()
                    client.set(f"{PREFIX}{run}:blob:{blobs[path]}", data, ex=KEY_TTL)
        online = workers_online(app)
        kernels = sum(online.values())
        window = max(self.in_flight, 2 * kernels)
        log(
            f"broker {redact(url)}: {len(online)} worker(s) online with {kernels} kernel(s)"
            + (
                ": " + ", ".join(f"{name} ({n})" for name, n in sorted(online.items()))
                if online
                else "; tasks wait in the queue until a worker starts"
            )
            + f"; up to {window} tasks in flight"
        )
        pending = list(reversed(jobs))
        sent: dict[str, tuple[Job, float]] = {}
        by_worker: dict[str, list[str]] = {}
        isolation: dict[str, str] = {}
        task_ids: dict[str, str] = {}
        writing = 0.0  # seconds in the gradebook writer (the coordinator's own limit)
        last_news = time.monotonic()
        with _StopOnCtrlC(log) as ctrl_c:
            try:
                while (pending or sent) and not ctrl_c.stop:
                    while pending and len(sent) < window:
                        job = pending.pop()
                        with open(job.path, "rb") as f:
                            data = f.read()
                        task = {
                            "run": run,
                            "key": job.key,
                            "digest": job.digest,
                            "student": job.student,
                            "assignment": job.assignment,
                            "notebook": job.notebook,
                            "submission": base64.b64encode(data).decode(),
                            "grader_version": GRADER_VERSION,
                            "source": blobs[course.source_notebook(job.assignment, job.notebook)],
                            "release": blobs[course.release_notebook(job.assignment, job.notebook)],
                            "limits": asdict(self.limits),
                            "sandbox": bool(self.sandbox),
                        }
                        task_ids[job.key] = app.send_task("autograder.grade_submission", args=[task], queue=QUEUE).id
                        sent[job.key] = (job, time.monotonic())
                    popped = client.blpop([results_key], timeout=1)
                    if popped is None:
                        if time.monotonic() - last_news > 60:
                            log(
                                f"waiting for {len(sent)} submission(s) in flight; workers online: "
                                f"{', '.join(workers_online(app)) or 'none'}"
                            )
                            last_news = time.monotonic()
                        continue
                    last_news = time.monotonic()
                    plain = WorkerResult.from_json(popped[1])
                    entry = sent.get(plain.key)
                    if entry is None or entry[0].digest != plain.digest:
                        continue  # a second result for a submission already written (a redelivered task)
                    job, _ = sent.pop(plain.key)
                    task_ids.pop(job.key, None)
                    isolation = isolation or plain.sandbox
                    by_worker.setdefault(plain.worker or "?", []).append(job.key)
                    result = self._to_result(job, plain, course)
                    t = time.perf_counter()
                    finish(result)
                    writing += time.perf_counter() - t
            finally:
                if task_ids:  # Ctrl-C: what is still queued is not graded by anyone
                    app.control.revoke(list(task_ids.values()))
                client.delete(run_key, results_key, *{f"{PREFIX}{run}:blob:{h}" for h in blobs.values()})
        if ctrl_c.stop:
            log(
                f"stopped: {len(jobs) - len(sent) - len(pending)} submission(s) written, "
                f"{len(sent) + len(pending)} not graded (a re-run grades them)"
            )
        for worker, keys in sorted(by_worker.items()):
            log(f"  worker {worker}: {len(keys)} submission(s)")
        written = sum(map(len, by_worker.values()))
        write_ms = round(1000 * writing / written, 1) if written else 0.0
        if written:
            log(f"  gradebook writes: {write_ms} ms per submission ({course.db_url.split(':')[0]})")
        with open(os.path.join(course.state_dir, "last_grade_workers.json"), "w") as f:
            json.dump(
                {
                    "broker": redact(url),
                    "write_ms_per_submission": write_ms,
                    "workers": {w: sorted(k) for w, k in by_worker.items()},
                    "not_graded": sorted(list(sent) + [j.key for j in pending]),
                },
                f,
                indent=1,
            )
        return isolation
