"""Plain `nbgrader autograde` vs our `grade`, on the same 60 submissions, in one run.

    .venv/bin/python benchmarks/autograde.py [--students 20] [--jobs 2] [--assignment NAME]

20 synthetic students x 3 notebooks: the first three assignments of exercises/
(one notebook each), or the ps1 fixture (3 notebooks importing torch) if
exercises/ has fewer than three.
Each student answers most notebooks with the instructor's solution and leaves
every third one unanswered, so scores vary.  Both graders start from identical
copies of the same course folder (released, submissions collected), and the
scores are compared cell by cell from their nbgrader gradebooks.
Last line: nbgrader_s_per_sub=<a> ours_s_per_sub=<b> speedup=<c> scores_identical=<true|false>
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

from nbgrader.api import Gradebook

from autograder.course import Course, release
from autograder.grade import grade
from autograder.synthetic import class_of

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIXTURES = os.path.join(REPO, "tests", "autograder", "fixtures")


def pick_assignments(fixtures):
    """(exercises folder, assignments) holding 3 notebooks in total."""
    exercises = os.path.join(REPO, "exercises")
    if not fixtures and os.path.isdir(exercises):
        found = sorted(
            a
            for a in os.listdir(exercises)
            if len([f for f in os.listdir(os.path.join(exercises, a)) if f.endswith(".ipynb")]) == 1
        )
        if len(found) >= 3:
            return exercises, found[:3]
    return FIXTURES, ["ps1"]


def released_class(work, exercises, assignments, students):
    """A course in ``work``/base with ``assignments`` released and ``students`` synthetic
    submissions of each; returns (course, notebooks per student)."""
    base = Course(root=os.path.join(work, "base"), exercises=exercises)
    release(base, assignments, log=lambda *_: None)
    notebooks = 0
    for assignment in assignments:
        class_of(base, assignment, students)
        notebooks += len(base.notebooks(assignment))
    return base, notebooks


def scores(course, assignments):
    out = {}
    with Gradebook(course.db_url, "normlab") as gb:
        for assignment in assignments:
            for submission in gb.find_assignment(assignment).submissions:
                for nb in submission.notebooks:
                    for g in nb.grades:
                        out[(assignment, submission.student_id, nb.name, g.name)] = g.score
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--fixtures", action="store_true", help="use the ps1 fixture, not exercises/")
    args = parser.parse_args()
    exercises, assignments = pick_assignments(args.fixtures)
    work = tempfile.mkdtemp(prefix="ag-bench-")
    try:
        base, notebooks = released_class(work, exercises, assignments, args.students)
        n = args.students * notebooks
        print(
            f"{', '.join(assignments)} from {exercises}: {args.students} students x "
            f"{notebooks} notebooks = {n} submissions; {os.cpu_count()} cores"
        )

        plain = Course(root=os.path.join(work, "plain"), exercises=exercises)
        shutil.rmtree(plain.root)
        shutil.copytree(base.root, plain.root)
        plain = Course(root=plain.root, exercises=exercises)  # rewrites nothing; same db file name
        plain_db = plain.db_url
        t = time.perf_counter()
        for assignment in assignments:
            subprocess.run(
                [
                    os.path.join(os.path.dirname(sys.executable), "nbgrader"),
                    "autograde",
                    assignment,
                    "--force",
                    f"--CourseDirectory.root={plain.root}",
                    f"--CourseDirectory.db_url={plain_db}",
                    "--log-level=ERROR",
                ],
                cwd=plain.root,
                check=True,
            )
        plain_s = (time.perf_counter() - t) / n
        print(f"plain nbgrader autograde: {plain_s * n:.1f} s total, {plain_s:.3f} s/submission")

        ours = Course(root=os.path.join(work, "ours"), exercises=exercises)
        shutil.rmtree(ours.root)
        shutil.copytree(base.root, ours.root)
        ours = Course(root=ours.root, exercises=exercises)
        t = time.perf_counter()
        grade(ours, assignments, jobs=args.jobs, force=True, log=lambda *_: None)
        ours_s = (time.perf_counter() - t) / n
        print(f"autograder grade --jobs {args.jobs}: {ours_s * n:.1f} s total, {ours_s:.3f} s/submission")

        a, b = scores(plain, assignments), scores(ours, assignments)
        identical = a == b and len(a) > 0
        if not identical:
            for key in sorted(set(a) | set(b)):
                if a.get(key) != b.get(key):
                    print(f"  differs {key}: nbgrader={a.get(key)} ours={b.get(key)}")
        total = sum(v or 0 for v in b.values())
        print(f"{len(b)} graded cells compared, total points {total:g}")
        print(
            f"nbgrader_s_per_sub={plain_s:.3f} ours_s_per_sub={ours_s:.3f} "
            f"speedup={plain_s / ours_s:.2f} scores_identical={str(identical).lower()}"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
