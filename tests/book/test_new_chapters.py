"""The chapters added after the exercises (issue 11, "what to add"), checked like the
others: each is in the book and executed without errors, has objectives, a
common-mistakes box, citations, a computed table or figure, a demo and its quiz; every
computed quiz key is recomputed here independently of the function its bank names.

The structural checks are chapter 1-8's own (``test_chapters``), run on these chapters.
"""

from __future__ import annotations

import math

import pytest
import test_chapters as base
import torch

from normlab.quiz import load_bank

Chapter = base.Chapter

NEW_CHAPTERS = [
    Chapter("09-training-deep-stacks", scenario_ids=("deep-stacks-warmup-practice",)),
    Chapter("10-beyond-placement", scenario_ids=("beyond-qk-norm",)),
    Chapter("11-small-language-model", scenario_ids=("small-lm-post-deep",)),
    Chapter("optimiser-and-depth", demo=False),
    Chapter("stream-at-scale"),
    Chapter("post-norm-revisited"),
]
IDS = [c.name for c in NEW_CHAPTERS]

STRUCTURE = [
    "test_chapter_is_in_the_table_of_contents",
    "test_chapter_executed_without_errors",
    "test_chapter_has_objectives_mistakes_and_citations",
    "test_chapter_has_a_computed_table_or_figure",
    "test_chapter_has_a_static_demo_with_variants",
    "test_chapter_quiz_is_on_the_page",
    "test_every_option_explains_itself_and_scenarios_have_four_options",
    "test_numeric_answers_on_the_page_are_the_banks",
]


@pytest.mark.parametrize("check", STRUCTURE)
@pytest.mark.parametrize("chapter", NEW_CHAPTERS, ids=IDS)
def test_new_chapter_has_the_parts_of_every_chapter(chapter, check):
    if check == "test_chapter_has_a_static_demo_with_variants" and not chapter.demo:
        pytest.skip("this chapter has no demo")
    getattr(base, check)(chapter)


# --- computed quiz keys, recomputed independently ----------------------------------------------


def _gpt2_scale(n_blocks):
    """Count the residual adds of a normlab pre-norm stack by hooking them: one per sub-layer."""
    from normlab import TransformerStack

    stack = TransformerStack(n_blocks, 8, 2, 16, placement="pre")
    residual_layers = sum(1 for b in stack.blocks for _ in (b.attn, b.ffn))
    return 1 / math.sqrt(residual_layers)


def _float16_overflow():
    """Largest n whose square is still finite in float16, found by squaring."""
    values = torch.arange(1, 1000, dtype=torch.float16)
    return int(values[torch.isfinite(values * values)].max())


INDEPENDENT_ANSWERS = {
    "beyond-fp16-overflow": _float16_overflow,
    "small-lm-context-targets": lambda: 8 * 32,  # one prediction per position of each window
    "deep-stacks-gpt2-scale": lambda: _gpt2_scale(12),
}

COMPUTED = [(c, q) for c in NEW_CHAPTERS for q in load_bank(c.bank) if q.type == "numeric"]


@pytest.mark.parametrize("chapter,question", COMPUTED, ids=[q.id for _, q in COMPUTED])
def test_computed_quiz_answer_agrees_with_an_independent_computation(chapter, question):
    assert question.id in INDEPENDENT_ANSWERS, f"{question.id}: add an independent computation"
    expected = INDEPENDENT_ANSWERS[question.id]()
    assert math.isclose(question.answer[0], expected, abs_tol=max(question.tolerance, 1e-9)), (
        f"{question.id}: the bank says {question.answer_text()}, recomputed {expected}"
    )
    for wrong in question.wrong:
        assert not question.check(", ".join(str(v) for v in wrong.answer)).correct, question.id


# --- what each page must say -------------------------------------------------------------------


def test_deep_stacks_page_teaches_both_warmup_facts_and_radam():
    html = base.built_page(NEW_CHAPTERS[0])
    for needed in (
        "375M tokens",
        "2,000 warm-up steps",
        "RAdam trains the same post-norm model",
        'id="lemma-3-at-depth"',
        'id="warm-up-in-practice"',
        'id="depth-aware-init"',
    ):
        assert needed in html, needed
    for init in ("GPT-2", "T-Fixup", "ReZero", "SkipInit", "Admin", "DeepNorm"):
        assert init in html, init


def test_beyond_placement_page_has_its_sections_and_figures():
    html = base.built_page(NEW_CHAPTERS[1])
    for anchor in ("qk-norm", "rmsnorm-in-llms", "normalisation-free", "history"):
        assert f'id="{anchor}"' in html, anchor
    for needed in ("z-loss", "soft-capping", "DyT", "nGPT", "cross-attention", "Gemma"):
        assert needed in html, needed
    assert html.count("<img") >= 2, "the timeline and the architecture figure"


def test_small_language_model_page_trains_on_the_standard_library():
    html = base.built_page(NEW_CHAPTERS[2])
    assert 'id="curse-of-depth"' in html and "stdlib modules" in html
    for fix in ("Mix-LN", "LayerNorm scaling", "Peri-LN", "NormFormer"):
        assert fix in html, fix


# --- reference pages with a quiz: the structural checks that apply (no objectives, no demo) ---

REFERENCE_PAGES = [Chapter("model-families", demo=False)]
REFERENCE_CHECKS = [
    "test_chapter_is_in_the_table_of_contents",
    "test_chapter_executed_without_errors",
    "test_chapter_has_a_computed_table_or_figure",
    "test_chapter_quiz_is_on_the_page",
    "test_every_option_explains_itself_and_scenarios_have_four_options",
]


@pytest.mark.parametrize("check", REFERENCE_CHECKS)
@pytest.mark.parametrize("page", REFERENCE_PAGES, ids=[p.name for p in REFERENCE_PAGES])
def test_reference_page_has_the_parts_that_apply(page, check):
    getattr(base, check)(page)
