"""Grading through Celery workers (autograder/distributed.py), a real Redis broker and a
real PostgreSQL gradebook, both started by fixtures (conftest.py), workers as
subprocesses the fixtures kill: the end-to-end class graded by 2 workers x 1 kernel
gives the same CSV as local sqlite grading; a resubmission regrades only that one; a
worker killed mid-run loses nothing; nothing secret stays in Redis or reaches a kernel."""

import glob
import json
import os
import shutil
import signal
import tempfile
import threading
import time

import nbformat
import pytest
import redis
from autograder_helpers import ASSIGNMENT, ASSIGNMENTS, EXERCISES, GRADE_ARGS, Class, alive, descendants, report, run

from autograder.__main__ import main as cli
from autograder.course import Course
from autograder.grade import grade
from autograder.kernel.client import Limits
from autograder.synthetic import fill, solution_answers

pytestmark = pytest.mark.slow


def psycopg_url(url):
    return url.replace("postgresql://", "postgresql+psycopg://", 1)


def workers_file(course_root):
    with open(os.path.join(course_root, "autograder", "last_grade_workers.json")) as f:
        return json.load(f)


def summary_file(course_root):
    with open(os.path.join(course_root, "autograder", "last_grade_summary.json")) as f:
        return json.load(f)


def grade_via_broker(course_root, db_url, broker, monkeypatch_env, *extra):
    """`grade --broker` as an instructor with a password would run it: the URL in
    $AUTOGRADER_BROKER_URL, `--broker` alone on the command line."""
    monkeypatch_env.setenv("AUTOGRADER_BROKER_URL", broker)
    assert (
        cli(
            [
                "--course",
                str(course_root),
                "--exercises",
                EXERCISES,
                "--db-url",
                db_url,
                "grade",
                "--broker",
                *GRADE_ARGS,
                *extra,
            ]
        )
        == 0
    )
    monkeypatch_env.delenv("AUTOGRADER_BROKER_URL")


@pytest.fixture(scope="session")
def session_env():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


@pytest.fixture(scope="session")
def both_ways(exercise_class, tmp_path_factory, redis_broker, postgres, start_worker, session_env):
    """The end-to-end class graded through workers w1, w2 (1 kernel each) into PostgreSQL and
    exported, beside the same class graded locally (sqlite, --jobs 2: the session's
    conftest.exercise_class, graded once for this file and test_end_to_end.py)."""
    if exercise_class is None:
        pytest.skip("needs 3+ assignments in exercises/")
    remote = tmp_path_factory.mktemp("distributed") / "remote" / "course"
    shutil.copytree(exercise_class.collected, remote)
    os.remove(remote / "gradebook.db")
    db_url = psycopg_url(postgres("distributed"))
    run(remote, "--db-url", db_url, "release")  # the assignments into the new gradebook
    start_worker("w1@test", "w2@test", args=("--concurrency", "1"))
    grade_via_broker(remote, db_url, redis_broker, session_env)
    assert cli(["--course", str(remote), "--exercises", EXERCISES, "--db-url", db_url, "export"]) == 0
    return exercise_class, remote, db_url


@pytest.mark.skipif(len(ASSIGNMENTS) < 3, reason="needs 3+ assignments in exercises/")
def test_two_workers_give_the_same_csv_as_local_grading(both_ways, redis_broker):
    local, remote, _ = both_ways
    for name in ("grades.csv", "questions.csv"):
        assert local.exports[name] == (remote / "autograder" / "export" / name).read_text(), name
    graded_by = workers_file(remote)["workers"]
    assert set(graded_by) == {"w1@test", "w2@test"} and all(graded_by.values())  # both workers graded some
    keys = [k for ks in graded_by.values() for k in ks]
    assert len(keys) == len(set(keys))  # each written once
    # The workers' kernels had the same disk bound as local ones (issue 25).
    disk = [local.summary["sandbox"]["disk"], summary_file(remote)["sandbox"]["disk"]]
    assert disk[0] == disk[1] and disk[1].startswith("tmpfs" if os.geteuid() == 0 else "the host"), disk
    write_ms = workers_file(remote)["write_ms_per_submission"]
    assert write_ms > 0
    print(f"\nPostgreSQL gradebook: {write_ms} ms per submission written")  # for the README's plan (-s)
    # The run leaves nothing in Redis: no task, blob (hidden tests) or result.
    assert redis.Redis.from_url(redis_broker).keys("autograder:*") == []


@pytest.mark.skipif(len(ASSIGNMENTS) < 3, reason="needs 3+ assignments in exercises/")
def test_resubmission_regrades_only_that_one(both_ways, redis_broker, session_env, capsys):
    _, remote, db_url = both_ways
    capsys.readouterr()
    grade_via_broker(remote, db_url, redis_broker, session_env)
    assert "0 to grade" in capsys.readouterr().out
    course = Course(root=str(remote), exercises=EXERCISES, db_url=db_url)
    assignment = course.released()[0]
    [notebook] = course.notebooks(assignment)
    nbformat.write(
        fill(
            course.release_notebook(assignment, notebook),
            solution_answers(course.source_notebook(assignment, notebook)),
        ),
        course.submitted_notebook("s03_unanswered", assignment, notebook),
    )
    grade_via_broker(remote, db_url, redis_broker, session_env)
    out = capsys.readouterr().out
    assert "1 to grade" in out and "graded 1," in out
    assert sum(map(len, workers_file(remote)["workers"].values())) == 1
    with (
        open(os.path.join(course.state_dir, "reports", assignment, "s03_unanswered.json")) as f,
        open(os.path.join(course.state_dir, "reports", assignment, "s01_correct.json")) as g,
    ):
        assert json.load(f)[notebook]["score"] == json.load(g)[notebook]["score"] > 0


SLOW = "import time\ntime.sleep(3)\n"
SNOOP = """import os, glob
seen = repr(dict(os.environ))
for path in glob.glob('/proc/*/cmdline') + glob.glob('/proc/*/environ'):
    try:
        seen += open(path, 'rb').read().decode('latin-1')
    except OSError:
        pass
print(seen)
"""


def test_killed_worker_loses_nothing(fresh_course, redis_broker, start_worker):
    """8 submissions taking 3+ s each on two workers; w-doomed is SIGKILLed while it grades
    one (with a task time limit of 15 s its task goes to another worker 15 +
    VISIBILITY_MARGIN s after it was taken: the floor of this test's time): every submission is still graded once, with the score it deserves (its task went
    to the other worker after the visibility timeout), and a kernel that reads every
    /proc entry and its environment finds no broker password; nothing the killed worker
    started (its zygote, its sandboxed kernels) is left running."""
    klass = Class(fresh_course)
    correct = klass.solutions["layer_norm"]
    for i in range(8):
        klass.submit(f"s{i}", "layernorm", klass.notebook("layernorm", {"layer_norm": SLOW + correct}))
    klass.submit("snoop", "layernorm", klass.notebook("layernorm", {"layer_norm": SNOOP + correct}))
    doomed = start_worker("w-steady@test", "w-doomed@test", args=("--concurrency", "1", "--task-time-limit", "15"))[
        "w-doomed@test"
    ]
    from autograder.distributed import make_app, workers_online

    assert set(workers_online(make_app(redis_broker))) >= {"w-steady@test", "w-doomed@test"}
    app = make_app(redis_broker)
    summary = {}
    coordinator = threading.Thread(
        target=lambda: summary.update(
            grade(
                fresh_course, [ASSIGNMENT], jobs=2, limits=Limits(timeout=8), broker=redis_broker, log=lambda *_: None
            )
        )
    )
    started = time.monotonic()
    coordinator.start()
    lost = []
    while not lost:  # wait until w-doomed is grading a submission, then kill it
        assert time.monotonic() - started < 120 and coordinator.is_alive(), "w-doomed got no task"
        inspect = app.control.inspect(destination=["w-doomed@test"], timeout=0.5)
        active = (inspect.active() or {}).get("w-doomed@test", [])
        lost = [task["args"][0]["key"] for task in active]
    started_by_worker = descendants(doomed.pid)  # its pool, zygote, sandboxed kernels
    os.killpg(doomed.pid, signal.SIGKILL)
    doomed.wait(10)
    coordinator.join(240)
    assert not coordinator.is_alive(), "the coordinator did not finish"
    students = [f"s{i}" for i in range(8)] + ["snoop"]
    graded_by = workers_file(fresh_course.root)["workers"]
    keys = [k for ks in graded_by.values() for k in ks]
    layernorm = [k for k in keys if k.endswith("/layernorm")]
    assert sorted(layernorm) == sorted(f"{ASSIGNMENT}/{s}/layernorm" for s in students)  # once each
    assert lost[0] not in graded_by.get("w-doomed@test", [])  # graded again, by a live worker
    full = report(fresh_course, "s0")["layernorm"]["max_score"]
    for student in students:
        entry = report(fresh_course, student)["layernorm"]
        assert entry["status"] == "graded" and entry["score"] == full, (student, entry)
    password = redis.connection.parse_url(redis_broker)["password"]
    with open(fresh_course.autograded_notebook("snoop", ASSIGNMENT, "layernorm")) as f:
        snooped = f.read()
    assert "normlab" in snooped or "PATH" in snooped  # the snoop did run and print
    assert password not in snooped and "AUTOGRADER_BROKER_URL" not in snooped
    assert summary["graded"] >= 9
    deadline = time.monotonic() + 20
    while any(alive(pid) for pid in started_by_worker) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not [pid for pid in started_by_worker if alive(pid)], "processes outlived the killed worker"
    assert not glob.glob(os.path.join(tempfile.gettempdir(), f"ag-kernels-{doomed.pid}-*"))  # its kernels' folders


def test_ctrl_c_leaves_a_consistent_gradebook_and_a_rerun_finishes(fresh_course, redis_broker, start_worker):
    """Ctrl-C on `grade --broker` after some results: it exits 0 with those written (state
    saved, the rest revoked); the re-run grades exactly the rest; nothing left in Redis."""
    import subprocess
    import sys

    from autograder_helpers import FIXTURES

    klass = Class(fresh_course)
    correct = klass.solutions["layer_norm"]
    students = [f"c{i}" for i in range(6)]
    for student in students:
        klass.submit(student, "layernorm", klass.notebook("layernorm", {"layer_norm": SLOW + correct}))
    start_worker("w-ctrlc@test", args=("--concurrency", "1"))
    command = [
        sys.executable,
        "-m",
        "autograder",
        "--course",
        fresh_course.root,
        "--exercises",
        FIXTURES,
        "grade",
        "ps1",
        "--broker",
        "--timeout",
        "8",
        "--jobs",
        "1",
    ]
    env = dict(os.environ, AUTOGRADER_BROKER_URL=redis_broker)
    coordinator = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    state = os.path.join(fresh_course.state_dir, "reports", ASSIGNMENT)
    started = time.monotonic()

    def written():
        return [
            s
            for s in students
            if os.path.exists(os.path.join(state, f"{s}.json"))
            and "layernorm" in report(fresh_course, s)
            and report(fresh_course, s)["layernorm"]["seconds"] > 0
        ]

    while len(written()) < 1:
        assert time.monotonic() - started < 300 and coordinator.poll() is None
        time.sleep(0.2)
    coordinator.send_signal(signal.SIGINT)
    out, _ = coordinator.communicate(timeout=120)
    assert coordinator.returncode == 0, out
    assert "Ctrl-C: stopping" in out and "a re-run grades them" in out
    with open(os.path.join(fresh_course.state_dir, "state.json")) as f:
        done = {k for k, v in json.load(f).items() if k.endswith("/layernorm") and v["digest"]}
    assert 1 <= len(done) < len(students), out
    assert redis.Redis.from_url(redis_broker).keys("autograder:*") == []
    rerun = subprocess.run(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout
    remaining = len(students) - len(done)
    assert f"{remaining} to grade" in rerun.stdout and f"graded {remaining}," in rerun.stdout, rerun.stdout
    full = report(fresh_course, students[0])["layernorm"]["max_score"]
    assert all(report(fresh_course, s)["layernorm"]["score"] == full for s in students)
