"""Figures a reader can read on a phone, in a real browser (issue 14.2, 14.3, 14.6, 14.11).

At a 390 px viewport every demo and static figure fills the text column, is sharp (its
natural width at least twice its shown width) and its smallest label is at least 11 CSS
px: each image carries its figure's width in inches and smallest font in points, so the
shown size of that font follows from the width the browser gave the image. Demo images
and static figures have alt text; sliders name themselves and announce their value;
moving a control does not change a demo's height; without JavaScript a demo shows its
first view.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

# chapters with demos, static figures or both (tests/book/test_chapters.py lists chapters)
FIGURE_PAGES = [
    "01-at-a-glance",
    "02-attention-cost",
    "03-sublayers",
    "04-post-norm",
    "05-pre-norm",
    "06-variants",
    "07-debugging",
    "09-training-deep-stacks",
    "10-beyond-placement",
    "11-small-language-model",
    "measurements",
]
# all but the chapters whose figures are demos only
STATIC_FIGURE_PAGES = [p for p in FIGURE_PAGES if p not in ("01-at-a-glance", "02-attention-cost", "measurements")]
PHONE = {"width": 390, "height": 844}

FIGURES = """() => [...document.querySelectorAll('img.normlab-figure')]
  .filter(img => img.offsetParent !== null)
  .map(img => ({alt: img.alt, shown: img.getBoundingClientRect().width,
                natural: img.naturalWidth, column: img.closest('article, main').clientWidth,
                widthIn: parseFloat(img.dataset.widthIn), minPt: parseFloat(img.dataset.minFontPt),
                demo: !!img.closest('.normlab-demo'), src: img.src.slice(-40)}))"""


def phone_page(browser, url):
    context = browser.new_context(viewport=PHONE, device_scale_factor=3, is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(url, wait_until="load")
    page.wait_for_load_state("networkidle")
    return context, page


def wait_for_images(page):
    page.wait_for_function("""() => [...document.querySelectorAll('img.normlab-figure')]
        .filter(i => i.offsetParent !== null).every(i => i.complete && i.naturalWidth > 0)""")


@pytest.mark.parametrize("name", FIGURE_PAGES)
def test_figures_are_sharp_and_their_smallest_label_is_11_css_px_at_phone_width(browser, site_url, name):
    context, page = phone_page(browser, f"{site_url}/book/{name}.html")
    try:
        if name not in STATIC_FIGURE_PAGES:
            page.wait_for_selector(".normlab-demo img.normlab-figure")
        wait_for_images(page)
        figures = page.evaluate(FIGURES)
        assert figures, "the page shows at least one figure"
        if name in STATIC_FIGURE_PAGES:
            assert any(not f["demo"] for f in figures), "a static figure outside the demos"
        for f in figures:
            assert f["natural"] >= 2 * f["shown"] - 1, f"{f['src']}: not 2x ({f})"
            assert f["shown"] >= 0.95 * min(f["column"], f["natural"] / 2) - 32, f"does not fill the column: {f}"
            text_px = f["minPt"] / 72 * f["shown"] / f["widthIn"]
            assert text_px >= 11 - 0.05, f"smallest label {text_px:.1f} CSS px: {f}"
            assert len(f["alt"]) > 30, f"alt text missing or too short: {f}"
    finally:
        context.close()


def test_demo_sliders_have_a_name_and_announce_their_value(visit, site_url):
    page = visit.page
    visit.goto(f"{site_url}/book/04-post-norm.html")
    page.wait_for_load_state("networkidle")
    handle = page.locator(".normlab-demo .noUi-handle").first
    handle.wait_for()
    page.wait_for_function("h => h.getAttribute('aria-valuetext')", arg=handle.element_handle())
    assert handle.get_attribute("aria-label") == "blocks"
    assert handle.get_attribute("aria-valuetext") == "12"  # the value, not the index 2
    handle.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("h => h.getAttribute('aria-valuetext') === '24'", arg=handle.element_handle())
    readout = page.locator(".normlab-demo .widget-readout").first
    assert readout.get_attribute("contenteditable") == "false"


def test_moving_a_control_keeps_the_demo_height(visit, site_url):
    page = visit.page
    visit.goto(f"{site_url}/book/03-sublayers.html")  # the shape tracer: table vs error
    page.wait_for_load_state("networkidle")
    demo = page.locator(".normlab-demo").first
    demo.wait_for()
    before = demo.bounding_box()["height"]
    heads = demo.locator(".noUi-handle").nth(3)  # batch, seq, d_model, heads, d_ff
    heads.focus()
    page.keyboard.press("ArrowRight")  # 4 -> 5 heads: a ShapeError
    page.wait_for_selector(".normlab-demo .normlab-error")
    assert abs(demo.bounding_box()["height"] - before) < 2, "the error view keeps the table's height"


def test_without_javascript_a_demo_shows_its_first_view(browser, site_url):
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{site_url}/book/04-post-norm.html", wait_until="load")
        alts = page.eval_on_selector_all(".normlab-noscript img", "els => els.map(e => e.alt)")
        assert alts and alts[0].startswith("gradient norm per layer, 12 blocks, post vs pre")
    finally:
        context.close()
