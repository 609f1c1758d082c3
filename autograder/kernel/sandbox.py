"""Everything the sandbox does to a kernel, in one module.

A kernel runs one student's notebook.  Before it starts (as root; without root, or with
`--no-sandbox`, only the fallbacks marked * apply), it gets:

| defence | what it stops (hostile kind) |
|---|---|
| allow-list root: a fresh tmpfs with read-only binds of the OS (/usr, /lib...), a few /etc files, Python, the venv, normlab's `src/` and `autograder/`, its own working folder, then `pivot_root` (`build_root`, `enter_root`) | reading solutions / hidden tests of ANY checkout, the course folder, the LMS download folder with classmates' notebooks, the gradebook, server unix sockets (PostgreSQL's, X11...): none of it exists in the kernel's world |
| the only writable places are ONE tmpfs per kernel (`mount_working_folder`: `size` = `--disk-mb`, 256 MB, and `nr_inodes` = `--disk-files`, 10,000): the working folder (notebook, sockets, log) with its folders `.tmp`, `.var-tmp`, `.shm` bound as the kernel's /tmp, /var/tmp, /dev/shm; mounted in the zygote's own mount namespace (`private_mount_namespace`), so it goes when the zygote does, even after a SIGKILLed grader | filling the host's disk with bytes or files (inodes): a write past the limit fails in the cell (`No space left on device`); its pages are RAM counted in the kernel's memory cgroup, never the host's disk. Also: reading other programs' temp files, leaving files for the next kernel |
| network namespace (`CLONE_NEWNET`) | any network, even the grader's loopback (`Network is unreachable`) |
| * audit-hook network guard (no namespaces) | Python-level socket connections (C code could bypass it) |
| PID namespace (`CLONE_NEWPID`) with its own /proc | reading the grader's (or anyone's) command line and environment from /proc; signalling other processes |
| the namespace's init is a root process that runs no student code, and dies with its parent (`PR_SET_PDEATHSIG`, `_namespace_init`), which dies with the zygote, which dies with the grader | processes that outlive the kernel (double fork, `setsid`) or the grader (a SIGKILLed worker; a kernel that clears its own parent-death signal): init's death kills every process of the namespace, and the student's uid cannot signal init or change its parent-death signal |
| a cgroup per kernel (`Cgroups`: v2 `memory.max` + `pids.max`, or v1 `memory.limit_in_bytes` + `pids.max`), emptied and removed when the kernel is discarded | memory bombs (a real resident-memory limit, no swap, the OOM killer on: killed at the limit, counted by `oom_killed`), fork bombs; whatever is left in the cgroup is killed |
| * rlimits: address space (only when no memory cgroup), file size (64 MB), processes, no core dumps | memory bombs (fallback), huge files, fork bombs (fallback). Without namespaces the working folder is a folder of the host's disk: only the file size is bounded, not the total size nor the number of files (the summary says so) |
| fresh uids per run (`fresh_uids`: a random block nobody holds), one per kernel | a leftover process exhausting the next kernel's process limit; reading other kernels' folders |
| minimal environment, secrets only through pipes (never argv) | reading the gradebook URL or password from the environment or a command line |

Which memory, process and disk limits applied is reported by `Isolation.describe()` (the
grade summary prints it).
"""

from __future__ import annotations

import ctypes
import os
import random
import resource
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from typing import NoReturn

CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x00020000, 0x40000000, 0x20000000
CLONE_NEWIPC, CLONE_NEWUTS = 0x08000000, 0x04000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 0x1000, 0x4000, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG = 1
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(os.uname().machine)

NEW_ROOT = "/mnt"  # an empty tmpfs is mounted here, in the kernel's namespace only
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
ETC_FILES = (
    "passwd",
    "group",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "nsswitch.conf",
    "hosts",
    "fonts",
    "mime.types",
)
DEVICES = ("null", "zero", "full", "random", "urandom")
# The kernel's temp folders: folders of its working folder's tmpfs (one bound for all it writes).
TEMP_FOLDERS = {"/tmp": ".tmp", "/var/tmp": ".var-tmp", "/dev/shm": ".shm"}
CGROUP_ROOT = "/sys/fs/cgroup"
CGROUP_PARENT = "normlab-autograder"
FIRST_UID, LAST_UID = 200_000, 2**31 - 2


# ----------------------------------------------------------------------------- grader side
def _uids_in_use() -> set[int]:
    used: set[int] = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        if line.startswith("Uid:"):
                            used.update(int(u) for u in line.split()[1:])
                            break
            except OSError:
                continue
    return used


_SYSTEM_RANDOM = random.SystemRandom()


def fresh_uids(count: int = 100_000, rng: random.Random = _SYSTEM_RANDOM) -> int:
    """The first uid of a block of `count` uids that no running process holds (nothing
    left over from an earlier run can count against this run's process limits)."""
    used = _uids_in_use()
    while True:
        first = rng.randrange(FIRST_UID, LAST_UID - count)
        if not any(first <= u < first + count for u in used):
            return first


def _pid_namespace() -> str:
    return os.readlink("/proc/self/ns/pid").strip("pid:[]")


def _running(pid: int) -> bool:
    """A process with this pid exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


class Cgroups:
    """A cgroup per kernel for memory and processes: v2 if its controllers are usable,
    else the v1 `memory` and `pids` hierarchies, else None (rlimits apply instead)."""

    def __init__(self, memory_bytes: int, processes: int) -> None:
        self.memory_bytes, self.processes = memory_bytes, processes
        self.version, self.roots = self._detect()
        # run-<PID namespace>-<pid>-<random>: whose grader it is, so a later run can tell a
        # killed grader's cgroups (pid gone) from a live one's, and never touches another
        # PID namespace's (a container's) runs.
        self.run = f"run-{_pid_namespace()}-{os.getpid()}-{random.SystemRandom().randrange(10**9)}"
        self._remove_dead_runs()
        for root in self.roots.values():
            os.makedirs(os.path.join(root, CGROUP_PARENT, self.run), exist_ok=True)
        if self.version == 2:
            self._write(
                os.path.join(self.roots["memory"], CGROUP_PARENT, "cgroup.subtree_control"), "+memory +pids", quiet=True
            )
            self._write(
                os.path.join(self.roots["memory"], CGROUP_PARENT, self.run, "cgroup.subtree_control"),
                "+memory +pids",
                quiet=True,
            )

    @staticmethod
    def _writable(folder: str) -> bool:
        probe = os.path.join(folder, CGROUP_PARENT, f"probe-{os.getpid()}")
        try:
            os.makedirs(probe, exist_ok=True)
            os.rmdir(probe)
            return True
        except OSError:
            return False

    def _detect(self) -> tuple[int | None, dict[str, str]]:
        if os.geteuid() != 0:
            return None, {}
        for v2 in (CGROUP_ROOT, os.path.join(CGROUP_ROOT, "unified")):
            try:
                with open(os.path.join(v2, "cgroup.controllers")) as f:
                    controllers = f.read().split()
            except OSError:
                continue
            if {"memory", "pids"} <= set(controllers) and self._writable(v2):
                return 2, {"memory": v2, "pids": v2}
        v1 = {c: os.path.join(CGROUP_ROOT, c) for c in ("memory", "pids")}
        if all(os.path.isfile(os.path.join(p, "cgroup.procs")) and self._writable(p) for p in v1.values()):
            return 1, v1
        return None, {}

    @staticmethod
    def _write(path: str, value: int | str, quiet: bool = False) -> None:
        try:
            with open(path, "w") as f:
                f.write(str(value))
        except OSError:
            if not quiet:
                raise

    def folders(self, name: str) -> list[str]:
        return sorted({os.path.join(root, CGROUP_PARENT, self.run, name) for root in self.roots.values()})

    def create(self, name: str) -> list[str]:
        """Make the kernel's cgroup(s); returns the cgroup.procs files its first process joins."""
        if not self.version:
            return []
        procs = []
        for folder in self.folders(name):
            os.makedirs(folder, exist_ok=True)
            procs.append(os.path.join(folder, "cgroup.procs"))
        memory = os.path.join(self.roots["memory"], CGROUP_PARENT, self.run, name)
        pids = os.path.join(self.roots["pids"], CGROUP_PARENT, self.run, name)
        # No swap for the kernel (v2 `memory.swap.max` 0, v1 memory+swap = memory): at the
        # limit the kernel's OOM killer ends it at once instead of swapping it to a crawl;
        # the OOM killer stays on (v1 `oom_kill_disable` 0 would freeze it at the limit) and
        # kills the kernel's whole group (v2 `memory.oom.group`).
        if self.version == 2:
            self._write(os.path.join(memory, "memory.max"), self.memory_bytes)
            self._write(os.path.join(memory, "memory.swap.max"), 0, quiet=True)
            self._write(os.path.join(memory, "memory.oom.group"), 1, quiet=True)
        else:
            self._write(os.path.join(memory, "memory.limit_in_bytes"), self.memory_bytes)
            self._write(os.path.join(memory, "memory.memsw.limit_in_bytes"), self.memory_bytes, quiet=True)
            self._write(os.path.join(memory, "memory.oom_control"), 0, quiet=True)
        self._write(os.path.join(pids, "pids.max"), self.processes)
        return procs

    def _memory_folder(self, name: str) -> str:
        return os.path.join(self.roots.get("memory", ""), CGROUP_PARENT, self.run, name)

    def oom_killed(self, name: str) -> int:
        """How many processes of the kernel's cgroup the kernel's OOM killer ended (v2
        `memory.events` oom_kill, v1 `memory.oom_control` oom_kill): the proof that a death
        was the memory limit, not a crash."""
        memory = self._memory_folder(name)
        events = "memory.events" if self.version == 2 else "memory.oom_control"
        try:
            with open(os.path.join(memory, events)) as f:
                counts = dict(line.split()[:2] for line in f if len(line.split()) >= 2)
            return int(counts.get("oom_kill", 0))
        except (OSError, ValueError):
            return 0

    def hit_memory_limit(self, name: str) -> bool:
        """The kernel reached its limit (killed there, or held at it by reclaim)."""
        if self.oom_killed(name):
            return True
        memory = self._memory_folder(name)
        try:
            if self.version == 2:
                with open(os.path.join(memory, "memory.events")) as f:
                    return any(line.split()[0] in ("oom", "max") and int(line.split()[1]) > 0 for line in f)
            with open(os.path.join(memory, "memory.failcnt")) as f:
                if int(f.read()) > 0:
                    return True
            with open(os.path.join(memory, "memory.max_usage_in_bytes")) as f:
                return int(f.read()) >= 0.9 * self.memory_bytes
        except (OSError, ValueError, IndexError):
            return False

    def destroy(self, name: str) -> None:
        """Kill whatever is still in the kernel's cgroup, then remove it."""
        for folder in self.folders(name):
            self._destroy_folder(folder)

    @staticmethod
    def _destroy_folder(folder: str) -> None:
        for _ in range(50):
            try:
                with open(os.path.join(folder, "cgroup.procs")) as f:
                    pids = [int(p) for p in f.read().split()]
            except OSError:
                break
            if not pids:
                break
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)
        try:
            os.rmdir(folder)
        except OSError:
            pass

    def close(self) -> None:
        self._remove_run(self.run)

    def _remove_run(self, run: str) -> None:
        for root in self.roots.values():
            folder = os.path.join(root, CGROUP_PARENT, run)
            if os.path.isdir(folder):
                for name in os.listdir(folder):
                    if os.path.isdir(os.path.join(folder, name)):
                        self._destroy_folder(os.path.join(folder, name))
                try:
                    os.rmdir(folder)
                except OSError:
                    pass

    def _remove_dead_runs(self) -> None:
        """The runs of graders that were killed (`run-<this PID namespace>-<pid>-…` with no
        such process): their kernels died with them (`_namespace_init`), this empties and
        removes the cgroups."""
        ours = ["run", _pid_namespace()]
        for root in self.roots.values():
            try:
                runs = os.listdir(os.path.join(root, CGROUP_PARENT))
            except OSError:
                continue
            for run in runs:
                parts = run.split("-")
                if len(parts) == 4 and parts[:2] == ours and not _running(int(parts[2])):
                    self._remove_run(run)


class Isolation:
    """What a run of kernels gets, decided once per run (reported in the grade summary)."""

    def __init__(self, limits: Any, sandbox: bool = True) -> None:
        self.namespaces = bool(sandbox) and os.geteuid() == 0
        self.cgroups = Cgroups(limits.memory_bytes, limits.processes) if self.namespaces else None
        self.first_uid = fresh_uids() if self.namespaces else None
        self.limits = limits

    def describe(self) -> dict[str, str]:
        version = self.cgroups.version if self.cgroups else None
        memory = {2: "cgroup v2 memory.max", 1: "cgroup v1 memory.limit_in_bytes"}.get(
            version or 0, "rlimit RLIMIT_AS (address space; no usable memory cgroup)"
        )
        return {
            "memory": f"{memory} = {self.limits.memory_bytes // 2**20} MB",
            "processes": (f"cgroup v{version} pids.max" if version else "rlimit RLIMIT_NPROC")
            + f" = {self.limits.processes}",
            "filesystem": "allow-list root (pivot_root)" if self.namespaces else "none (not root or --no-sandbox)",
            "namespaces": "mount, network, pid, ipc, uts" if self.namespaces else "none: audit-hook network guard",
            "disk": self._describe_disk(version),
            "uids": f"fresh block from {self.first_uid}" if self.first_uid else "the grader's own",
        }

    def _describe_disk(self, cgroup_version: int | None) -> str:
        limits = self.limits
        file_size = f"rlimit RLIMIT_FSIZE = {limits.file_bytes // 2**20} MB per file"
        if not self.namespaces:
            return (
                f"the host's disk (not root or --no-sandbox): {file_size} only, "
                "the total size and the number of files are NOT bounded"
            )
        where = "counted in its memory cgroup" if cgroup_version else "RAM, no memory cgroup to count it in"
        return (
            f"tmpfs {limits.disk_bytes // 2**20} MB, {limits.disk_files} files per kernel (working folder, /tmp, "
            f"/var/tmp, /dev/shm together; {where}); {file_size}"
        )

    def request(self, name: str, index: int) -> dict[str, Any]:
        """The sandbox part of a spawn request (plain data for the zygote)."""
        return {
            "namespaces": self.namespaces,
            "uid": self.first_uid + index if self.first_uid else None,
            "cgroup_procs": self.cgroups.create(name) if self.cgroups else [],
            "memory_rlimit": not (self.cgroups and self.cgroups.version),
            "disk": {"bytes": self.limits.disk_bytes, "files": self.limits.disk_files} if self.namespaces else None,
            "code_folders": code_folders(),
        }

    def release(self, name: str) -> None:
        if self.cgroups:
            self.cgroups.destroy(name)

    def close(self) -> None:
        if self.cgroups:
            self.cgroups.close()


def code_folders() -> list[str]:
    """What a kernel must be able to read: Python itself, the virtual environment, and the
    packages it imports from a checkout (normlab's `src/`, the `autograder/` package)."""
    import autograder
    import normlab

    folders = [
        sys.base_prefix,
        sys.prefix,
        os.path.dirname(os.path.abspath(autograder.__file__)),
        os.path.dirname(os.path.dirname(os.path.abspath(normlab.__file__))),
    ]
    return list(dict.fromkeys(os.path.realpath(f) for f in folders))


# ----------------------------------------------------------------------------- kernel side
def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(
    libc: ctypes.CDLL,
    source: str | None,
    target: str,
    fstype: str | None,
    flags: int,
    options: bytes | None,
    what: str,
) -> None:
    _check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags, options), what)


def _bind(libc: ctypes.CDLL, source: str, target: str, writable: bool = False) -> None:
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(target):
            open(target, "w").close()
    _mount(libc, source, target, None, MS_BIND | MS_REC, None, f"bind {source}")
    if not writable:
        _mount(libc, None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID, None, f"read-only {source}")


def _inside(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def build_root(libc: ctypes.CDLL, workdir: str, folders: list[str]) -> None:
    """The kernel's whole file system, under NEW_ROOT: only what is listed here exists."""
    _mount(libc, "tmpfs", NEW_ROOT, "tmpfs", MS_NOSUID | MS_NODEV, b"mode=755,size=16m", "new root")
    new = NEW_ROOT.rstrip("/")
    for path in SYSTEM_DIRS:
        if os.path.islink(path):
            os.symlink(os.readlink(path), new + path)
        elif os.path.isdir(path):
            _bind(libc, path, new + path)
    for name in ETC_FILES:
        if os.path.exists(os.path.join("/etc", name)):
            _bind(libc, os.path.join("/etc", name), f"{new}/etc/{name}")
    for device in DEVICES:
        _bind(libc, f"/dev/{device}", f"{new}/dev/{device}", writable=True)
    for temp, folder in TEMP_FOLDERS.items():  # on the working folder's tmpfs: its bound holds for them too
        _bind(libc, os.path.join(workdir, folder), new + temp, writable=True)
    for folder in folders:
        if not any(_inside(folder, s) for s in SYSTEM_DIRS if not os.path.islink(s)):
            _bind(libc, folder, new + folder)
    _bind(libc, workdir, new + os.path.realpath(workdir), writable=True)
    os.makedirs(new + "/proc", exist_ok=True)


def private_mount_namespace(libc: ctypes.CDLL) -> None:
    """The zygote's own mount namespace, private (nothing propagates to the host's): the
    kernels' working folders are mounted there, the grader reaches them through
    /proc/<zygote>/root, and every one of them is gone when the zygote ends, however the
    grader ended."""
    _check(libc.unshare(CLONE_NEWNS), "unshare the zygote's mount namespace")
    _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE, None, "zygote mounts private")


def mount_working_folder(libc: ctypes.CDLL, workdir: str, disk: dict, uid: int | None) -> None:
    """In the zygote's namespace: a tmpfs over the kernel's (empty) working folder, bounded
    in bytes (`size`) and files (`nr_inodes`): every place the kernel can write is on it
    (`TEMP_FOLDERS` become its /tmp, /var/tmp, /dev/shm), so a write past either bound
    fails with ENOSPC in the student's cell.  Its pages are charged to the memory cgroup of
    the process that writes them: the kernel's own."""
    owner = f",uid={uid},gid={uid}" if uid is not None else ""
    options = f"mode=0700,size={disk['bytes']},nr_inodes={disk['files']}{owner}".encode()
    _mount(libc, "normlab-kernel", workdir, "tmpfs", MS_NOSUID | MS_NODEV, options, "tmpfs working folder")
    for folder in TEMP_FOLDERS.values():
        path = os.path.join(workdir, folder)
        os.mkdir(path)
        os.chmod(path, 0o1777)  # like /tmp: anyone writes, only the owner removes


def release_working_folder(libc: ctypes.CDLL, workdir: str) -> None:
    """Unmount a kernel's working folder (its files go with it); one already gone is fine."""
    libc.umount2(workdir.encode(), MNT_DETACH)


def enter_root(libc: ctypes.CDLL) -> None:
    """In the new PID namespace: its own /proc, then make NEW_ROOT the root (the old one is
    detached: nothing outside the allow-list can be reached, even by path tricks)."""
    new = NEW_ROOT.rstrip("/")
    _mount(libc, "proc", new + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None, "proc")
    os.chdir(new)
    os.makedirs(".old-root", exist_ok=True)
    _check(libc.syscall(SYS_PIVOT_ROOT, b".", b".old-root"), "pivot_root")
    os.chroot(".")
    _check(libc.umount2(b"/.old-root", MNT_DETACH), "detach the old root")
    os.rmdir("/.old-root")


def _die_with_parent(libc: ctypes.CDLL) -> None:
    _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "PR_SET_PDEATHSIG")


def _deny_network(event: str, args: tuple[object, ...]) -> None:
    if event in ("socket.connect", "socket.bind", "socket.sendto", "socket.sendmsg"):
        address = args[1] if len(args) > 1 else None
        if not isinstance(address, (str, bytes)):  # unix sockets (str/bytes paths) stay allowed
            raise PermissionError("network access is disabled while grading")
    elif event == "socket.getaddrinfo":
        raise PermissionError("network access is disabled while grading")


def _forward_signals(child: int) -> None:
    """Interrupts go on to the child (a timed-out cell); a termination kills it."""
    signal.signal(signal.SIGINT, lambda *_: os.kill(child, signal.SIGINT))
    signal.signal(signal.SIGTERM, lambda *_: os.kill(child, signal.SIGKILL))


def _wait_for(child: int, reap_all: bool = False) -> int:
    """The child's wait status.  `reap_all`: also reap whatever else ends meanwhile (the
    namespace's init inherits every orphan of the kernel; unreaped, they hold pids.max)."""
    while True:
        try:
            pid, status = os.waitpid(-1 if reap_all else child, 0)
        except InterruptedError:
            continue
        if pid == child:
            return status


def _end_as(status: int) -> NoReturn:
    """End this process the way `status` says a child ended (exit code or signal)."""
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        if sig not in (signal.SIGKILL, signal.SIGSTOP):  # their handlers cannot be set (OSError)
            signal.signal(sig, signal.SIG_DFL)
        os.kill(os.getpid(), sig)  # the grader sees the kernel's own end (e.g. SIGKILL by the OOM killer)
    os._exit(os.WEXITSTATUS(status))


def _mirror(init: int, kernel_status: int) -> NoReturn:
    """Outside the namespace, the zygote's child: wait for the namespace's init, then end
    the way the kernel ended (its status comes through the `kernel_status` pipe; none
    there means init itself was killed, e.g. by the OOM killer)."""
    _forward_signals(init)
    status = _wait_for(init)
    reported = os.read(kernel_status, 4)
    _end_as(int.from_bytes(reported, "little") if len(reported) == 4 else status)


def _namespace_init(kernel: int, kernel_status: int) -> NoReturn:
    """pid 1 of the kernel's PID namespace, root and never running student code: the
    student's uid can neither signal it nor clear its parent-death signal, so when it ends
    (the kernel ended, or the mirror, zygote or grader died) the kernel ends too, with every
    process the submission started in the namespace."""
    _forward_signals(kernel)
    status = _wait_for(kernel, reap_all=True)
    os.write(kernel_status, status.to_bytes(4, "little"))
    os._exit(0)


def fork_kernel(request: dict) -> list[str]:
    """Called in the zygote's forked child (root until the end): apply every defence and
    return in the process that becomes the kernel.  Returns notes on what applied."""
    libc = _libc()
    notes = []
    for procs in request.get("cgroup_procs", []):  # before anything else: every later fork inherits it
        with open(procs, "w") as f:
            f.write(str(os.getpid()))
    if request.get("namespaces"):
        _die_with_parent(libc)
        _check(libc.unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS), "unshare")
        _mount(libc, "none", "/", None, MS_REC | MS_PRIVATE, None, "mount private")
        build_root(libc, request["workdir"], request.get("code_folders", []))
        kernel_status = os.pipe()
        init = os.fork()
        if init:
            os.close(kernel_status[1])
            _mirror(init, kernel_status[0])  # never returns
        os.close(kernel_status[0])
        _die_with_parent(libc)  # pid 1 of the namespace: its death ends every process in it
        enter_root(libc)
        kernel = os.fork()
        if kernel:
            _namespace_init(kernel, kernel_status[1])  # never returns
        os.close(kernel_status[1])
        notes.append("namespaces+allow-list root")
    else:
        sys.addaudithook(_deny_network)
        notes.append("no namespaces: audit-hook network guard")
    limits = request.get("limits", {})
    if limits.get("memory_bytes") and request.get("memory_rlimit", True):
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
