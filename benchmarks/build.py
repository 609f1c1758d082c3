"""Time a cold ``make book`` and the rebuild after touching one chapter (issue 4 goals:
cold <= 5 min, rebuild <= 30 s on 2 cores).

    .venv/bin/python benchmarks/build.py [--chapter book/sample.md] [--copy]

Cold: ``_build`` (which holds the jupyter cache, ``_build/.jupyter_cache``) is removed
first, so every chapter is executed. Rebuild: the chapter's modification time is
updated (its content is unchanged, so jupyter-cache does not re-execute it; Sphinx
re-reads and re-writes it). Both runs go through ``make book``, exactly as a user would.

``--copy`` builds a fresh export of the committed tree (``git archive HEAD``) in a
temporary folder instead, with this checkout's .venv and vendored web assets, so a
shared working tree's ``_build`` (and anyone's build running in it) is left alone.
``--all-chapters`` (with ``--copy``) lists every ``book/*.md`` chapter in the copy's
``_toc.yml``, to time the whole book before every chapter is in the table of contents.

Ends with one line: ``cold_s=<x> rebuild_s=<y>``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def make_book(root: Path, env: dict) -> float:
    start = time.monotonic()
    result = subprocess.run(
        ["make", "book"], cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    seconds = time.monotonic() - start
    if result.returncode != 0:
        print(result.stdout[-6000:])
        sys.exit(f"make book failed (exit {result.returncode}) after {seconds:.0f} s")
    return seconds


def exported_copy() -> Path:
    """HEAD exported to a temporary folder, sharing this checkout's .venv and assets."""
    root = Path(tempfile.mkdtemp(prefix="normlab-build-"))
    archive = subprocess.run(["git", "archive", "HEAD"], cwd=ROOT, stdout=subprocess.PIPE, check=True)
    subprocess.run(["tar", "-x", "-C", str(root)], input=archive.stdout, check=True)
    (root / ".venv").symlink_to(ROOT / ".venv")
    # The Makefile reinstalls (and re-points the shared venv's editable normlab at the
    # copy!) when requirements.txt or pyproject.toml is newer than .venv/.installed;
    # git archive stamps them with the commit time, so date them back.
    for name in ("requirements.txt", "pyproject.toml"):
        os.utime(root / name, (0, 0))
    if (ROOT / "_static" / "vendor").is_dir():
        shutil.copytree(ROOT / "_static" / "vendor", root / "_static" / "vendor")
    return root


def restore_editable_install() -> None:
    """Make sure the shared venv's normlab is still this checkout's src/ (see exported_copy)."""
    check = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "python"), "-c", "import normlab, sys; sys.stdout.write(normlab.__file__)"],
        cwd="/",
        stdout=subprocess.PIPE,
        text=True,
    )
    if not check.stdout.startswith(str(ROOT / "src")):
        print(f"re-pointing the venv's editable normlab at {ROOT} (was {check.stdout!r})", flush=True)
        subprocess.run(
            [str(ROOT / ".venv" / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "-e", str(ROOT)],
            check=True,
        )


def write_full_toc(root: Path) -> None:
    skip = {"intro", "glossary", "bibliography", "AUTHORING"}
    chapters = sorted(p.stem for p in (root / "book").glob("*.md") if p.stem not in skip)
    lines = [
        "format: jb-book",
        "root: book/intro",
        "parts:",
        "  - caption: Chapters",
        "    numbered: true",
        "    chapters:",
    ]
    lines += [f"      - file: book/{name}" for name in chapters]
    lines += [
        "  - caption: Reference",
        "    chapters:",
        "      - file: book/glossary",
        "      - file: book/bibliography",
    ]
    (root / "_toc.yml").write_text("\n".join(lines) + "\n")
    print(f"_toc.yml of the copy lists {len(chapters)} chapters: {', '.join(chapters)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chapter", default="book/sample.md", help="chapter to touch for the rebuild")
    parser.add_argument("--copy", action="store_true", help="build an export of HEAD in a temporary folder")
    parser.add_argument(
        "--all-chapters", action="store_true", help="with --copy: put every book/*.md chapter in the copy's _toc.yml"
    )
    args = parser.parse_args()
    if args.all_chapters and not args.copy:
        sys.exit("--all-chapters rewrites _toc.yml, so it needs --copy")
    root, env = ROOT, dict(os.environ)
    if args.copy:
        root = exported_copy()
        if args.all_chapters:
            write_full_toc(root)
        # the venv's editable normlab points at this checkout: put the copy's first
        env["PYTHONPATH"] = str(root / "src")
        print(f"building an export of HEAD in {root}", flush=True)
    chapter = root / args.chapter
    if not chapter.is_file():
        sys.exit(f"--chapter {args.chapter}: no such file under {root}")

    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores", flush=True)
    shutil.rmtree(root / "_build", ignore_errors=True)  # includes _build/.jupyter_cache
    shutil.rmtree(root / ".jupyter_cache", ignore_errors=True)
    try:
        cold = make_book(root, env)
        print(f"cold make book: {cold:.1f} s", flush=True)
        chapter.touch()
        rebuild = make_book(root, env)
    finally:
        if args.copy:
            restore_editable_install()
    print(f"rebuild after touching {args.chapter}: {rebuild:.1f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    print(f"cold_s={cold:.1f} rebuild_s={rebuild:.1f}")


if __name__ == "__main__":
    main()
