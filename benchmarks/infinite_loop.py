"""The cost of one infinite-loop submission (issue 23 problem 9): `ordering` with a
`pre_norm_sublayer` that never returns, tried out in its answer cell (under no_grad) and
called again, with autograd on, by its test and by the notebook's self_check() cell.

    .venv/bin/python benchmarks/infinite_loop.py [--timeout 30] [--memory-mb 2000]

Grades it alone (--jobs 1, fork server started in the run) in a temporary course and prints
the wall time and the grader's notes.  Run it with PYTHONPATH pointing at an older checkout
of autograder/ to measure that version the same way.
Last line: infinite_loop_s=<seconds> timeout_s=<timeout>
"""

import argparse
import json
import os
import tempfile
import time

from autograder.course import Course, release
from autograder.grade import grade
from autograder.kernel.client import Limits
from autograder.synthetic import fill, solution_answers, write_submission

EXERCISES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "exercises")
LOOPING = '''def pre_norm_sublayer(x, f, norm):
    """One pre-norm sub-layer, written with a loop that never ends."""
    l = 0
    while l >= 0:
        if l % 2:
            x = x + 0 * f(norm(x))
        else:
            x = x * 1.0
        l += 1
    return x

with torch.no_grad():  # trying it out: no autograd graph here
    pre_norm_sublayer(torch.randn(4, 16, 64), nn.Linear(64, 64), nn.LayerNorm(64))'''


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--timeout", type=float, default=30.0)
    parser.add_argument("--memory-mb", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        course = Course(root=os.path.join(folder, "course"), exercises=EXERCISES)
        release(course, ["ordering"], log=lambda *_: None)
        answers = solution_answers(course.source_notebook("ordering", "ordering"))
        answers["pre_norm_sublayer"] = LOOPING
        nb = fill(course.release_notebook("ordering", "ordering"), answers)
        write_submission(course, "loop", "ordering", "ordering", nb)
        started = time.monotonic()
        summary = grade(
            course, ["ordering"], jobs=1, limits=Limits(timeout=args.timeout, memory_bytes=args.memory_mb * 2**20)
        )
        seconds = time.monotonic() - started
        print(json.dumps(summary["problems"], indent=1))
    print(f"infinite_loop_s={seconds:.1f} timeout_s={args.timeout:g}")


if __name__ == "__main__":
    main()
