"""The chapters, checked from the built book (`make book`) and against normlab.

What a reader would notice: a chapter missing from the book or whose code failed, a
chapter without its objectives, common-mistakes box, citations, demo or quiz, a quiz
question that is not on its page, a computed quiz answer that disagrees with the
library, a download link to a student notebook that is broken or leaks a solution.

To add a chapter: one ``Chapter(...)`` line in CHAPTERS, and for each numeric question
of its bank computed with ``answer_from``, one independent computation in
``INDEPENDENT_ANSWERS`` (computed here from normlab's modules, not by calling the same
function the bank names).
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch
import yaml

from normlab.book.quiz_directive import quiz_cells_to_directives
from normlab.quiz import load_bank

ROOT = Path(__file__).resolve().parents[2]
BOOK = ROOT / "book"
BUILD = Path(os.environ.get("NORMLAB_BUILD_DIR", ROOT / "_build"))  # a book built elsewhere
SITE = BUILD / "html"


@dataclass(frozen=True)
class Chapter:
    name: str  # book/<name>.md, book/quizzes/<name>.yml
    demo: bool = True  # at least one precomputed normlab demo
    table: bool = True  # a figure or table computed by its code
    scenario_ids: tuple[str, ...] = ()  # the outline's scenario questions it must ask

    @property
    def source(self) -> Path:
        return BOOK / f"{self.name}.md"

    @property
    def bank(self) -> Path:
        return BOOK / "quizzes" / f"{self.name}.yml"

    @property
    def page(self) -> Path:
        return SITE / "book" / f"{self.name}.html"


CHAPTERS = [
    Chapter("00-preface"),
    Chapter(
        "01-at-a-glance",
        scenario_ids=(
            "ch1-categories",
            "ch1-translation",
            "ch1-objective",
            "ch1-depth",
        ),
    ),
    Chapter("02-attention-cost", scenario_ids=("ch2-long-papers", "ch2-critique")),
    Chapter("03-sublayers", scenario_ids=("ch3-core-function", "ch3-block-sublayers")),
    Chapter("04-post-norm", scenario_ids=("post-norm-formula", "post-norm-unstable-engineer")),
    Chapter("05-pre-norm", scenario_ids=("pre-norm-order-course", "pre-norm-generalized", "pre-norm-choose-deep")),
    Chapter("06-variants", scenario_ids=("variants-prevalence",)),
    Chapter(
        "07-debugging",
        scenario_ids=(
            "debugging-refactor-root-cause",
            "debugging-triage-contract",
            "debugging-migration-check",
            "debugging-silent-regression",
            "debugging-spec-shape",
        ),
    ),
    Chapter(  # chapter 1's sections on language models in general (issue 26); prose, no demo
        "appendix-llm-context",
        demo=False,
        table=False,
        scenario_ids=("ch1-pretrain-finetune", "ch1-enablers", "ch1-generalization"),
    ),
    Chapter("appendix-graded-notebooks"),
    Chapter("appendix-instructors", demo=False, table=False),  # prose about a command line
]
IDS = [c.name for c in CHAPTERS]


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    for part in toc.get("parts", [{"chapters": toc.get("chapters", [])}]):
        files += [entry["file"] for entry in part.get("chapters", [])]
    return files


def built_page(chapter: Chapter) -> str:
    if not chapter.page.is_file():
        pytest.fail(f"{chapter.page} is missing: is book/{chapter.name} in _toc.yml, and did `make book` run?")
    return chapter.page.read_text(encoding="utf-8")


def quiz_ids_in_source(chapter: Chapter) -> list[str]:
    # chapters ask with `quiz.show("<id>")` code cells, which the build turns into {quiz}
    text = quiz_cells_to_directives(chapter.source.read_text(encoding="utf-8"), chapter.source.name)
    return re.findall(r"^```\{quiz\}\s+(\S+)", text, re.M)


def widget_state(html: str) -> dict:
    match = re.search(r'<script type="application/vnd.jupyter.widget-state\+json">(.*?)</script>', html, re.S)
    return json.loads(match.group(1))["state"] if match else {}


# --- the chapter is in the book and its code ran --------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_is_in_the_table_of_contents(chapter):
    assert f"book/{chapter.name}" in toc_files(), f"add `- file: book/{chapter.name}` to _toc.yml"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_executed_without_errors(chapter):
    html = built_page(chapter)
    source = chapter.source.read_text(encoding="utf-8")
    n_cells = len(re.findall(r"^```\{code-cell\}", source, re.M))
    assert n_cells, "a chapter computes something: it has code cells"
    # quiz cells become {quiz} directives at build time and remove-cell cells are hidden:
    # neither leaves a cell output on the page
    hidden = sum(source.count(f":tags: [{tag}]") for tag in ("remove-output", "remove-cell", "quiz"))
    assert html.count('class="cell_output') >= n_cells - hidden, "every code cell shows its output on the page"
    assert "output traceback" not in html and 'class="output error' not in html, "a cell raised an error"
    assert "output stderr" not in html, "a cell wrote to stderr (a warning) on the page"


# --- the parts every chapter has -------------------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_has_objectives_mistakes_and_citations(chapter):
    html = built_page(chapter)
    assert "Learning objectives" in html
    assert re.search(r'class="warning admonition"[^>]*>\s*<p class="admonition-title">Common mistakes', html), (
        "a 'Common mistakes' warning box"
    )
    citations = re.findall(r'<a class="reference internal" href="bibliography\.html#id\d+"', html)
    assert citations, "at least one {cite} into the bibliography"


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.table], ids=[c.name for c in CHAPTERS if c.table])
def test_chapter_has_a_computed_table_or_figure(chapter):
    html = built_page(chapter)
    outputs = re.findall(r'<div class="cell_output docutils container">(.*?)</div>\s*</div>', html, re.S)
    assert any("<img" in o or "<table" in o or "widget-view" in o for o in outputs), (
        "a figure, a table or a demo computed by the chapter's code"
    )


@pytest.mark.parametrize("chapter", [c for c in CHAPTERS if c.demo], ids=[c.name for c in CHAPTERS if c.demo])
def test_chapter_has_a_static_demo_with_variants(chapter):
    html = built_page(chapter)
    state = widget_state(html)
    demos = [k for k, v in state.items() if "normlab-demo" in v["state"].get("_dom_classes", [])]
    assert demos, "a normlab demo (precomputed_demo) with its widget state saved in the page"
    views = re.findall(r'<script type="application/vnd.jupyter.widget-view\+json">(.*?)</script>', html)
    shown = {json.loads(v)["model_id"] for v in views}
    assert shown & set(demos), "the demo's widget is displayed on the page"
    for demo in set(demos) & shown:
        panel, stack = (state[c.removeprefix("IPY_MODEL_")] for c in state[demo]["state"]["children"])
        assert panel["state"]["children"], "the demo has at least one control"
        assert stack["model_name"] == "StackModel" and len(stack["state"]["children"]) >= 2, (
            "a static demo holds at least two precomputed variants for its control to switch between"
        )


# --- quizzes ---------------------------------------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_chapter_quiz_is_on_the_page(chapter):
    html = built_page(chapter)
    asked = quiz_ids_in_source(chapter)
    bank = {q.id: q for q in load_bank(chapter.bank)}
    assert len(asked) >= 3, "a self-check quiz of at least 3 questions"
    assert sorted(asked) == sorted(bank), "every question of the chapter's bank is asked, and only those"
    for qid in asked:
        assert f'id="quiz-{qid}"' in html, f"quiz {qid} is not on the built page"
    for qid in chapter.scenario_ids:
        assert qid in asked, f"the outline's scenario question {qid} is missing"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_option_explains_itself_and_scenarios_have_four_options(chapter):
    for question in load_bank(chapter.bank):
        assert all(c.explain for c in question.choices), question.id
        if question.id in chapter.scenario_ids and question.type in ("single", "multiple"):
            assert len(question.choices) >= 4, f"{question.id}: a scenario question offers 4 options"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_numeric_answers_on_the_page_are_the_banks(chapter):
    html = built_page(chapter)
    for question in load_bank(chapter.bank):
        if question.type != "numeric":
            continue
        match = re.search(rf'id="quiz-{question.id}-answer"[^>]*data-answer="([^"]*)"', html)
        assert match, f"{question.id}: no answer input on the page"
        assert json.loads(match.group(1).replace("&quot;", '"')) == list(question.answer)


# --- computed quiz answers, recomputed independently from normlab's modules ------------------


def _attention_weights_shape(batch, seq, d_model, n_heads):
    from normlab import MultiHeadSelfAttention

    with torch.no_grad():
        return MultiHeadSelfAttention(d_model, n_heads)(torch.randn(batch, seq, d_model), need_weights=True)[1].shape


def _kv_cache_mib_measured(n_layers, seq, d_model, bytes_per_number=2):
    """Run normlab's cached decoding for a few tokens, measure the cache, scale to seq."""
    from normlab import MultiHeadSelfAttention
    from normlab.studies.costs import cached_attention_step

    attention, cache = MultiHeadSelfAttention(d_model, 4, causal=True), None
    tokens = 8
    with torch.no_grad():
        for _ in range(tokens):
            _, cache = cached_attention_step(attention, torch.randn(1, 1, d_model), cache)
    per_token_per_layer = (cache["k"].numel() + cache["v"].numel()) / tokens
    return per_token_per_layer * seq * n_layers * bytes_per_number / 2**20


def _score_mib_measured(seq):
    """Measure one head's weights at a length that fits, scale by (seq / n)^2."""
    from normlab import MultiHeadSelfAttention

    n = 256
    with torch.no_grad():
        _, w = MultiHeadSelfAttention(16, 1)(torch.randn(1, n, 16), need_weights=True)
    return w.numel() * w.element_size() * (seq / n) ** 2 / 2**20


def _crossover(d_model):
    from normlab.studies.experiments import attention_flops

    projections = lambda n: 4 * n * d_model**2  # noqa: E731  (W_Q, W_K, W_V, W_O)
    return next(n for n in range(1, 10 * d_model) if attention_flops(n, d_model) - projections(n) >= projections(n))


def _block_output(batch, seq, d_model, n_heads, d_ff):
    from normlab import PreNormBlock

    with torch.no_grad():
        return PreNormBlock(d_model, n_heads, d_ff)(torch.randn(batch, seq, d_model)).shape


def _ffn_hidden(batch, seq, d_model, d_ff):
    from normlab import FeedForward

    ffn = FeedForward(d_model, d_ff)
    with torch.no_grad():
        return ffn.activation(ffn.linear1(torch.randn(batch, seq, d_model))).shape


def _logits(batch, seq, vocab_size):
    from normlab import TransformerStack

    model = TransformerStack(1, 16, 2, 32, causal=True, vocab_size=vocab_size)
    with torch.no_grad():
        return model(torch.randint(0, vocab_size, (batch, seq))).shape


def _norm_modules(n_layers, placement):
    from torch import nn

    from normlab import TransformerStack

    return sum(
        isinstance(m, nn.LayerNorm) for m in TransformerStack(n_layers, 16, 2, 32, placement=placement).modules()
    )


def _split_heads(batch, seq, d_model, n_heads):
    from normlab import MultiHeadSelfAttention

    attention = MultiHeadSelfAttention(d_model, n_heads)
    with torch.no_grad():
        return attention.split_heads(attention.q_proj(torch.randn(batch, seq, d_model))).shape


def _layernorm_jacobian_spectral_norm(d_model, norm):
    """Build the Jacobian with torch.func and take its largest singular value."""
    x = torch.randn(d_model, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    x = (x - x.mean()) * norm / (x - x.mean()).norm()
    jac = torch.func.jacrev(lambda v: torch.nn.functional.layer_norm(v, (d_model,), eps=0.0))(x)
    return torch.linalg.svdvals(jac)[0].item()


INDEPENDENT_ANSWERS = {
    "post-norm-norm-count": lambda: _norm_modules(12, "post"),
    "pre-norm-final-norm-count": lambda: _norm_modules(12, "pre"),
    "pre-norm-lemma2-bound": lambda: (1 + 3 * 6 / 2) * 512,  # Xiong et al., Lemma 2
    "deep-stacks-lemma3-value": lambda: _layernorm_jacobian_spectral_norm(64, 16.0),  # Lemma 3
    "variants-rmsnorm-params": lambda: sum(p.numel() for p in __import__("normlab").RMSNorm(4096).parameters()),
    "variants-deepnorm-alpha": lambda: __import__("normlab").DeepNormBlock(16, 2, 32, n_layers=12).alpha,
    "debugging-spec-shape": lambda: _split_heads(2, 5, 64, 4),
    "debugging-weights-shape": lambda: _attention_weights_shape(2, 5, 64, 4),
    "ch0-shape-convention": lambda: _block_output(4, 12, 64, 4, 256),
    "ch1-uniform-loss": lambda: math.log(50257),
    "ch1-logits-shape": lambda: _logits(2, 16, 1000),
    "ch2-weights-shape": lambda: _attention_weights_shape(2, 10, 64, 8),
    "ch2-split-heads-shape": lambda: (2, 8, 10, 64 // 8),
    "ch2-crossover": lambda: _crossover(512),
    "ch2-score-memory": lambda: _score_mib_measured(32768),
    "ch2-kv-cache": lambda: _kv_cache_mib_measured(12, 1024, 768),
    "ch3-block-output-shape": lambda: _block_output(2, 10, 64, 8, 256),
    "ch3-ffn-hidden-shape": lambda: _ffn_hidden(2, 10, 64, 256),
    "ch3-parameter-count": lambda: sum(p.numel() for p in __import__("normlab").PreNormBlock(64, 8, 256).parameters()),
}

COMPUTED = (
    [(c, q) for c in CHAPTERS for q in load_bank(c.bank) if q.type == "numeric"]
    if all(c.bank.is_file() for c in CHAPTERS)
    else []
)


@pytest.mark.parametrize("chapter,question", COMPUTED, ids=[q.id for _, q in COMPUTED])
def test_computed_quiz_answer_agrees_with_normlab(chapter, question):
    assert question.id in INDEPENDENT_ANSWERS, (
        f"{question.id}: add an independent computation of its answer to INDEPENDENT_ANSWERS"
    )
    expected = INDEPENDENT_ANSWERS[question.id]()
    expected = tuple(expected) if isinstance(expected, (tuple, list, torch.Size)) else (expected,)
    assert len(question.answer) == len(expected)
    for got, want in zip(question.answer, expected):
        assert math.isclose(got, want, abs_tol=max(question.tolerance, 1e-9)), (
            f"{question.id}: the bank says {question.answer_text()}, normlab gives {expected}"
        )
    for wrong in question.wrong:  # a listed wrong answer must not be accepted as right
        assert not question.check(", ".join(str(v) for v in wrong.answer)).correct, question.id


def test_the_long_paper_scenario_is_written_out_in_full():
    question = {q.id: q for q in load_bank(BOOK / "quizzes" / "02-attention-cost.yml")}["ch2-long-papers"]
    assert "Approach 1" in question.prompt and "Approach 2" in question.prompt
    assert len(question.choices) == 4 and sum(c.correct for c in question.choices) == 1
    right = next(c for c in question.choices if c.correct)
    assert "quadratic" in right.text and "parallel" in right.text and "state" in right.text


# --- chapters 4-7: the notation trap and the case studies -------------------------------------


def test_engineer_scenario_fix_is_moving_the_norm_into_the_branch():
    bank = {q.id: q for q in load_bank(BOOK / "quizzes" / "04-post-norm.yml")}
    question = bank["post-norm-unstable-engineer"]
    assert "output = Normalize(input + Function(input))" in question.prompt
    right = next(c for c in question.choices if c.correct)
    assert right.text == "`output = input + Function(Normalize(input))`"
    assert "res-post-norm" in right.explain


def test_course_ordering_question_keys_the_described_design_and_names_res_post_norm():
    question = {q.id: q for q in load_bank(BOOK / "quizzes" / "05-pre-norm.yml")}["pre-norm-order-course"]
    assert "applied to the output of the sub-layer's main function" in question.prompt
    steps = [c.text for c in question.choices]  # the key: listed in the correct order
    assert (
        steps.index(next(t for t in steps if "main function" in t))
        < steps.index(next(t for t in steps if t.startswith("Normalize")))
        < steps.index(next(t for t in steps if t.startswith("Add")))
    )
    assert "res-post-norm" in question.explain and "standard pre-norm" in question.explain.lower()
    standard = {q.id: q for q in load_bank(BOOK / "quizzes" / "05-pre-norm.yml")}["pre-norm-order"]
    assert [c.text.split()[0] for c in standard.choices] == ["Keep", "Normalize", "Apply", "Add"]


def test_pre_norm_chapter_puts_both_forms_side_by_side():
    html = built_page(next(c for c in CHAPTERS if c.name == "05-pre-norm"))
    assert 'id="notation-trap"' in html and "res-post-norm" in html
    assert "\\mathrm{LNorm}\\big(F(\\mathrm{input})\\big) + \\mathrm{input}" in html
    assert "x + F(\\mathrm{LN}(x))" in html


def test_debugging_chapter_has_its_five_case_studies():
    html = built_page(next(c for c in CHAPTERS if c.name == "07-debugging"))
    for anchor in ("case-refactor", "case-contract", "case-migration", "case-optimisation", "case-spec"):
        assert f'id="{anchor}"' in html, anchor
    for part in ("Symptom.", "Investigation.", "Fix.", "The test that would have caught it."):
        assert html.count(part) >= 4, part


# --- the graded notebooks' downloads (appendix) ------------------------------------------


def test_exercise_downloads_are_the_student_versions():
    html = built_page(next(c for c in CHAPTERS if c.name == "appendix-graded-notebooks"))
    links = re.findall(r'href="\.\./(_downloads/[0-9a-f]+/([a-z_]+)\.ipynb)"', html)
    exercises = sorted(p.parent.name for p in (ROOT / "exercises").glob("*/*.ipynb"))
    assert sorted(name for _, name in links) == exercises, "one download per exercise notebook"
    for href, name in links:
        notebook = SITE / href
        assert notebook.is_file(), f"broken download link {href}"
        text = notebook.read_text(encoding="utf-8")
        for marker in ("### BEGIN SOLUTION", "### BEGIN HIDDEN TESTS"):
            assert marker not in text, f"{name}.ipynb offered to students contains {marker}"
        cells = json.loads(text)["cells"]
        assert any("NotImplementedError" in "".join(c["source"]) for c in cells), (
            f"{name}.ipynb has no empty answer cell: is it the instructors' version?"
        )
