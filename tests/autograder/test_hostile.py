"""One test per item of the hostile list (issue 7): every kind gets a deterministic
score with a clear reason, the other submissions are unaffected and the gradebook
stays intact.  All hostile submissions are graded together in ONE run (--jobs 2),
which is itself part of the claim: none of them disturbs the others."""
import os
import socket
import sqlite3
import threading
from pathlib import Path

import nbformat
import pytest
from autograder_helpers import (ASSIGNMENT, FIXTURES, REPO, Class, all_output_text, autograded, cell_by_id,
                                copy_course, report)

from autograder.collect import collect
from autograder.grade import grade
from autograder.kernels import Limits, Zygote

pytestmark = pytest.mark.slow

WRONG_SHAPE = "def layer_norm(x, eps=1e-5):\n    return x.sum(-1)"
IDENTITY = "def layer_norm(x, eps=1e-5):\n    return x"
CORRECT_LN = ("def layer_norm(x, eps=1e-5):\n    mean = x.mean(-1, keepdim=True)\n"
              "    return (x - mean) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)")
SNOOP = """import glob, os
found = {}
for path in {paths!r} + [p for p in glob.glob('/tmp/ag-kernel-*/*.ipynb') if not p.startswith(os.getcwd())]:
    try:
        with open(path) as f:
            found[path] = 'READ ' + f.read()
    except Exception as exc:
        found[path] = type(exc).__name__
print(found)
print('cwd:', sorted(n for n in os.listdir('.') if not n.startswith('.')))
print('tmp holds', len(os.listdir('/tmp')), 'entries,', len(glob.glob('/tmp/ag-kernel-*')), 'kernel folders')
""" + CORRECT_LN


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


def drop(grade_id):
    return lambda nb: nb.cells.remove(cell_by_id(nb, grade_id))


def duplicate_answer_then_break(nb):
    answer = cell_by_id(nb, "layer_norm")
    copy_ = nbformat.from_dict(dict(answer))
    copy_.source = IDENTITY
    nb.cells.append(copy_)   # the copy comes last: executed, it would redefine layer_norm


def edit_tests(nb):
    for grade_id in ("layer_norm_shape", "layer_norm_values"):
        cell_by_id(nb, grade_id).source = "pass"


def edit_setup(nb):
    cell_by_id(nb, "layer_norm_setup").source = "import torch\nx = torch.zeros(2, 5, 8)"


@pytest.fixture(scope="module")
def graded(released_course, tmp_path_factory):
    course = copy_course(released_course, tmp_path_factory.mktemp("hostile") / "course")
    klass = Class(course)
    listener = Listener()
    gradebook = course.db_url[len("sqlite:///"):]
    snoop_paths = [course.source_notebook(ASSIGNMENT, "layernorm"),
                   os.path.join(FIXTURES, ASSIGNMENT, "layernorm.ipynb"),
                   course.submitted_notebook("alice", ASSIGNMENT, "layernorm"),
                   os.path.join(REPO, "tests", "autograder", "conftest.py"), gradebook]
    ln, rms = "layernorm", "rmsnorm"
    klass.submit_all_correct("alice")
    submissions = {
        "h_invalid_json": (ln, '{"cells": [{"cell_type": "code", "source": "print(1)"'),
        "h_zero_byte": (ln, b""),
        "h_deleted": (ln, klass.notebook(ln, edit=drop("layer_norm_shape"))),
        "h_duplicated": (ln, klass.notebook(ln, edit=duplicate_answer_then_break)),
        "h_reordered": (ln, klass.notebook(ln, edit=lambda nb: nb.cells.reverse())),
        "h_edited_test": (ln, klass.notebook(ln, {"layer_norm": WRONG_SHAPE}, edit=edit_tests)),
        "h_edited_locked": (ln, klass.notebook(
            ln, {"layer_norm": "def layer_norm(x, eps=1e-5):\n    return torch.zeros_like(x)"}, edit=edit_setup)),
        "h_timeout": (rms, klass.notebook(rms, {"rms_norm": "while True:\n    pass"})),
        "h_memory": (ln, klass.notebook(ln, {"layer_norm": "hoard = []\nwhile True:\n"
                                                          "    hoard.append(bytearray(10**8))\n" + CORRECT_LN})),
        "h_sys_exit": (ln, klass.notebook(ln, {"layer_norm": "import sys\nsys.exit('bye')\n" + CORRECT_LN})),
        "h_os_exit": (ln, klass.notebook(ln, {"layer_norm": "import os\nos._exit(3)"})),
        "h_crash": (ln, klass.notebook(ln, {"layer_norm": "import ctypes\nctypes.string_at(0)"})),
        "h_output": (ln, klass.notebook(ln, {"layer_norm": CORRECT_LN + "\nprint('spam ' * 2_000_000)"})),
        "h_allclose": (ln, klass.notebook(ln, {"layer_norm": "torch.allclose = lambda *a, **k: True\n" + IDENTITY})),
        "h_testing": (rms, klass.notebook(rms, {"rms_norm": (
            "torch.testing.assert_close = lambda *a, **k: None\ncalls = []\n"
            "def rms_norm(x, eps=1e-6):  # right for the two visible calls only\n"
            "    calls.append(1)\n"
            "    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) if len(calls) <= 2 else x")})),
        "h_builtins": (ln, klass.notebook(ln, {"layer_norm": "import builtins\nbuiltins.tuple = lambda *a: ()\n"
                                                             + WRONG_SHAPE})),
        "h_helpers": (rms, klass.notebook(rms, {"rms_norm": (
            "import normlab\nnormlab.RMSNorm = lambda d: (lambda t: rms_norm(t))\n"
            "def rms_norm(x, eps=1e-6):\n    return 1.5 * x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)")})),
        "h_subclass": (ln, klass.notebook(ln, {"layer_norm": (
            "class Liar(torch.Tensor):\n"
            "    @classmethod\n"
            "    def __torch_function__(cls, func, types, args=(), kwargs=None):\n"
            "        if func is torch.allclose:\n"
            "            return True\n"
            "        return super().__torch_function__(func, types, args, kwargs or {})\n"
            "def layer_norm(x, eps=1e-5):\n    return torch.zeros_like(x).as_subclass(Liar)")})),
        "h_mode": (ln, klass.notebook(ln, {"layer_norm": (
            "from torch.overrides import TorchFunctionMode\n"
            "class Yes(TorchFunctionMode):\n"
            "    def __torch_function__(self, func, types, args=(), kwargs=None):\n"
            "        return True if func is torch.allclose else func(*args, **(kwargs or {}))\n"
            "Yes().__enter__()\n" + IDENTITY)})),
        "h_swallow": (ln, klass.notebook(ln, {"layer_norm": (
            "get_ipython().set_custom_exc((BaseException,), lambda *a, **k: None)\n" + WRONG_SHAPE)})),
        "h_mid_test": (ln, klass.notebook(ln, {"layer_norm": (
            "def layer_norm(x, eps=1e-5):\n    torch.allclose = lambda *a, **k: True\n    return x")})),
        "h_snoop": (ln, klass.notebook(ln, {"layer_norm": SNOOP.replace("{paths!r}", repr(snoop_paths))})),
        "h_gradebook": (ln, klass.notebook(ln, {"layer_norm": (
            f"import sqlite3\nattempts = []\n"
            f"for action in (lambda: sqlite3.connect({gradebook!r}).execute('update grade set auto_score = 99'),\n"
            f"               lambda: open({gradebook!r}, 'w')):\n"
            f"    try:\n        action()\n        attempts.append('WROTE')\n"
            f"    except Exception as exc:\n        attempts.append(type(exc).__name__)\n"
            f"print(attempts)\n" + CORRECT_LN)})),
        "h_network": (ln, klass.notebook(ln, {"layer_norm": (
            f"import socket\nresults = []\nfor address in [('127.0.0.1', {listener.port}), ('pypi.org', 443)]:\n"
            f"    try:\n        socket.create_connection(address, timeout=2)\n        results.append('CONNECTED')\n"
            f"    except OSError as exc:\n        results.append(type(exc).__name__)\nprint(results)\n" + CORRECT_LN)})),
        "h_warning": (ln, klass.notebook(ln, {"layer_norm": (
            "def layer_norm(x, eps=1e-5):\n    x = torch.tensor(x)  # UserWarning: copy construct from a tensor\n"
            "    mean = x.mean(-1, keepdim=True)\n"
            "    return (x - mean) / torch.sqrt(x.var(-1, unbiased=False, keepdim=True) + eps)")})),
    }
    klass.submit("h_missing", rms, klass.notebook(rms))
    for student, (notebook, content) in submissions.items():
        klass.submit(student, notebook, content)
    limits = Limits(timeout=8, memory_bytes=2000 * 2 ** 20)
    summary = grade(course, [ASSIGNMENT], jobs=2, limits=limits, log=lambda *_: None)
    listener.close()
    return course, summary, listener


def result(course, student, notebook="layernorm"):
    return report(course, student)[notebook]


def expect(graded, student, score, status=None, reason=None, note=None, notebook="layernorm"):
    """The report entry of one hostile submission: its score, and the words that explain it."""
    entry = result(graded[0], student, notebook)
    assert entry["score"] == score, entry
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
    assert unmatched["file"] == "bob_rms-norm (1).ipynb" and "matches no released notebook" in unmatched["reason"]
    assert os.path.exists(unmatched["kept_as"])


def test_deleted_cells(graded):
    expect(graded, "h_deleted", 3.0, note="deleted test/locked cell(s) layer_norm_shape: restored")


def test_duplicated_cells(graded):   # the broken later copy is not run
    expect(graded, "h_duplicated", 3.0, note="duplicated cell(s) layer_norm: only the first copy was used")


def test_reordered_cells(graded):
    expect(graded, "h_reordered", 3.0, note="reordered")


def test_edited_test_cells(graded):   # `pass` would have given 3
    expect(graded, "h_edited_test", 0.0,
           note="edited test/locked cell(s) layer_norm_shape, layer_norm_values: restored")


def test_edited_locked_cell(graded):   # with x = zeros the wrong answer would pass everything (3)
    expect(graded, "h_edited_locked", 1.0, note="edited test/locked cell(s) layer_norm_setup")


def test_infinite_loop_times_out(graded):
    expect(graded, "h_timeout", 0.0, "problem", reason="cell still running after 8 s: stopped", notebook="rmsnorm")


def test_memory_bomb_hits_the_limit(graded):
    expect(graded, "h_memory", 0.0, note="raised MemoryError")


def test_sys_exit(graded):
    expect(graded, "h_sys_exit", 0.0, "graded", note="raised SystemExit")


def test_os_exit(graded):
    expect(graded, "h_os_exit", 0.0, "problem", reason="kernel died (exited with code 3)")


def test_kernel_crash(graded):
    expect(graded, "h_crash", 0.0, "problem", reason="SIGSEGV")


def test_gigantic_output_is_truncated(graded):
    expect(graded, "h_output", 3.0, note="output truncated")
    assert os.path.getsize(graded[0].autograded_notebook("h_output", ASSIGNMENT, "layernorm")) < 200_000


def test_monkeypatched_allclose(graded):   # shape right, values wrong; the patch would have given 3
    expect(graded, "h_allclose", 1.0, note="torch.allclose")


def test_monkeypatched_torch_testing(graded):   # the hidden assert_close test fails once restored
    expect(graded, "h_testing", 1.0, note="torch.testing.assert_close", notebook="rmsnorm")


def test_monkeypatched_builtins(graded):   # the fake tuple() would have passed the shape test
    expect(graded, "h_builtins", 0.0, note="builtins.tuple")


def test_monkeypatched_test_helpers(graded):   # with the fake normlab.RMSNorm it would be 3
    expect(graded, "h_helpers", 1.0, note="normlab.RMSNorm", notebook="rmsnorm")


def test_tensor_subclass_that_lies_in_allclose(graded):   # zeros: mean test passes, hidden fails
    expect(graded, "h_subclass", 1.0)


def test_torch_function_mode_removed(graded):   # identity: shape passes; the mode would give 3
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
    expect(graded, "h_snoop", 3.0)


def test_cannot_write_the_gradebook(graded):
    course = graded[0]
    text = all_output_text(cell_by_id(autograded(course, "h_gradebook", "layernorm"), "layer_norm"))
    assert "WROTE" not in text and "[" in text
    db = sqlite3.connect(course.db_url[len("sqlite:///"):])
    assert db.execute("select count(*) from grade where auto_score = 99").fetchone() == (0,)
    expect(graded, "alice", 3.0)


def test_no_network(graded):
    course, _, listener = graded
    text = all_output_text(cell_by_id(autograded(course, "h_network", "layernorm"), "layer_norm"))
    assert "CONNECTED" not in text and "OSError" in text or "gaierror" in text
    assert listener.connections == 0


def test_pytorch_warning_costs_no_points(graded):
    course = graded[0]
    nb = autograded(course, "h_warning", "layernorm")
    assert "UserWarning" in all_output_text(cell_by_id(nb, "layer_norm_shape"))   # the warning happened
    expect(graded, "h_warning", 3.0)


def test_summary_lists_every_problem(graded):
    _, summary, _ = graded
    listed = {p["submission"] for p in summary["problems"]}
    assert {"ps1/h_timeout/rmsnorm", "ps1/h_os_exit/layernorm", "ps1/h_invalid_json/layernorm"} <= listed
    assert summary["failed"] >= 3 and summary["with_problems"] >= 3


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
