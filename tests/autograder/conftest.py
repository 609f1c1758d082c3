"""Fixtures for the autograder tests; helpers live in autograder_helpers.py."""

import glob
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from autograder_helpers import (
    ASSIGNMENTS,
    EXERCISES,
    GRADE_ARGS,
    class_downloads,
    copy_course,
    released_fixture_course,
    run,
)

from autograder.course import Course

# Which xdist worker runs what (`make test` runs -n 2 --dist loadgroup).  The end-to-end
# class is graded once per session (`exercise_class`) for the two files that use it; the
# rest of this folder is the other group.  A session fixture exists once per worker, so a
# group must keep the tests that share one together.
CLASS_FILES = {"test_end_to_end.py", "test_distributed.py"}


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
    """This folder's two xdist groups: the end-to-end class's files, and the rest
    (tests/conftest.py writes the groups where pytest 9's xdist worker reads them)."""
    here = Path(__file__).parent
    for item in items:
        path = Path(str(item.fspath))
        if here in path.parents and item.get_closest_marker("xdist_group") is None:
            item.add_marker(pytest.mark.xdist_group("autograder-class" if path.name in CLASS_FILES else "autograder"))


@pytest.fixture(scope="session")
def released_course(tmp_path_factory):
    """A course folder with ps1 released; copy it (`fresh_course`) before writing to it."""
    return released_fixture_course(tmp_path_factory.mktemp("released") / "course")


@dataclass
class ExerciseClass:
    """The end-to-end class: ten students' LMS downloads of every real exercise, collected."""

    course: Course  # graded with --jobs 2, exported, feedback made
    collected: Path  # the same submissions collected, never graded (copied by test_distributed)
    expected: dict  # (assignment, student) -> "full" | "zero" | "not submitted"
    statuses: dict  # (student, assignment) -> words its status must contain
    exports: dict  # file name -> text of grades.csv and questions.csv of the --jobs 2 run
    summary: dict  # last_grade_summary.json of the --jobs 2 run


@pytest.fixture(scope="session")
def exercise_class(tmp_path_factory):
    """The end-to-end class graded locally ONCE per session (--jobs 2 with export and
    feedback), for test_end_to_end.py and test_distributed.py (which grades `collected`
    through Celery workers, one kernel each, and compares: the grades do not depend on how
    the grading is spread).  None without 3+ exercises.  The exports and summary are kept
    as they were: later tests re-grade `course`."""
    if len(ASSIGNMENTS) < 3:
        return None
    base = tmp_path_factory.mktemp("e2e")
    root2 = base / "jobs2" / "course"
    run(root2, "release")
    course = Course(root=str(root2), exercises=EXERCISES)
    downloads = base / "downloads"
    downloads.mkdir()
    expected, statuses = class_downloads(course, str(downloads))
    run(root2, "collect", str(downloads))
    collected = base / "collected" / "course"
    shutil.copytree(root2, collected)
    run(root2, "grade", "--jobs", "2", *GRADE_ARGS)
    run(root2, "export")
    run(root2, "feedback")
    exports = {name: (root2 / "autograder" / "export" / name).read_text() for name in ("grades.csv", "questions.csv")}
    summary = json.loads((root2 / "autograder" / "last_grade_summary.json").read_text())
    return ExerciseClass(course, collected, expected, statuses, exports, summary)


@pytest.fixture
def fresh_course(released_course, tmp_path):
    return copy_course(released_course, tmp_path / "course")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres(tmp_path_factory):
    """A real PostgreSQL server (Debian's `postgresql`, installed by `make postgresql`):
    initdb + pg_ctl in a temp folder, on a free loopback port, run as the `postgres` user
    (the server refuses root), password authentication; stopped at the end.
    Yields a function: database name -> URL (with its password)."""
    binaries = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not binaries:
        pytest.fail("PostgreSQL is not installed: run `make postgresql` (Debian's postgresql package)")
    bin_dir = os.path.dirname(binaries[-1])
    folder = Path(tempfile.mkdtemp(prefix="ag-postgres-"))  # pytest's own temp root is closed to `postgres`
    os.chmod(folder, 0o755)
    data, sockets = folder / "data", folder / "sockets"
    password = secrets.token_hex(12)
    pwfile = folder / "pw"
    pwfile.write_text(password)
    as_postgres = {}
    if os.geteuid() == 0:
        info = pwd.getpwnam("postgres")
        for path in (folder, pwfile):
            os.chown(path, info.pw_uid, info.pw_gid)
        as_postgres = {"user": info.pw_uid, "group": info.pw_gid}
    sockets.mkdir()
    if as_postgres:
        os.chown(sockets, as_postgres["user"], as_postgres["group"])
    run = lambda *cmd: subprocess.run(cmd, check=True, capture_output=True, **as_postgres)  # noqa: E731
    run(
        f"{bin_dir}/initdb",
        "-D",
        str(data),
        "-U",
        "grader",
        "--auth=scram-sha-256",
        f"--pwfile={pwfile}",
        "--no-sync",
        "-E",
        "UTF8",
    )
    port = _free_port()
    run(
        f"{bin_dir}/pg_ctl",
        "-D",
        str(data),
        "-l",
        str(folder / "log"),
        "-w",
        "-t",
        "60",
        "-o",
        f"-p {port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={sockets} -c fsync=off",
        "start",
    )
    made = set()

    def database(name):
        if name not in made:
            env = dict(os.environ, PGPASSWORD=password)
            subprocess.run(
                [f"{bin_dir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "grader", name],
                check=True,
                capture_output=True,
                env=env,
            )
            made.add(name)
        return f"postgresql://grader:{password}@127.0.0.1:{port}/{name}"

    try:
        yield database
    finally:
        run(f"{bin_dir}/pg_ctl", "-D", str(data), "-m", "immediate", "stop")
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def redis_broker():
    """A real Redis server (Debian's `redis-server`, installed by `make redis`): loopback, a
    free port, a temp folder, no persistence (`save ""`), a password kept in its config file
    (not on its command line).  Yields the broker URL (with the password); stopped at the end."""
    server = shutil.which("redis-server")
    if not server:
        pytest.fail("redis-server is not installed: run `make redis` (Debian's redis-server package)")
    folder = Path(tempfile.mkdtemp(prefix="ag-redis-"))
    password = secrets.token_hex(12)
    port = _free_port()
    config = folder / "redis.conf"
    config.write_text(
        f'bind 127.0.0.1\nport {port}\nsave ""\nappendonly no\ndir {folder}\n'
        f"requirepass {password}\nprotected-mode yes\n"
    )
    os.chmod(config, 0o600)
    proc = subprocess.Popen([server, str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(100):
        try:
            client.ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def start_worker(redis_broker):
    """Starts `python -m autograder worker` subprocesses (the broker URL in their environment,
    not their command line); waits until each answers; kills every one (and with it its fork
    server and kernels) at the end.  Returns start(*names, args=(...)) -> {name: Popen}."""
    started = []

    def start(*names, args=()):
        """Start one worker per name (in parallel: each warms a fork server, ~5 s alone,
        much longer on a loaded machine) and wait until all answer."""
        env = dict(os.environ, AUTOGRADER_BROKER_URL=redis_broker)
        procs = {}
        for name in names:
            procs[name] = subprocess.Popen(
                [sys.executable, "-m", "autograder", "worker", "--name", name, *args],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
                cwd=tempfile.gettempdir(),
            )
            started.append(procs[name])
        from autograder.distributed import make_app

        app = make_app(redis_broker)
        deadline = time.monotonic() + 600
        waiting = set(names)
        while waiting:
            for name in waiting:
                assert procs[name].poll() is None, f"worker {name} exited with {procs[name].returncode}"
            assert time.monotonic() < deadline, f"workers {sorted(waiting)} did not answer within 600 s"
            waiting -= {name for reply in app.control.ping(destination=sorted(waiting), timeout=1.0) for name in reply}
        return procs

    try:
        yield start
    finally:
        for proc in started:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)
