"""The quizzes of the built book in a real browser: shuffled options still answered right
by their keys (on every page with quizzes, in test_reader.py's one load per page), numbers
typed the ways the book prints them, parameterised questions, and progress kept in this
browser across reloads.

Needs `make book`; uses the fixtures of tests/browser/conftest.py.
"""

from __future__ import annotations

import json
import re
import warnings
from pathlib import Path

import pytest

from normlab.quiz import load_banks
from normlab.quiz.numbers import accepted_forms
from normlab.quiz.types import Ordering

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    BANK = load_banks(ROOT / "book" / "quizzes")


def pages_with_quizzes() -> list[str]:
    if not SITE.is_dir():
        return []
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in (SITE / "book").glob("*.html")
        if 'class="nl-quiz"' in p.read_text(encoding="utf-8")
    )


def open_page(visit, site_url, path):
    visit.goto(f"{site_url}/{path}")
    visit.page.wait_for_load_state("networkidle")
    visit.page.wait_for_selector(".nl-quiz.nl-quiz-ready", state="attached")
    return visit.page


def box_of(page, qid):
    box = page.locator(f"#quiz-{qid}")
    box.scroll_into_view_if_needed()
    return box


def feedback(box):
    return box.locator(".nl-quiz-feedback").inner_text()


def ranks(box):
    return [int(r) for r in box.locator(".nl-quiz-item").evaluate_all("els => els.map(e => e.dataset.rank)")]


def answer_with_key(page, q):
    """Answer question `q` on `page` with the bank's key, using the page's controls."""
    box = box_of(page, q.id)
    if q.type in ("single", "multiple"):
        for i, choice in enumerate(q.choices):
            if choice.correct:
                box.locator(f"input[value='{i}']").check()
    elif q.type == "ordering":
        for target in range(len(q.choices)):  # selection sort with the Move up buttons
            pos = ranks(box).index(target)
            for _ in range(pos - target):
                box.locator(f".nl-quiz-item[data-rank='{target}'] .nl-quiz-up").click()
    else:
        variant = int(box.get_attribute("data-variant") or 0)
        key = q.variants[variant].answer if q.variants else q.answer
        box.locator(".nl-quiz-input").fill(", ".join(f"{v:g}" for v in key))
    box.locator(".nl-quiz-check").click()
    return box


def answer_every_quiz_with_its_key(page, path):
    """Every shuffled quiz of a loaded page is answered right by its bank's key, through the
    page's controls (run on every page with quizzes by test_reader.py's per-page test, in
    the one load of the page that checks everything a page must be)."""
    page.wait_for_selector(".nl-quiz.nl-quiz-ready", state="attached")
    ids = page.locator(".nl-quiz").evaluate_all("els => els.map(e => e.dataset.quizId)")
    assert ids, f"{path}: no quiz"
    for qid in ids:
        q = BANK[qid]
        box = box_of(page, qid)
        if q.type in ("single", "multiple"):  # the page shows the live widget's order
            shown = [int(v) for v in box.locator("input").evaluate_all("els => els.map(e => e.value)")]
            assert shown == q.display_order(), qid
        if q.type == "ordering":
            assert not q.kind.is_solved(q, ranks(box)), f"{qid} starts solved"
        answer_with_key(page, q)
        assert feedback(box).startswith("Correct"), f"{qid}: {feedback(box)}"


def test_keys_are_not_always_first_on_the_page():
    singles = [q for q in BANK.values() if q.type == "single"]
    first = sum(q.choices[q.display_order()[0]].correct for q in singles)
    assert first < len(singles) / 2


def test_numbers_with_thousands_separators_and_torch_sizes_are_accepted(visit, site_url):
    q = BANK["ch3-parameter-count"]
    assert q.answer == (49984,)
    page = open_page(visit, site_url, "book/03-sublayers.html")
    box = box_of(page, q.id)
    for typed in ("49,984", "49984"):
        box.locator(".nl-quiz-input").fill(typed)
        box.locator(".nl-quiz-check").click()
        assert feedback(box).startswith("Correct"), typed
    shape = box_of(page, "ch3-block-output-shape")
    b, s, d = (int(v) for v in json.loads(shape.locator(".nl-quiz-input").get_attribute("data-answer")))
    for typed in (f"torch.Size([{b}, {s}, {d}])", f"{b} x {s} x {d}", f"{b}×{s}×{d}"):
        shape.locator(".nl-quiz-input").fill(typed)
        shape.locator(".nl-quiz-input").press("Enter")
        assert feedback(shape).startswith("Correct"), typed
    visit.assert_offline_and_clean()


def test_the_page_parser_follows_the_number_forms(visit, site_url):
    page = open_page(visit, site_url, "book/sample.html")
    forms = accepted_forms()
    got = page.evaluate("forms => forms.map(f => window.normlabQuiz.parseNumbers(f.text))", forms)
    for form, numbers in zip(forms, got):
        expected = form["numbers"]
        assert numbers == (None if expected is None else pytest.approx(expected)), form["text"]


def test_partly_right_multiple_choice_marks_missed_options_as_missed(visit, site_url):
    q = next(q for q in BANK.values() if q.type == "multiple" and sum(c.correct for c in q.choices) >= 2)
    page = open_page(visit, site_url, f"book/{q.source.stem}.html")
    box = box_of(page, q.id)
    right = [i for i, c in enumerate(q.choices) if c.correct]
    box.locator(f"input[value='{right[0]}']").check()
    box.locator(".nl-quiz-check").click()
    assert feedback(box).startswith("Not quite") and "missed" in feedback(box)
    for i in right[1:]:
        li = box.locator(f".nl-quiz-option:has(input[value='{i}'])")
        assert "nl-quiz-missed" in li.get_attribute("class") and "nl-quiz-wrong" not in li.get_attribute("class")
        assert "missed" in li.locator(".nl-quiz-mark").inner_text()
        assert li.locator(".nl-quiz-explain").is_visible()
    picked = box.locator(f".nl-quiz-option:has(input[value='{right[0]}'])")
    assert "nl-quiz-right" in picked.get_attribute("class")
    visit.assert_offline_and_clean()


def test_ordering_accepts_a_second_valid_order(visit, site_url):
    q = BANK["pre-norm-order-course"]
    page = open_page(visit, site_url, "book/05-pre-norm.html")
    box = box_of(page, q.id)
    target = [1, 0, 2, 3]  # apply F before keeping x: they commute
    assert Ordering().check(q, target).correct
    for pos, rank in enumerate(target):
        for _ in range(ranks(box).index(rank) - pos):
            box.locator(f".nl-quiz-item[data-rank='{rank}'] .nl-quiz-up").click()
    assert ranks(box) == target
    box.locator(".nl-quiz-check").click()
    assert feedback(box).startswith("Correct")
    visit.assert_offline_and_clean()


def test_parameterised_question_tries_another_and_keeps_the_readers_sizes(visit, site_url):
    q = BANK["ch2-weights-shape"]
    assert len(q.variants) > 1
    page = open_page(visit, site_url, "book/02-attention-cost.html")
    box = box_of(page, q.id)
    first = int(box.get_attribute("data-variant"))
    prompt = box.locator(".nl-quiz-prompt").inner_text()
    v = q.variants[first].params
    assert f"({v['batch']}, {v['seq']}, 64)" in prompt
    box.locator(".nl-quiz-another").click()
    second = int(box.get_attribute("data-variant"))
    assert second != first
    v = q.variants[second].params
    assert f"({v['batch']}, {v['seq']}, 64)" in box.locator(".nl-quiz-prompt").inner_text()
    old_key = ", ".join(f"{x:g}" for x in q.variants[first].answer)
    new_key = ", ".join(f"{x:g}" for x in q.variants[second].answer)
    if old_key != new_key:
        box.locator(".nl-quiz-input").fill(old_key)
        box.locator(".nl-quiz-check").click()
        assert feedback(box).startswith("Not quite")
    forgot_heads = f"({v['batch']}, {v['seq']}, {v['seq']})"  # the bank's wrong answer, for these sizes
    box.locator(".nl-quiz-input").fill(forgot_heads)
    box.locator(".nl-quiz-check").click()
    assert "forgets the heads axis" in box.locator(".nl-quiz-explain:visible").inner_text()
    box.locator(".nl-quiz-input").fill(new_key)
    box.locator(".nl-quiz-check").click()
    assert feedback(box).startswith("Correct")
    page.reload()
    page.wait_for_selector(f"#quiz-{q.id}.nl-quiz-ready", state="attached")
    assert int(box_of(page, q.id).get_attribute("data-variant")) == second  # the reader keeps their sizes
    visit.assert_offline_and_clean()


def test_progress_survives_a_reload_and_lists_what_was_missed(visit, site_url):
    page = open_page(visit, site_url, "book/04-post-norm.html")
    ids = page.locator(".nl-quiz").evaluate_all("els => els.map(e => e.dataset.quizId)")
    right_q, wrong_q = BANK[ids[0]], next(BANK[i] for i in ids[1:] if BANK[i].type == "single")
    answer_with_key(page, right_q)
    box = box_of(page, wrong_q.id)
    box.locator(f"input[value='{next(i for i, c in enumerate(wrong_q.choices) if not c.correct)}']").check()
    box.locator(".nl-quiz-check").click()
    assert feedback(box).startswith("Not quite")

    visit.goto(f"{site_url}/book/progress.html")
    page.wait_for_selector(".nl-quiz-progress-table")
    for _ in range(2):  # the first visit, then after a reload
        row = page.locator(".nl-quiz-progress-table tbody tr[data-chapter^='Post-norm: the original']")
        cells = row.locator("td").all_inner_texts()
        assert cells == [str(len(ids)), "2", "1"], cells
        review = page.locator(".nl-quiz-review a")
        assert review.count() == 1
        href = review.first.get_attribute("href")
        assert href.endswith(f"04-post-norm.html#quiz-{wrong_q.id}")
        page.reload()
        page.wait_for_selector(".nl-quiz-progress-table")
    chapters = page.locator(".nl-quiz-progress-table tbody th").all_inner_texts()
    assert len(chapters) >= 10 and re.search(r"pre-norm", " ".join(chapters), re.I)
    total = int(page.locator(".nl-quiz-progress-table tfoot td").first.inner_text())
    assert total == len(BANK)  # every question of every bank is asked on some page

    page.locator(".nl-quiz-review a").first.click()
    page.wait_for_load_state("load")
    assert page.url.endswith(f"#quiz-{wrong_q.id}")
    visit.goto(f"{site_url}/book/progress.html")
    page.locator(".nl-quiz-forget").click()
    assert page.locator(".nl-quiz-progress-table tfoot td").nth(1).inner_text() == "0"
    visit.assert_offline_and_clean()
