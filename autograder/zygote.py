"""Fork server for warm kernels: import torch once, fork one fresh kernel per submission.

Plain nbgrader starts a new kernel for every notebook, and every kernel pays for
`import torch` (~1.3 s of CPU here).  This process pays it once: it imports torch,
normlab and ipykernel, takes the pristine snapshot the in-kernel guard restores
from (autograder.harness), and then waits for requests on stdin.  Each request
forks a child that becomes an IPython kernel for exactly ONE submission and is
killed afterwards, so no submission ever sees another one's state.  The zygote
itself never runs student code.

The child is sandboxed before it starts the kernel (when running as root):
  * new network namespace (no interface but a down loopback: no connections),
  * new mount namespace with empty read-only tmpfs over the course folder, the
    exercise sources and anything else the grader lists in `hide`, and a private
    256 MB /tmp, /var/tmp and /dev/shm (its own folder, and Python, the venv and the
    checkout when they live under a cover, carried over),
  * its own unprivileged uid/gid, cwd = a fresh 0700 folder holding only that
    submission, a minimal environment (no gradebook URL, no secrets),
  * rlimits: address space (memory bomb), file size, process count, no core.
It talks to the grader over ZMQ ipc sockets (unix sockets in its folder), which
work across network namespaces.

Protocol (JSON lines): stdin  {"workdir", "connection_file", "uid", "limits", "hide", "sandbox"}
                       stdout {"ready": {...}} once, {"spawned": pid}, {"exited": pid, "status": str}
"""
import ctypes
import json
import os
import resource
import select
import signal
import sys

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_BIND, MS_MOVE, MS_REC, MS_PRIVATE = 0x1000, 0x2000, 0x4000, 1 << 18

PRELOAD = ("torch", "numpy", "normlab", "normlab.checks")


def preload():
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
    import ipykernel.kernelapp  # noqa: F401  (IPython, zmq, tornado: the kernel's own imports)
    import ipykernel.ipkernel  # noqa: F401
    from autograder import harness
    harness.take_snapshot()
    return loaded


def _libc():
    return ctypes.CDLL(None, use_errno=True)


def _check(result, what):
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


TEMP_FOLDERS = ("/tmp", "/var/tmp", "/dev/shm")


def _closed_ancestor(path):
    """The highest folder above `path` that other users cannot enter (e.g. /root), or None."""
    parts = os.path.abspath(path).split(os.sep)
    for i in range(2, len(parts)):
        folder = os.sep.join(parts[:i])
        if not os.stat(folder).st_mode & 0o001:
            return folder
    return None


def _code_folders():
    """What a kernel must still be able to read: Python itself, the virtual environment,
    and this checkout's packages (normlab's src/ and the autograder)."""
    import autograder
    folders = [sys.base_prefix, sys.prefix, os.path.dirname(autograder.__file__)]
    if "normlab" in sys.modules:
        folders.append(os.path.dirname(os.path.dirname(sys.modules["normlab"].__file__)))
    return [os.path.realpath(f) for f in folders]


def _inside(path, folder):
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _private_tmp_keeping_code(libc, workdir):
    """A fresh, size-limited /tmp, /var/tmp and /dev/shm per kernel (no reading other
    programs' temp files, nothing left for the next kernel, no filling the host's disk),
    and an empty cover over closed folders such as /root that the sandbox uid could not
    enter anyway.  Whatever the kernel needs from under those covers (the submission's
    folder; Python, the venv and the checkout when they live under /tmp or /root, as a
    CI clone may) is bind-mounted aside first and moved back on top afterwards."""
    keep = [os.path.realpath(workdir)] + _code_folders()
    closed = {c for c in map(_closed_ancestor, keep) if c}
    covers = sorted(closed) + [f for f in TEMP_FOLDERS if os.path.isdir(f) and not os.path.islink(f)]
    keep = [k for k in dict.fromkeys(keep) if any(_inside(k, c) for c in covers)]
    keep = [k for k in keep if not any(k != o and _inside(k, o) for o in keep)]   # outermost only
    stage_root = "/mnt"   # outside every cover; a scratch tmpfs there, in this namespace only
    if not os.path.isdir(stage_root) or any(_inside(stage_root, c) for c in covers):
        raise OSError(f"no staging folder for the sandbox mounts ({stage_root})")
    _check(libc.mount(b"tmpfs", stage_root.encode(), b"tmpfs", 0, b"mode=700,size=64k"), "stage tmpfs")
    stages = []
    for i, folder in enumerate(keep):
        stage = os.path.join(stage_root, str(i))
        os.mkdir(stage)
        _check(libc.mount(folder.encode(), stage.encode(), None, MS_BIND | MS_REC, None), f"stage {folder}")
        stages.append(stage)
    for cover in covers:
        options = b"mode=755,size=64k" if cover in closed else b"mode=1777,size=256m"
        _check(libc.mount(b"tmpfs", cover.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, options),
               f"cover {cover}")   # a root-owned 755 cover: the sandbox uid cannot write it
    for stage, folder in zip(stages, keep):
        os.makedirs(folder, exist_ok=True)
        _check(libc.mount(stage.encode(), folder.encode(), None, MS_MOVE, None), f"restore {folder}")


def _deny_network(event, args):
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if not isinstance(address, (str, bytes)):  # unix sockets (str/bytes paths) stay allowed
            raise PermissionError("network access is disabled while grading")
    elif event == "socket.getaddrinfo":
        raise PermissionError("network access is disabled while grading")


def enter_sandbox(request):
    """Namespaces, then limits, then drop to the submission's own uid. Returns notes."""
    notes = []
    libc = _libc()
    if request.get("sandbox", True) and os.geteuid() == 0:
        _check(libc.unshare(CLONE_NEWNET | CLONE_NEWNS), "unshare")
        _check(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "mount private")
        _private_tmp_keeping_code(libc, request["workdir"])
        for path in request.get("hide", []):
            if os.path.isdir(path):
                _check(libc.mount(b"tmpfs", path.encode(), b"tmpfs",
                                  MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k"),
                       f"hide {path}")
        notes.append("netns+mountns")
    else:
        # Without root there are no namespaces: refuse Python-level network calls instead.
        # (An audit hook cannot be removed from Python, but C code, e.g. ctypes, bypasses it.)
        sys.addaudithook(_deny_network)
        notes.append("no-namespaces, audit-hook network guard")
    limits = request.get("limits", {})
    if limits.get("memory_bytes"):
        resource.setrlimit(resource.RLIMIT_AS, (limits["memory_bytes"],) * 2)
    if limits.get("file_bytes"):
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits["file_bytes"],) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    uid = request.get("uid")
    if uid is not None and os.geteuid() == 0:
        if limits.get("processes"):
            resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)
        notes.append(f"uid={uid}")
    return notes


def child_main(request):
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
        enter_sandbox(request)
        os.chdir(workdir)
        os.environ.clear()
        os.environ.update({
            "PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "LANG": "C.UTF-8",
            "IPYTHONDIR": os.path.join(workdir, ".ipython"), "MPLCONFIGDIR": workdir,
            "MPLBACKEND": "agg", "PYTHONHASHSEED": "0", "NBGRADER_EXECUTION": "autograde",
        })
        import torch
        torch.set_num_threads(request.get("threads", 1))
        from autograder import harness
        from ipykernel.kernelapp import IPKernelApp
        app = IPKernelApp.instance()
        app.initialize(["-f", request["connection_file"], "--HistoryManager.enabled=False",
                        "--IPKernelApp.parent_handle=0", "--Session.username=student"])
        harness.attach_shell(app.shell)
        app.start()
    except BaseException as exc:  # noqa: BLE001  the log is read by the grader
        os.write(2, f"autograder kernel failed to start: {exc!r}\n".encode())
        os._exit(70)
    os._exit(0)


def describe(status):
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        return f"killed by signal {sig} ({signal.Signals(sig).name})"
    return f"exited with code {os.WEXITSTATUS(status)}"


def main():
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
            pid = os.fork()
            if pid == 0:
                child_main(request)
            out.write(json.dumps({"spawned": pid, "workdir": request["workdir"]}) + "\n")
            out.flush()


if __name__ == "__main__":
    main()
