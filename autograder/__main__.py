"""The instructor's command:  .venv/bin/python -m autograder <command> [options]

    release   [ASSIGNMENT ...]         exercises/<a>/ -> course/source, course/release (nbgrader)
    collect   PATH [--assignment A]    LMS downloads folder, a .zip, or an nbgrader submitted/ tree
    grade     [ASSIGNMENT ...] [--jobs N] [--force] [--timeout S] [--memory-mb M]
    feedback  [ASSIGNMENT ...]         HTML per student and notebook, hidden tests stripped
    export    [ASSIGNMENT ...]         grades CSV, per-question difficulty CSV, score histogram PNG

Common options: --course DIR (default ./course), --exercises DIR (default ./exercises),
--db-url URL (default sqlite in the course folder; e.g. postgresql://user@host/db).
"""
import argparse
import sys

from .course import DEFAULT_COURSE, DEFAULT_EXERCISES, Course, release
from .kernels import Limits


def ensure_released(course, assignments):
    """Assignments named (or all exercises) that are not released yet get released now."""
    wanted = assignments or course.released() or course.available_exercises()
    missing = [a for a in wanted if a not in course.released()]
    if missing:
        release(course, missing)
    return wanted


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    parser.add_argument("--course", default=DEFAULT_COURSE, help="course folder (created on first use)")
    parser.add_argument("--exercises", default=DEFAULT_EXERCISES, help="folder of <assignment>/<notebook>.ipynb sources")
    parser.add_argument("--db-url", default="", help="gradebook URL (default: sqlite:///<course>/gradebook.db)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("release", help="generate student versions of the assignments")
    p.add_argument("assignments", nargs="*")

    p = commands.add_parser("collect", help="import submissions into course/submitted/")
    p.add_argument("path", help="folder of <student>_<notebook>.ipynb files, a .zip, or a submitted/ tree")
    p.add_argument("--assignment", help="assignment these files belong to (default: infer from names)")

    p = commands.add_parser("grade", help="autograde new or changed submissions")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--jobs", "-j", type=int, default=2, help="submissions graded at once (default 2)")
    p.add_argument("--force", action="store_true", help="re-grade everything, changed or not")
    p.add_argument("--timeout", type=float, default=Limits.timeout, help="seconds per cell (default 30)")
    p.add_argument("--memory-mb", type=int, default=Limits.memory_bytes // 2 ** 20,
                   help="address-space limit of each kernel in MB (default 4096; torch alone maps ~1300)")
    p.add_argument("--no-sandbox", action="store_true", help="no namespaces/uid switch (debugging only)")

    p = commands.add_parser("feedback", help="write feedback HTML (hidden tests stripped)")
    p.add_argument("assignments", nargs="*")

    p = commands.add_parser("export", help="grades CSV, difficulty table, histogram")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", help="output folder (default course/autograder/export)")

    args = parser.parse_args(argv)
    course = Course(root=args.course, exercises=args.exercises, db_url=args.db_url)

    if args.command == "release":
        release(course, args.assignments or None)
    elif args.command == "collect":
        from .collect import collect
        ensure_released(course, [args.assignment] if args.assignment else [])
        report = collect(course, args.path, assignment=args.assignment)
        return 0 if not report["unmatched"] else 0
    elif args.command == "grade":
        from .grade import grade
        assignments = ensure_released(course, args.assignments)
        limits = Limits(timeout=args.timeout, memory_bytes=args.memory_mb * 2 ** 20)
        grade(course, assignments, jobs=max(1, args.jobs), force=args.force, limits=limits,
              sandbox=not args.no_sandbox)
    elif args.command == "feedback":
        from .feedback import feedback
        feedback(course, args.assignments or course.released())
    elif args.command == "export":
        from .export import export
        export(course, args.assignments or course.released(), out=args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
