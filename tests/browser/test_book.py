"""The built book in a real browser, with every request to another host blocked.

What a reader would notice: a page that logs errors or needs the internet, math left as
raw TeX, a demo whose controls do nothing, a quiz that cannot tell right from wrong,
an ordering quiz that needs a mouse, a search that finds nothing. That every page loads
offline without errors is checked in test_reader.py, in the one load per page that checks
everything a page must be.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from normlab.quiz import load_bank

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
SAMPLE = "book/sample.html"
SAMPLE_BANK = {q.id: q for q in load_bank(ROOT / "book" / "quizzes" / "sample.yml")}


def built_pages() -> list[str]:
    """Every page of the built book, relative to the site root: new chapters included."""
    if not (SITE / "index.html").is_file():
        return []
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if "_static" not in p.parts and "reports" not in p.parts
    )


def open_page(visit, site_url, path):
    visit.goto(f"{site_url}/{path}")
    visit.page.wait_for_load_state("networkidle")
    return visit.page


def test_math_is_typeset(visit, site_url):
    page = open_page(visit, site_url, SAMPLE)
    page.wait_for_selector("mjx-container", state="attached")
    # every math span was handed to MathJax: none is left showing raw TeX
    raw_tex = page.evaluate(
        "Array.from(document.querySelectorAll('span.math, div.math'))"
        ".filter(el => !el.querySelector('mjx-container')).map(el => el.textContent)"
    )
    assert page.locator("mjx-container").count() >= 5
    assert raw_tex == []
    visit.assert_offline_and_clean()


def visible_figure(page):
    """src of the demo image the reader sees (one blob URL per precomputed variant)."""
    images = page.locator(".normlab-demo img.normlab-figure:visible")
    assert images.count() == 1, "exactly one demo figure should be visible"
    page.wait_for_function(
        "() => { const i = [...document.querySelectorAll('.normlab-demo img.normlab-figure')]"
        ".find(i => i.offsetParent !== null); return i && i.complete && i.naturalWidth > 0; }"
    )
    return images.first.get_attribute("src")


def test_demo_controls_change_the_visible_figure(visit, site_url):
    page = open_page(visit, site_url, SAMPLE)
    page.wait_for_selector(".normlab-demo img.normlab-figure")
    first = visible_figure(page)

    slider = page.locator(".normlab-demo .noUi-handle").first
    slider.focus()
    page.keyboard.press("ArrowRight")  # depth 6 -> 12
    page.wait_for_function(
        f"() => !document.querySelector('.normlab-demo img.normlab-figure[src=\"{first}\"]')"
        " || document.querySelector('.normlab-demo img.normlab-figure[src=\"{first}\"]')"
        ".offsetParent === null"
    )
    deeper = visible_figure(page)
    assert deeper != first
    assert page.locator(".normlab-demo .widget-readout").first.inner_text().strip() == "12"

    page.locator(".normlab-demo .widget-toggle-button", has_text="pre").click()  # nested control
    page.wait_for_timeout(200)
    rms = visible_figure(page)
    assert rms not in (first, deeper)
    visit.assert_offline_and_clean()


# --- quizzes ---------------------------------------------------------------------------


def quiz_of_type(kind):
    return next(q for q in SAMPLE_BANK.values() if q.type == kind)


def quiz_box(page, question):
    box = page.locator(f"#quiz-{question.id}")
    box.scroll_into_view_if_needed()
    page.wait_for_selector(f"#quiz-{question.id}.nl-quiz-ready")
    return box


def open_quiz(visit, site_url, kind):
    """The sample chapter's question of this type, its page, and its quiz box."""
    question = quiz_of_type(kind)
    page = open_page(visit, site_url, SAMPLE)
    return question, page, quiz_box(page, question)


def feedback(box):
    return box.locator(".nl-quiz-feedback").inner_text()


def visible_explanations(box):
    return [t.strip() for t in box.locator(".nl-quiz-explain:visible").all_inner_texts()]


def press(box, name):
    box.locator(f".nl-quiz-{name}").click()


def test_single_choice_quiz(visit, site_url):
    q, page, box = open_quiz(visit, site_url, "single")
    right = next(i for i, c in enumerate(q.choices) if c.correct)
    wrong = next(i for i, c in enumerate(q.choices) if not c.correct)

    box.locator(f"input[value='{right}']").check()
    press(box, "check")
    assert feedback(box).startswith("Correct")

    press(box, "reset")
    assert feedback(box) == "" and visible_explanations(box) == []
    box.locator(f"input[value='{wrong}']").check()
    press(box, "check")
    assert feedback(box).startswith("Not quite")
    assert len(visible_explanations(box)) == 1
    # options are shown shuffled: find the option by its input's value (its bank index)
    assert box.locator(f".nl-quiz-option:has(input[value='{wrong}'])").locator(".nl-quiz-explain").is_visible()
    visit.assert_offline_and_clean()


def test_multiple_choice_quiz(visit, site_url):
    q, page, box = open_quiz(visit, site_url, "multiple")
    for i, choice in enumerate(q.choices):
        if choice.correct:
            box.locator(f"input[value='{i}']").check()
    press(box, "check")
    assert feedback(box).startswith("Correct")

    press(box, "reset")
    wrong = next(i for i, c in enumerate(q.choices) if not c.correct)
    box.locator(f"input[value='{wrong}']").check()
    press(box, "check")
    assert feedback(box).startswith("Not quite")
    wrong_li = box.locator(f".nl-quiz-option:has(input[value='{wrong}'])")
    assert wrong_li.locator(".nl-quiz-explain").is_visible()
    assert "nl-quiz-wrong" in wrong_li.get_attribute("class")
    visit.assert_offline_and_clean()


def current_ranks(box):
    return [int(r) for r in box.locator(".nl-quiz-item").evaluate_all("els => els.map(e => e.dataset.rank)")]


def test_ordering_quiz_explains_the_steps_only_when_solved_or_given_up(visit, site_url):
    q, page, box = open_quiz(visit, site_url, "ordering")
    assert current_ranks(box) != sorted(current_ranks(box)), "the steps must start shuffled"
    press(box, "check")
    assert feedback(box).startswith("Not quite") and "out of place" in feedback(box)
    assert box.locator(".nl-quiz-item.nl-quiz-wrong").count() > 0  # marked, not explained:
    assert visible_explanations(box) == []  # each explanation says where its step goes
    press(box, "reveal")  # "Show the answer"
    assert current_ranks(box) == sorted(current_ranks(box))
    assert len(visible_explanations(box)) == len(q.choices) + bool(q.explain)
    visit.assert_offline_and_clean()


def test_ordering_quiz_works_with_the_keyboard_alone(visit, site_url):
    q, page, box = open_quiz(visit, site_url, "ordering")
    # Tab from the prompt reaches the first item's move-up button (disabled at the top,
    # so the first focusable one is its move-down button).
    box.locator(".nl-quiz-prompt").click()
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.classList.contains('nl-quiz-down')")

    # Selection sort by keyboard: focus the step that belongs at `target`, press Enter on
    # "Move up" until it is there. Focus must stay on the moved step's button.
    for target in range(len(q.choices)):
        pos = current_ranks(box).index(target)
        if pos == target:
            continue
        box.locator(".nl-quiz-item").nth(pos).locator(".nl-quiz-up").focus()
        for _ in range(pos - target):
            page.keyboard.press("Enter")
        assert current_ranks(box).index(target) == target
        assert page.evaluate("document.activeElement.closest('.nl-quiz-item').dataset.rank") == str(target)
    assert current_ranks(box) == list(range(len(q.choices)))

    box.locator(".nl-quiz-check").focus()
    page.keyboard.press("Enter")
    assert feedback(box).startswith("Correct")
    page.keyboard.press("Tab")  # Check -> Reset
    page.keyboard.press("Enter")
    assert current_ranks(box) == q.shuffled_order()
    visit.assert_offline_and_clean()


def test_numeric_quiz(visit, site_url):
    q, page, box = open_quiz(visit, site_url, "numeric")
    field = box.locator(".nl-quiz-input")

    field.fill(q.answer_text())  # the key normlab computed at build time
    press(box, "check")
    assert feedback(box).startswith("Correct")

    press(box, "reset")
    known_wrong = q.wrong[0]
    field.fill(str(tuple(int(v) for v in known_wrong.answer)))
    field.press("Enter")
    assert feedback(box).startswith("Not quite")
    assert visible_explanations(box) == [box.locator(".nl-quiz-explain[data-wrong-answer]").first.inner_text().strip()]

    field.fill("(1, 1, 1, 1)")  # wrong, and no specific note: the general explanation
    press(box, "check")
    assert feedback(box).startswith("Not quite")
    assert len(visible_explanations(box)) == 1
    assert box.locator('.nl-quiz-explain[data-general="true"]').is_visible()

    field.fill("two by eight")
    press(box, "check")
    assert "Expected a number" in feedback(box)
    visit.assert_offline_and_clean()


def test_search_finds_a_word_from_a_chapter(visit, site_url):
    page = open_page(visit, site_url, "search.html?q=classifier")
    page.wait_for_selector("#search-results li")
    hits = page.locator("#search-results li a").all_inner_texts()
    assert any("Platform sample" in hit for hit in hits), hits
    visit.assert_offline_and_clean()
