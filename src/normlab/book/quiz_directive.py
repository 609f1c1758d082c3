"""Sphinx extension: quizzes from the banks, and the reader's progress page.

A chapter asks a question with a code cell that also runs in a live notebook::

    ```{code-cell} ipython3
    :tags: [quiz]

    quiz.show("attn-weights-shape")
    ```

(after a ``from normlab import quiz`` cell). Before the chapter is parsed (and executed),
the build turns such a cell into the ``{quiz}`` directive, which can also be written
directly::

    ```{quiz} attn-weights-shape
    ```

The directive emits accessible HTML (a fieldset with a legend, labelled inputs, Check /
Reset buttons, a polite live region for feedback) that ``static/normlab-quiz.js`` checks
in the browser, with no kernel; each quiz type (:mod:`normlab.quiz.types`) draws its own
answer area. Prompts, options and explanations are inline Markdown (math, code,
emphasis) rendered by Sphinx, so MathJax typesets them like body text.

``{quiz-progress}`` is the progress page: every question of the book, by chapter, with
what this browser's reader answered (localStorage; nothing leaves the browser).

Banks are read from ``normlab_quiz_dir`` (default ``book/quizzes``, relative to the book
root); a page that shows a question is rebuilt when its bank changes.
"""

from __future__ import annotations

import difflib
import html
import json
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

from ..quiz import Question, QuizBankError, QuizBankWarning, load_banks

if TYPE_CHECKING:
    from sphinx.config import Config

logger = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).parent / "static"

_banks_cache: dict[tuple, dict[str, Question]] = {}


def banks_for(folder: Path) -> dict[str, Question]:
    """Load (and validate) every bank in `folder`, once per change of its files."""
    files = sorted(folder.glob("*.yml"))
    key = (str(folder), tuple((str(f), f.stat().st_mtime_ns) for f in files))
    if key not in _banks_cache:
        _banks_cache.clear()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", QuizBankWarning)
            _banks_cache[key] = load_banks(folder)
        for warning in caught:  # a give-away fails the strict (-W) build, like any warning
            if issubclass(warning.category, QuizBankWarning):
                logger.warning(str(warning.message), type="normlab", subtype="quiz")
            else:
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return _banks_cache[key]


def raw(markup: str) -> nodes.raw:
    return nodes.raw("", markup, format="html")


def attr(value: object) -> str:
    return html.escape(str(value), quote=True)


INLINE_MATH = re.compile(r"\$([^$]+)\$")
# commands spelt as the symbol or word a screen reader says; a font command says nothing
TEX_WORDS = {
    "mathrm": "",
    "text": "",
    "operatorname": "",
    "mathbf": "",
    "alpha": "α",
    "cdot": "·",
    "ldots": "…",
    "approx": "≈",
    "ne": "≠",
    "sqrt": "√",
    "sum": "Σ",
    "top": "ᵀ",
}


def formula_only_name(markdown: str) -> str | None:
    """A plain-text name for an option that is only a formula (``$y = \\mathrm{LN}(x)$``
    gives "y = LN(x)"), None when the option has words of its own. Its label holds only
    MathJax output, from which a browser or axe-core computes no name for the input."""
    if not INLINE_MATH.search(markdown) or INLINE_MATH.sub("", markdown).strip():
        return None

    def plain(tex: str) -> str:
        tex = re.sub(r"\\([A-Za-z]+)", lambda m: TEX_WORDS.get(m.group(1), m.group(1)), tex)
        return re.sub(r"\s+", " ", tex.replace("{", "").replace("}", "")).strip()

    return " ".join(plain(m.group(1)) for m in INLINE_MATH.finditer(markdown))


# ---------------------------------------------------------------------------
# The notebook form: a code cell tagged `quiz` becomes the directive
# ---------------------------------------------------------------------------

QUIZ_CELL = re.compile(
    r"^(?P<fence>`{3,})\{code-cell\}[^\n]*\n"  # ```{code-cell} ipython3
    r"(?P<options>(?::[^\n]*\n)*)"  # :tags: [quiz]
    r"\s*\n?"
    r"(?P<body>(?:(?!(?P=fence)).*\n)*?)"  # quiz.show("id")
    r"(?P=fence)[ \t]*$",
    re.MULTILINE,
)
QUIZ_CALL = re.compile(r"""^\s*(?:normlab\.)?quiz\.show\(\s*["']([a-z0-9][a-z0-9-]*)["']\s*\)\s*$""")


def quiz_cells_to_directives(source: str, where: str = "") -> str:
    """Replace each ``{code-cell}`` tagged ``quiz`` by ``{quiz} <id>``, keeping the line
    count (so line numbers in messages still point into the chapter)."""

    def replace(match: re.Match) -> str:
        if not re.search(r"^:tags:.*\bquiz\b", match.group("options"), re.MULTILINE):
            return match.group(0)
        body = [line for line in match.group("body").splitlines() if line.strip()]
        call = QUIZ_CALL.match(body[0]) if len(body) == 1 else None
        if call is None:
            line = source.count("\n", 0, match.start()) + 1
            raise QuizBankError(
                f"{where}:{line}: a code cell tagged 'quiz' must hold one line, "
                f'quiz.show("<question-id>"); found {match.group("body").strip()!r}'
            )
        lines = match.group(0).count("\n")
        fence = match.group("fence")
        # blank lines after the directive, not inside it (a directive without content)
        return f"{fence}{{quiz}} {call.group(1)}\n{fence}" + "\n" * (lines - 1)

    return QUIZ_CELL.sub(replace, source)


def on_source_read(app: Sphinx, docname: str, source: list[str]) -> None:
    if "quiz" in source[0]:
        source[0] = quiz_cells_to_directives(source[0], app.env.doc2path(docname))


# ---------------------------------------------------------------------------
# The {quiz} directive
# ---------------------------------------------------------------------------


class QuizDirective(SphinxDirective):
    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        question_id = self.arguments[0]
        folder = Path(self.env.srcdir) / self.config.normlab_quiz_dir
        if not folder.is_dir():
            raise self.error(f"quiz: no quiz bank folder {folder} (normlab_quiz_dir)")
        try:
            bank = banks_for(folder)
        except QuizBankError as err:
            raise self.error(f"quiz bank error: {err}") from None
        for path in folder.glob("*.yml"):
            self.env.note_dependency(str(path))
        if question_id not in bank:
            close = difflib.get_close_matches(question_id, list(bank), n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise self.error(f"quiz: no question '{question_id}' in {folder}/*.yml{hint}")
        return QuizHtml(self, bank[question_id]).nodes()


class QuizHtml:
    """Builds the node list for one question: raw HTML tags around Sphinx-rendered text.
    The question's type draws its answer area with :meth:`options`, :meth:`ordering` or
    :meth:`numeric` (or its own, from these primitives)."""

    def __init__(self, directive: QuizDirective, question: Question) -> None:
        self.directive = directive
        self.q = question
        self.out: list[nodes.Node] = []
        self.dom_id = f"quiz-{question.id}"

    def html(self, markup: str) -> None:
        self.out.append(raw(markup))

    def text(self, markdown: str, cls: str) -> None:
        """Inline Markdown rendered by the MyST parser, inside a span of class `cls`;
        ``{{name}}`` of a parameterised question becomes a span the page fills in."""
        parsed, messages = self.directive.state.inline_text(markdown, self.directive.lineno)
        span = nodes.inline("", "", *parsed, classes=[cls])
        if self.q.variants:
            self._mark_params(span)
        self.out.append(span)
        self.out.extend(messages)

    def _mark_params(self, tree: nodes.Element) -> None:
        first = self.q.variants[0].params
        for text in list(tree.findall(nodes.Text)):
            if isinstance(text.parent, (nodes.math, nodes.raw)):
                continue  # {{name}} belongs in plain text, where the page can replace it
            pieces = re.split(r"\{\{\s*(\w+)\s*\}\}", str(text))
            if len(pieces) == 1:
                continue
            new: list[nodes.Node] = []
            for i, piece in enumerate(pieces):
                if i % 2 == 0:
                    if piece:
                        new.append(nodes.Text(piece))
                else:
                    new.append(
                        raw(f'<span class="nl-quiz-param" data-param="{attr(piece)}">{attr(first[piece])}</span>')
                    )
            text.parent.replace(text, new)

    def explanation(self, markdown: str, extra_attrs: str = "") -> None:
        self.html(f'<div class="nl-quiz-explain"{extra_attrs} hidden>')
        self.text(markdown, "nl-quiz-explain-text")
        self.html("</div>")

    def nodes(self) -> list[nodes.Node]:
        q = self.q
        kind = q.kind
        data = kind.variant_data(q)
        variants = f' data-variants="{attr(json.dumps(data))}"' if data else ""
        self.html(
            f'<div class="nl-quiz" id="{attr(self.dom_id)}" data-quiz-id="{attr(q.id)}" '
            f'data-quiz-type="{attr(q.type)}"{variants}><fieldset class="nl-quiz-fieldset">'
            f'<legend class="nl-quiz-prompt"><span class="nl-quiz-kind">{attr(kind.label)}</span> '
        )
        self.text(q.prompt, "nl-quiz-prompt-text")
        self.html("</legend>")
        kind.html(q, self)
        kind.general_explanation(q, self)
        another = '<button type="button" class="nl-quiz-another">Try another</button> ' if len(q.variants) > 1 else ""
        give_up = '<button type="button" class="nl-quiz-reveal">Show the answer</button> ' if kind.gives_up else ""
        self.html(
            '</fieldset><div class="nl-quiz-actions">'
            '<button type="button" class="nl-quiz-check">Check</button> '
            f'<button type="button" class="nl-quiz-reset">Reset</button> {another}{give_up}</div>'
            '<div class="nl-quiz-feedback" role="status" aria-live="polite"></div></div>'
        )
        container = nodes.container("", *self.out, classes=["nl-quiz-container"])
        container["normlab_quiz_id"] = q.id  # for the progress index (collect_questions)
        return [container]

    # --- answer areas the quiz types use -------------------------------------------

    def options(self, input_type: str) -> None:
        """Options with radio buttons or checkboxes, in the question's seeded order; the
        input's value is the option's index in the bank."""
        self.html('<ul class="nl-quiz-options">')
        for i in self.q.display_order():
            choice = self.q.choices[i]
            input_id = f"{self.dom_id}-{i}"
            name = formula_only_name(choice.text)
            named = f' aria-label="{attr(name)}"' if name else ""
            self.html(
                f'<li class="nl-quiz-option" data-correct="{str(choice.correct).lower()}">'
                f'<input type="{input_type}" id="{attr(input_id)}" name="{attr(self.dom_id)}" value="{i}"{named}> '
                f'<label for="{attr(input_id)}">'
            )
            self.text(choice.text, "nl-quiz-option-text")
            self.html('</label> <span class="nl-quiz-mark" hidden></span>')
            self.explanation(choice.explain)
            self.html("</li>")
        self.html("</ul>")

    def ordering(self, before: list[list[int]]) -> None:
        """Items in the shuffled starting order; ``data-before`` lists the items (by
        rank) that must come earlier, so every valid order is accepted."""
        self.html(
            '<p class="nl-quiz-hint">Use the <b>Move up</b> / <b>Move down</b> buttons '
            "(or Tab to them and press Enter) to put the steps in order.</p>"
            '<ol class="nl-quiz-order">'
        )
        for item in self.q.shuffled_order():
            needed = " ".join(str(j) for j in before[item])
            self.html(
                f'<li class="nl-quiz-item" data-rank="{item}" data-before="{needed}"><span class="nl-quiz-item-body">'
            )
            self.text(self.q.choices[item].text, "nl-quiz-item-text")
            self.html(
                '</span><span class="nl-quiz-move">'
                '<button type="button" class="nl-quiz-up" aria-label="Move up">&#8593;</button>'
                '<button type="button" class="nl-quiz-down" aria-label="Move down">&#8595;</button>'
                "</span>"
            )
            self.explanation(self.q.choices[item].explain)
            self.html("</li>")
        self.html('</ol><div class="nl-quiz-announce visually-hidden" aria-live="polite"></div>')

    def numeric(self, placeholder: str) -> None:
        q = self.q
        input_id = f"{self.dom_id}-answer"
        self.html(
            f'<label for="{attr(input_id)}" class="nl-quiz-numeric-label">Your answer</label> '
            f'<input type="text" class="nl-quiz-input" id="{attr(input_id)}" autocomplete="off" '
            f'placeholder="{attr(placeholder)}" data-answer="{attr(json.dumps(list(q.answer)))}" '
            f'data-tolerance="{q.tolerance!r}">'
        )
        for index, wrong in enumerate(q.wrong):
            self.explanation(
                wrong.explain, f' data-wrong-index="{index}" data-wrong-answer="{attr(json.dumps(list(wrong.answer)))}"'
            )
        self.explanation(q.explain, ' data-general="true"')


# ---------------------------------------------------------------------------
# Progress page: which questions exist where (collected while reading)
# ---------------------------------------------------------------------------


def collect_questions(app: Sphinx, doctree: nodes.document) -> None:
    """Note each question of a page read, with the title of its section."""
    env = app.env
    if not hasattr(env, "normlab_quizzes"):
        env.normlab_quizzes = {}  # type: ignore[attr-defined]  # this extension's data on Sphinx's env
    found = []
    for node in doctree.findall(nodes.container):
        if "normlab_quiz_id" not in node:
            continue
        section = node.parent
        while section is not None and not isinstance(section, nodes.section):
            section = section.parent
        title = section[0].astext() if section is not None and isinstance(section[0], nodes.title) else ""
        found.append({"id": node["normlab_quiz_id"], "section": title})
    if found:
        env.normlab_quizzes[env.docname] = found  # type: ignore[attr-defined]  # this extension's data on Sphinx's env


def purge_doc(app: Sphinx, env: BuildEnvironment, docname: str) -> None:
    getattr(env, "normlab_quizzes", {}).pop(docname, None)
    getattr(env, "normlab_progress_pages", set()).discard(docname)


def merge_info(app: Sphinx, env: BuildEnvironment, docnames: set[str], other: BuildEnvironment) -> None:
    if not hasattr(env, "normlab_quizzes"):
        env.normlab_quizzes = {}  # type: ignore[attr-defined]  # this extension's data on Sphinx's env
    env.normlab_progress_pages = getattr(env, "normlab_progress_pages", set()) | (  # type: ignore[attr-defined]  # this extension's data on Sphinx's env
        getattr(other, "normlab_progress_pages", set()) & set(docnames)
    )
    for docname in docnames:
        if docname in getattr(other, "normlab_quizzes", {}):
            env.normlab_quizzes[docname] = other.normlab_quizzes[docname]  # type: ignore[attr-defined]  # this extension's data on Sphinx's env


class progress_node(nodes.General, nodes.Element):
    """Placeholder for the progress table, filled once every chapter has been read."""


class QuizProgressDirective(SphinxDirective):
    has_content = False

    def run(self) -> list[nodes.Node]:
        if not hasattr(self.env, "normlab_progress_pages"):
            self.env.normlab_progress_pages = set()  # type: ignore[attr-defined]  # this extension's data on Sphinx's env
        self.env.normlab_progress_pages.add(self.env.docname)  # type: ignore[attr-defined]  # this extension's data on Sphinx's env
        return [progress_node()]


def fill_progress(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Replace the placeholder by the index of all questions (chapter, link, section)
    and the markup that ``normlab-quiz.js`` fills from localStorage."""
    found = list(doctree.findall(progress_node))
    if not found:
        return
    env = app.env
    bank = banks_for(Path(env.srcdir) / app.config.normlab_quiz_dir)
    order = [d for d in _reading_order(env) if d in getattr(env, "normlab_quizzes", {})]
    chapters = []
    for doc in order:
        uri = app.builder.get_relative_uri(docname, doc)
        chapters.append(
            {
                "title": env.titles[doc].astext() if doc in env.titles else doc,
                "questions": [
                    {
                        "id": q["id"],
                        "section": q["section"],
                        "url": f"{uri}#quiz-{q['id']}",
                        "prompt": plain_prompt(bank[q["id"]]) if q["id"] in bank else q["id"],
                    }
                    for q in env.normlab_quizzes[doc]  # type: ignore[attr-defined]  # this extension's data on Sphinx's env
                ],
            }
        )
    index = json.dumps({"chapters": chapters}).replace("</", "<\\/")
    markup = (
        '<div class="nl-quiz-progress" aria-live="polite">'
        '<p class="nl-quiz-progress-empty">Your results appear here once you have checked an answer '
        "in a chapter (this page needs JavaScript).</p></div>"
        f'<script type="application/json" id="nl-quiz-index">{index}</script>'
    )
    for node in found:
        node.replace_self(raw(markup))


def plain_prompt(q: Question, limit: int = 90) -> str:
    """The prompt as short plain text for a link (Markdown marks dropped)."""
    text = re.sub(r"[*_`$\\]|\{\{\s*|\s*\}\}", "", q.prompt_for(0))
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + " …"


def progress_outdated(
    app: Sphinx, env: BuildEnvironment, added: set[str], changed: set[str], removed: set[str]
) -> list[str]:
    """The progress page lists every chapter's questions: rebuild it when any changes."""
    pages: set[str] = getattr(env, "normlab_progress_pages", set())
    return sorted(pages) if (added or changed or removed) else []


def _reading_order(env: BuildEnvironment) -> list[str]:
    """Documents in table-of-contents order (the root first), then any others."""
    seen: list[str] = []

    def walk(doc: str) -> None:
        if doc in seen:
            return
        seen.append(doc)
        for child in env.toctree_includes.get(doc, []):
            walk(child)

    walk(env.config.root_doc)
    return seen + sorted(set(getattr(env, "normlab_quizzes", {})) - set(seen))


def add_static_files(app: Sphinx, config: Config) -> None:
    config.html_static_path.append(str(STATIC_DIR))


def setup(app: Sphinx) -> dict:
    app.add_config_value("normlab_quiz_dir", "book/quizzes", "env")
    app.add_directive("quiz", QuizDirective)
    app.add_directive("quiz-progress", QuizProgressDirective)
    app.add_node(progress_node)
    app.connect("config-inited", add_static_files)
    app.connect("source-read", on_source_read)
    app.connect("env-purge-doc", purge_doc)
    app.connect("env-merge-info", merge_info)
    app.connect("doctree-read", collect_questions)
    app.connect("env-get-outdated", progress_outdated)
    app.connect("doctree-resolved", fill_progress)
    app.add_js_file("normlab-quiz.js", defer="defer")
    app.add_css_file("normlab-quiz.css")
    return {"version": "0.2", "parallel_read_safe": True, "parallel_write_safe": True}
