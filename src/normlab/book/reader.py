"""Sphinx extension: the book as a reader gets it (phone, keyboard, screen reader, weight).

1. ``static/normlab-reader.js`` makes the theme's sidebar toggles work: on a phone they
   open the navigation drawer, on a desktop the primary one collapses the sidebar
   (pydata-sphinx-theme 0.17.1 and sphinx-book-theme 1.3.0 bind only the first, hidden,
   button of each kind; see the script's header).
2. ``static/normlab-reader.css``: nothing scrolls a page sideways at phone width;
   tables, code and wide equations scroll in their own box with a visible cue.
3. Formulas are not Tab stops: MathJax 3 puts every formula in the tab order for its
   menu (95 stops before chapter 2's first quiz); the menu stays on right click and
   the formula stays readable to screen readers (its assistive MathML).
4. Page weight: each page loads only what it uses.

   * Icons: pydata-sphinx-theme loads Font Awesome twice, as a 1.5 MB script that
     swaps every ``<i class="fa-...">`` for an SVG, and as a web font its CSS already
     declares. The font alone draws every icon; the script tag (written by the theme's
     layout, not through ``script_files``) is taken out of every page after the build.
   * MathJax (1.2 MB plus fonts) is added to every page (the HTML assets policy is
     "always"); it stays only on pages with a formula or with widgets (ipywidgets
     typesets widget labels through it).
   * The widget manager (3.6 MB) is added by myst-nb only to pages with widget state.
5. One citation style: the text cites author-year ("Xiong et al. [2020]",
   ``bibtex_reference_style: author_year``); the bibliography labels its entries the
   same way ("[Xiong et al., 2020]") instead of pybtex's keyed "[XYH+20]", sorted by
   author and year. ``bibtex_default_style`` names the style registered here.
6. Search keeps hyphenated terms whole: Sphinx splits "pre-norm" into "pre" and
   "norm" on both sides (index and query), so a search for pre-norm matched every page
   with "pre" and "norm" and ranked the pre-norm chapter 4th. The index holds each
   compound whole and its parts; the query keeps it whole. ``static/
   normlab-search-scorer.js`` puts the page titled with the query first (a glossary
   entry scored higher than the chapter about the term).
7. Index: every ``{term}`...` `` reference to the glossary also becomes an index entry
   for that term at that place, so the index lists where each term is used (plus the
   glossary's own entries and any ``{index}`` entry a chapter writes).
8. The student kit (``normlab.book.student_kit``): a zip of a normlab wheel, the student
   notebooks and a two-line install note, made when the build starts, for the
   Exercises chapter's ``{download}`` link.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sphinx.application import Sphinx

from .contents import cited_names

if TYPE_CHECKING:
    from docutils import nodes
    from sphinx.config import Config

STATIC_DIR = Path(__file__).parent / "static"
ICON_SCRIPT_TAG = re.compile(r'[ \t]*<script\b[^>]*\bsrc="[^"]*/scripts/fontawesome\.js[^"]*"[^>]*></script>\n?')
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"

# MathJax 3 options merged into whatever _config.yml sets (mathjax3_config)
MATHJAX_OPTIONS = {"options": {"menuOptions": {"settings": {"inTabOrder": False}}}}


def _merge(into: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict):
            _merge(into.setdefault(key, {}), value)
        else:
            into.setdefault(key, value)
    return into


BIB_STYLE = "normlab_author_year"


def author_year_label(entry: Any) -> str:
    """'Ba et al., 2016' / 'Kim and Lee, 2021' / 'Vaswani, 2017': as the text cites it."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    surnames = [" ".join(p.prelast_names + p.last_names) for p in people]
    surnames = [str(name).replace("{", "").replace("}", "") for name in surnames]
    who = cited_names(surnames) or entry.fields.get("organization") or entry.fields.get("title", entry.key)
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


def register_bibliography_style() -> None:
    from pybtex.plugin import register_plugin
    from pybtex.style.formatting.plain import Style as PlainStyle
    from pybtex.style.labels import BaseLabelStyle

    class AuthorYearLabels(BaseLabelStyle):
        def format_labels(self, sorted_entries: list[Any]) -> Iterator[str]:
            labels = [author_year_label(entry) for entry in sorted_entries]
            # two works with one label: 2019a, 2019b, as author-year lists do
            for label in labels:
                same = [i for i, other in enumerate(labels) if other == label]
                if len(same) > 1:
                    for letter, i in zip("abcdefghijklmnopqrstuvwxyz", same):
                        labels[i] = f"{label}{letter}"
            return iter(labels)

    class AuthorYearStyle(PlainStyle):
        default_label_style = BIB_STYLE

    register_plugin("pybtex.style.labels", BIB_STYLE, AuthorYearLabels, force=True)
    register_plugin("pybtex.style.formatting", BIB_STYLE, AuthorYearStyle, force=True)


COMPOUND_WORD = re.compile(r"\w+(?:-\w+)+|\w+")

# language_data.js: loaded before searchtools.js, which keeps a splitQuery defined here
SPLIT_QUERY_JS = r"""
function splitQuery(query) {
  return query
    .split(/[^\p{Letter}\p{Number}_\p{Emoji_Presentation}-]+/gu)
    .map((term) => term.replace(/^-+|-+$/g, ""))
    .filter((term) => term);
}
"""


def make_search_language() -> type:
    from sphinx.search.en import SearchEnglish

    class CompoundSearchEnglish(SearchEnglish):
        """English search that indexes "pre-norm" whole as well as "pre" and "norm"."""

        js_splitter_code = SPLIT_QUERY_JS

        def split(self, input: str) -> list[str]:
            words = []
            for word in COMPOUND_WORD.findall(input):
                words.append(word)
                if "-" in word:
                    words.extend(part for part in word.split("-") if part)
            return words

    return CompoundSearchEnglish


def index_term_references(doctree: nodes.document) -> None:
    """An index entry for each glossary-term reference, pointing at where it is used."""
    from docutils import nodes
    from sphinx import addnodes

    for number, ref in enumerate(list(doctree.findall(addnodes.pending_xref))):
        if ref.get("refdomain") != "std" or ref.get("reftype") != "term":
            continue
        term = ref.get("reftarget", "").strip()
        parent = ref.parent
        if not term or parent is None:
            continue
        target_id = f"index-term-{nodes.make_id(term)}-{number}"
        target = nodes.target("", "", ids=[target_id])
        entry = addnodes.index(entries=[("single", term, target_id, "", None)], inline=True)
        position = parent.index(ref)
        parent.insert(position, target)
        parent.insert(position, entry)


def make_index_transform() -> type:
    from sphinx.transforms import SphinxTransform

    class IndexTermReferences(SphinxTransform):
        # before the domains collect the page's index entries (SphinxDomains, 850)
        default_priority = 840

        def apply(self, **kwargs: Any) -> None:
            index_term_references(self.document)

    return IndexTermReferences


def configure(app: Sphinx, config: Config) -> None:
    if str(STATIC_DIR) not in map(str, config.html_static_path):
        config.html_static_path.append(str(STATIC_DIR))
    if not config.html_search_scorer:
        config.html_search_scorer = str(STATIC_DIR / "normlab-search-scorer.js")
    config.mathjax3_config = _merge(dict(config.mathjax3_config or {}), MATHJAX_OPTIONS)


def _filename(asset: Any) -> str:
    return str(getattr(asset, "filename", asset) or "")


def _body(asset: Any) -> str:
    return str(getattr(asset, "attributes", {}).get("body", "") or "")


def page_uses_math(app: Sphinx, pagename: str, context: dict) -> bool:
    """A formula in the page, or widgets (their labels are typeset by MathJax)."""
    # the page's own formulas (MathDomain.has_equations also counts its toctree
    # children: the landing page "had" every chapter's math)
    if app.env.get_domain("math").data.get("has_equations", {}).get(pagename):
        return True
    body = context.get("body", "") or ""
    if 'class="math' in body:
        return True
    return any(getattr(a, "attributes", {}).get("type") == WIDGET_STATE for a in context.get("script_files", []))


def is_mathjax(app: Sphinx, asset: Any) -> bool:
    name = _filename(asset)
    return (bool(name) and name == app.config.mathjax_path) or _body(asset).startswith("window.MathJax =")


def trim_page_assets(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: nodes.document | None
) -> None:
    if "script_files" not in context:
        return
    # docutils lists citations as role="doc-biblioentry" items of a role="list"; that
    # role is deprecated (DPUB-ARIA 1.1) and is no list item to axe or screen readers
    if "body" in context:
        context["body"] = context["body"].replace('role="doc-biblioentry"', 'role="listitem"')
    keep_math = page_uses_math(app, pagename, context)
    context["script_files"] = [asset for asset in context["script_files"] if keep_math or not is_mathjax(app, asset)]


def drop_icon_script(app: Sphinx, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    for path in Path(app.outdir).rglob("*.html"):
        text = path.read_text(encoding="utf-8")
        trimmed = ICON_SCRIPT_TAG.sub("", text)
        if trimmed != text:
            path.write_text(trimmed, encoding="utf-8")


def make_student_kit(app: Sphinx) -> None:
    from .student_kit import build_student_kit
    from .student_notebooks import release_student_notebooks

    root = Path(app.srcdir)
    build_student_kit(root, release_student_notebooks(root), title=app.config.project)


def setup(app: Sphinx) -> dict:
    app.connect("builder-inited", make_student_kit)
    register_bibliography_style()
    app.add_search_language(make_search_language())
    app.add_transform(make_index_transform())
    app.connect("config-inited", configure)
    app.add_js_file("normlab-reader.js", defer="defer")
    app.add_css_file("normlab-reader.css")
    # after sphinx.ext.mathjax (priority 500) has added MathJax to the page
    app.connect("html-page-context", trim_page_assets, priority=900)
    app.connect("build-finished", drop_icon_script)
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
