"""Every chapter's demo responds to its controls in a real browser, with no kernel: the check
that test_reader.py's per-page test runs on each chapter with a demo.

tests/browser/test_book.py checks the sample chapter's demo in detail; this file turns the
first control of each chapter's demos and checks that what the reader sees changes, in
test_reader.py's one load per page. Chapters are listed in tests/book/test_chapters.py.
"""

from __future__ import annotations

from pathlib import Path

from by_path import load

_chapters = load(Path(__file__).resolve().parents[1] / "book" / "test_chapters.py", "chapter_list")
DEMO_CHAPTERS = [c.name for c in _chapters.CHAPTERS if c.demo]

# What the reader sees of a demo: the visible images and texts below its controls.
VISIBLE_OUTPUT = """(demo) => [...demo.children].slice(1).map(part =>
    [...part.querySelectorAll('img, .widget-html-content')]
      .filter(el => el.offsetParent !== null)
      .map(el => el.src || el.innerText).join(' | ')).join(' || ')"""


def change_first_control(page, demo):
    """Move the demo's first control to another value, as a reader would."""
    panel = demo.locator(":scope > *").first
    control = panel.locator(":scope > *").first
    if control.locator("select").count():
        select = control.locator("select")
        current = select.evaluate("s => s.selectedIndex")
        select.select_option(index=1 if current == 0 else 0)
    elif control.locator(".noUi-handle").count():
        handle = control.locator(".noUi-handle").first
        handle.focus()
        at_end = handle.get_attribute("aria-valuenow") == handle.get_attribute("aria-valuemax")
        page.keyboard.press("ArrowLeft" if at_end else "ArrowRight")
    else:
        control.locator("button.widget-toggle-button:not(.mod-active)").first.click()


def assert_every_demo_responds_to_its_first_control(page, path):
    """Each demo of a loaded chapter shows an output, and moving its first control changes
    what the reader sees (run on every chapter with a demo by test_reader.py's per-page
    test, in the one load of the page that checks everything a page must be)."""
    page.wait_for_selector(".normlab-demo .widget-stack, .normlab-demo .widget-box")
    demos = page.locator(".normlab-demo")
    assert demos.count() >= 1, f"{path}: the chapter's demo is rendered"
    for i in range(demos.count()):
        demo = demos.nth(i)
        demo.scroll_into_view_if_needed()
        before = demo.evaluate(VISIBLE_OUTPUT)
        assert before.strip(), f"{path}: the demo shows an output before any control is touched"
        change_first_control(page, demo)
        page.wait_for_function(
            f"(args) => ({VISIBLE_OUTPUT})(args[0]) !== args[1]", arg=[demo.element_handle(), before], timeout=5_000
        )
