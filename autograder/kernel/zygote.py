"""Fork server for warm kernels: import torch once, fork one fresh kernel per submission.

Plain nbgrader starts a new kernel for every notebook, and every kernel pays for
`import torch` (~1.3 s of CPU here).  This process pays it once: it imports torch,
normlab and ipykernel, takes the pristine snapshot the in-kernel guard restores
from (autograder.kernel.harness), and then waits for requests on stdin.  Each request
forks a child that becomes an IPython kernel for exactly ONE submission and is
killed afterwards, so no submission ever sees another one's state.  The zygote
itself never runs student code.

The child is sandboxed before it starts the kernel by `autograder.kernel.sandbox` (all the
defences, and the hostile kinds each stops, are listed there).  It talks to the grader
over ZMQ ipc sockets (unix sockets in its own folder, the one writable place it sees),
which work across network namespaces.  The zygote dies with the grader
(PR_SET_PDEATHSIG), and every kernel dies with the zygote.

With `--private-mounts` (the sandbox) the zygote has a mount namespace of its own: each
kernel's working folder is a bounded tmpfs mounted there before the fork
(`sandbox.mount_working_folder`) and unmounted on `{"release": workdir}`; the grader
reaches it through /proc/<zygote pid>/root.

Protocol (JSON lines): stdin  {"workdir", "connection", "secret", "uid", "limits", "disk", sandbox fields}
                              or {"release": workdir}
                       stdout {"ready": {...}} once, {"spawned": pid} (pid None and "error"
                              when its folder could not be made), {"exited": pid, "status": str}
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import sys
from typing import Any

from autograder.kernel import sandbox

PRELOAD = ("torch", "numpy", "normlab", "normlab.checks")
CONNECTION_FILE = ".kernel.json"


def preload() -> list[str]:
    """Import everything a kernel needs before the first fork (the warm part)."""
    import importlib

    loaded = []
    for name in PRELOAD:
        try:
            module = importlib.import_module(name)
        except Exception:  # e.g. normlab.checks not written yet: students import it themselves
            continue
        loaded.append(name)
        # Resolve lazily imported public names now (normlab's module __getattr__): they
        # get imported once here, and the guard's snapshot holds the real objects.
        for public in getattr(module, "__all__", ()):
            getattr(module, public, None)
    if "torch" in loaded:  # torch.testing.assert_close imports ~2 s of torch.distributed on first use
        import torch

        torch.testing.assert_close(torch.zeros(1), torch.zeros(1))
    import ipykernel.ipkernel  # noqa: F401
    import ipykernel.kernelapp  # noqa: F401  (IPython, zmq, tornado: the kernel's own imports)

    from autograder.kernel import harness

    harness.take_snapshot()
    return loaded


def prepare_folder(libc: ctypes.CDLL, request: dict) -> None:
    """The kernel's working folder before the fork: its tmpfs (when asked) and the
    connection file (ipc sockets in the folder, the key the grader chose), readable by
    the kernel's uid only."""
    workdir, uid = request["workdir"], request.get("uid")
    if request.get("disk"):
        sandbox.mount_working_folder(libc, workdir, request["disk"], uid)
    fd = os.open(os.path.join(workdir, CONNECTION_FILE), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(request["connection"], f)
    if uid is not None:
        os.chown(os.path.join(workdir, CONNECTION_FILE), uid, uid)


def child_main(request: dict) -> None:
    """Runs in the forked child: sandbox, then serve one kernel until killed."""
    workdir = request["workdir"]
    log_fd = os.open(os.path.join(workdir, ".kernel.log"), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    null_fd = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null_fd, 0)
    os.dup2(log_fd, 1)
    os.dup2(log_fd, 2)
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    try:
        sandbox.fork_kernel(request)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update(
            {
                "PATH": "/usr/local/bin:/usr/bin:/bin",
                "HOME": workdir,
                "LANG": "C.UTF-8",
                "IPYTHONDIR": os.path.join(workdir, ".ipython"),
                "MPLCONFIGDIR": workdir,
                "MPLBACKEND": "agg",
                "PYTHONHASHSEED": "0",
                "NBGRADER_EXECUTION": "autograde",
            }
        )
        import torch

        torch.set_num_threads(request.get("threads", 1))
        from ipykernel.kernelapp import IPKernelApp

        from autograder.kernel import harness

        app = IPKernelApp.instance()
        app.initialize(
            [
                "-f",
                os.path.join(workdir, CONNECTION_FILE),
                "--HistoryManager.enabled=False",
                "--IPKernelApp.parent_handle=0",
                "--Session.username=student",
            ]
        )
        harness.attach_shell(app.shell, bytes.fromhex(request.pop("secret", "")))
        app.start()
    except BaseException as exc:  # noqa: BLE001  the log is read by the grader
        os.write(2, f"autograder kernel failed to start: {exc!r}\n".encode())
        os._exit(70)
    os._exit(0)


def describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"killed by signal {sig} ({signal.Signals(sig).name})"
    return f"exited with code {os.WEXITSTATUS(status)}"


def main() -> None:
    libc = sandbox._libc()
    sandbox._die_with_parent(libc)  # the grader died: so do we, and our kernels with us
    if "--private-mounts" in sys.argv:
        sandbox.private_mount_namespace(libc)
    loaded = preload()
    out = sys.stdout
    out.write(json.dumps({"ready": {"preloaded": loaded, "pid": os.getpid()}}) + "\n")
    out.flush()
    stdin = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
    pending = b""
    while True:
        # Reap children so the grader learns how each kernel ended (segfault, os._exit, ...).
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            out.write(json.dumps({"exited": pid, "status": describe(status)}) + "\n")
            out.flush()
        ready, _, _ = select.select([stdin], [], [], 0.05)
        if not ready:
            continue
        chunk = os.read(stdin.fileno(), 65536)
        if not chunk:  # grader went away: take the children with us
            return
        pending += chunk
        while b"\n" in pending:
            line, pending = pending.split(b"\n", 1)
            request = json.loads(line)
            if "release" in request:
                sandbox.release_working_folder(libc, request["release"])
                continue
            out.write(json.dumps(spawn(libc, request)) + "\n")
            out.flush()


def spawn(libc: ctypes.CDLL, request: dict) -> dict[str, Any]:
    """Fork one kernel for `request`; the message for the grader."""
    try:
        prepare_folder(libc, request)
    except OSError as exc:  # the grader retries in another kernel; the zygote goes on
        return {"spawned": None, "workdir": request["workdir"], "error": f"its working folder: {exc}"}
    pid = os.fork()
    if pid == 0:
        child_main(request)
    return {"spawned": pid, "workdir": request["workdir"]}


if __name__ == "__main__":
    main()
