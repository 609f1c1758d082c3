"""The book as a reader gets it, in a real browser: on a phone, with a keyboard or a
screen reader, in dark mode, on a slow connection (issue 14 items 1, 6-9).

What a reader would notice: a menu that cannot be opened on a phone, a sidebar that
does not collapse, a page that scrolls sideways, an axe-core violation (missing names,
contrast), formulas that eat Tab presses, megabytes a page does not use, a search that
does not find "pre-norm", a bibliography labelled differently from the citations.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from by_path import load


def sibling(filename: str):
    """A module of this folder, by file name (tests/browser is not a package)."""
    return load(Path(__file__).with_name(filename), f"browser_{Path(filename).stem}")


# the page helpers of test_book.py, the quiz answering of test_quiz_browser.py, the demo check
_book, _quiz, _demos = sibling("test_book.py"), sibling("test_quiz_browser.py"), sibling("chapter_demos.py")
built_pages, open_page = _book.built_pages, _book.open_page

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
AXE = ROOT / ".cache" / "test-vendor" / "axe-core" / "axe.min.js"
PHONE = {"width": 390, "height": 844}
PAGES = built_pages() or ["<run make book first>"]
QUIZ_PAGES = set(_quiz.pages_with_quizzes())
DEMO_PAGES = {f"book/{name}.html" for name in _demos.DEMO_CHAPTERS}


@pytest.fixture
def phone(visit):
    visit.page.set_viewport_size(PHONE)
    return visit


def visible(page, selector):
    return page.locator(f"{selector}:visible").first


# --- item 1: navigation ------------------------------------------------------------------


def test_phone_menu_opens_and_reaches_a_chapter(phone, site_url):
    page = open_page(phone, site_url, "book/01-at-a-glance.html")
    drawer = page.locator("#pst-primary-sidebar-modal")
    assert not drawer.evaluate("d => d.open")
    visible(page, ".primary-toggle").click()
    page.wait_for_function("() => document.querySelector('#pst-primary-sidebar-modal').open")
    link = drawer.locator("a.reference", has_text="Pre-norm").first
    assert link.is_visible(), "the drawer lists the chapters"
    link.click()
    page.wait_for_url(re.compile(r".*/book/05-pre-norm\.html"))
    assert page.locator("h1").first.inner_text().lstrip("0123456789. ").startswith("Pre-norm")
    phone.assert_offline_and_clean()


def test_phone_page_contents_drawer_opens_and_closes_with_escape(phone, site_url):
    page = open_page(phone, site_url, "book/05-pre-norm.html")
    button = visible(page, ".secondary-toggle")
    button.click()
    page.wait_for_function("() => document.querySelector('#pst-secondary-sidebar-modal').open")
    assert page.locator("#pst-secondary-sidebar-modal nav a").first.is_visible(), "the page's sections are listed"
    page.keyboard.press("Escape")
    page.wait_for_function("() => !document.querySelector('#pst-secondary-sidebar-modal').open")
    assert page.evaluate("document.activeElement.classList.contains('secondary-toggle')"), (
        "focus returns to the button that opened the drawer"
    )
    phone.assert_offline_and_clean()


def test_desktop_toggle_collapses_and_restores_the_sidebar(visit, site_url):
    page = open_page(visit, site_url, "book/05-pre-norm.html")
    sidebar = page.locator("#pst-primary-sidebar")
    assert sidebar.is_visible()
    article_left = page.locator(".bd-main").bounding_box()["x"]
    toggle = visible(page, ".primary-toggle")
    toggle.click()
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#pst-primary-sidebar')).visibility === 'hidden'"
    )
    assert not page.evaluate("document.querySelector('#pst-primary-sidebar-modal').open"), (
        "on a desktop the button collapses the sidebar, it does not open the phone drawer"
    )
    page.wait_for_timeout(600)  # the theme slides the sidebar out
    assert page.locator(".bd-main").bounding_box()["x"] < article_left - 100, "the text takes the freed space"
    toggle.click()
    page.wait_for_function(
        "() => getComputedStyle(document.querySelector('#pst-primary-sidebar')).visibility === 'visible'"
    )
    visit.assert_offline_and_clean()


# --- item 7: nothing scrolls sideways on a phone ------------------------------------------

# boxes in the article that are wider than they show, and whether they scroll with a cue
OVERFLOWING_BOXES = """() => [...document.querySelectorAll('.bd-article *')]
  .filter(el => el.offsetParent !== null && el.scrollWidth > el.clientWidth + 2 && el.clientWidth > 0)
  .map(el => { const s = getComputedStyle(el);
    return {box: el.tagName + '.' + [...el.classList].join('.'), overflow: s.overflowX,
            cue: s.backgroundImage.includes('gradient'), text: (el.innerText || el.textContent || '').slice(0, 60)}; })
  .filter(b => b.overflow !== 'visible')"""


# --- item 6: accessibility (axe-core) -----------------------------------------------------

# parts of the page the themes write (navbar, sidebars, footers, the article's header
# buttons); a violation there is reported, ours (the article) must have none
THEME_PARTS = (
    ".bd-header, .bd-header-article, .bd-sidebar-primary, .bd-sidebar-secondary, "
    ".bd-footer, .bd-footer-article, .bd-footer-content, .prev-next-area, dialog, .search-button-field"
)
RUN_AXE = """async (themeParts) => {
  const result = await axe.run(document, {
    runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']},
    resultTypes: ['violations'],
  });
  const found = [];
  for (const v of result.violations) {
    if (!['serious', 'critical'].includes(v.impact)) continue;
    for (const node of v.nodes) {
      let el = null;
      try { el = document.querySelector(node.target[node.target.length - 1]); } catch (e) {}
      found.push({rule: v.id, impact: v.impact, target: node.target.join(' '),
                  theme: !!(el && el.closest(themeParts)),
                  html: node.html.slice(0, 120)});
    }
  }
  return found;
}"""


def axe_violations(page):
    if not AXE.is_file():
        pytest.fail(f"{AXE} is missing: run `make assets`")
    if not page.evaluate("() => typeof axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    return page.evaluate(RUN_AXE, THEME_PARTS)


# --- every page, loaded once -----------------------------------------------------------

WIDE_CODE = """() => [...document.querySelectorAll('.bd-article pre')]
  .filter(el => el.offsetParent !== null && !el.closest('.jupyter-widgets'))
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => ({width: el.scrollWidth, box: el.clientWidth,
               line: (el.innerText || '').split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 90)}))"""


def assert_code_fits_the_column(page, path):
    """Code on a desktop screen fits the text column (issue 26): at 1280 px no code block or
    text output of a chapter is wider than its box (a line hidden behind a scrollbar)."""
    assert page.viewport_size["width"] == 1280
    if path.startswith("book/"):
        wide = page.evaluate(WIDE_CODE)
        assert wide == [], f"{path}: code wider than the text column at 1280 px: {wide}"


def assert_axe_clean_light_and_dark(page, path):
    """Light, then dark, in one page load: the reader's switch of colour scheme (the
    theme follows it by changing data-theme), so dark mode is checked as a reader gets it."""
    ours = {}
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        # the theme sets data-theme from the colour scheme in a script
        page.wait_for_function("s => document.documentElement.dataset.theme === s", arg=scheme)
        page.wait_for_timeout(500)
        ours[scheme] = [v for v in axe_violations(page) if not v["theme"]]
    assert ours == {"light": [], "dark": []}, f"{path}: serious/critical axe violations: {ours}"
    page.emulate_media(color_scheme="light")


def assert_nothing_scrolls_sideways(page, path):
    width = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
    assert width[0] <= width[1], f"{path} is {width[0]} px wide on a {width[1]} px screen"
    # widget boxes that scroll are the demos helper's (issue 14.3, "reserve the space")
    hidden = [
        b
        for b in page.evaluate(OVERFLOWING_BOXES)
        if b["overflow"] in ("auto", "scroll") and not b["cue"] and ".jupyter-widgets" not in b["box"]
    ]
    assert hidden == [], f"boxes that scroll sideways with no scroll cue: {hidden}"
    clipped = [
        b
        for b in page.evaluate(OVERFLOWING_BOXES)
        if b["overflow"] in ("hidden", "clip") and (b["box"].startswith(("TABLE", "DIV.math", "MJX-CONTAINER", "PRE")))
    ]
    assert clipped == [], f"content cut off instead of scrolling: {clipped}"


@pytest.mark.parametrize("path", PAGES)
def test_every_page_as_a_reader_gets_it(visit, site_url, path):
    """Each page loaded once, with its formulas typeset and its demos drawn, then checked
    for what a reader would notice (six tests used to load the page, one check each):

    - at 1280 px: it loads offline, with no uncaught or console error; no code line is wider
      than the text column; axe finds no serious violation in our markup, light or dark;
    - at a phone's width (the page resized, as a phone turned from landscape does; the
      layout is the theme's and our CSS media queries): the page does not scroll sideways,
      and what scrolls sideways in it has a scroll cue and is not cut off;
    - back at 1280 px, every quiz on it is answered right by its key through the page's
      controls, and moving each demo's first control changes what the demo shows, with no
      error and no request leaving localhost.
    """
    page = open_page(visit, site_url, path)
    # "attached", not visible: the first formula may sit in a hidden quiz explanation
    if page.locator("mjx-container, .math").count():
        page.wait_for_selector("mjx-container", state="attached")
    if page.locator(".jupyter-widgets, script[type='application/vnd.jupyter.widget-view+json']").count():
        page.wait_for_selector(".widget-container, .jupyter-widgets", state="attached")
    if page.locator(".normlab-demo").count():
        page.wait_for_selector(".normlab-demo .widget-box, .normlab-demo .widget-stack", state="attached")
    page.wait_for_timeout(300)  # late async errors (widget manager, MathJax fonts)
    visit.assert_offline_and_clean()  # before axe, whose own fetch of the stylesheets logs 404s
    assert_code_fits_the_column(page, path)
    assert_axe_clean_light_and_dark(page, path)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert_nothing_scrolls_sideways(page, path)
    errors = visit.errors_so_far()  # axe's own 404s are before
    page.set_viewport_size({"width": 1280, "height": 900})
    if path in QUIZ_PAGES:  # read from the built HTML, so a quiz that fails to render fails here
        _quiz.answer_every_quiz_with_its_key(page, path)
    if path in DEMO_PAGES:  # the chapters that have a demo (tests/book/test_chapters.py)
        _demos.assert_every_demo_responds_to_its_first_control(page, path)
    if path in QUIZ_PAGES | DEMO_PAGES:
        visit.assert_offline_and_clean(since=errors)


def test_formulas_are_not_tab_stops(visit, site_url):
    page = open_page(visit, site_url, "book/02-attention-cost.html")
    page.wait_for_selector("mjx-container", state="attached")
    page.wait_for_timeout(500)
    assert page.locator("mjx-container").count() > 20
    assert page.locator("mjx-container[tabindex='0']").count() == 0
    # and a screen reader still gets each formula (MathJax's assistive MathML)
    assert page.locator("mjx-container mjx-assistive-mml math").count() > 20


# --- item 9: what a page loads --------------------------------------------------------------


def loaded_files(visit, site_url, path):
    loaded = []
    visit.page.on("requestfinished", lambda request: loaded.append(request.url.split("?")[0]))
    page = open_page(visit, site_url, path)
    page.wait_for_timeout(500)
    return page, [url.replace(site_url, "") for url in loaded]


def test_a_page_without_math_or_widgets_loads_neither(visit, site_url):
    page, loaded = loaded_files(visit, site_url, "book/bibliography.html")
    assert not [u for u in loaded if "mathjax" in u], loaded
    assert not [u for u in loaded if "html-manager" in u or "require.js" in u], loaded
    visit.assert_offline_and_clean()


def test_a_chapter_loads_each_library_once_and_icons_from_the_font_only(visit, site_url):
    page, loaded = loaded_files(visit, site_url, "book/05-pre-norm.html")
    assert not [u for u in loaded if u.endswith("fontawesome.js")], "icons: the web font, not also the 1.5 MB script"
    assert len(loaded) == len(set(loaded)), f"loaded twice: {sorted(u for u in loaded if loaded.count(u) > 1)}"
    assert [u for u in loaded if u.endswith("tex-mml-chtml.js")], "the chapter has formulas: MathJax is loaded"
    # the icons still draw: the menu button's glyph comes from the Font Awesome font
    icon = page.locator(".primary-toggle:visible i, .primary-toggle:visible span.fa-solid").first
    style = icon.evaluate("i => { const s = getComputedStyle(i, '::before'); return [s.fontFamily, s.content]; }")
    assert "Font Awesome" in style[0] and style[1] not in ("none", "normal", '""'), style
    assert page.evaluate("document.fonts.check('900 16px \"Font Awesome 6 Free\"')")
    visit.assert_offline_and_clean()


# --- item 8: search, citations, index --------------------------------------------------------


def test_search_for_pre_norm_ranks_the_pre_norm_chapter_first(visit, site_url):
    page = open_page(visit, site_url, "search.html?q=pre-norm")
    page.wait_for_selector("#search-results li")
    hits = page.locator("#search-results li a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert hits and "05-pre-norm" in hits[0], hits[:5]
    visit.assert_offline_and_clean()


def test_bibliography_labels_entries_as_the_text_cites_them(visit, site_url):
    page = open_page(visit, site_url, "book/bibliography.html")
    labels = page.locator(".citation .label").all_inner_texts()
    assert len(labels) >= 10
    keyed = [label for label in labels if re.fullmatch(r"\[?[A-Z][A-Za-z]{1,3}\+?\d\d\]?", label.strip())]
    assert keyed == [], f"keyed labels left: {keyed}"
    author_year = re.compile(r"\[?[^\[\],]+, (\d{4}|n\.d\.)[a-z]?\]?")
    assert all(author_year.fullmatch(label.strip()) for label in labels), labels
    # a citation in a chapter names the same author and year as the entry it links to
    chapter = open_page(visit, site_url, "book/05-pre-norm.html")
    cite = chapter.locator("a[href*='bibliography.html#']").first
    text, href = cite.inner_text(), cite.get_attribute("href")
    anchor = href.split("#")[1]
    entry = page_label = None
    page = open_page(visit, site_url, "book/bibliography.html")
    page_label = page.locator(f"[id='{anchor}'] .label, .citation:has([id='{anchor}']) .label").first.inner_text()
    entry = page_label.strip("[]")
    assert entry.split(",")[0].split(" ")[0] in text, (text, entry)


def test_index_lists_each_glossary_term_where_it_is_used(visit, site_url):
    page = open_page(visit, site_url, "genindex.html")
    entries = page.locator(".genindextable li").all_inner_texts()
    assert any(e.lower().startswith("pre-norm") for e in entries), entries
    links = page.locator(".genindextable a").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    chapters = {href.split("#")[0] for href in links}
    assert len(chapters) >= 3, f"the index points into at least three pages: {sorted(chapters)}"
    visit.assert_offline_and_clean()


# --- item 6: demo widgets follow dark mode ---------------------------------------------------

# relative luminance (WCAG 2) of a computed "rgb(...)" colour, and the panel's colours
PANEL_COLOURS = """() => {
  const lum = c => { const [r, g, b] = c.match(/[\\d.]+/g).slice(0, 3).map(v => {
      v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
  const ratio = (a, b) => (Math.max(lum(a), lum(b)) + 0.05) / (Math.min(lum(a), lum(b)) + 0.05);
  const demo = document.querySelector('.normlab-demo');
  const panel = demo.closest('.widget-subarea');
  const background = getComputedStyle(panel).backgroundColor;
  const shown = '.widget-label, .jupyter-widget-label, label, select, button, .widget-readout';
  const texts = [...demo.querySelectorAll(shown)]
    .filter(el => el.offsetParent !== null && el.textContent.trim());
  return {background: background, luminance: lum(background),
          contrasts: texts.map(el => [el.textContent.trim().slice(0, 30),
                                      ratio(getComputedStyle(el).color, background)])};
}"""


def test_demo_panels_follow_dark_mode_with_aa_contrast(browser, site_url):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    try:
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(f"{site_url}/book/05-pre-norm.html", wait_until="networkidle")
        page.wait_for_function("() => document.documentElement.dataset.theme === 'dark'")
        page.wait_for_selector(".normlab-demo .widget-label, .normlab-demo label", state="visible")
        colours = page.evaluate(PANEL_COLOURS)
        assert colours["luminance"] < 0.1, f"the demo panel is light in dark mode: {colours['background']}"
        assert colours["contrasts"], "the demo shows labelled controls"
        low = [(text, round(ratio, 2)) for text, ratio in colours["contrasts"] if ratio < 4.5]
        assert low == [], f"control text below AA contrast on the dark panel: {low}"
    finally:
        context.close()
