"""Build the book strictly: any Sphinx warning, cell error or broken reference fails.

    python -m normlab.book.build [--root DIR]
    python -m normlab.book.build --execute-only [CHAPTER ...]


Runs ``jupyter-book build <root> --builder html -W -n --keep-going`` (all problems are
reported, then the build fails), streams its output, keeps a copy in
``_build/build.log`` and ends with a summary of every warning, each naming its file.
Notebooks are executed through jupyter-cache (``_build/.jupyter_cache``), so a chapter
whose code did not change is not re-executed. Chapters that are not cached yet are first
executed in parallel, one kernel per core, straight into that cache (Jupyter Book itself
runs them one after another); a chapter that fails there is simply left to the build,
which runs it again and reports the error with its file name.

``--execute-only`` executes chapters (all, or those named, e.g. ``book/09-training-deep-stacks.md``)
in this process's environment, without the cache and without building: how an author checks
that every claim still holds under other CPU kernels or seeds, e.g.
``ATEN_CPU_CAPABILITY=default NORMLAB_SEED_BASE=1000 python -m normlab.book.build --execute-only``.
It prints each chapter's result, and the error of the cell that failed.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ..page.widgets import STATIC_WIDGETS_ENV
from .assets import find_book_root

if TYPE_CHECKING:
    from nbformat import NotebookNode

ANSI_COLOUR = re.compile(r"\x1b\[[0-9;]*m")
PROBLEM = re.compile(r"\b(WARNING|ERROR|CRITICAL|SEVERE)\b[:\]]|Traceback \(most recent call last\)")


def jupyter_book_command(root: Path) -> list[str]:
    # the console script installed beside this interpreter (jupyter_book has no __main__)
    script = Path(sys.executable).parent / "jupyter-book"
    if not script.exists():
        found = shutil.which("jupyter-book")
        if found is None:
            raise SystemExit("normlab.book.build: `jupyter-book` not found; run `make setup`")
        script = Path(found)
    return [str(script), "build", str(root), "--builder", "html", "-W", "-n", "--keep-going"]


def toc_files(root: Path) -> list[Path]:
    """The source files listed in ``_toc.yml`` (root first), in reading order."""
    import yaml

    toc = yaml.safe_load((root / "_toc.yml").read_text())
    names = [toc["root"]]

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "file" in node:
                names.append(node["file"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk({k: v for k, v in toc.items() if k != "root"})
    found = []
    for name in names:
        for suffix in ("", ".md", ".ipynb"):
            path = root / f"{name}{suffix}"
            if path.is_file():
                found.append(path)
                break
    return found


def read_notebook(path: Path, myst_extensions: list[str]) -> NotebookNode | None:
    """The notebook myst-nb will build from `path` (None for a plain Markdown page)."""
    import nbformat
    from myst_nb.core.read import is_myst_markdown_notebook, read_myst_markdown_notebook
    from myst_parser.config.main import MdParserConfig

    from normlab.book.quiz_directive import quiz_cells_to_directives

    text = path.read_text(encoding="utf-8")
    if path.suffix == ".ipynb":
        return nbformat.reads(text, as_version=4)
    text = quiz_cells_to_directives(text, str(path))  # what the build's source-read hands myst-nb
    if not is_myst_markdown_notebook(text):
        return None
    config = MdParserConfig(enable_extensions=set(myst_extensions))
    return read_myst_markdown_notebook(text, config=config, add_source_map=True, path=str(path))


def execute_notebook(path: str, notebook: NotebookNode, timeout: int) -> tuple[NotebookNode, float, str | None]:
    """Run in a worker process: execute like myst-nb does; return (notebook, seconds, error)."""
    from jupyter_cache.executors.utils import single_nb_execution

    result = single_nb_execution(
        notebook, cwd=str(Path(path).parent), timeout=timeout, allow_errors=False, meta_override=True
    )
    return result.nb, result.time, None if result.err is None else type(result.err).__name__


def pre_execute(root: Path, workers: int) -> None:
    """Fill the jupyter cache for uncached chapters, several kernels at a time."""
    import yaml
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    execute = config.get("execute", {}) or {}
    if execute.get("execute_notebooks", "auto") != "cache" or execute.get("cache"):
        return  # only the default cache folder of `execute_notebooks: cache` is filled here
    extensions = (config.get("parse", {}) or {}).get("myst_enable_extensions", []) or []
    cache = get_cache(str(root / "_build" / ".jupyter_cache"))
    todo = []
    for path in toc_files(root):
        notebook = read_notebook(path, extensions)
        if notebook is None:
            continue
        try:
            cache.match_cache_notebook(notebook)
        except KeyError:
            todo.append((path, notebook))
    if len(todo) < 2 or workers < 2:
        return  # nothing to overlap: the build executes it as usual
    print(f"normlab.book.build: executing {len(todo)} chapters, {workers} at a time", flush=True)
    timeout = int(execute.get("timeout", 30))
    # spawn, not fork: a forked child would inherit the cache's open sqlite handle
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(min(workers, len(todo)), mp_context=spawn) as pool:
        jobs = {pool.submit(execute_notebook, str(path), nb, timeout): path for path, nb in todo}
        for job in concurrent.futures.as_completed(jobs):
            path = jobs[job]
            name = path.relative_to(root)
            try:
                executed, seconds, error = job.result()
            except Exception as err:  # a worker crash: leave the chapter to the build
                executed, seconds, error = None, 0.0, f"{type(err).__name__}: {err}"
            if error:
                print(f"normlab.book.build: {name} failed ({error}); the build will run it and report why", flush=True)
                continue
            # cached from this (the only) process: sqlite is not for concurrent writers
            cache.cache_notebook_bundle(
                CacheBundleIn(executed, str(path), data={"execution_seconds": seconds}),
                check_validity=False,
                overwrite=True,
            )
            print(f"normlab.book.build: {name} executed in {seconds:.0f} s", flush=True)


def execute_only(root: Path, names: list[str], workers: int) -> int:
    """Execute the named chapters (default: every chapter) without cache or build; 1 if any fails."""
    import yaml

    config = yaml.safe_load((root / "_config.yml").read_text()) or {}
    extensions = (config.get("parse", {}) or {}).get("myst_enable_extensions", []) or []
    timeout = int((config.get("execute", {}) or {}).get("timeout", 30))
    chapters = [root / name for name in names] if names else toc_files(root)
    missing = [str(path) for path in chapters if not path.is_file()]
    if missing:
        raise SystemExit(f"normlab.book.build: no such chapter {missing}: expected paths such as book/09-....md")
    todo = [(path, nb) for path in chapters if (nb := read_notebook(path, extensions)) is not None]
    failed = []
    spawn = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(max(1, min(workers, len(todo))), mp_context=spawn) as pool:
        jobs = {pool.submit(execute_notebook, str(path), nb, timeout): path for path, nb in todo}
        for job in concurrent.futures.as_completed(jobs):
            path = jobs[job].relative_to(root)
            executed, seconds, error = job.result()
            if error is None:
                print(f"normlab.book.build: {path} executed in {seconds:.0f} s", flush=True)
                continue
            failed.append(str(path))
            outputs = [o for cell in executed.cells for o in cell.get("outputs", []) if o.get("output_type") == "error"]
            detail = f"{outputs[-1]['ename']}: {outputs[-1]['evalue']}" if outputs else error
            print(f"normlab.book.build: {path} FAILED: {ANSI_COLOUR.sub('', detail)}", flush=True)
    print(f"normlab.book.build: {len(todo) - len(failed)} of {len(todo)} chapters executed", flush=True)
    return 1 if failed else 0


def run_build(root: Path) -> tuple[int, list[str]]:
    """Run the build, echoing and logging its output; return (exit code, problem lines)."""
    log_path = root / "_build" / "build.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, STATIC_WIDGETS_ENV: "1", "PYTHONUNBUFFERED": "1"}
    problems = []
    with open(log_path, "w", encoding="utf-8") as log:
        process = subprocess.Popen(
            jupyter_book_command(root),
            cwd=root,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            bufsize=1,
        )
        assert process.stdout is not None  # stdout=PIPE
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
    parser.add_argument(
        "--jobs",
        type=int,
        default=os.cpu_count() or 1,
        help="chapters executed at once before the build (default: one per core)",
    )
    parser.add_argument(
        "--execute-only",
        nargs="*",
        metavar="CHAPTER",
        help="execute these chapters (default: all) in this environment, no cache and no build",
    )
    args = parser.parse_args(argv)
    root = args.root.resolve() if args.root else find_book_root(Path.cwd().resolve())
    if args.execute_only is not None:
        os.environ[STATIC_WIDGETS_ENV] = "1"
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        return execute_only(root, args.execute_only, args.jobs)

    start, started_at = time.monotonic(), time.time()
    # the same environment the build gives its kernels (see normlab.book.offline)
    os.environ[STATIC_WIDGETS_ENV] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    pre_execute(root, args.jobs)
    code, problems = run_build(root)
    seconds = time.monotonic() - start
    reports = failed_notebook_reports(root, since=started_at)

    if code == 0 and not problems and not (root / "_build" / "html" / "index.html").is_file():
        problems.append("jupyter-book exited 0 but wrote no _build/html/index.html")
    if code == 0 and not problems:
        pages = len(list((root / "_build" / "html").rglob("*.html")))
        print(f"\nnormlab.book.build: OK, {pages} HTML files in {root / '_build' / 'html'} ({seconds:.0f} s)")
        return 0

    # Sphinx only re-reads changed files: forget the parsed pages, so the next build
    # reports these problems again instead of passing because nothing changed.
    shutil.rmtree(root / "_build" / ".doctrees", ignore_errors=True)
    print(f"\nnormlab.book.build: FAILED after {seconds:.0f} s (jupyter-book exit code {code}).", file=sys.stderr)
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
