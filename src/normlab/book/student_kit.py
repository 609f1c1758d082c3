"""The student kit: everything a student needs to run the graded notebooks, in one zip.

    python -m normlab.book.student_kit [--root DIR]

The book's Exercises chapter links ``_build/student-kit/normlab-student-kit.zip``
(``{download}`` role); the build makes it when it starts (``normlab.book.reader``), so
a reader of the web book alone can do the exercises. It holds

- a wheel of ``normlab`` (built from this checkout, offline: no build isolation),
- the student notebooks released by ``normlab.book.student_notebooks`` (no solutions, no
  hidden tests),
- ``INSTALL.txt``: the two commands that install it.

The zip is rebuilt only when ``src/``, ``pyproject.toml`` or the notebooks changed.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

KIT_DIR = Path("_build") / "student-kit"
KIT_NAME = "normlab-student-kit.zip"
# the pins the notebooks were tested with, besides normlab itself
RUNTIME_PINS = ("torch", "matplotlib", "ipywidgets", "pyyaml", "numpy", "jupyterlab", "ipykernel", "nbgrader")

INSTALL = """\
normlab student kit: the graded notebooks of "{title}" and the normlab package they import.

Install (Python 3.11, in a new virtual environment), then open a notebook:

    python -m pip install {wheel} -r requirements.txt
    jupyter lab notebooks/

The notebooks: {notebooks}.
"""


def _inputs_hash(root: Path, notebooks: list[Path]) -> str:
    digest = hashlib.sha256()
    files = [root / "pyproject.toml", root / "requirements.txt", *sorted((root / "src").rglob("*")), *notebooks]
    for path in files:
        if path.is_file() and "__pycache__" not in path.parts and ".egg-info" not in str(path):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def build_wheel(root: Path, into: Path) -> Path:
    """A wheel of normlab, built in a copy of the sources (no build/ left in the checkout)."""
    with tempfile.TemporaryDirectory(prefix="normlab-wheel-") as tmp:
        copy = Path(tmp) / "normlab"
        copy.mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (root / name).is_file():
                shutil.copy(root / name, copy / name)
        shutil.copytree(root / "src", copy / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"))
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                "--no-deps",
                "--no-build-isolation",
                "--no-index",
                "-q",
                "-w",
                str(into),
                str(copy),
            ],
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            raise RuntimeError(f"normlab.book.student_kit: building the normlab wheel failed:\n{result.stderr}")
    wheels = sorted(into.glob("normlab-*.whl"))
    if not wheels:
        raise RuntimeError(f"normlab.book.student_kit: pip wrote no normlab wheel into {into}")
    return wheels[-1]


def runtime_requirements(root: Path) -> str:
    """The lines of requirements.txt pinning what the notebooks need at run time."""
    lines = []
    for line in (root / "requirements.txt").read_text().splitlines():
        name = line.split("==")[0].strip().lower()
        if name in RUNTIME_PINS:
            lines.append(line.strip())
    return "\n".join(lines) + "\n"


def build_student_kit(root: Path, notebooks: list[Path], title: str = "normlab") -> Path:
    """Write ``root/_build/student-kit/normlab-student-kit.zip``; return its path."""
    if not notebooks:
        raise RuntimeError("normlab.book.student_kit: no student notebooks to pack")
    out = root / KIT_DIR
    kit, stamp = out / KIT_NAME, out / ".inputs-hash"
    wanted = _inputs_hash(root, notebooks)
    if kit.is_file() and stamp.is_file() and stamp.read_text() == wanted:
        return kit
    shutil.rmtree(out, ignore_errors=True)
    out.mkdir(parents=True)
    wheel = build_wheel(root, out)
    install = INSTALL.format(title=title, wheel=wheel.name, notebooks=", ".join(nb.name for nb in sorted(notebooks)))
    with zipfile.ZipFile(kit, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.write(wheel, wheel.name)
        zf.writestr("requirements.txt", runtime_requirements(root))
        zf.writestr("INSTALL.txt", install)
        for notebook in sorted(notebooks):
            zf.write(notebook, f"notebooks/{notebook.name}")
    wheel.unlink()
    stamp.write_text(wanted)
    return kit


def main(argv: list[str] | None = None) -> int:
    from .assets import find_book_root
    from .student_notebooks import release_student_notebooks

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=None, help="book root (default: found from cwd)")
    args = parser.parse_args(argv)
    root = args.root.resolve() if args.root else find_book_root(Path.cwd().resolve())
    print(build_student_kit(root, release_student_notebooks(root)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
