"""Local `grade --jobs 2` vs 2 Celery workers x 1 kernel, on the same submissions, in one run.

    .venv/bin/python benchmarks/autograde_broker.py [--students 20] [--fixtures] [--pings 200]

Starts its own redis-server (loopback, free port, temp folder, no persistence) and two
`python -m autograder worker --concurrency 1` subprocesses, grades identical copies of one
course (the same synthetic class as benchmarks/autograde.py) locally and through the
workers, compares the scores cell by cell, and measures the queue itself with tasks that
do nothing (`autograder.ping`): the round trip of one task at a time, the cost per task
when many are queued, and Redis commands per graded submission.
Last line: local_s_per_sub=<a> broker_s_per_sub=<b> queue_roundtrip_ms=<c> queue_ms_per_task=<d>
redis_cmds_per_task=<e> scores_identical=<true|false>
"""

import argparse
import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time

from autograde import pick_assignments, released_class, scores  # benchmarks/autograde.py, beside this script

from autograder.course import Course
from autograder.distributed import PREFIX, QUEUE, make_app, workers_online
from autograder.grade import grade


def start_redis(folder):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    password = secrets.token_hex(12)
    config = os.path.join(folder, "redis.conf")
    with open(config, "w") as f:
        f.write(f'bind 127.0.0.1\nport {port}\nsave ""\nappendonly no\ndir {folder}\nrequirepass {password}\n')
    proc = subprocess.Popen(["redis-server", config], stdout=subprocess.DEVNULL)
    url = f"redis://:{password}@127.0.0.1:{port}/0"
    import redis

    client = redis.Redis.from_url(url)
    for _ in range(200):
        try:
            client.ping()
            return proc, url, client
        except redis.ConnectionError:
            time.sleep(0.05)
    raise SystemExit("redis-server did not start")


def total_commands(client):
    return sum(v["calls"] for k, v in client.info("commandstats").items())


def pings(app, client, count, at_once):
    """Seconds for `count` no-op tasks, `at_once` of them queued at a time."""
    run = secrets.token_hex(8)
    client.set(PREFIX + run, "1", ex=600)
    started = time.perf_counter()
    done = sent = 0
    while done < count:
        while sent < count and sent - done < at_once:
            app.send_task("autograder.ping", args=[run, time.time()], queue=QUEUE)
            sent += 1
        if client.blpop([f"{PREFIX}{run}:results"], timeout=30) is None:
            raise SystemExit("a ping task got no answer in 30 s")
        done += 1
    seconds = time.perf_counter() - started
    client.delete(PREFIX + run, f"{PREFIX}{run}:results")
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--fixtures", action="store_true", help="use the ps1 fixture, not exercises/")
    parser.add_argument("--pings", type=int, default=200)
    args = parser.parse_args()
    exercises, assignments = pick_assignments(args.fixtures)
    work = tempfile.mkdtemp(prefix="ag-bench-broker-")
    workers = []
    redis_proc = None
    try:
        redis_proc, url, client = start_redis(work)
        env = dict(os.environ, AUTOGRADER_BROKER_URL=url)
        for name in ("bench1@local", "bench2@local"):  # warm up while the course is made
            workers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "autograder", "worker", "--name", name, "--concurrency", "1"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    cwd=tempfile.gettempdir(),
                )
            )
        base, notebooks = released_class(work, exercises, assignments, args.students)
        n = args.students * notebooks
        print(
            f"{', '.join(assignments)} from {exercises}: {args.students} students x {notebooks} notebooks "
            f"= {n} submissions; {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
        )

        copies = {}
        for name in ("local", "broker"):
            shutil.copytree(base.root, os.path.join(work, name))
            copies[name] = Course(root=os.path.join(work, name), exercises=exercises)
        t = time.perf_counter()
        grade(copies["local"], assignments, jobs=2, force=True, log=lambda *_: None)
        local_s = (time.perf_counter() - t) / n
        print(
            f"local grade --jobs 2: {local_s * n:.1f} s total, {local_s:.3f} s/submission "
            f"(includes starting its fork server)"
        )

        app = make_app(url)
        deadline = time.monotonic() + 600
        while len(workers_online(app)) < 2:
            if time.monotonic() > deadline or any(w.poll() is not None for w in workers):
                raise SystemExit("the workers did not start")
        before = total_commands(client)
        t = time.perf_counter()
        grade(copies["broker"], assignments, jobs=2, force=True, broker=url, log=lambda *_: None)
        broker_s = (time.perf_counter() - t) / n
        per_task_cmds = (total_commands(client) - before) / n
        with open(os.path.join(copies["broker"].state_dir, "last_grade_workers.json")) as f:
            workers_report = json.load(f)
        split = {w: len(k) for w, k in workers_report["workers"].items()}
        print(
            f"grade --broker, 2 workers x 1 kernel (warm): {broker_s * n:.1f} s total, {broker_s:.3f} s/submission; "
            f"per worker {split}; {per_task_cmds:.1f} Redis commands per submission; gradebook "
            f"writes {workers_report['write_ms_per_submission']} ms per submission (sqlite)"
        )

        serial = pings(app, client, 50, at_once=1)
        queued = pings(app, client, args.pings, at_once=args.pings)
        print(
            f"queue alone (no-op tasks): round trip {1000 * serial / 50:.1f} ms one at a time; "
            f"{1000 * queued / args.pings:.1f} ms per task with {args.pings} queued (2 workers)"
        )

        a, b = scores(copies["local"], assignments), scores(copies["broker"], assignments)
        identical = a == b and len(a) > 0
        for key in sorted(set(a) | set(b)) if not identical else []:
            if a.get(key) != b.get(key):
                print(f"  differs {key}: local={a.get(key)} broker={b.get(key)}")
        print(f"{len(b)} graded cells compared, total points {sum(v or 0 for v in b.values()):g}")
        print(
            f"local_s_per_sub={local_s:.3f} broker_s_per_sub={broker_s:.3f} "
            f"queue_roundtrip_ms={1000 * serial / 50:.1f} queue_ms_per_task={1000 * queued / args.pings:.1f} "
            f"redis_cmds_per_task={per_task_cmds:.1f} scores_identical={str(identical).lower()}"
        )
    finally:
        for worker in workers:
            try:
                os.killpg(worker.pid, 9)
            except ProcessLookupError:
                pass
            worker.wait(10)
        if redis_proc:
            redis_proc.terminate()
            redis_proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
