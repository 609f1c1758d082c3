"""The book as a learner reads it (issue 26): the idea on the page, not the plumbing.

Checked from the chapters' markdown, so these tests need no built book:

- no code cell a reader sees (one not tagged remove-input, hide-input, remove-cell,
  hide-cell or quiz) holds build plumbing: a ``glue()`` call, an ``assert``, a bare
  claim check, ``# noqa`` or ``torch.set_num_threads``; and none only prints.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"

CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```[ \t]*$", re.S | re.M)
HIDDEN_TAGS = {"remove-input", "hide-input", "remove-cell", "hide-cell", "quiz"}
PLUMBING_CALLS = {"glue", "check"}  # myst_nb.glue, claims.check
OUTPUT_ONLY_CALLS = {"print", "display"}


def chapter_files() -> list[Path]:
    """Every page of the book written as a notebook (the sample for authors included)."""
    return sorted(p for p in BOOK.glob("*.md") if "code-cell" in p.read_text(encoding="utf-8"))


def code_cells(text: str):
    """(line, tags, source) of each code cell of a MyST notebook."""
    for match in CELL.finditer(text):
        lines = match.group(1).split("\n")
        options: list[str] = []
        if lines and lines[0].startswith("---"):  # a YAML options block
            end = lines[1:].index("---") + 1
            options, lines = lines[1:end], lines[end + 1 :]
        while lines and lines[0].startswith(":"):
            options.append(lines.pop(0))
        tags: set[str] = set()
        for option in options:
            found = re.search(r"tags:\s*\[(.*?)\]", option)
            if found:
                tags |= {t.strip().strip("'\"") for t in found.group(1).split(",")}
        yield text[: match.start()].count("\n") + 1, tags, "\n".join(lines)


def _called(node: ast.AST) -> str:
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        func = node.value.func
        return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return ""


def plumbing(source: str) -> str | None:
    """Why a shown cell is plumbing, or None when it is code a reader should read."""
    if "noqa" in source or "set_num_threads" in source:
        return "noqa / set_num_threads"
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython magics: not plumbing by these rules
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            return "assert"
        if _called(node) in PLUMBING_CALLS:
            return f"{_called(node)}()"
    statements = [s for s in tree.body if not isinstance(s, ast.Import | ast.ImportFrom)]
    if statements and all(_called(s) in OUTPUT_ONLY_CALLS for s in statements):
        return "only prints"
    return None


def shown_plumbing(files: list[Path]) -> list[str]:
    found = []
    for path in files:
        for line, tags, source in code_cells(path.read_text(encoding="utf-8")):
            if tags & HIDDEN_TAGS:
                continue
            why = plumbing(source)
            if why:
                found.append(f"{path.name}:{line}: {why}")
    return found


def test_the_detector_finds_each_kind_of_plumbing():
    assert plumbing('glue("x", 1, display=False)\nhtml_table(rows)')
    assert plumbing("rows = f()\nassert rows\nrows")
    assert plumbing('claims.check("a-claim")')
    assert plumbing("import torch\n\ntorch.set_num_threads(1)\nx = 1")
    assert plumbing("f = lambda z: z   # noqa: E731")
    assert plumbing('print("post-norm trained at depths 2 and 4")')
    assert plumbing("x = 1\n") is None
    assert plumbing('ratio = claims.gradient_profiles("post")\nhtml_table(ratio)') is None


def test_the_detector_reads_cell_tags():
    text = "```{code-cell} ipython3\n:tags: [remove-input]\n\nassert 1\n```\n\n```{code-cell} ipython3\nassert 2\n```\n"
    cells = list(code_cells(text))
    assert [sorted(tags) for _, tags, _ in cells] == [["remove-input"], []]
    assert [source.strip() for *_, source in cells] == ["assert 1", "assert 2"]


@pytest.mark.parametrize("path", chapter_files(), ids=lambda p: p.name)
def test_no_shown_cell_is_plumbing(path):
    found = shown_plumbing([path])
    assert not found, (
        "code cells a reader sees that only glue, assert, check claims or print, or carry "
        "noqa / set_num_threads: tag them remove-input (or move the lines into a remove-input "
        "cell, or into normlab):\n" + "\n".join(found)
    )
