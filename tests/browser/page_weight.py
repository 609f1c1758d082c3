"""What each page of the built book makes the browser fetch, and what axe-core finds.

    .venv/bin/python tests/browser/page_weight.py            # bytes per page (uncompressed)
    .venv/bin/python tests/browser/page_weight.py --axe      # plus axe counts, light and dark

A page's weight is the sum of the files it loads from the book (the HTML, scripts,
styles, fonts, images), counted as the bytes on disk, i.e. uncompressed, after the page
and its lazy loads (MathJax fonts, the widget manager) are done; data: URLs are inside
the HTML already. Needs `make book` and `make chromium`; the axe counts need
`make assets`. The same loading rules are asserted in test_reader.py; this prints the
figures for a report.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import threading
from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlparse

# the axe run and the parts of a page the themes write: test_reader.py's own (this folder
# is sys.path[0] when the script runs)
from test_reader import RUN_AXE, THEME_PARTS

ROOT = Path(__file__).resolve().parents[2]
SITE = ROOT / "_build" / "html"
AXE = ROOT / ".cache" / "test-vendor" / "axe-core" / "axe.min.js"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


def pages() -> list[str]:
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in SITE.rglob("*.html")
        if "_static" not in p.parts and "reports" not in p.parts
    )


def local_file(url: str) -> Path | None:
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        return None
    path = SITE / unquote(parsed.path).lstrip("/")
    return path if path.is_file() else None


def measure(page, url: str) -> dict[str, int]:
    """Bytes per loaded file of one page (each file once, as a browser cache would)."""
    files: dict[str, int] = {}

    def done(request):
        path = local_file(request.url)
        if path is not None:
            files[path.relative_to(SITE).as_posix()] = path.stat().st_size

    page.on("requestfinished", done)
    page.goto(url, wait_until="networkidle")
    page.wait_for_timeout(800)  # late loads: MathJax fonts, widget views
    page.remove_listener("requestfinished", done)
    return files


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--axe", action="store_true", help="also count axe-core's serious/critical findings")
    parser.add_argument("--top", type=int, default=0, help="list the N largest files of each page")
    parser.add_argument("pages", nargs="*", help="pages relative to _build/html (default: all)")
    options = parser.parse_args()
    from playwright.sync_api import sync_playwright

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(SITE)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    theme_total: Counter = Counter()
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
            print(
                f"{'page':42} {'KB':>8}  {'MathJax':>7} {'widgets':>7}"
                + ("  axe ours/theme (light, dark)" * options.axe)
            )
            for path in options.pages or pages():
                context = browser.new_context(viewport={"width": 1280, "height": 900})
                page = context.new_page()
                page.set_default_timeout(60_000)
                files = measure(page, f"{base}/{path}")
                context.close()
                mathjax = sum(n for f, n in files.items() if "mathjax" in f.lower())
                manager = sum(n for f, n in files.items() if "html-manager" in f or "require" in f)
                line = f"{path:42} {sum(files.values()) / 1024:8.0f}  {mathjax / 1024:7.0f} {manager / 1024:7.0f}"
                if options.axe:
                    for scheme in ("light", "dark"):
                        context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=scheme)
                        page = context.new_page()
                        page.set_default_timeout(60_000)
                        page.goto(f"{base}/{path}", wait_until="networkidle")
                        page.wait_for_timeout(800)
                        page.add_script_tag(path=str(AXE))
                        found = page.evaluate(RUN_AXE, THEME_PARTS)
                        context.close()
                        ours = sum(1 for v in found if not v["theme"])
                        theme_total.update(f"{v['rule']} ({scheme})" for v in found if v["theme"])
                        line += f"  {ours}/{len(found) - ours}"
                print(line, flush=True)
                for name, size in sorted(files.items(), key=lambda kv: -kv[1])[: options.top]:
                    print(f"    {size / 1024:8.0f} KB  {name}")
            browser.close()
    finally:
        server.shutdown()
    if options.axe:
        print("theme-owned serious/critical findings, all pages:", dict(sorted(theme_total.items())))


if __name__ == "__main__":
    main()
