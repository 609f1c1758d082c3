"""Browser fixtures: the built book served on 127.0.0.1, headless Debian chromium, and
every request to another host aborted and recorded.

Needs `make book` (the pages) and `make chromium` (/usr/bin/chromium); `make test` does
both. A failing test leaves a screenshot in test-results/<test name>.png.
"""

from __future__ import annotations

import functools
import http.server
import re
import threading
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # keep pytest output readable
        pass


@pytest.fixture(scope="session")
def site_url():
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE}/index.html is missing: run `make book` first")
    handler = functools.partial(QuietHandler, directory=str(SITE))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


class Visit:
    """One browser page plus what it tried to fetch from outside and what it logged."""

    def __init__(self, page):
        self.page = page
        self.blocked: list[str] = []
        self.console_errors: list[str] = []
        self.page_errors: list[str] = []

    def goto(self, url: str):
        response = self.page.goto(url, wait_until="load")
        assert response is not None and response.ok, f"{url}: HTTP {response and response.status}"
        return response

    def errors_so_far(self) -> tuple[int, int]:
        """A mark for ``assert_offline_and_clean(since=...)``: the errors logged until now."""
        return len(self.page_errors), len(self.console_errors)

    def assert_offline_and_clean(self, since: tuple[int, int] = (0, 0)) -> None:
        """Nothing was fetched from outside, and no uncaught or console error was logged
        (after the mark ``since``, when given)."""
        page_errors, console_errors = self.page_errors[since[0] :], self.console_errors[since[1] :]
        assert self.blocked == [], f"requests left localhost: {self.blocked}"
        assert page_errors == [], f"uncaught errors: {page_errors}"
        assert console_errors == [], f"console errors: {console_errors}"


@pytest.fixture
def visit(browser, screenshot_if_failed):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    # generous: a shared 2-core machine can take many seconds to typeset a long chapter;
    # only a real hang should trip it
    page.set_default_timeout(60_000)
    seen = Visit(page)

    def route(route_):
        host = urlparse(route_.request.url).hostname
        if route_.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route_.continue_()
        else:
            seen.blocked.append(route_.request.url)
            route_.abort()

    context.route(re.compile(r".*"), route)
    page.on(
        "console",
        lambda msg: (
            msg.type == "error" and seen.console_errors.append(f"{msg.text} (at {msg.location.get('url', '?')})")
        ),
    )
    page.on("pageerror", lambda err: seen.page_errors.append(str(err)))
    yield seen
    screenshot_if_failed(page, full_page=True)
    context.close()
