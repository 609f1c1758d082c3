"""Maths in feedback pages rendered before they leave the grader: static SVG, no script.

nbconvert's pages load MathJax 2 from a CDN, so a student who opens their feedback offline
(or from an LMS that strips scripts) reads raw `$...$`.  Here every `$...$`, `$$...$$`,
`\\(...\\)` and `\\[...\\]` outside code and outputs is typeset once by MathJax 3 under node
(the copy `make assets` vendors into _static/vendor/mathjax/, as the book uses) and the
CDN script is removed.  Without node or that copy, pages are left as they are and the
caller is told why.
"""

import html
import json
import os
import re
import shutil
import subprocess
from collections.abc import Mapping

from .course import REPO_ROOT

MATHJAX_DIR = os.path.join(REPO_ROOT, "_static", "vendor", "mathjax", "es5")
# the parts of a page never typeset: code, outputs, scripts, styles
SKIP = re.compile(r"(<(pre|code|script|style|textarea)\b.*?</\2\s*>)", re.DOTALL | re.IGNORECASE)
MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|(?<![\\$])\$(?!\s)([^$<>]+?)(?<!\s)\$(?!\d)|\\\((.+?)\\\)", re.DOTALL)
CDN = re.compile(
    r"<!-- Load mathjax -->|<script[^>]*mathjax[^>]*>.*?</script>|<script type=\"text/x-mathjax-config\">.*?</script>",
    re.DOTALL | re.IGNORECASE,
)
# TeX that could put a link, a class or a style into the page (MathJax 2 had its "Safe"
# extension for this): left as text
UNSAFE = re.compile(r"\\(href|url|class|style|cssId|data|html|unicode|require)\b")
RENDER_JS = """
const dir = process.argv[1];
require(dir + '/node-main.js').init({loader: {load: ['input/tex', 'output/svg']}, svg: {fontCache: 'none'}})
  .then((MathJax) => {
    const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));
    const out = input.map(([tex, display]) => {
      try { return MathJax.startup.adaptor.outerHTML(MathJax.tex2svg(tex, {display})); } catch (e) { return null; }
    });
    process.stdout.write(JSON.stringify(out));
  })
  .catch((e) => { console.error(e.message); process.exit(1); });
"""


def unavailable() -> str:
    """Why maths cannot be typeset here ("" when it can)."""
    if not shutil.which("node"):
        return "node is not installed"
    if not os.path.exists(os.path.join(MATHJAX_DIR, "node-main.js")):
        return f"no MathJax copy in {MATHJAX_DIR} (run `make assets`)"
    return ""


def _formulas(page: str) -> list[tuple[str, bool]]:
    """[(tex, display)] of every formula outside code, in page order."""
    found = []
    for index, part in enumerate(SKIP.split(page)):
        if index % 3 == 0:  # split() gives: text, skipped element, its tag name, text, ...
            for match in MATH.finditer(part):
                display = match.group(1) is not None or match.group(2) is not None
                tex = next(g for g in match.groups() if g is not None)
                found.append((html.unescape(tex), display))
    return found


def typeset(formulas: list) -> list:
    """SVG markup (None where TeX is invalid) for each (tex, display), in one node run."""
    if not formulas:
        return []
    run = subprocess.run(
        ["node", "-e", RENDER_JS, MATHJAX_DIR],
        input=json.dumps(formulas),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if run.returncode != 0:
        raise RuntimeError(f"MathJax under node failed: {run.stderr.strip()[-300:]}")
    return json.loads(run.stdout)


def render_pages(pages: list) -> int:
    """Typeset the maths of these HTML files in place (one node run for all); returns the
    number of formulas typeset.  A formula MathJax rejects stays as its TeX."""
    texts = {}
    for page in pages:
        with open(page, encoding="utf-8") as f:
            texts[page] = f.read()
    wanted = sorted({f for text in texts.values() for f in _formulas(text) if not UNSAFE.search(f[0])})
    svgs = dict(zip(wanted, typeset(wanted), strict=True))
    for page, text in texts.items():
        parts = SKIP.split(text)
        out = []
        for index, part in enumerate(parts):
            if index % 3 == 1:
                out.append(part)
            elif index % 3 == 0:
                out.append(MATH.sub(lambda m: _svg(m, svgs), part))
        with open(page, "w", encoding="utf-8") as f:
            f.write(CDN.sub("", "".join(out)))
    return sum(1 for svg in svgs.values() if svg)


def _svg(match: re.Match[str], svgs: Mapping[tuple[str, bool], str | None]) -> str:
    display = match.group(1) is not None or match.group(2) is not None
    tex = next(g for g in match.groups() if g is not None)
    return svgs.get((html.unescape(tex), display)) or match.group(0)
