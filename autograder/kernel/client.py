"""Grader side of the warm kernels: a pool fed by the zygote, and cell execution.

`KernelPool` keeps a few kernels forked and ready (each already has torch imported,
inherited from the zygote).  `pool.take()` hands out a kernel that has never run
anything; after one notebook it is killed and its folder deleted.

`Kernel.run_cell` sends one cell over the ipc sockets and collects its outputs
with a hard timeout, an output-size cap, and death detection (the zygote tells us
how the process ended: `os._exit(3)`, SIGSEGV, SIGKILL after a memory bomb ...).
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import hmac
import json
import os
import queue
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from jupyter_client import BlockingKernelClient
from nbformat.v4 import output_from_msg

from .sandbox import Isolation

if TYPE_CHECKING:
    from nbformat import NotebookNode

SECRET_WORDS = ("PASSWORD", "SECRET", "TOKEN", "DB_URL", "DATABASE_URL")
GUARD = "__import__('autograder.kernel.harness', fromlist=['_'])"


@dataclass
class Limits:
    timeout: float = 30.0  # seconds per cell
    memory_bytes: int = 4 * 1024**3  # cgroup memory limit (fallback: address space; torch maps ~1.3 GB)
    file_bytes: int = 64 * 1024**2  # largest file the kernel may write
    # Everything a kernel may write (working folder, /tmp, /var/tmp, /dev/shm), in bytes and
    # files: a tmpfs counted in its memory cgroup, so keep it well under `memory_bytes`.
    disk_bytes: int = 256 * 1024**2
    disk_files: int = 10_000
    processes: int = 64  # per sandbox uid: stops fork bombs
    output_chars: int = 20_000  # kept per cell; the rest is dropped and counted
    interrupt_grace: float = 5.0  # seconds a timed-out cell has to stop after SIGINT
    startup_timeout: float = 60.0


class RunStatus(StrEnum):
    """How one cell's run ended (`Kernel.run_cell`)."""

    OK = "ok"
    ERROR = "error"  # it raised: the notebook goes on
    INTERRUPTED = "interrupted"  # over the cell timeout, stopped by SIGINT: the notebook goes on
    TIMEOUT = "timeout"  # ignored the interrupt: the kernel was killed
    MEMORY = "memory"  # the OOM killer ended the kernel at the memory limit
    DIED = "died"  # the kernel ended during the cell (os._exit, a crash)
    NOT_RUN = "not-run"  # the kernel had died before the cell

    @property
    def stops_kernel(self) -> bool:
        """Nothing runs in this kernel after such a cell."""
        return self in (RunStatus.TIMEOUT, RunStatus.DIED, RunStatus.NOT_RUN, RunStatus.MEMORY)


@dataclass
class CellRun:
    outputs: list = field(default_factory=list)
    status: RunStatus = RunStatus.OK
    reason: str = ""  # human-readable, for the report
    dropped_chars: int = 0
    disk_full: bool = False  # the kernel's disk space or files ran out in this cell
    frames: set = field(default_factory=set)  # the student's functions in its error's traceback (`cell_frames`)


class ZygoteError(RuntimeError):
    pass


# The reaper (`Zygote.folder`): waits for its stdin to close, i.e. for the grader to close the
# zygote or to die however it dies (SIGKILL too: the kernel closes a dead process's pipes),
# then removes every kernel's working folder.  `-I -S`: nothing imported but the two modules.
REAPER = "import shutil, sys; sys.stdin.buffer.read(); shutil.rmtree(sys.argv[1], ignore_errors=True)"


class Zygote:
    """The fork server process (autograder/kernel/zygote.py) and its line protocol."""

    def __init__(
        self, hide: Sequence[str] = (), limits: Limits | None = None, sandbox: bool = True, threads: int = 1
    ) -> None:
        # `hide` is accepted for old callers and ignored: the kernel's file system is an
        # allow-list (autograder.kernel.sandbox), nothing needs hiding from it.
        self.limits = limits or Limits()
        self.isolation = Isolation(self.limits, sandbox)
        self.sandbox = self.isolation.namespaces
        self.threads = threads
        # Every kernel's working folder (its mount point on the host) is made in this one
        # folder, named after this process; the reaper removes it when the zygote is closed
        # or this process dies, so no `ag-kernel-*` folder outlives a run, not even a run that
        # was killed (a worker's pool of idle kernels, a kernel whose `discard` never came).
        self.folder = tempfile.mkdtemp(prefix=f"ag-kernels-{os.getpid()}-")
        self._reaper = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", REAPER, self.folder],
            stdin=subprocess.PIPE,
            start_new_session=True,  # not in a killed worker's process group: it must outlive it
            cwd="/",
        )
        # No secret reaches the zygote's environment (or, through it, a kernel's).
        env = {
            k: v
            for k, v in os.environ.items()
            if not (k.startswith(("NBGRADER_", "PG")) or any(w in k.upper() for w in SECRET_WORDS))
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "autograder.kernel.zygote"] + (["--private-mounts"] if self.sandbox else []),
            cwd=self.isolation_cwd(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
        )
        assert self.proc.stdin is not None and self.proc.stdout is not None  # both PIPE
        self._requests, self._answers = self.proc.stdin, self.proc.stdout
        ready = self._answers.readline()
        if not ready:
            raise ZygoteError("the kernel fork server did not start (see stderr above)")
        self.preloaded = json.loads(ready)["ready"]["preloaded"]
        # The kernels' working folders are mounted in the zygote's own mount namespace.
        self.root = f"/proc/{self.proc.pid}/root" if self.sandbox else ""
        self._spawned: queue.Queue[dict] = queue.Queue()
        self._exits: dict[int, str] = {}
        self._exit_cond = threading.Condition()
        self._lock = threading.Lock()  # one spawn request and its answer at a time
        self._write_lock = threading.Lock()  # one line at a time on the zygote's stdin
        self._next_uid = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    @staticmethod
    def isolation_cwd() -> str:
        return tempfile.gettempdir()  # not the checkout: `python -m` puts its cwd on sys.path

    def _read(self) -> None:
        for line in self._answers:
            message = json.loads(line)
            if "spawned" in message:
                self._spawned.put(message)
            elif "exited" in message:
                with self._exit_cond:
                    self._exits[message["exited"]] = message["status"]
                    self._exit_cond.notify_all()

    def exit_status(self, pid: int) -> str | None:
        with self._exit_cond:
            return self._exits.get(pid)

    def wait_exit(self, pid: int, timeout: float) -> str | None:
        with self._exit_cond:
            self._exit_cond.wait_for(lambda: pid in self._exits, timeout)
            return self._exits.get(pid)

    def host_path(self, path: str) -> str:
        """`path` of a kernel's working folder as the grader reaches it (through the
        zygote's mount namespace when the folder is a tmpfs mounted there)."""
        return self.root + path

    def _send(self, message: Mapping[str, object]) -> None:
        with self._write_lock:
            self._requests.write((json.dumps(message) + "\n").encode())
            self._requests.flush()

    def spawn(self) -> Kernel:
        """Fork one sandboxed kernel; return a connected `Kernel`."""
        with self._lock:
            index = self._next_uid
            self._next_uid += 1
            name = f"kernel-{index}"
            isolation = self.isolation.request(name, index)
            # The mount point (an empty folder of the host's); with the sandbox the zygote
            # mounts the kernel's bounded tmpfs over it in its own namespace.
            workdir = tempfile.mkdtemp(prefix="ag-kernel-", dir=self.folder)
            connection = connection_info(workdir)
            secret = secrets.token_bytes(32)
            request = {
                "secret": secret.hex(),
                "workdir": workdir,
                "connection": connection,
                **isolation,
                "threads": self.threads,
                "limits": {
                    "memory_bytes": self.limits.memory_bytes,
                    "file_bytes": self.limits.file_bytes,
                    "processes": self.limits.processes,
                },
            }
            try:
                self._send(request)
                answer = self._spawned.get(timeout=30)
            except (OSError, ValueError, queue.Empty):
                answer = {"spawned": None, "error": "it did not answer"}
        if answer["spawned"] is None:  # nothing of this kernel is left behind
            self.release(workdir)
            self.isolation.release(name)
            raise ZygoteError(f"the kernel fork server could not start a kernel: {answer.get('error')}")
        return Kernel(self, answer["spawned"], workdir, connection, isolation["uid"], secret, name)

    def release(self, workdir: str) -> None:
        """The kernel's working folder goes: unmounted in the zygote's namespace (its
        tmpfs and every file on it), then the mount point."""
        if self.root:
            try:
                self._send({"release": workdir})
            except (OSError, ValueError):  # the zygote is gone, and its namespace with it
                pass
        shutil.rmtree(workdir, ignore_errors=True)

    def close(self) -> None:
        if self.proc.poll() is None:
            self._requests.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._reader.join(5)  # it reads to the end of the zygote's output, then we close the pipes
        for pipe in (self._requests, self._answers):
            try:
                pipe.close()
            except OSError:  # a zygote that died with requests unread: nothing to flush to
                pass
        self.isolation.close()
        self._reaper.communicate()  # closes its stdin: it removes `self.folder` and ends


def connection_info(workdir: str) -> dict[str, Any]:
    """The kernel's connection file: ipc sockets in its working folder, a fresh key."""
    return {
        "transport": "ipc",
        "ip": os.path.join(workdir, ".zmq"),
        "key": secrets.token_hex(16),
        "signature_scheme": "hmac-sha256",
        "kernel_name": "",
        **{f"{channel}_port": port for port, channel in enumerate(("shell", "iopub", "stdin", "hb", "control"), 1)},
    }


class Kernel:
    """One forked kernel, used for exactly one notebook, then `discard()`ed."""

    def __init__(
        self,
        zygote: Zygote,
        pid: int,
        workdir: str,
        connection: dict[str, Any],
        uid: int | None,
        secret: bytes = b"",
        name: str = "",
    ) -> None:
        self.zygote, self.pid, self.workdir, self.uid, self.name = zygote, pid, workdir, uid, name
        self.kernel_pid = pid  # signals go here (the sandbox forwards them to the kernel)
        self.secret = secret  # signs the in-kernel guard's answers (harness.answer)
        self.last_guard_error = ""
        self.disk_noted = False
        self.client = BlockingKernelClient()
        info: Any = {**connection, "ip": zygote.host_path(connection["ip"])}  # jupyter_client types it a TypedDict
        self.client.load_connection_info(info)
        self.client.start_channels()
        self.ready = False

    def wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.exit_status():
                return False
            # Ready means: the kernel answers AND our iopub subscription already gets its
            # messages (zmq drops what is published before the subscriber is connected).
            msg_id = self.client.kernel_info()
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                try:
                    msg = self.client.get_iopub_msg(timeout=0.05)
                except queue.Empty:
                    continue
                if msg["parent_header"].get("msg_id") == msg_id:
                    self.ready = True
                    return True
        return False

    def exit_status(self) -> str | None:
        return self.zygote.exit_status(self.pid)

    def startup_log(self) -> str:
        try:
            with open(self.zygote.host_path(os.path.join(self.workdir, ".kernel.log")), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def add_file(self, src: str, name: str) -> None:
        """Copy the submission's file into the kernel's (otherwise empty) folder."""
        dest = self.zygote.host_path(os.path.join(self.workdir, name))
        shutil.copyfile(src, dest)
        if self.uid is not None:
            os.chown(dest, self.uid, self.uid)

    def guard(self, which: str) -> list[str] | None:
        """Run harness.before_test()/after_test(); return the names it reports, or None
        when the guard did not answer or its answer is not signed with this kernel's
        secret (the guard was replaced: the grader cannot trust this test)."""
        value = self.ask(which)
        if value is None:
            return None
        return [name for name in value.split(";") if name]

    def ask(self, what: str, argument: str = "") -> Any:
        """One signed question to the in-kernel guard (`harness.answer`); the decoded JSON
        answer, or None if it did not answer or the signature is wrong."""
        nonce = secrets.token_hex(8)
        expression = f"{GUARD}.answer({nonce!r}, {what!r}{', ' + argument if argument else ''})"
        reply = self._execute_silently(expression)
        if reply is None:
            return None
        value = reply.get("user_expressions", {}).get("r", {})
        if value.get("status") != "ok":
            self.last_guard_error = f"{value.get('ename', '?')}: {value.get('evalue', '')}"[:200]
            return None
        try:
            text = ast.literal_eval(value["data"]["text/plain"])
            payload, signature = text.rsplit("\n", 1)
        except (ValueError, SyntaxError, KeyError, AttributeError):
            self.last_guard_error = "unreadable answer"
            return None
        expected = hmac.new(self.secret, (nonce + payload).encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature, expected):
            self.last_guard_error = "answer not signed by the grader's guard (it was replaced)"
            return None
        return json.loads(payload)

    def _execute_silently(self, expression: str, timeout: float = 10) -> dict[str, Any] | None:
        # the kernel's execute_reply content: JSON (its `user_expressions` hold the guard's answer)
        msg_id = self.client.execute("", silent=True, store_history=False, user_expressions={"r": expression})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.exit_status():
            try:
                reply = self.client.get_shell_msg(timeout=0.1)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]
        return None

    def run_cell(self, code: str, limits: Limits, store_history: bool = True) -> CellRun:
        """Execute one cell: outputs as nbformat dicts, with status and reason.

        A cell still running after `limits.timeout` is interrupted (SIGINT, as nbgrader's
        `interrupt_on_timeout`): its outputs end with the KeyboardInterrupt and the rest of
        the notebook still runs.  Only a kernel that ignores the interrupt for
        `limits.interrupt_grace` seconds is killed (status "timeout").
        Test cells run with `store_history=False`: their text (hidden tests) never enters
        the kernel's `In` / `_ih` / `_i` history."""
        run = CellRun()
        if self.exit_status():
            return CellRun(
                status=RunStatus.NOT_RUN, reason=f"kernel had already died ({self.exit_status()})" + self._memory_note()
            )
        msg_id = self.client.execute(code, store_history=store_history, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + limits.timeout
        interrupted_at = None
        cap = OutputCap(limits.output_chars)
        while True:
            now = time.monotonic()
            if interrupted_at is None and now > deadline:
                interrupted_at = now
                self.interrupt()
            elif interrupted_at is not None and now > interrupted_at + limits.interrupt_grace:
                self.kill()
                run.status = RunStatus.TIMEOUT
                run.reason = (
                    f"stopped after {limits.timeout:g} s: an infinite loop? (cell still running after "
                    f"{limits.timeout:g} s and did not stop when interrupted: stopped)"
                )
                run.reason += self._memory_note()
                break
            try:
                msg = self.client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                status = self.exit_status()
                if status and self.oom_killed():
                    run.status, run.reason = RunStatus.MEMORY, self.memory_limit_reason(status)
                    break
                if status:
                    run.status, run.reason = RunStatus.DIED, f"kernel died ({status})" + self._memory_note()
                    break
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind == "clear_output":
                cap.clear(wait=content.get("wait", False))
                continue
            output = _to_output(kind, content)
            if output is None:
                continue
            if output["output_type"] == "error":
                run.status = RunStatus.ERROR
            cap.add(output)
        run.outputs, run.dropped_chars, run.frames = cap.outputs, cap.dropped, cap.frames
        if interrupted_at is not None and run.status != RunStatus.TIMEOUT:
            run.status = RunStatus.INTERRUPTED
            run.reason = timeout_message(limits.timeout) + self._memory_note()
            # the student reads why the cell stopped, not a bare KeyboardInterrupt; the
            # traceback (where it was looping) stays, without its colour codes
            errors = [o for o in run.outputs if o["output_type"] == "error"]
            where = [line for o in errors for line in o["traceback"]][-6:]
            run.outputs = [o for o in run.outputs if o["output_type"] != "error"]
            run.outputs.append(
                {
                    "output_type": "error",
                    "ename": "TimeoutError",
                    "evalue": run.reason,
                    "traceback": [strip_ansi(line) for line in where] + [f"TimeoutError: {run.reason}"],
                }
            )
        self._note_full_disk(run)
        if run.dropped_chars:
            run.outputs.append(
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": f"\n[autograder: output truncated, {run.dropped_chars} more characters dropped]\n",
                }
            )
            run.reason = (
                run.reason + "; " if run.reason else ""
            ) + f"output truncated ({run.dropped_chars} characters dropped)"
        return run

    def _note_full_disk(self, run: CellRun) -> None:
        """The first cell that ran out of disk space or files (a write failed with ENOSPC, or
        the kernel's tmpfs is full now) says so, in the report and in the notebook (stderr:
        never costs points).  A cell with a file over the size limit says that."""
        errors = " ".join(f"{o.get('ename')}: {o.get('evalue')}" for o in run.outputs if o["output_type"] == "error")
        limits = self.zygote.limits
        if "[Errno 27]" in errors or "File too large" in errors:
            note = f"a file went over the size limit ({limits.file_bytes // 2**20} MB per file)"
        elif not self.disk_noted and ("[Errno 28]" in errors or self.disk_full()):
            self.disk_noted = run.disk_full = True
            note = (
                f"this notebook's disk space ({limits.disk_bytes // 2**20} MB, {limits.disk_files} files for its "
                "folder, /tmp, /var/tmp and /dev/shm together) is full: writing more fails with "
                "'No space left on device', the notebook went on"
            )
        else:
            return
        run.reason = (run.reason + "; " if run.reason else "") + note
        run.outputs.append({"output_type": "stream", "name": "stderr", "text": f"\n[autograder: {note}]\n"})

    def disk_full(self) -> bool:
        """No room left for one more block or one more file on the kernel's tmpfs."""
        if not self.zygote.root:
            return False
        try:
            st = os.statvfs(self.zygote.host_path(self.workdir))
        except OSError:
            return False
        return st.f_bavail == 0 or st.f_favail == 0

    def oom_killed(self) -> bool:
        cgroups = self.zygote.isolation.cgroups
        return bool(cgroups and cgroups.version and cgroups.oom_killed(self.name))

    def memory_limit_reason(self, status: str) -> str:
        cgroups = self.zygote.isolation.cgroups
        assert cgroups is not None, "only called when `oom_killed()` (a memory cgroup) said so"
        return (
            f"went over the memory limit ({self.zygote.limits.memory_bytes // 2**20} MB, cgroup v{cgroups.version}):"
            f" the kernel was stopped by the OOM killer ({status})"
        )

    def _memory_note(self) -> str:
        cgroups = self.zygote.isolation.cgroups
        if cgroups and cgroups.version and cgroups.hit_memory_limit(self.name):
            return f" (at the memory limit: {self.zygote.limits.memory_bytes // 2**20} MB, cgroup v{cgroups.version})"
        return ""

    def interrupt(self) -> None:
        """SIGINT to the kernel: ipykernel turns it into KeyboardInterrupt in the running cell."""
        try:
            os.kill(self.kernel_pid, signal.SIGINT)
        except (ProcessLookupError, PermissionError):
            pass

    def kill(self) -> None:
        if self.exit_status():
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)  # the kernel is its own session leader
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(self.pid, signal.SIGKILL)

    def discard(self) -> None:
        self.kill()
        self.client.stop_channels()
        self.zygote.wait_exit(self.pid, 10)
        self.zygote.release(self.workdir)  # first: its tmpfs pages are charged to the cgroup
        self.zygote.isolation.release(self.name)  # kills anything the kernel left in its cgroup


def close_thread_event_loop() -> None:
    """Close the event loop jupyter_core gave this thread for the blocking kernel client.

    Its sync wrappers (`run_sync`) make one loop per thread and never close it: three file
    descriptors per grading thread and run (an epoll and a socket pair), until a worker
    that grades for long runs out.  The next client call in this thread makes a new one."""
    if threading.current_thread() is threading.main_thread():  # the program's own loop, if any: not ours
        return
    try:
        loop = asyncio.get_event_loop_policy().get_event_loop()
    except RuntimeError:  # this thread never had one
        return
    if not loop.is_running():
        loop.close()
        asyncio.set_event_loop(None)


def _to_output(kind: str, content: dict[str, Any]) -> NotebookNode | None:  # content: an iopub message's JSON
    """An iopub message as a notebook output (nbformat's own `output_from_msg`), or None."""
    if kind == "update_display_data":
        kind = "display_data"
    if kind not in ("stream", "display_data", "execute_result", "error"):
        return None
    return output_from_msg({"header": {"msg_type": kind}, "content": content})


class OutputCap:
    """Keeps at most `limit` characters of a cell's outputs; counts what it drops.

    An error is ALWAYS kept (shortened if need be): a flood of output before a failing
    assert must not hide the failure (it would otherwise score full marks).  `clear_output`
    empties the kept outputs and gives their room back (with `wait=True`, at the next
    output, as Jupyter does)."""

    ERROR_ROOM = 2_000

    def __init__(self, limit: int) -> None:
        self.limit, self.kept, self.dropped = limit, 0, 0
        self.outputs: list[dict[str, Any]] = []
        self._clear_pending = False
        self.frames: set[str] = set()  # read before an error is shortened: which student functions it was in

    def clear(self, wait: bool = False) -> None:
        if wait:
            self._clear_pending = True
        else:
            self.outputs, self.kept, self._clear_pending = [], 0, False

    def add(self, output: dict[str, Any]) -> None:
        if self._clear_pending:
            self.clear()
        size = _output_size(output)
        if output["output_type"] == "error":
            plain = [strip_ansi(line) for line in output["traceback"]]
            self.frames |= cell_frames(plain)
            if size > self.ERROR_ROOM:
                self.dropped += size - self.ERROR_ROOM
                output["evalue"] = output["evalue"][:500]
                # the student's own frames first (where their code was), then the innermost two
                own = [line for line in plain[:-2] if CELL_FRAME.search(line)][-3:]
                output["traceback"] = [_tail(line, 300) for line in own + plain[-2:]]
            self.kept += _output_size(output)
            self.outputs.append(output)
            return
        if self.kept + size > self.limit:
            room = self.limit - self.kept
            if output["output_type"] == "stream" and room > 0:  # keep the start of the flood
                self.dropped += size - room
                output["text"] = output["text"][:room]
                size = room
            else:
                self.dropped += size
                return
        self.kept += size
        _append(self.outputs, output)


ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\x1b")


def strip_ansi(text: str) -> str:
    """`text` without terminal escape codes: cutting a coloured traceback would leave halves
    of them ("39m", "melse:") in the student's feedback."""
    return ANSI.sub("", text)


def timeout_message(seconds: float) -> str:
    """What a student reads when a cell ran out of time (the report's reason too)."""
    return (
        f"stopped after {seconds:g} s: an infinite loop? (cell still running after {seconds:g} s: "
        "interrupted, the notebook went on)"
    )


# IPython's frame header: "Cell In[3], line 4, in pre_norm_sublayer(x, f, norm)" or "in Block.forward(self, x)"
CELL_FRAME = re.compile(r"^Cell In\[\d+\], line \d+, in ([\w.]+)\(", re.MULTILINE)


def cell_frames(traceback: list[str]) -> set[str]:
    """The student's functions in an (escape-free) IPython traceback: its "Cell In[n],
    line m, in f(...)" frames; a method counts as its class."""
    return {name.split(".")[0] for line in traceback for name in CELL_FRAME.findall(line)}


def _tail(text: str, limit: int) -> str:
    """At most about `limit` characters of `text`: its first line (a frame's header: where)
    and its last lines, cut at a line start."""
    if len(text) <= limit:
        return text
    head, _, rest = text.partition("\n")
    tail = rest[-(limit - min(len(head), limit // 2)) :]
    tail = tail[tail.index("\n") + 1 :] if "\n" in tail else tail
    return f"{head[: limit // 2]}\n...\n{tail}"


def _output_size(output: Mapping[str, Any]) -> int:  # a notebook output: JSON
    if output["output_type"] == "stream":
        return len(output["text"])
    if output["output_type"] == "error":
        return len(output["evalue"]) + sum(len(line) for line in output["traceback"])
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in output["data"].values())


def _append(outputs: list[dict[str, Any]], output: dict[str, Any]) -> None:  # notebook outputs: JSON
    """Merge consecutive stream chunks like Jupyter does."""
    if (
        output["output_type"] == "stream"
        and outputs
        and outputs[-1]["output_type"] == "stream"
        and outputs[-1]["name"] == output["name"]
    ):
        outputs[-1]["text"] += output["text"]
    else:
        outputs.append(output)


class KernelPool:
    """Keeps `size` forked kernels started ahead of need, so grading never waits for one."""

    def __init__(self, zygote: Zygote, size: int, limits: Limits) -> None:
        self.zygote, self.limits = zygote, limits
        self._ready: queue.Queue[Kernel | Exception] = queue.Queue()
        self._wanted = threading.Semaphore(size)
        self._stop = threading.Event()
        self._filler = threading.Thread(target=self._fill, daemon=True)
        self._filler.start()

    def _fill(self) -> None:
        while not self._stop.is_set():
            if not self._wanted.acquire(timeout=0.1):
                continue
            if self._stop.is_set():
                break
            try:
                kernel = self.zygote.spawn()
            except Exception as exc:  # noqa: BLE001  reported to whoever takes it
                self._ready.put(exc)
                continue
            self._ready.put(kernel)

    def take(self) -> Kernel:
        kernel = self._ready.get()
        self._wanted.release()
        if isinstance(kernel, Exception):
            raise kernel
        return kernel

    def close(self) -> None:
        self._stop.set()
        self._filler.join(5)
        while True:
            try:
                kernel = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(kernel, Kernel):
                kernel.discard()
