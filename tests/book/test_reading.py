"""The book as a learner reads it (issue 26): the idea on the page, not the plumbing.

Checked from the chapters' markdown, so these tests need no built book:

- no code cell a reader sees (one not tagged remove-input, hide-input, remove-cell,
  hide-cell or quiz) holds build plumbing: a ``glue()`` call, an ``assert``, a bare
  claim check, ``# noqa`` or ``torch.set_num_threads``; and none only prints;
- no cross-reference without its own text (`` {ref}`label` ``, `` {doc}`page` ``) stands
  mid-sentence, where the target's capitalised title would be pasted into the sentence
  ("; The paper's claims next to our measurements has the sweep.").
"""

from __future__ import annotations

import ast
import inspect
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
        "noqa / set_num_threads: tag them remove-input (or move the lines into a remove-cell "
        "cell, or into normlab):\n" + "\n".join(found)
    )


XREF = re.compile(r"\{(ref|doc)\}`([^`<]+)`")  # no explicit text: renders the target's title


def starts_a_sentence(before: str) -> bool:
    """Whether text placed after ``before`` begins a sentence, a list item, a table cell or a
    parenthesis (where a title may stand as it is)."""
    if not before.strip() or re.search(r"\n[ \t]*\n[ \t]*$", before):
        return True  # a paragraph starts here
    if re.search(r"(^|\n)[ \t]*([-*+]|\d+\.)[ \t]+$", before):
        return True  # a list item starts here
    return before.rstrip()[-1] in ".!?:|("


CODE_FENCES = ("{code-cell}", "{literalinclude}", "{code-block}", "{code}")


def without_code(text: str) -> str:
    """The text with code (cells, literal blocks) blanked out line by line; directives such
    as admonitions keep their prose."""
    lines, out, open_directives, in_code = text.split("\n"), [], 0, False
    for line in lines:
        fence = line.strip().startswith("```")
        if in_code:
            in_code = not (fence and line.strip() == "```")
            out.append("")
            continue
        if fence:
            info = line.strip()[3:].strip()
            if info.startswith("{") and not info.startswith(CODE_FENCES):
                open_directives += 1
            elif not info and open_directives:
                open_directives -= 1
            else:
                in_code = True
            out.append("")
            continue
        out.append(line)
    return "\n".join(out)


def titles_mid_sentence(text: str) -> list[str]:
    prose = without_code(text)
    prose = re.sub(r"``.+?``", "code", prose)  # a role written out as code, not used
    return [
        f"line {prose[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
        for m in XREF.finditer(prose)
        if not starts_a_sentence(prose[: m.start()])
    ]


def test_the_cross_reference_check_finds_a_title_pasted_mid_sentence():
    assert titles_mid_sentence("the setting (inputs, loss); {doc}`measurements` has the sweep.")
    assert titles_mid_sentence("starts here, and\n{ref}`curse-of-depth` measures it.")
    assert not titles_mid_sentence("loss); the {doc}`measurements page <measurements>` has it.")
    assert not titles_mid_sentence("Done.\n{doc}`measurements` has the sweep.")
    assert not titles_mid_sentence("Intro\n\n{ref}`curse-of-depth` measures it.")
    assert not titles_mid_sentence("| chapter | what |\n|---|---|\n| {doc}`book/00-preface` | x |")
    assert not titles_mid_sentence("- {doc}`glossary`\n- {doc}`bibliography`")


@pytest.mark.parametrize("path", sorted(BOOK.glob("*.md")), ids=lambda p: p.name)
def test_no_cross_reference_title_is_pasted_mid_sentence(path):
    found = titles_mid_sentence(path.read_text(encoding="utf-8"))
    assert not found, (
        "a cross-reference without its own text renders its target's capitalised title "
        "inside a sentence; give it text, e.g. {doc}`the measurements page <measurements>`:\n" + "\n".join(found)
    )


def test_chapter_10_says_why_its_demo_and_its_table_report_different_entropies():
    """The demo draws shorter sequences than the table above it, so its entropies are
    smaller (at most ln n nats for n tokens); the page must say so next to the demo."""
    from normlab.demos import attention_logits
    from normlab.studies.logits import entropy_vs_qk_scale

    table_seq = inspect.signature(entropy_vs_qk_scale).parameters["seq"].default
    if attention_logits.SEQ == table_seq:
        return
    text = (BOOK / "10-beyond-placement.md").read_text(encoding="utf-8")
    demo = text.index("attention_logits.demo()")
    after = re.sub(r"\s+", " ", without_code(text[demo:])[:2500])
    assert "sequences are shorter" in after and f"ln {table_seq}" in after.replace("\\", ""), (
        "chapter 10's demo uses shorter sequences than its table and the page does not say why "
        "its entropies are smaller"
    )


def test_each_placement_has_a_static_wiring_figure_where_it_is_defined():
    for name, placements in (
        ("03-sublayers", ("post", "pre")),
        ("04-post-norm", ("post",)),
        ("05-pre-norm", ("pre",)),
        ("06-variants", ("sandwich", "res-post", "deepnorm", "parallel")),
    ):
        text = (BOOK / f"{name}.md").read_text(encoding="utf-8")
        for placement in placements:
            assert f'wiring_figure("{placement}")' in text or f'("{placement}", "' in text, (
                f"{name} draws no {placement} wiring figure"
            )


def test_material_off_the_books_topic_is_marked_optional():
    optional = {
        "02-attention-cost": (
            "Inference and the KV cache",
            "Two ways to read a very long paper",
            'A short map of efficient "X-formers"',
            "The critique of the core limitation",
        ),
    }
    for name, headings in optional.items():
        text = (BOOK / f"{name}.md").read_text(encoding="utf-8")
        for heading in headings:
            assert f"## {heading} (optional)\n" in text, f"{name}: '{heading}' is not marked optional"
    ch2 = (BOOK / "02-attention-cost.md").read_text(encoding="utf-8")
    required = ch2[: ch2.index("(optional)\n")]
    assert "## Scaled dot-product attention" in required and "## What it costs" in required


def test_chapter_1_leaves_language_models_in_general_to_an_appendix_and_links_it():
    moved = ("Pre-training, then fine-tuning", "Why one architecture does almost everything")
    ch1 = (BOOK / "01-at-a-glance.md").read_text(encoding="utf-8")
    appendix = (BOOK / "appendix-llm-context.md").read_text(encoding="utf-8")
    for heading in moved:
        assert f"## {heading}" not in ch1, f"chapter 1 still has '{heading}'"
        assert f"## {heading}\n" in appendix, f"the appendix lacks '{heading}'"
    assert "<appendix-llm-context>`" in ch1, "chapter 1 links the appendix with its own text"
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    assert toc.index("caption: Appendices") < toc.index("book/appendix-llm-context"), "it is listed as an appendix"


def glossary_terms() -> set[str]:
    """Every term of the glossary (aliases included: each line that starts an entry)."""
    body = (BOOK / "glossary.md").read_text(encoding="utf-8").split("```{glossary}", 1)[1].split("\n```", 1)[0]
    return {line.strip() for line in body.splitlines() if line.strip() and not line.startswith(" ")}


def test_the_terms_a_learner_met_undefined_are_glossary_entries():
    """Issue 26 found these used before any explanation. As glossary entries, the audit's
    reading-order test (tests/book/test_audit.py, add 9) fails when a page uses one in
    prose before its first {term} link."""
    missing = {
        "Theorem 1",
        "sandwich norm",
        "res-post-norm",
        "DeepNorm",
        "LayerNorm",
        "SwiGLU",
        "RoPE",
        "grouped-query attention",
        "scaled cosine attention",
        "spectral norm",
    } - glossary_terms()
    assert not missing, f"not in the glossary: {sorted(missing)}"


def test_chapter_3_defines_layernorm_before_the_block_counts_its_parameters():
    text = (BOOK / "03-sublayers.md").read_text(encoding="utf-8")
    definition = text.index("(layernorm-defined)=")
    assert definition < text.index("## The block as a function") < text.index("(layernorm-not-batchnorm)=")
    section = text[definition : text.index("## The two core functions do different jobs")]
    for needed in (r"\gamma", r"\beta", r"\sigma^2", "last axis", "nn.LayerNorm", "x = (1, 2, 3, 6)"):
        assert needed in section, f"chapter 3's LayerNorm section lacks {needed!r}"


def test_lemma_3_is_stated_in_chapter_5_before_the_result_it_explains():
    """Issue 26: "the gradient through the final norm is divided by that length" (chapter 5)
    rested on Lemma 3, which arrived four chapters later. It is now stated and measured in
    chapter 5, before that sentence; chapter 9 refers back to it."""
    ch5 = (BOOK / "05-pre-norm.md").read_text(encoding="utf-8")
    ch9 = (BOOK / "09-training-deep-stacks.md").read_text(encoding="utf-8")
    lemma = ch5.index("(lemma-3)=\n### Lemma 3")
    assert lemma < ch5.index("layernorm_jacobian_norm(v)") < ch5.index("the gradient through the final norm is divided")
    assert "layernorm_jacobian_norm" not in ch9 and "(lemma-3)=" not in ch9
    assert "<lemma-3>`" in ch9, "chapter 9 refers back to chapter 5's Lemma 3"
    for qid in ("deep-stacks-lemma3", "deep-stacks-lemma3-value"):
        assert f'quiz.show("{qid}")' in ch5 and f'quiz.show("{qid}")' not in ch9, qid


def test_chapter_4_derives_post_norms_chain_through_the_norms_before_measuring_it():
    """Issue 26: "Chapter 4 never derives why post-norm's gradient does not shrink with depth"."""
    ch4 = (BOOK / "04-post-norm.md").read_text(encoding="utf-8")
    chain = ch4.index("(post-norm-chain)=")
    section = ch4[chain : ch4.index("claims.gradient_profiles")]
    for needed in (r"\prod_{k=l}^{L-1} J_{\mathrm{LN}}", "<lemma-3>`", r"\lVert x_k \rVert^2/d = 1", "{term}`Lemma 2`"):
        assert needed in section, f"chapter 4's chain derivation lacks {needed!r}"


def test_one_synthesis_reconciles_chapter_4_and_chapter_11_and_both_point_to_it():
    """Issue 26: "Chapter 4 blames post-norm's large top-layer gradients, while chapter 11
    blames starved bottom layers. The two are never reconciled." One section does it."""
    page = (BOOK / "post-norm-revisited.md").read_text(encoding="utf-8")
    start = page.index("(post-norm-synthesis)=")
    section = page[start : page.index("\n## ", page.index("## What actually goes wrong", start) + 5)]
    for needed in (
        "**Seen from the top**",
        "**Seen from the bottom**",
        "{term}`amplification effect`",
        "<post-norm-chain>`",
        "<optimiser-diagnosis>`",
        "<curse-of-depth>`",
        "a small gradient is not a small update",
    ):
        assert needed in section, needed
    for name in ("04-post-norm", "11-small-language-model"):
        assert "<post-norm-synthesis>`" in (BOOK / f"{name}.md").read_text(encoding="utf-8"), name
    ch11 = (BOOK / "11-small-language-model.md").read_text(encoding="utf-8")
    assert "Chapter 4 told the other half" not in ch11, "the reconciliation is told once, in the synthesis"


def test_chapter_6_points_to_chapters_4_and_5_and_shows_the_amplification_data_once():
    """Issue 26: chapter 6 re-told chapters 4 and 5 ("Chapters 4 and 5 gave two reasons"),
    and showed the amplification data three times (a table, the demo's figure, the prose)."""
    text = (BOOK / "06-variants.md").read_text(encoding="utf-8")
    section = text[text.index("(why-pre-norm)=") : text.index("```{admonition} Common mistakes")]
    assert "gave two reasons" not in section
    assert "<post-norm-synthesis>`" in section and "<post-norm-chain>`" in section and "<lemma-3>`" in section
    shown = [source.strip() for _, tags, source in code_cells(section) if not tags & HIDDEN_TAGS]
    assert shown == ["from normlab.demos import amplification\n\namplification.demo()"], shown
    assert text.count("amplification.demo()") == 1
