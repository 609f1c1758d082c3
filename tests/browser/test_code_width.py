"""Code on a desktop screen fits the text column (issue 26): at 1280 px no code block or
text output of a chapter is wider than its box (a line hidden behind a scrollbar)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

# the page helpers of test_book.py (tests/browser is not a package)
_spec = importlib.util.spec_from_file_location("browser_test_book", Path(__file__).with_name("test_book.py"))
_book = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = _book
_spec.loader.exec_module(_book)
built_pages, open_page = _book.built_pages, _book.open_page

pytestmark = pytest.mark.browser

PAGES = [p for p in built_pages() if p.startswith("book/")] or ["<run make book first>"]

WIDE_CODE = """() => [...document.querySelectorAll('.bd-article pre')]
  .filter(el => el.offsetParent !== null && !el.closest('.jupyter-widgets'))
  .filter(el => el.scrollWidth > el.clientWidth + 1)
  .map(el => ({width: el.scrollWidth, box: el.clientWidth,
               line: (el.innerText || '').split('\\n').sort((a, b) => b.length - a.length)[0].slice(0, 90)}))"""


@pytest.mark.parametrize("path", PAGES)
def test_no_code_line_overflows_the_text_column_at_1280_px(visit, site_url, path):
    assert visit.page.viewport_size["width"] == 1280
    page = open_page(visit, site_url, path)
    wide = page.evaluate(WIDE_CODE)
    assert wide == [], f"{path}: code wider than the text column at 1280 px: {wide}"
