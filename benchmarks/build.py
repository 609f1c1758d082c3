"""Time a cold ``make book`` and the rebuild after touching one chapter (issue 4 goals:
cold <= 5 min, rebuild <= 30 s on 2 cores).

    .venv/bin/python benchmarks/build.py [--chapter book/sample.md]

Cold: ``_build`` (which holds the jupyter cache, ``_build/.jupyter_cache``) is removed
first, so every chapter is executed. Rebuild: the chapter's modification time is
updated (its content is unchanged, so jupyter-cache does not re-execute it; Sphinx
re-reads and re-writes it). Both runs go through ``make book``, exactly as a user would.

Ends with one line: ``cold_s=<x> rebuild_s=<y>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_book() -> float:
    start = time.monotonic()
    result = subprocess.run(["make", "book"], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        print(result.stdout[-4000:])
        sys.exit(f"make book failed (exit {result.returncode}) after {seconds:.0f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="book/sample.md", help="chapter to touch for the rebuild")
    args = parser.parse_args()
    chapter = ROOT / args.chapter
    if not chapter.is_file():
        sys.exit(f"--chapter {args.chapter}: no such file under {ROOT}")

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    shutil.rmtree(ROOT / "_build", ignore_errors=True)        # includes _build/.jupyter_cache
    shutil.rmtree(ROOT / ".jupyter_cache", ignore_errors=True)
    cold = make_book()
    print(f"cold make book: {cold:.1f} s", flush=True)

    chapter.touch()
    rebuild = make_book()
    print(f"rebuild after touching {args.chapter}: {rebuild:.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"cold_s={cold:.1f} rebuild_s={rebuild:.1f}")


if __name__ == "__main__":
    main()
