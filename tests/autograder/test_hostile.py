"""One test per item of the hostile list (issue 7): every kind gets a deterministic
score with a clear reason, the other submissions are unaffected and the gradebook
stays intact.  All hostile submissions are graded together in ONE run (--jobs 2),
which is itself part of the claim: none of them disturbs the others.  Memory bombs get a
second run of their own (beside an honest classmate) with a cell timeout far above the time
needed to fill the memory limit, so that only the limit can end them."""

import base64
import codecs
import copy
import glob
import os
import signal
import socket
import sqlite3
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest
from autograder_helpers import (
    ASSIGNMENT,
    FIXTURES,
    REPO,
    Class,
    HostDiskSampler,
    alive,
    all_output_text,
    autograded,
    cell_by_id,
    copy_course,
    descendants,
    report,
)

from autograder.collect import collect
from autograder.grade import grade
from autograder.kernel.client import Limits, Zygote

pytestmark = pytest.mark.slow

WRONG_SHAPE = "def layer_norm(x, eps=1e-5):\n    return x.sum(-1)"
IDENTITY = "def layer_norm(x, eps=1e-5):\n    return x"
CORRECT_LN = (
    "def layer_norm(x, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n"
    "    return (x - mean) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)"
)
SNOOP = (
    """import glob, os
found = {}
kernel_folders = glob.glob('/tmp/ag-kernel-*') + glob.glob('/tmp/ag-kernels-*/ag-kernel-*')  # a zygote's folder holds its kernels'
for path in {paths!r} + [p for f in kernel_folders for p in glob.glob(f + '/*.ipynb') if not p.startswith(os.getcwd())]:
    try:
        with open(path) as f:
            found[path] = 'READ ' + f.read()
    except Exception as exc:
        found[path] = type(exc).__name__
print(found)
print('cwd:', sorted(n for n in os.listdir('.') if not n.startswith('.')))
print('tmp holds', len(os.listdir('/tmp')), 'entries,', len(kernel_folders), 'kernel folders')
print('root:', sorted(os.listdir('/')))
print('sockets:', glob.glob('/run/postgresql/*') + glob.glob('/var/run/postgresql/*') + glob.glob('/tmp/.s.PGSQL*'))
pids = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
print('pids:', pids)
print('cmdlines:', [open(f'/proc/{p}/cmdline', 'rb').read().replace(b'\\0', b' ') for p in pids])
"""
    + CORRECT_LN
)


class Listener:
    """A TCP server on the grader's loopback: a sandboxed kernel must not reach it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def _memory_cgroup():
    from autograder.kernel.sandbox import Cgroups

    cgroups = Cgroups(1, 1)
    cgroups.close()
    return cgroups.version


# A real (cgroup) memory limit can be low (an honest kernel here peaks at ~50 MB); the
# address-space fallback must leave room for torch's ~1.3 GB of mappings.
MEMORY_MB = 1200 if os.geteuid() == 0 and _memory_cgroup() else 2000
MEMORY_BOMB_MB = 300 if MEMORY_MB == 1200 else 2000
MEMORY_BOMB = "hoard = []\nwhile True:\n    hoard.append(torch.ones(2 ** 24))   # 64 MB, touched\n"


def drop(grade_id):
    return lambda nb: nb.cells.remove(cell_by_id(nb, grade_id))


def duplicate_answer_then_break(nb):
    answer = cell_by_id(nb, "layer_norm")
    copy_ = nbformat.from_dict(dict(answer))
    copy_.source = IDENTITY
    nb.cells.append(copy_)  # the copy comes last: executed, it would redefine layer_norm


def paste_fixed_copy(nb):
    """JupyterLab's copy + paste keeps the nbgrader metadata: the student pasted the cell,
    fixed the copy and left the wrong original above it."""
    answer = cell_by_id(nb, "layer_norm")
    fixed = nbformat.from_dict(copy.deepcopy(dict(answer)))
    answer.source = IDENTITY
    fixed.source = CORRECT_LN
    fixed.id = "pasted-copy"
    nb.cells.insert(nb.cells.index(answer) + 1, fixed)


def extra_cell_after(grade_id, source):
    def edit(nb):
        nb.cells.insert(nb.cells.index(cell_by_id(nb, grade_id)) + 1, nbformat.v4.new_code_cell(source))

    return edit


def extra_cell_at_end(source):
    return lambda nb: nb.cells.append(nbformat.v4.new_code_cell(source))


HISTORY = """import base64, codecs, linecache
seen = '\\n'.join(str(v) for v in (In, _ih, Out, _i, _ii, _iii))
seen += '\\n'.join(''.join(entry[2]) for entry in linecache.cache.values() if len(entry) > 2 and entry[2])
print(seen)
print(codecs.encode(seen, 'rot13'))
print(base64.b64encode(seen.encode()).decode())
print(seen[::-1])
"""
STASH = """import sys
stash = []
def layer_norm(x, eps=1e-5):
    caller = sys._getframe(1)   # the test cell that called me: its constants hold the hidden messages
    stash.append(repr(caller.f_code.co_consts))
    stash.extend(linecache.getlines(caller.f_code.co_filename))
    mean = x.mean(-1, keepdim=True)
    return (x - mean) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)
import linecache
"""
LEAK_STASH = """import base64, codecs
text = '\\n'.join(stash)
print(text)
print(codecs.encode(text, 'rot13'))
print(base64.b64encode(text.encode()).decode())
print(text[::-1])
print(text.encode().hex())
"""
LEFTOVER = """import os, subprocess, sys
subprocess.Popen(['sleep', '4242'], start_new_session=True)      # a new session: not in the kernel's group
if os.fork() == 0:                                                # a double-forked daemon
    os.setsid()
    if os.fork() == 0:
        os.execv('/usr/bin/sleep', ['sleep', '4243'])
    os._exit(0)
"""


def edit_tests(nb):
    for grade_id in ("layer_norm_shape", "layer_norm_values"):
        cell_by_id(nb, grade_id).source = "pass"


def edit_setup(nb):
    cell_by_id(nb, "layer_norm_setup").source = "import torch\nx = torch.zeros(2, 5, 8)"


@pytest.fixture(scope="session")
def graded(released_course, tmp_path_factory):
    course = copy_course(released_course, tmp_path_factory.mktemp("hostile") / "course")
    klass = Class(course)
    ln, rms = "layernorm", "rmsnorm"
    listener = Listener()
    gradebook = course.db_url[len("sqlite:///") :]
    downloads = tmp_path_factory.mktemp("lms-downloads")  # the instructor's LMS download folder
    nbformat.write(klass.notebook(ln), downloads / "carol_layernorm.ipynb")
    snoop_paths = [
        str(downloads / "carol_layernorm.ipynb"),
        os.path.join(REPO, "exercises"),
        os.path.join(REPO, "exercises", "ordering", "ordering.ipynb"),
        course.source_notebook(ASSIGNMENT, "layernorm"),
        os.path.join(FIXTURES, ASSIGNMENT, "layernorm.ipynb"),
        course.submitted_notebook("alice", ASSIGNMENT, "layernorm"),
        os.path.join(REPO, "tests", "autograder", "conftest.py"),
        gradebook,
    ]
    klass.submit_all_correct("alice")
    submissions = {
        "h_invalid_json": (ln, '{"cells": [{"cell_type": "code", "source": "print(1)"'),
        "h_zero_byte": (ln, b""),
        "h_deleted": (ln, klass.notebook(ln, edit=drop("layer_norm_shape"))),
        "h_duplicated": (ln, klass.notebook(ln, edit=duplicate_answer_then_break)),
        "h_reordered": (ln, klass.notebook(ln, edit=lambda nb: nb.cells.reverse())),
        "h_edited_test": (ln, klass.notebook(ln, {"layer_norm": WRONG_SHAPE}, edit=edit_tests)),
        "h_edited_locked": (
            ln,
            klass.notebook(
                ln, {"layer_norm": "def layer_norm(x, eps=1e-5):\n    return torch.zeros_like(x)"}, edit=edit_setup
            ),
        ),
        "h_timeout": (rms, klass.notebook(rms, {"rms_norm": "while True:\n    pass"})),
        "h_sys_exit": (ln, klass.notebook(ln, {"layer_norm": "import sys\nsys.exit('bye')\n" + CORRECT_LN})),
        "h_os_exit": (ln, klass.notebook(ln, {"layer_norm": "import os\nos._exit(3)"})),
        "h_crash": (ln, klass.notebook(ln, {"layer_norm": "import ctypes\nctypes.string_at(0)"})),
        "h_output": (ln, klass.notebook(ln, {"layer_norm": CORRECT_LN + "\nprint('spam ' * 2_000_000)"})),
        "h_allclose": (ln, klass.notebook(ln, {"layer_norm": "torch.allclose = lambda *a, **k: True\n" + IDENTITY})),
        "h_testing": (
            rms,
            klass.notebook(
                rms,
                {
                    "rms_norm": (
                        "torch.testing.assert_close = lambda *a, **k: None\ncalls = []\n"
                        "def rms_norm(x, eps=1e-6):  # right for the two visible calls only\n"
                        "    calls.append(1)\n"
                        "    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) if len(calls) <= 2 else x"
                    )
                },
            ),
        ),
        "h_builtins": (
            ln,
            klass.notebook(ln, {"layer_norm": "import builtins\nbuiltins.tuple = lambda *a: ()\n" + WRONG_SHAPE}),
        ),
        "h_helpers": (
            rms,
            klass.notebook(
                rms,
                {
                    "rms_norm": (
                        "import normlab\nnormlab.RMSNorm = lambda d: (lambda t: rms_norm(t))\n"
                        "def rms_norm(x, eps=1e-6):\n    return 1.5 * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)"
                    )
                },
            ),
        ),
        "h_subclass": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "class Liar(torch.Tensor):\n"
                        "    @classmethod\n"
                        "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
                        "        if func is torch.allclose:\n"
                        "            return True\n"
                        "        return super().__torch_function__(func, types, args, kwargs or {})\n"
                        "def layer_norm(x, eps=1e-5):\n    return torch.zeros_like(x).as_subclass(Liar)"
                    )
                },
            ),
        ),
        "h_mode": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "from torch.overrides import TorchFunctionMode\n"
                        "class Yes(TorchFunctionMode):\n"
                        "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
                        "        return True if func is torch.allclose else func(*args, **(kwargs or {}))\n"
                        "Yes().__enter__()\n" + IDENTITY
                    )
                },
            ),
        ),
        "h_swallow": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n" + WRONG_SHAPE
                    )
                },
            ),
        ),
        "h_mid_test": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "def layer_norm(x, eps=1e-5):\n    torch.allclose = lambda *a, **k: True\n    return x"
                    )
                },
            ),
        ),
        "h_snoop": (ln, klass.notebook(ln, {"layer_norm": SNOOP.replace("{paths!r}", repr(snoop_paths))})),
        "h_gradebook": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        f"import sqlite3\nattempts = []\n"
                        f"for action in (lambda: sqlite3.connect({gradebook!r}).execute('update grade set auto_score = 99'),\n"
                        f"               lambda: open({gradebook!r}, 'w')):\n"
                        f"    try:\n        action()\n        attempts.append('WROTE')\n"
                        f"    except Exception as exc:\n        attempts.append(type(exc).__name__)\n"
                        f"print(attempts)\n" + CORRECT_LN
                    )
                },
            ),
        ),
        "h_network": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        f"import socket\nresults = []\nfor address in [('127.0.0.1', {listener.port}), ('pypi.org', 443)]:\n"
                        f"    try:\n        socket.create_connection(address, timeout=2)\n        results.append('CONNECTED')\n"
                        f"    except OSError as exc:\n        results.append(type(exc).__name__)\nprint(results)\n"
                        + CORRECT_LN
                    )
                },
            ),
        ),
        "h_flood_then_fail": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "def layer_norm(x, eps=1e-5):\n    print('x' * 25_000)   # floods the test's output\n    return x"
                    )
                },
            ),
        ),
        "h_clear_output": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "from IPython.display import clear_output\n"
                        "def layer_norm(x, eps=1e-5):\n    print('y' * 15_000)\n    clear_output()\n"
                        "    print('z' * 15_000)\n    return x"
                    )
                },
            ),
        ),
        "h_code_swap": (
            rms,
            klass.notebook(
                rms,
                {
                    "rms_norm": (
                        "torch.testing.assert_close.__code__ = (lambda *a, **k: None).__code__   # same function object\n"
                        "calls = []\n"
                        "def rms_norm(x, eps=1e-6):  # right for the two visible calls only\n"
                        "    calls.append(1)\n"
                        "    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) if len(calls) <= 2 else x"
                    )
                },
            ),
        ),
        "h_unhook": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "ip = get_ipython()\n"
                        "for callback in list(ip.events.callbacks['post_run_cell']):\n"
                        "    ip.events.unregister('post_run_cell', callback)\n"
                        "torch.allclose = lambda *a, **k: True\n" + IDENTITY
                    )
                },
            ),
        ),
        "h_fake_guard": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "import sys\nip = get_ipython()\n"
                        "for callback in list(ip.events.callbacks['post_run_cell']):\n"
                        "    ip.events.unregister('post_run_cell', callback)\n"
                        "guard = sys.modules['autograder.kernel.harness']\n"
                        "guard.answer = lambda nonce, what, *args: '\"\"\\n' + '0' * 64   # 'nothing was replaced'\n"
                        "torch.allclose = lambda *a, **k: True\n" + IDENTITY
                    )
                },
            ),
        ),
        "h_pasted_fix": (ln, klass.notebook(ln, edit=paste_fixed_copy)),
        "h_slow_extra": (ln, klass.notebook(ln, edit=extra_cell_after("layer_norm_setup", "while True:\n    pass"))),
        "h_stubborn": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "while True:\n    try:\n        while True:\n            pass\n"
                        "    except KeyboardInterrupt:\n        pass"
                    )
                },
            ),
        ),
        "h_history": (ln, klass.notebook(ln, edit=extra_cell_at_end(HISTORY))),
        "h_stash": (ln, klass.notebook(ln, {"layer_norm": STASH}, edit=extra_cell_at_end(LEAK_STASH))),
        "h_leftover": (ln, klass.notebook(ln, {"layer_norm": LEFTOVER + CORRECT_LN})),
        "h_warning": (
            ln,
            klass.notebook(
                ln,
                {
                    "layer_norm": (
                        "def layer_norm(x, eps=1e-5):\n    x = torch.tensor(x)  # UserWarning: copy construct from a tensor\n"
                        "    mean = x.mean(-1, keepdim=True)\n"
                        "    return (x - mean) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)"
                    )
                },
            ),
        ),
    }
    klass.submit("h_missing", rms, klass.notebook(rms))
    for student, (notebook, content) in submissions.items():
        klass.submit(student, notebook, content)
    limits = Limits(timeout=6, memory_bytes=MEMORY_MB * 2**20, interrupt_grace=3)
    summary = grade(course, [ASSIGNMENT], jobs=2, limits=limits, log=lambda *_: None)
    listener.close()
    return course, summary, listener


def result(course, student, notebook="layernorm"):
    return report(course, student)[notebook]


def expect(graded, student, score, status=None, reason=None, note=None, notebook="layernorm"):
    """The report entry of one hostile submission: its score, and the words that explain it."""
    entry = result(graded[0], student, notebook)
    assert entry["score"] == score, entry
    for classmate_notebook in ("layernorm", "rmsnorm", "prenorm"):  # the honest classmate, same run
        classmate = result(graded[0], "alice", classmate_notebook)
        assert (classmate["score"], classmate["status"], classmate["flags"]) == (3.0, "graded", []), classmate
    if status:
        assert entry["status"] == status, entry
    if reason:
        assert reason in entry["reason"], entry
    if note:
        assert any(note in n for n in entry["notes"]), entry
    return entry


def test_reference_student_unaffected(graded):
    for notebook in ("layernorm", "rmsnorm", "prenorm"):
        expect(graded, "alice", 3.0, status="graded", notebook=notebook)


def test_invalid_json(graded):
    expect(graded, "h_invalid_json", 0.0, "failed", reason="invalid JSON at line 1")


def test_zero_byte_file(graded):
    expect(graded, "h_zero_byte", 0.0, "failed", reason="empty file (0 bytes)")


def test_missing_notebook(graded):
    expect(graded, "h_missing", 3.0, notebook="rmsnorm")
    assert expect(graded, "h_missing", 0.0, "failed", reason="missing notebook")["max_score"] == 3.0


def test_wrong_file_name_is_reported_not_dropped(fresh_course, tmp_path):
    klass = Class(fresh_course)
    downloads = tmp_path / "downloads"
    downloads.mkdir()
    nbformat.write(klass.notebook("layernorm"), downloads / "bob_layernorm.ipynb")
    nbformat.write(klass.notebook("rmsnorm"), downloads / "bob_rms-norm (1).ipynb")
    rep = collect(fresh_course, str(downloads), log=lambda *_: None)
    assert [c["student"] for c in rep["collected"]] == ["bob"]
    [unmatched] = rep["unmatched"]
    assert unmatched["file"] == "bob_rms-norm (1).ipynb"
    assert "rename the file to 'bob_rmsnorm.ipynb'" in unmatched["reason"]  # the fix, with the real name
    assert os.path.exists(unmatched["kept_as"])


def test_deleted_cells(graded):
    expect(graded, "h_deleted", 3.0, note="deleted test/locked cell(s) layer_norm_shape: restored")


def test_duplicated_cells(graded):  # the broken copy after the tests is not run
    expect(graded, "h_duplicated", 3.0, note="duplicated cell layer_norm (2 copies): graded copy 1 of 2")


def test_pasted_answer_cell_grades_the_fixed_copy(graded):  # item 9: the first copy (identity) would give 1
    expect(
        graded,
        "h_pasted_fix",
        3.0,
        "graded",
        note="duplicated cell layer_norm (2 copies): graded copy 2 of 2, the last one before its test",
    )


def test_reordered_cells(graded):
    expect(graded, "h_reordered", 3.0, note="reordered")


def test_edited_test_cells(graded):  # `pass` would have given 3
    expect(
        graded, "h_edited_test", 0.0, note="edited test/locked cell(s) layer_norm_shape, layer_norm_values: restored"
    )


def test_edited_locked_cell(graded):  # with x = zeros the wrong answer would pass everything (3)
    expect(graded, "h_edited_locked", 1.0, note="edited test/locked cell(s) layer_norm_setup")


def test_infinite_loop_is_interrupted(graded):  # the answer never got defined: its tests fail
    expect(graded, "h_timeout", 0.0, "problem", note="cell still running after 6 s: interrupted", notebook="rmsnorm")


def test_timeout_interrupts_the_cell_not_the_notebook(graded):  # item 7: the question after it is graded
    entry = expect(graded, "h_slow_extra", 3.0, "problem", note="cell still running after 6 s: interrupted")
    assert "an infinite loop?" in entry["reason"] and "the notebook went on" in entry["reason"]
    assert "did not stop when interrupted" not in entry["reason"]


def test_cell_that_ignores_the_interrupt_is_killed(graded):
    expect(graded, "h_stubborn", 0.0, "problem", reason="did not stop when interrupted: stopped")


# Disk bombs, written as a student would: many large files (up to 3 GB), and many empty
# files (up to 300,000), each for at most 20 s, in the kernel's working folder.
DISK_MB = 64
BYTE_BOMB = """import time
started, written, files = time.monotonic(), 0, 0
block = b'x' * (60 * 2 ** 20)
while written < 3 * 2 ** 30 and time.monotonic() - started < 20:
    with open(f'filler-{files}.bin', 'wb') as f:
        f.write(block)
    written, files = written + len(block), files + 1
print(f'wrote {written >> 20} MB in {files} files')
"""
INODE_BOMB = """import os, time
os.makedirs('empty', exist_ok=True)
started = time.monotonic()
for files in range(300_000):
    open(f'empty/{files}', 'w').close()
    if time.monotonic() - started > 20:
        break
print(f'created {files + 1} files')
"""


@pytest.fixture(scope="session")
def memory_graded(released_course, tmp_path_factory):
    """Memory and disk bombs in a run of their own, beside an honest classmate: the cell
    timeout (120 s) is far above the time any machine needs to fill the memory limit
    (first-touch memory on this VM: ~60-230 MB/s), so a memory bomb can only end at the
    limit, never as a timeout.  The host's disk (the file systems of /tmp and the course)
    is sampled during the whole run: `HostDiskSampler.growth()` is the third item."""
    course = copy_course(released_course, tmp_path_factory.mktemp("memory") / "course")
    klass = Class(course)
    ln = "layernorm"
    klass.submit_all_correct("alice")
    klass.submit("h_memory", ln, klass.notebook(ln, {"layer_norm": MEMORY_BOMB + CORRECT_LN}))
    klass.submit("h_memory_extra", ln, klass.notebook(ln, edit=extra_cell_after("layer_norm_setup", MEMORY_BOMB)))
    klass.submit("h_disk_bytes", ln, klass.notebook(ln, edit=extra_cell_after("layer_norm_setup", BYTE_BOMB)))
    klass.submit("h_disk_files", ln, klass.notebook(ln, edit=extra_cell_after("layer_norm_setup", INODE_BOMB)))
    limits = Limits(timeout=120, memory_bytes=MEMORY_BOMB_MB * 2**20, interrupt_grace=3, disk_bytes=DISK_MB * 2**20)
    with HostDiskSampler(tempfile.gettempdir(), course.root) as host:
        summary = grade(course, [ASSIGNMENT], jobs=2, limits=limits, log=lambda *_: None)
    return course, summary, host.growth()


def _has_memory_cgroup(memory_graded):
    return memory_graded[1]["sandbox"]["memory"].startswith("cgroup")


def test_memory_bomb_is_killed_at_the_limit(memory_graded):  # item 6: a real memory limit where there is one
    cgroup = _has_memory_cgroup(memory_graded)
    entry = expect(memory_graded, "h_memory", 0.0, "problem" if cgroup else None)
    text = " ".join(entry["notes"] + [entry["reason"]])
    assert "interrupted" not in text and "still running" not in text, entry  # the limit ended it, not the timeout
    executed = autograded(memory_graded[0], "h_memory", "layernorm")
    if cgroup:  # killed by the OOM killer at once, reported as the memory limit
        assert f"went over the memory limit ({MEMORY_BOMB_MB} MB, cgroup" in entry["reason"], entry
        assert "OOM killer" in entry["reason"] and "SIGKILL" in entry["reason"], entry
        assert [o.ename for o in cell_by_id(executed, "layer_norm").outputs] == ["MemoryLimit"]
    else:  # the address-space rlimit: the allocation fails inside the cell
        assert any("layer_norm' raised" in n for n in entry["notes"]), entry
    for grade_id in ("layer_norm_shape", "layer_norm_values"):  # its tests ran (in a fresh kernel): 0 points
        assert [o.ename for o in cell_by_id(executed, grade_id).outputs if o.output_type == "error"] == ["NameError"]


def test_memory_bomb_costs_only_its_own_cell(memory_graded):  # the rest of the notebook is graded
    cgroup = _has_memory_cgroup(memory_graded)
    entry = expect(memory_graded, "h_memory_extra", 3.0, "problem" if cgroup else None)
    if cgroup:
        assert f"went over the memory limit ({MEMORY_BOMB_MB} MB" in entry["reason"], entry
        assert "run again in a fresh kernel without that cell" in entry["reason"], entry


def _disk_bomb(memory_graded, student):
    """The bomb's own report entry (its answers are right: 3 points) after checking that
    the host's disk barely changed while the class was graded (where the machine allows
    a bound at all; elsewhere the summary must say there is none)."""
    grown_bytes, grown_inodes = memory_graded[2]
    print(f"{student}: the host's disk grew by {grown_bytes / 2**20:.1f} MB and {grown_inodes} inodes during the run")
    disk = memory_graded[1]["sandbox"]["disk"]
    entry = expect(memory_graded, student, 3.0)
    if not disk.startswith("tmpfs"):
        assert "NOT bounded" in disk, disk
        return entry, None
    assert grown_bytes < 100 * 2**20 and grown_inodes < 5_000, memory_graded[2]
    assert entry["status"] == "problem", entry
    assert f"this notebook's disk space ({DISK_MB} MB," in entry["reason"] and "is full" in entry["reason"], entry
    executed = autograded(memory_graded[0], student, "layernorm")
    bomb = all_output_text(executed.cells[executed.cells.index(cell_by_id(executed, "layer_norm_setup")) + 1])
    assert "No space left on device" in bomb and f"this notebook's disk space ({DISK_MB} MB," in bomb, bomb
    return entry, bomb


def test_byte_bomb_fills_only_its_own_disk_space(memory_graded):  # issue 25: 60 MB files, up to 3 GB
    _disk_bomb(memory_graded, "h_disk_bytes")


def test_inode_bomb_fills_only_its_own_disk_space(memory_graded):  # issue 25: up to 300,000 empty files
    _disk_bomb(memory_graded, "h_disk_files")


def test_sys_exit(graded):
    expect(graded, "h_sys_exit", 0.0, "graded", note="raised SystemExit")


def test_os_exit(graded):
    expect(graded, "h_os_exit", 0.0, "problem", reason="kernel died (exited with code 3)")


def test_kernel_crash(graded):
    expect(graded, "h_crash", 0.0, "problem", reason="SIGSEGV")


def test_output_flood_cannot_hide_a_failure(graded):  # item 1: 25 000 characters, then the values test fails
    entry = expect(graded, "h_flood_then_fail", 1.0, note="output truncated")
    values = cell_by_id(autograded(graded[0], "h_flood_then_fail", "layernorm"), "layer_norm_values")
    assert any(o.output_type == "error" for o in values.outputs)
    assert entry["status"] == "graded"


def test_clear_output_gives_the_room_back(graded):  # item 1: 2 x 15 000 characters with a clear between
    entry = expect(graded, "h_clear_output", 1.0)
    assert not any("output truncated" in n for n in entry["notes"]), entry
    shape = cell_by_id(autograded(graded[0], "h_clear_output", "layernorm"), "layer_norm_shape")
    assert "z" * 15_000 in all_output_text(shape) and "y" * 100 not in all_output_text(shape)


def test_gigantic_output_is_truncated(graded):
    expect(graded, "h_output", 3.0, note="output truncated")
    assert os.path.getsize(graded[0].autograded_notebook("h_output", ASSIGNMENT, "layernorm")) < 200_000


def test_monkeypatched_allclose(graded):  # shape right, values wrong; the patch would have given 3
    expect(graded, "h_allclose", 1.0, note="torch.allclose")


def test_monkeypatched_torch_testing(graded):  # the hidden assert_close test fails once restored
    expect(graded, "h_testing", 1.0, note="torch.testing.assert_close", notebook="rmsnorm")


def test_monkeypatched_builtins(graded):  # the fake tuple() would have passed the shape test
    expect(graded, "h_builtins", 0.0, note="builtins.tuple")


def test_monkeypatched_test_helpers(graded):  # with the fake normlab.RMSNorm it would be 3
    expect(graded, "h_helpers", 1.0, note="normlab.RMSNorm", notebook="rmsnorm")


def test_swapped_code_of_a_test_helper_is_restored(graded):  # item 2: same function object, new __code__
    entry = expect(graded, "h_code_swap", 1.0, note="torch.testing.assert_close.__code__", notebook="rmsnorm")
    assert entry["flags"], entry


def test_unregistered_guard_hook_is_put_back(graded):  # item 2: the hook goes, allclose is patched
    entry = expect(graded, "h_unhook", 1.0, note="shell.events['post_run_cell']")
    assert any("torch.allclose" in n for n in entry["notes"]) and entry["flags"], entry


def test_replaced_guard_is_caught(graded):  # item 2: a fake guard answers "nothing replaced"
    entry = expect(graded, "h_fake_guard", 0.0)
    assert any("not signed by the grader's guard" in f for f in entry["flags"]), entry


def test_tensor_subclass_that_lies_in_allclose(graded):  # zeros: mean test passes, hidden fails
    expect(graded, "h_subclass", 1.0)


def test_torch_function_mode_removed(graded):  # identity: shape passes; the mode would give 3
    expect(graded, "h_mode", 1.0, note="torch function mode Yes")


def test_exception_swallowing_hook_removed(graded):
    expect(graded, "h_swallow", 0.0, note="shell.custom_exceptions")


def test_patching_while_the_test_runs_gives_zero(graded):
    expect(graded, "h_mid_test", 0.0, note="replaced while the test ran: torch.allclose")


def test_cannot_read_hidden_tests_sources_or_other_students(graded):
    course = graded[0]
    nb = autograded(course, "h_snoop", "layernorm")
    text = all_output_text(cell_by_id(nb, "layer_norm"))
    assert "READ" not in text and "HIDDEN-CHECK" not in text
    assert "cwd: ['layernorm.ipynb']" in text
    # a private /tmp: only its own folder, plus this checkout's code when it lives under /tmp
    entries = 1 + str(Path(REPO).resolve()).startswith("/tmp/")
    assert f"tmp holds {entries} entries, 1 kernel folders" in text
    if os.geteuid() == 0:  # item 3 + 4: an allow-list root, its own /proc, no server sockets
        assert "FileNotFoundError" in text and "PermissionError" not in text  # nothing there at all
        root = eval(text.split("root: ")[1].split("\n")[0])
        # the system's folders, plus the top folder of this checkout and of the Python runtime
        # (CI clones to /check/work/main, a developer to /work/main or /home/...)
        runtime = {Path(p).resolve().parts[1] for p in (REPO, sys.prefix, sys.base_prefix)}
        assert (
            set(root)
            <= {
                "bin",
                "dev",
                "etc",
                "lib",
                "lib32",
                "lib64",
                "libx32",
                "proc",
                "root",
                "sbin",
                "tmp",
                "usr",
                "var",
                "opt",
                "home",
                "srv",
                "mnt",
            }
            | runtime
        ), root
        assert "sockets: []" in text
        pids = eval(text.split("pids: ")[1].split("\n")[0])
        assert pids and max(pids) < 100, pids  # a PID namespace: only the kernel's own processes
        assert "pytest" not in text.split("cmdlines: ")[1]
    expect(graded, "h_snoop", 3.0)


def test_cannot_write_the_gradebook(graded):
    course = graded[0]
    text = all_output_text(cell_by_id(autograded(course, "h_gradebook", "layernorm"), "layer_norm"))
    assert "WROTE" not in text and "[" in text
    db = sqlite3.connect(course.db_url[len("sqlite:///") :])
    assert db.execute("select count(*) from grade where auto_score = 99").fetchone() == (0,)
    expect(graded, "alice", 3.0)


def test_no_network(graded):
    course, _, listener = graded
    text = all_output_text(cell_by_id(autograded(course, "h_network", "layernorm"), "layer_norm"))
    assert "CONNECTED" not in text
    assert "OSError" in text or "gaierror" in text
    assert listener.connections == 0
    expect(graded, "h_network", 3.0)  # its answer is right: the failed connections cost nothing


def _encodings(text):
    """The text as a student could smuggle it: plain, rot13, base64 and hex runs, reversed."""
    import re

    decoded = [text, codecs.decode(text, "rot13"), text[::-1]]
    for run in re.findall(r"[A-Za-z0-9+/=]{24,}", text):
        try:
            decoded.append(base64.b64decode(run + "=" * (-len(run) % 4)).decode("utf-8", "replace"))
        except ValueError:
            pass
    for run in re.findall(r"\b[0-9a-f]{24,}\b", text):
        decoded.append(bytes.fromhex(run[: len(run) // 2 * 2]).decode("utf-8", "replace"))
    return decoded


def test_hidden_tests_never_enter_the_kernels_history(graded):  # item 8: In, _ih, _i, linecache
    course = graded[0]
    nb = autograded(course, "h_history", "layernorm")
    printed = all_output_text(nb.cells[-1])
    assert "torch.randn(2, 5, 8)" in printed  # the history was printed (the setup cell)...
    assert "tuple(layer_norm(x).shape)" not in printed  # ...without any test cell in it
    assert not any("HIDDEN-CHECK" in t for t in _encodings(printed))
    expect(graded, "h_history", 3.0)


def test_feedback_never_quotes_hidden_tests_in_any_encoding(graded):  # item 8: stolen from the caller's frame
    from autograder.feedback import feedback

    course = graded[0]
    stash = all_output_text(autograded(course, "h_stash", "layernorm").cells[-1])
    assert any("HIDDEN-CHECK" in t for t in _encodings(stash))  # the theft worked inside the kernel
    feedback(course, [ASSIGNMENT], log=lambda *_: None)
    for student in ("h_stash", "h_history", "alice"):
        with open(course.path("feedback", student, ASSIGNMENT, "layernorm.html")) as f:
            page = f.read()
        assert not any("HIDDEN-CHECK" in t for t in _encodings(page)), student
    expect(graded, "h_stash", 3.0)


def test_no_process_outlives_its_kernel(graded):  # item 5: new sessions, a double-forked daemon
    leftovers = []
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as f:
                if f.read().split(b"\0")[:2] in ([b"sleep", b"4242"], [b"sleep", b"4243"]):
                    leftovers.append(cmdline)
        except OSError:
            pass
    assert not leftovers
    expect(graded, "h_leftover", 3.0)


# Written as a student would who wants a process to survive grading: the kernel clears its
# own parent-death signal ("do not kill me when my parent dies") and starts a daemon.
SURVIVOR = """import ctypes, subprocess, time
ctypes.CDLL(None).prctl(1, 0, 0, 0, 0)                          # PR_SET_PDEATHSIG 0
subprocess.Popen(['sleep', '4244'], start_new_session=True)
time.sleep(8)                                                   # still running when the grader dies
"""


def test_nothing_outlives_a_killed_grader(fresh_course):  # item 5: the grader is SIGKILLed mid-run
    """The grader dies (the OOM killer, `kill -9`) while a kernel that cleared its own
    parent-death signal is running, with a daemon in a new session: every process the run
    started (zygote, kernels, the daemon) is gone within seconds, and the next run grades the
    class, the classmate included, as if nothing had happened."""
    import subprocess
    import time

    klass = Class(fresh_course)
    klass.submit("h_survivor", "layernorm", klass.notebook("layernorm", {"layer_norm": SURVIVOR + CORRECT_LN}))
    klass.submit_all_correct("alice")
    command = [sys.executable, "-m", "autograder", "--course", fresh_course.root, "--exercises", FIXTURES, "grade"]
    grader = subprocess.Popen(
        [*command, ASSIGNMENT, "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT
    )
    started, daemon = time.monotonic(), None
    while daemon is None:  # wait until the hostile kernel has started its daemon
        assert time.monotonic() - started < 120 and grader.poll() is None, "the hostile kernel never ran"
        started_by_run = descendants(grader.pid)
        for pid in started_by_run:
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    if f.read().split(b"\0")[:2] == [b"sleep", b"4244"]:
                        daemon = pid
            except OSError:
                pass
        time.sleep(0.1)
    os.kill(grader.pid, signal.SIGKILL)
    grader.wait(10)
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in started_by_run) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in started_by_run if alive(pid)], "processes outlived the killed grader"
    # nor did its kernels' working folders (the zygote's reaper removed them: kernel/client.py)
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"ag-kernels-{grader.pid}-*"))
    summary = grade(fresh_course, [ASSIGNMENT], jobs=2, limits=Limits(timeout=30), log=lambda *_: None)
    assert summary["graded"] >= 4
    for cgroups in ("/sys/fs/cgroup", "/sys/fs/cgroup/*"):  # the killed run's cgroups: emptied and removed
        assert not glob.glob(f"{cgroups}/normlab-autograder/run-*-{grader.pid}-*")
    assert report(fresh_course, "h_survivor")["layernorm"]["score"] == 3.0  # the code is a correct answer
    for notebook in ("layernorm", "rmsnorm", "prenorm"):
        assert (
            report(fresh_course, "alice")[notebook]["score"],
            report(fresh_course, "alice")[notebook]["status"],
        ) == (
            3.0,
            "graded",
        )


def test_no_kernel_folder_outlives_the_run(graded):
    """The run graded in this process (timeouts, dead kernels, memory re-runs included) left
    no kernel working folder in the temp folder: each zygote's folder went with it."""
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"ag-kernel*-{os.getpid()}-*"))


def test_summary_says_which_limits_applied(graded):  # item 6
    sandbox = graded[1]["sandbox"]
    assert {"memory", "processes", "filesystem", "namespaces", "disk", "uids"} <= set(sandbox)
    if os.geteuid() == 0:
        assert sandbox["filesystem"] == "allow-list root (pivot_root)"


def test_fresh_uids_avoid_every_uid_in_use(monkeypatch):  # item 5: no leftover can hold the next run's uid
    from autograder.kernel import sandbox

    class Picks:
        def __init__(self, values):
            self.values = list(values)

        def randrange(self, *_):
            return self.values.pop(0)

    monkeypatch.setattr(sandbox, "_uids_in_use", lambda: {0, 300_005})
    assert sandbox.fresh_uids(count=10, rng=Picks([300_000, 300_006])) == 300_006


def test_pytorch_warning_costs_no_points(graded):
    course = graded[0]
    nb = autograded(course, "h_warning", "layernorm")
    assert "UserWarning" in all_output_text(cell_by_id(nb, "layer_norm_shape"))  # the warning happened
    expect(graded, "h_warning", 3.0)


def test_summary_lists_every_problem(graded):
    _, summary, _ = graded
    listed = {p["submission"] for p in summary["problems"]}
    assert {"ps1/h_timeout/rmsnorm", "ps1/h_os_exit/layernorm", "ps1/h_invalid_json/layernorm"} <= listed
    assert summary["failed"] >= 3 and summary["with_problems"] >= 3


def test_summary_is_honest(graded):  # item 14
    course, summary, _ = graded
    problems = {p["submission"] for p in summary["problems"]}
    assert "ps1/h_allclose/rmsnorm" not in problems  # missing notebooks: not one line each...
    assert summary["missing"]["ps1/h_allclose"] == ["prenorm", "rmsnorm"]  # ...but grouped per student
    assert summary["missing_notebooks"] == sum(len(v) for v in summary["missing"].values()) > 40
    flagged = {item["student"]: " ".join(item["flags"]) for item in summary["flagged"]}
    assert "torch.allclose" in flagged["ps1/h_allclose"] and "not signed" in flagged["ps1/h_fake_guard"]
    assert "ps1/alice" not in flagged
    from autograder.export import export

    export(course, [ASSIGNMENT], log=lambda *_: None)
    import csv

    with open(os.path.join(course.state_dir, "export", "grades.csv")) as f:
        status = {r["student"]: r["status"] for r in csv.DictReader(f)}
    assert status["h_mid_test"].startswith("FLAGGED") and status["alice"] == "ok"


def test_network_guard_without_namespaces():
    """Graders that cannot use namespaces (not root, --no-sandbox) still refuse Python-level
    network calls (an audit hook; C extensions could bypass it, the README says so)."""
    zygote = Zygote(sandbox=False)
    kernel = zygote.spawn()
    try:
        assert kernel.wait_ready(60)
        run = kernel.run_cell("import socket\nsocket.create_connection(('127.0.0.1', 9), timeout=2)", Limits())
        assert run.status == "error" and "network access is disabled while grading" in str(run.outputs)
    finally:
        kernel.discard()
        zygote.close()
