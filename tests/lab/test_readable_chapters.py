"""What a chapter's markdown looks like once opened as a notebook (normlab.book.contents), in-process."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import jupytext
import pytest

from normlab.book.contents import SOURCE_KEY, make_readable, readable_markdown, restore_myst

BOOK = Path(__file__).resolve().parents[2] / "book"
CHAPTERS = sorted(p for p in BOOK.glob("[0-9]*.md"))
# MyST that a plain Markdown renderer shows as raw text (roles and directives other than
# code cells and quizzes, which are cells of their own).
RAW_MYST = re.compile(r"\{(cite|doc|ref|numref|term|glue)[\w:-]*\}`|^(`{3,}|:{3,})\{(?!code-cell|quiz)", re.M)


def test_roles_become_links_and_labels():
    text = (
        "As {cite}`vaswani2017attention` (§3.1) and {cite:p}`xiong2020layer,devlin2019bert` show; "
        "see {doc}`measurements` and {doc}`the exercises <appendix-graded-notebooks>`; "
        "a ratio of {glue:text}`ch4_post_ratio:.2f`."
    )
    shown = readable_markdown(text, BOOK)
    assert "[Vaswani et al. 2017](bibliography.md) (§3.1)" in shown
    assert "[Xiong et al. 2020; Devlin et al. 2019](bibliography.md)" in shown
    assert "[measurements](measurements.md)" in shown and "[the exercises](appendix-graded-notebooks.md)" in shown
    assert "[`ch4_post_ratio`: computed by the code below]" in shown


def test_admonitions_become_quoted_boxes_with_their_markdown_readable():
    text = "```{admonition} Common mistakes\n:class: warning\n- one, {doc}`glossary`\n- two\n```\n"
    assert readable_markdown(text, BOOK) == ("> **Common mistakes**\n>\n> - one, [glossary](glossary.md)\n> - two\n")
    assert readable_markdown("```{note}\nMind the gap.\n```", BOOK) == "> **Note**\n>\n> Mind the gap."


def test_literalinclude_shows_the_code_itself(tmp_path):
    (tmp_path / "book").mkdir()
    (tmp_path / "mod.py").write_text(
        "import x\n\n\n@dataclass\nclass Block:\n    a: int = 1\n\n\ndef other():\n    pass\n"
    )
    text = "```{literalinclude} ../mod.py\n:language: python\n:pyobject: Block\n```"
    shown = readable_markdown(text, tmp_path / "book")
    assert shown == "From [`../mod.py`](../mod.py) `Block`:\n\n```python\n@dataclass\nclass Block:\n    a: int = 1\n```"
    missing = readable_markdown("```{literalinclude} ../nope.py\n```", tmp_path / "book")
    assert "not found" in missing


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[p.stem for p in CHAPTERS])
def test_every_chapter_reads_without_raw_myst_and_saves_back_unchanged(chapter):
    notebook = jupytext.read(chapter)
    original = copy.deepcopy(notebook)
    make_readable(notebook, chapter.parent)
    for cell in notebook.cells:
        if cell.cell_type == "markdown":
            assert not RAW_MYST.search(cell.source), f"{chapter.name}: {cell.source[:300]}"
    restore_myst(notebook, chapter.parent)
    assert notebook == original
    assert not any(SOURCE_KEY in cell.metadata for cell in notebook.cells)


def test_post_norm_chapter_shows_the_post_norm_block_code():
    notebook = jupytext.read(BOOK / "04-post-norm.md")
    make_readable(notebook, BOOK)
    markdown = "\n".join(c.source for c in notebook.cells if c.cell_type == "markdown")
    # the block's forward only (issue 26: not its plot colours and markers)
    assert re.search(r"```python\n\s*def forward\(self, x.*\n(.*\n)*?.*self\.norm1\(x \+ self\._sa_block", markdown)
    assert "PostNormBlock.forward" in markdown


def test_an_edited_cell_keeps_the_learners_text():
    notebook = jupytext.reads("# T\n\nSee {doc}`glossary`.\n", fmt="md:myst")
    make_readable(notebook, BOOK)
    notebook.cells[0].source = "# T\n\nMy own note."
    restore_myst(notebook, BOOK)
    assert notebook.cells[0].source == "# T\n\nMy own note." and not notebook.cells[0].metadata
