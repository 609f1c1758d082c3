"""Sphinx extension: keep the built book offline and its demos static.

1. Kernels started by the build (myst-nb / jupyter-cache) inherit ``NORMLAB_STATIC_WIDGETS=1``,
   so :func:`normlab.page.widgets.precomputed_demo` renders every variant up front
   (the page has no kernel to recompute on), and ``OMP_NUM_THREADS=1``: the book's models
   are tiny, and on a 2-core machine shared with other work PyTorch's thread pool made
   a demo cell 10-20x slower than one thread (measured: 50 s vs 4 s).
2. Jupyter Book adds every ``.js``/``.css`` under ``_static/`` to every page; the vendored
   npm packages under ``_static/vendor/`` (hundreds of MathJax components) must only be
   loaded by the pages that need them (``mathjax_path``, ``nb_ipywidgets_js``), so their
   entries are dropped again here.
3. sphinx-thebe (always loaded by Jupyter Book) would add its scripts (a remote
   ``THEBE_JS_URL``, and twice on some pages: "Identifier 'THEBE_JS_URL' has already
   been declared" in the console); thebe needs a remote kernel, so its files are taken
   off every page.
4. After the build, every HTML and CSS file is scanned for scripts, styles, fonts or images
   loaded from an http(s) URL; each one found is a warning (an error under ``-W``) naming
   the file.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sphinx.application import Sphinx
from sphinx.util import logging

from ..page.widgets import STATIC_WIDGETS_ENV

if TYPE_CHECKING:
    from docutils import nodes
    from sphinx.config import Config

logger = logging.getLogger(__name__)

VENDOR_PREFIX = "vendor/"

# Tags that make the browser fetch something as the page loads (not <a href>, a link).
_REMOTE_IN_HTML = re.compile(
    r"<(script|link|img|source|iframe|audio|video|embed|object)\b[^>]*?\b(src|href|data|srcset)\s*=\s*"
    r"[\"']?\s*((?:https?:)?//[^\"'\s>]+)",
    re.IGNORECASE,
)
_REMOTE_IN_CSS = re.compile(r"(?:url\(\s*[\"']?|@import\s+[\"'])((?:https?:)?//[^\"')\s]+)", re.IGNORECASE)


def _name(entry: Any) -> str:
    return entry[0] if isinstance(entry, (tuple, list)) else entry


def drop_vendor_files(app: Sphinx, config: Config) -> None:
    # Without an icon link the browser asks for /favicon.ico: a 404 in the console.
    if not config.html_favicon:
        config.html_favicon = str(Path(__file__).parent / "static" / "favicon.svg")
    config.html_js_files = [e for e in config.html_js_files if not _name(e).startswith(VENDOR_PREFIX)]
    config.html_css_files = [e for e in config.html_css_files if not _name(e).startswith(VENDOR_PREFIX)]
    vendor = Path(app.srcdir) / "_static" / "vendor"
    if not vendor.is_dir():
        logger.warning(f"{vendor} is missing: run `make assets` (widgets and math would not load offline)")


def _is_thebe(asset: Any) -> bool:
    body = getattr(asset, "attributes", {}).get("body", "") or ""
    return "thebe" in str(getattr(asset, "filename", asset) or "") or "THEBE_JS_URL" in body


def drop_thebe(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: nodes.document | None
) -> None:
    for key in ("script_files", "css_files"):
        if key in context:
            context[key] = [asset for asset in context[key] if not _is_thebe(asset)]


def remote_loads(outdir: Path) -> list[str]:
    """``file: url`` for every resource a built page or stylesheet would fetch remotely."""
    found = []
    for path in sorted(outdir.rglob("*")):
        if path.suffix not in (".html", ".css") or "vendor" in path.relative_to(outdir).parts:
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.suffix == ".html":
            urls = [m.group(3) for m in _REMOTE_IN_HTML.finditer(text)]
        else:
            urls = [m.group(1) for m in _REMOTE_IN_CSS.finditer(text)]
        found += [f"{path.relative_to(outdir)}: {url}" for url in sorted(set(urls))]
    return found


def check_offline(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for entry in remote_loads(Path(app.outdir)):
        logger.warning(f"loads a remote resource (the book must work offline): {entry}")


def setup(app: Sphinx) -> dict:
    os.environ[STATIC_WIDGETS_ENV] = "1"
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    # after Jupyter Book has filled html_js_files, before the HTML builder reads it
    app.connect("config-inited", drop_vendor_files, priority=900)
    app.connect("html-page-context", drop_thebe)
    app.connect("build-finished", check_offline)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
