"""Grader side of the warm kernels: a pool fed by the zygote, and cell execution.

`KernelPool` keeps a few kernels forked and ready (each already has torch imported,
inherited from the zygote).  `pool.take()` hands out a kernel that has never run
anything; after one notebook it is killed and its folder deleted.

`Kernel.run_cell` sends one cell over the ipc sockets and collects its outputs
with a hard timeout, an output-size cap, and death detection (the zygote tells us
how the process ended: `os._exit(3)`, SIGSEGV, SIGKILL after a memory bomb ...).
"""
import ast
import json
import os
import queue
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field

from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRST_SANDBOX_UID = 61000          # each kernel gets its own uid in [61000, 61000 + 4000)
GUARD = "__import__('autograder.harness', fromlist=['_'])"


@dataclass
class Limits:
    timeout: float = 30.0                 # seconds per cell
    memory_bytes: int = 4 * 1024 ** 3     # address space of the kernel process (torch maps ~1.3 GB)
    file_bytes: int = 64 * 1024 ** 2      # largest file the kernel may write
    processes: int = 64                   # per sandbox uid: stops fork bombs
    output_chars: int = 20_000            # kept per cell; the rest is dropped and counted
    startup_timeout: float = 60.0


@dataclass
class CellRun:
    outputs: list = field(default_factory=list)
    status: str = "ok"          # ok | error | timeout | died | not-run
    reason: str = ""            # human-readable, for the report
    dropped_chars: int = 0


class ZygoteError(RuntimeError):
    pass


class Zygote:
    """The fork server process (autograder/zygote.py) and its line protocol."""

    def __init__(self, hide=(), limits=None, sandbox=True, threads=1):
        self.hide = [os.path.abspath(p) for p in hide]
        self.limits = limits or Limits()
        self.sandbox = sandbox and os.geteuid() == 0
        self.threads = threads
        env = dict(os.environ, PYTHONPATH=REPO_ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
        env.pop("NBGRADER_DB_URL", None)
        self.proc = subprocess.Popen([sys.executable, "-m", "autograder.zygote"], cwd=REPO_ROOT,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
        ready = self.proc.stdout.readline()
        if not ready:
            raise ZygoteError("the kernel fork server did not start (see stderr above)")
        self.preloaded = json.loads(ready)["ready"]["preloaded"]
        self._spawned = queue.Queue()
        self._exits = {}
        self._exit_cond = threading.Condition()
        self._lock = threading.Lock()
        self._next_uid = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stdout:
            message = json.loads(line)
            if "spawned" in message:
                self._spawned.put(message["spawned"])
            elif "exited" in message:
                with self._exit_cond:
                    self._exits[message["exited"]] = message["status"]
                    self._exit_cond.notify_all()

    def exit_status(self, pid):
        with self._exit_cond:
            return self._exits.get(pid)

    def wait_exit(self, pid, timeout):
        with self._exit_cond:
            self._exit_cond.wait_for(lambda: pid in self._exits, timeout)
            return self._exits.get(pid)

    def spawn(self):
        """Fork one sandboxed kernel; return a connected `Kernel`."""
        with self._lock:
            uid = FIRST_SANDBOX_UID + self._next_uid % 4000 if self.sandbox else None
            self._next_uid += 1
            workdir = tempfile.mkdtemp(prefix="ag-kernel-")
            connection_file = os.path.join(workdir, ".kernel.json")
            write_connection_file(connection_file, transport="ipc", ip=os.path.join(workdir, ".zmq"),
                                  key=secrets.token_hex(16).encode(), shell_port=1, iopub_port=2,
                                  stdin_port=3, hb_port=4, control_port=5)
            if uid is not None:
                for path in (workdir, connection_file):
                    os.chown(path, uid, uid)
            os.chmod(workdir, 0o700)
            request = {"workdir": workdir, "connection_file": connection_file, "uid": uid,
                       "sandbox": self.sandbox, "hide": self.hide, "threads": self.threads,
                       "limits": {"memory_bytes": self.limits.memory_bytes,
                                  "file_bytes": self.limits.file_bytes,
                                  "processes": self.limits.processes}}
            self.proc.stdin.write((json.dumps(request) + "\n").encode())
            self.proc.stdin.flush()
            pid = self._spawned.get(timeout=30)
        return Kernel(self, pid, workdir, connection_file, uid)

    def close(self):
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Kernel:
    """One forked kernel, used for exactly one notebook, then `discard()`ed."""

    def __init__(self, zygote, pid, workdir, connection_file, uid):
        self.zygote, self.pid, self.workdir, self.uid = zygote, pid, workdir, uid
        self.client = BlockingKernelClient(connection_file=connection_file)
        self.client.load_connection_file()
        self.client.start_channels()
        self.ready = False

    def wait_ready(self, timeout):
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

    def exit_status(self):
        return self.zygote.exit_status(self.pid)

    def startup_log(self):
        try:
            with open(os.path.join(self.workdir, ".kernel.log"), errors="replace") as f:
                return f.read()[-2000:]
        except OSError:
            return ""

    def add_file(self, src, name):
        """Copy the submission's file into the kernel's (otherwise empty) folder."""
        dest = os.path.join(self.workdir, name)
        shutil.copyfile(src, dest)
        if self.uid is not None:
            os.chown(dest, self.uid, self.uid)

    def guard(self, which):
        """Run harness.before_test()/after_test(); return the names it reports."""
        reply = self._execute_silently(f"{GUARD}.{which}()")
        if reply is None:
            return None
        value = reply.get("user_expressions", {}).get("r", {})
        if value.get("status") != "ok":
            return [f"guard failed: {value.get('ename', '?')}"]
        text = ast.literal_eval(value["data"]["text/plain"])
        return [name for name in text.split(";") if name]

    def _execute_silently(self, expression, timeout=10):
        msg_id = self.client.execute("", silent=True, store_history=False,
                                     user_expressions={"r": expression})
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and not self.exit_status():
            try:
                reply = self.client.get_shell_msg(timeout=0.1)
            except queue.Empty:
                continue
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply["content"]
        return None

    def run_cell(self, code, limits):
        """Execute one cell: outputs as nbformat dicts, with status and reason."""
        run = CellRun()
        if self.exit_status():
            return CellRun(status="not-run", reason=f"kernel had already died ({self.exit_status()})")
        msg_id = self.client.execute(code, store_history=True, allow_stdin=False, stop_on_error=False)
        deadline = time.monotonic() + limits.timeout
        kept = 0
        while True:
            if time.monotonic() > deadline:
                self.kill()
                run.status, run.reason = "timeout", f"cell still running after {limits.timeout:g} s: stopped"
                break
            try:
                msg = self.client.get_iopub_msg(timeout=0.05)
            except queue.Empty:
                status = self.exit_status()
                if status:
                    run.status, run.reason = "died", f"kernel died ({status})"
                    break
                continue
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            output = _to_output(kind, content)
            if output is None:
                if kind == "clear_output":
                    run.outputs.clear()
                continue
            size = _output_size(output)
            if kept + size > limits.output_chars:
                room = limits.output_chars - kept
                if output["output_type"] == "stream" and room > 0:  # keep the start of the flood
                    run.dropped_chars += size - room
                    output["text"] = output["text"][:room]
                    size = room
                else:
                    run.dropped_chars += size
                    continue
            kept += size
            if output["output_type"] == "error":
                run.status = "error"
            _append(run.outputs, output)
        if run.dropped_chars:
            run.outputs.append({"output_type": "stream", "name": "stdout",
                                "text": f"\n[autograder: output truncated, {run.dropped_chars} "
                                        f"more characters dropped]\n"})
            run.reason = (run.reason + "; " if run.reason else "") + \
                f"output truncated ({run.dropped_chars} characters dropped)"
        return run

    def kill(self):
        if self.exit_status():
            return
        try:
            os.killpg(self.pid, signal.SIGKILL)   # the kernel is its own session leader
        except ProcessLookupError:
            pass
        except PermissionError:
            os.kill(self.pid, signal.SIGKILL)

    def discard(self):
        self.kill()
        self.client.stop_channels()
        self.zygote.wait_exit(self.pid, 10)
        shutil.rmtree(self.workdir, ignore_errors=True)


def _to_output(kind, content):
    if kind == "stream":
        return {"output_type": "stream", "name": content["name"], "text": content["text"]}
    if kind in ("display_data", "update_display_data"):
        return {"output_type": "display_data", "data": content["data"], "metadata": content.get("metadata", {})}
    if kind == "execute_result":
        return {"output_type": "execute_result", "data": content["data"],
                "metadata": content.get("metadata", {}), "execution_count": content.get("execution_count")}
    if kind == "error":
        return {"output_type": "error", "ename": content["ename"], "evalue": content["evalue"],
                "traceback": content["traceback"]}
    return None


def _output_size(output):
    if output["output_type"] == "stream":
        return len(output["text"])
    if output["output_type"] == "error":
        return len(output["evalue"]) + sum(len(line) for line in output["traceback"])
    return sum(len(v) if isinstance(v, str) else len(json.dumps(v)) for v in output["data"].values())


def _append(outputs, output):
    """Merge consecutive stream chunks like Jupyter does."""
    if (output["output_type"] == "stream" and outputs and outputs[-1]["output_type"] == "stream"
            and outputs[-1]["name"] == output["name"]):
        outputs[-1]["text"] += output["text"]
    else:
        outputs.append(output)


class KernelPool:
    """Keeps `size` forked kernels started ahead of need, so grading never waits for one."""

    def __init__(self, zygote, size, limits):
        self.zygote, self.limits = zygote, limits
        self._ready = queue.Queue()
        self._wanted = threading.Semaphore(size)
        self._stop = threading.Event()
        self._filler = threading.Thread(target=self._fill, daemon=True)
        self._filler.start()

    def _fill(self):
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

    def take(self):
        kernel = self._ready.get()
        self._wanted.release()
        if isinstance(kernel, Exception):
            raise kernel
        return kernel

    def close(self):
        self._stop.set()
        self._filler.join(5)
        while True:
            try:
                kernel = self._ready.get_nowait()
            except queue.Empty:
                break
            if isinstance(kernel, Kernel):
                kernel.discard()

