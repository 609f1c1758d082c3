"""The student kit the Exercises chapter offers (issue 14 item 10): a reader with the
web book alone downloads it, installs it in a fresh environment, and the graded
notebooks import.

The fresh venv gets this venv's third-party packages through a .pth file (no network;
the kit's normlab is installed with ``--no-deps``), never this checkout's normlab.
"""

from __future__ import annotations

import json
import subprocess
import sys
import venv
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
CHAPTER = SITE / "book" / "appendix-graded-notebooks.html"


def kit_from_the_chapter() -> Path:
    """The zip the Exercises chapter links, as the built site serves it."""
    if not CHAPTER.is_file():
        pytest.fail(f"{CHAPTER} is missing: run `make book` first")
    import re

    links = re.findall(r'href="([^"]*normlab-student-kit\.zip)"', CHAPTER.read_text(encoding="utf-8"))
    assert links, "the Exercises chapter links the student kit"
    kit = (CHAPTER.parent / unquote(links[0])).resolve()
    assert kit.is_file(), f"the link points at {kit}, which the build did not write"
    return kit


def import_lines(notebook: Path) -> list[str]:
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    lines = []
    for cell in cells:
        if cell["cell_type"] == "code":
            source = "".join(cell["source"]).splitlines()
            lines += [line for line in source if line.startswith(("import ", "from "))]
    return lines


def test_student_kit_installs_in_a_fresh_venv_and_the_notebooks_import(tmp_path):
    kit = kit_from_the_chapter()
    with zipfile.ZipFile(kit) as zf:
        names = zf.namelist()
        zf.extractall(tmp_path / "kit")
    wheels = [n for n in names if n.endswith(".whl")]
    notebooks = sorted((tmp_path / "kit" / "notebooks").glob("*.ipynb"))
    assert len(wheels) == 1 and "INSTALL.txt" in names and "requirements.txt" in names, names
    assert len(notebooks) >= 4, names
    install = (tmp_path / "kit" / "INSTALL.txt").read_text()
    assert f"pip install {wheels[0]}" in install and "jupyter lab notebooks/" in install, install
    pins = (tmp_path / "kit" / "requirements.txt").read_text()
    assert "torch==2.13.0" in pins

    env = tmp_path / "venv"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    ours = [p for p in sys.path if p.endswith("site-packages")]
    # a plain path line: this venv's packages, without its .pth (the editable normlab)
    Path(site, "outer-venv.pth").write_text("\n".join(ours) + "\n")
    subprocess.run(
        [str(python), "-m", "pip", "install", "-q", "--no-deps", "--no-index", str(tmp_path / "kit" / wheels[0])],
        check=True,
        capture_output=True,
    )

    for notebook in notebooks:
        lines = import_lines(notebook)
        assert any("normlab" in line for line in lines), f"{notebook.name} imports normlab"
        code = "\n".join(lines + ["import normlab, pathlib", "print(pathlib.Path(normlab.__file__).resolve())"])
        result = subprocess.run(
            [str(python), "-c", code],
            capture_output=True,
            text=True,
            cwd=notebook.parent,
            env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        )
        assert result.returncode == 0, f"{notebook.name}: {result.stderr[-2000:]}"
        assert Path(result.stdout.strip().splitlines()[-1]).is_relative_to(env), (
            f"normlab came from {result.stdout.strip()}, not from the kit"
        )
