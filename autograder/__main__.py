"""The instructor's command:  .venv/bin/python -m autograder <command> [options]

    release   [ASSIGNMENT ...]         exercises/<a>/ -> course/source, course/release (nbgrader)
    collect   PATH [--assignment A]    LMS downloads folder, a .zip, or an nbgrader submitted/ tree
    grade     [ASSIGNMENT ...] [--student ID ...] [--jobs N] [--force] [--timeout S] [--memory-mb M]
              [--disk-mb D] [--disk-files F]
    feedback  [ASSIGNMENT ...] [--lms canvas|moodle]   HTML per student and notebook, hidden tests stripped
    export    [ASSIGNMENT ...] [--format csv|canvas|moodle|long] [--missing blank|zero] [--allow-pending]
                                       grades for an LMS, difficulty table, histograms
    roster    import FILE | show       the class list (Canvas gradebook export, Moodle participants, CSV)
    due       ASSIGNMENT DATE          set (or move) a due date; late penalties follow at the next `grade`
    extend    STUDENT ASSIGNMENT HOURS an extension for one student (0 removes it)
    status                             due dates, extensions and late submissions
    migrate   --to URL                 copy the gradebook (e.g. sqlite -> PostgreSQL), then use --db-url URL
    worker    --broker redis://HOST:6379/0 [--concurrency N]   a Celery worker for `grade --broker`

Common options: --course DIR (default: course/ in this checkout, beside exercises/; not the current
folder), --exercises DIR (default: this checkout's exercises/),
--db-url URL (default sqlite in the course folder; e.g. postgresql://user@host/db).  A URL
with a password belongs in the environment variable AUTOGRADER_DB_URL or a file
(--db-url-file), not on the command line, where every local user can read it.
"""

from __future__ import annotations

import argparse
import sys
from urllib.parse import urlsplit

from sqlalchemy.exc import SQLAlchemyError

from .course import DB_URL_ENV, DEFAULT_COURSE, DEFAULT_EXERCISES, Course, release
from .kernel.client import Limits


def ensure_released(course: Course, assignments: list[str]) -> list[str]:
    """Assignments named (or all exercises) that are not released yet get released now."""
    wanted = assignments or course.released() or course.available_exercises()
    missing = [a for a in wanted if a not in course.released()]
    if missing:
        release(course, missing)
    return wanted


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m autograder",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__,
    )
    parser.add_argument(
        "--course",
        default=DEFAULT_COURSE,
        help=f"course folder, created on first use (default: {DEFAULT_COURSE}, beside exercises/ in this checkout)",
    )
    parser.add_argument(
        "--exercises", default=DEFAULT_EXERCISES, help="folder of <assignment>/<notebook>.ipynb sources"
    )
    parser.add_argument(
        "--db-url", default="", help="gradebook URL (default: $AUTOGRADER_DB_URL, else sqlite:///<course>/gradebook.db)"
    )
    parser.add_argument("--db-url-file", help="read the gradebook URL from this file (keeps a password off argv)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("release", help="generate student versions of the assignments")
    p.add_argument("assignments", nargs="*")
    p.add_argument(
        "--due",
        help="due date, e.g. 2026-12-01T23:59:00+01:00 (late policy: nbgrader's "
        "LateSubmissionPlugin in course/nbgrader_config.py)",
    )

    p = commands.add_parser("collect", help="import submissions into course/submitted/")
    p.add_argument("path", help="folder of <student>_<notebook>.ipynb files, a .zip, or a submitted/ tree")
    p.add_argument("--assignment", help="assignment these files belong to (default: infer from names)")
    p.add_argument(
        "--take-late",
        action="store_true",
        help="a late version replaces the on-time one (default: the on-time one counts)",
    )

    p = commands.add_parser("grade", help="autograde new or changed submissions")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--force", action="store_true", help="re-grade everything (or the --student's), changed or not")
    p.add_argument(
        "--student", action="append", default=[], metavar="ID", help="grade only this student (repeat for more)"
    )
    p.add_argument("--timeout", type=float, default=Limits.timeout, help="seconds per cell (default 30)")
    p.add_argument(
        "--memory-mb",
        type=int,
        default=Limits.memory_bytes // 2**20,
        help="memory limit of each kernel in MB: its cgroup's resident memory where the machine has memory cgroups, "
        "else its address space (default 4096; torch alone maps ~1300)",
    )
    p.add_argument(
        "--disk-mb",
        type=int,
        default=Limits.disk_bytes // 2**20,
        help="what each kernel may write, in MB: its working folder, /tmp, /var/tmp and /dev/shm together, a tmpfs "
        "counted in its memory cgroup, so keep it well under --memory-mb (default 256; needs the sandbox: without "
        "it only the file size is bounded)",
    )
    p.add_argument(
        "--disk-files",
        type=int,
        default=Limits.disk_files,
        help="how many files and folders each kernel may have on that tmpfs (default 10000)",
    )
    p.add_argument("--no-sandbox", action="store_true", help="no namespaces/uid switch (debugging only)")
    p.add_argument(
        "--broker",
        nargs="?",
        const="env",
        default="",
        help="grade on Celery workers through this Redis broker, redis://HOST:6379/0 (a URL "
        "with a password: set $AUTOGRADER_BROKER_URL and give --broker alone, or --broker-file)",
    )
    p.add_argument("--broker-file", help="read the broker URL from this file")

    p = commands.add_parser("worker", help="a Celery worker grading for `grade --broker` (autograder.distributed)")
    p.add_argument("--broker", default="", help="redis://HOST:6379/0 (default $AUTOGRADER_BROKER_URL)")
    p.add_argument("--broker-file", help="read the broker URL from this file")
    p.add_argument("--concurrency", "-c", type=int, default=1, help="kernels (submissions at once) of this worker")
    p.add_argument(
        "--task-time-limit",
        type=float,
        default=None,
        help="seconds one submission may take, all its cells (default 900)",
    )
    p.add_argument("--name", help="worker name in reports, NAME or NAME@HOST (default autograder-<pid>@<this host>)")
    p.add_argument(
        "--no-sandbox",
        action="store_true",
        help="warm the fork server for unsandboxed tasks (the coordinator's --no-sandbox decides per task)",
    )

    p = commands.add_parser("feedback", help="write feedback HTML (hidden tests stripped)")
    p.add_argument("assignments", nargs="*")
    p.add_argument(
        "--lms",
        choices=("canvas", "moodle"),
        help="also a zip per assignment named for that LMS's bulk feedback upload",
    )

    p = commands.add_parser("export", help="grades CSV, difficulty table, histogram")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", help="output folder (default course/autograder/export)")
    p.add_argument(
        "--format",
        choices=("csv", "canvas", "moodle", "long"),
        default="csv",
        help="grades file layout: csv (ours), canvas, moodle, long (one row per student and question)",
    )

    p.add_argument(
        "--missing",
        choices=("blank", "zero"),
        default="blank",
        help="a student who did not submit an assignment: blank (default; Canvas and Moodle leave the grade as it "
        "is) or 0",
    )
    p.add_argument(
        "--allow-pending",
        action="store_true",
        help="canvas/moodle: export even while hand grading is pending (the autograded part only)",
    )

    p = commands.add_parser("roster", help="the class list: `roster import FILE` (Canvas, Moodle or plain CSV)")
    p.add_argument("action", choices=("import", "show"))
    p.add_argument("file", nargs="?", help="Canvas gradebook export, Moodle participants export, or id,name CSV")

    p = commands.add_parser("due", help="set an assignment's due date (the release stays as it is)")
    p.add_argument("assignment")
    p.add_argument("date", help="e.g. 2026-12-01T23:59:00+01:00 (UTC when no zone is given)")

    p = commands.add_parser("extend", help="give one student more time on an assignment")
    p.add_argument("student")
    p.add_argument("assignment")
    p.add_argument("hours", type=float, help="hours after the due date (0 removes the extension)")

    commands.add_parser("status", help="due dates, extensions and late submissions")

    p = commands.add_parser("migrate", help="copy the gradebook into another database")
    p.add_argument("--to", required=True, help="target URL, e.g. postgresql://grader@127.0.0.1:5432/course")

    args = parser.parse_args(argv)
    if args.command == "worker":  # needs no course folder: everything comes with the tasks
        from .distributed import TASK_TIME_LIMIT, broker_url, run_worker

        run_worker(
            broker_url(args.broker, args.broker_file),
            concurrency=max(1, args.concurrency),
            task_time_limit=args.task_time_limit or TASK_TIME_LIMIT,
            name=args.name,
            sandbox=not args.no_sandbox,
        )
        return 0
    db_url = args.db_url
    if args.db_url_file:
        with open(args.db_url_file) as f:
            db_url = f.read().strip()
    elif db_url and urlsplit(db_url).password:
        print(
            f"warning: --db-url carries a password that other local users can read in the process "
            f"list; use {DB_URL_ENV} or --db-url-file instead",
            file=sys.stderr,
        )
    course = Course(root=args.course, exercises=args.exercises, db_url=db_url)
    try:
        return _run(args, course)
    except SQLAlchemyError as exc:
        first = str(exc).strip().splitlines()[0]
        raise SystemExit(f"cannot use the gradebook {course.db_label}: {first}") from None


def _roster(args: argparse.Namespace, course: Course) -> None:
    from .roster import import_roster, load_roster

    if args.action == "import":
        if not args.file:
            raise SystemExit("roster import needs a FILE: a Canvas gradebook export, Moodle participants export or CSV")
        import_roster(course, args.file)
        return
    roster = load_roster(course)
    if roster is None:
        raise SystemExit("no roster yet: `roster import FILE`")
    for sid, info in sorted(roster["students"].items()):
        print(f"{sid}\t{info.get('name', '')}")


def _run(args: argparse.Namespace, course: Course) -> int:
    if args.command == "release":
        released = release(course, course.check_assignments(args.assignments) if args.assignments else None)
        for assignment in released if args.due else []:
            course.set_due_date(assignment, args.due)
    elif args.command == "collect":
        from .collect import collect

        ensure_released(course, course.check_assignments([args.assignment]) if args.assignment else [])
        collect(course, args.path, assignment=args.assignment, take_late=args.take_late)
    elif args.command == "grade":
        from .grade import grade

        assignments = ensure_released(course, course.check_assignments(args.assignments))
        limits = Limits(
            timeout=args.timeout,
            memory_bytes=args.memory_mb * 2**20,
            disk_bytes=args.disk_mb * 2**20,
            disk_files=args.disk_files,
        )
        broker = None
        if args.broker or args.broker_file:
            from .distributed import broker_url

            broker = broker_url("" if args.broker == "env" else args.broker, args.broker_file)
        grade(
            course,
            assignments,
            jobs=max(1, args.jobs),
            force=args.force,
            limits=limits,
            sandbox=not args.no_sandbox,
            broker=broker,
            students=args.student or None,
        )
    elif args.command == "feedback":
        from .feedback import feedback

        feedback(course, course.check_assignments(args.assignments) or course.released(), lms=args.lms)
    elif args.command == "export":
        from .export import export

        export(
            course,
            course.check_assignments(args.assignments) or course.released(),
            out=args.out,
            fmt=args.format,
            missing=args.missing,
            allow_pending=args.allow_pending,
        )
    elif args.command == "roster":
        _roster(args, course)
    elif args.command == "due":
        course.check_assignments([args.assignment])
        course.set_due_date(args.assignment, args.date)
        print(f"{args.assignment} is due {args.date}; `grade` re-scores the late penalties (nothing runs again)")
    elif args.command == "extend":
        course.check_assignments([args.assignment])
        course.set_extension(args.student, args.assignment, args.hours)
        print(f"{args.student}: {args.hours:g} h extension on {args.assignment}; `grade` applies it")
    elif args.command == "status":
        from .export import lateness_status

        for line in lateness_status(course):
            print(line)
    elif args.command == "migrate":
        from .migrate import migrate

        migrate(course, args.to)
    return 0


if __name__ == "__main__":
    sys.exit(main())
