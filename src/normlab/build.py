"""Build the book strictly: any Sphinx warning, cell error or broken reference fails.

    python -m normlab.build [--root DIR]

Runs ``jupyter-book build <root> --builder html -W -n --keep-going`` (all problems are
reported, then the build fails), streams its output, keeps a copy in
``_build/build.log`` and ends with a summary of every warning, each naming its file.
Notebooks are executed through jupyter-cache (``_build/.jupyter_cache``), so a chapter
whose code did not change is not re-executed.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

from .assets import find_book_root
from .widgets import STATIC_WIDGETS_ENV

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b[:\]]|Traceback \(most recent call last\)")


def jupyter_book_command(root: Path) -> list[str]:
    # the console script installed beside this interpreter (jupyter_book has no __main__)
    script = Path(sys.executable).parent / "jupyter-book"
    if not script.exists():
        script = shutil.which("jupyter-book")
        if script is None:
            raise SystemExit("normlab.build: `jupyter-book` not found; run `make setup`")
    return [str(script), "build", str(root), "--builder", "html", "-W", "-n", "--keep-going"]


def run_build(root: Path) -> tuple[int, list[str]]:
    """Run the build, echoing and logging its output; return (exit code, problem lines)."""
    log_path = root / "_build" / "build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, STATIC_WIDGETS_ENV: "1", "PYTHONUNBUFFERED": "1"}
    problems = []
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            jupyter_book_command(root), cwd=root, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, bufsize=1,
        )
        for line in process.stdout:
            sys.stdout.write(line)
            log.write(line)
            if PROBLEM.search(line):
                problems.append(ANSI_COLOUR.sub("", line).rstrip())
        code = process.wait()
    return code, problems


def failed_notebook_reports(root: Path, since: float) -> list[Path]:
    """Tracebacks of notebooks that failed in this build (older reports are stale)."""
    reports = root / "_build" / "html" / "reports"
    found = reports.rglob("*.err.log") if reports.is_dir() else []
    return sorted(p for p in found if p.stat().st_mtime >= since)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="book root (default: found from cwd)")
    args = parser.parse_args(argv)
    root = args.root.resolve() if args.root else find_book_root(Path.cwd().resolve())

    start, started_at = time.monotonic(), time.time()
    code, problems = run_build(root)
    seconds = time.monotonic() - start
    reports = failed_notebook_reports(root, since=started_at)

    if code == 0 and not problems and not (root / "_build" / "html" / "index.html").is_file():
        problems.append("jupyter-book exited 0 but wrote no _build/html/index.html")
    if code == 0 and not problems:
        pages = len(list((root / "_build" / "html").rglob("*.html")))
        print(f"\nnormlab.build: OK, {pages} HTML files in {root / '_build' / 'html'} ({seconds:.0f} s)")
        return 0

    # Sphinx only re-reads changed files: forget the parsed pages, so the next build
    # reports these problems again instead of passing because nothing changed.
    shutil.rmtree(root / "_build" / ".doctrees", ignore_errors=True)
    print(f"\nnormlab.build: FAILED after {seconds:.0f} s (jupyter-book exit code {code}).", file=sys.stderr)
    if problems:
        print(f"{len(problems)} problem(s), each with the file it is in:", file=sys.stderr)
        for line in problems:
            print(f"  {line}", file=sys.stderr)
    for report in reports:
        print(f"  cell error log: {report.relative_to(root)}", file=sys.stderr)
    print(f"Full log: {root / '_build' / 'build.log'}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
