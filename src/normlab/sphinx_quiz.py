"""Sphinx extension: the ``{quiz}`` directive renders a question from the quiz banks.

    ```{quiz} attn-weights-shape
    ```

emits accessible HTML (a fieldset with a legend, labelled inputs, Check / Reset buttons,
a polite live region for feedback) that ``static/normlab-quiz.js`` checks in the
browser, with no kernel. Prompts, options and explanations are inline Markdown (math,
code, emphasis) and are rendered by Sphinx, so MathJax typesets them like body text.

Banks are read from ``normlab_quiz_dir`` (default ``book/quizzes``, relative to the book
root); a page that shows a question is rebuilt when its bank changes.
"""

from __future__ import annotations

import difflib
import html
import json
from pathlib import Path

from docutils import nodes
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective

from .quiz import Question, QuizBankError, load_banks

STATIC_DIR = Path(__file__).parent / "static"

_banks_cache: dict[tuple, dict[str, Question]] = {}


def banks_for(folder: Path) -> dict[str, Question]:
    """Load (and validate) every bank in `folder`, once per change of its files."""
    files = sorted(folder.glob("*.yml"))
    key = (str(folder), tuple((str(f), f.stat().st_mtime_ns) for f in files))
    if key not in _banks_cache:
        _banks_cache.clear()
        _banks_cache[key] = load_banks(folder)
    return _banks_cache[key]


def raw(markup: str) -> nodes.raw:
    return nodes.raw("", markup, format="html")


def attr(value) -> str:
    return html.escape(str(value), quote=True)


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
    """Builds the node list for one question: raw HTML tags around Sphinx-rendered text."""

    def __init__(self, directive: QuizDirective, question: Question):
        self.directive = directive
        self.q = question
        self.out: list[nodes.Node] = []
        self.dom_id = f"quiz-{question.id}"

    def html(self, markup: str) -> None:
        self.out.append(raw(markup))

    def text(self, markdown: str, cls: str) -> None:
        """Inline Markdown rendered by the MyST parser, inside a span of class `cls`."""
        parsed, messages = self.directive.state.inline_text(markdown, self.directive.lineno)
        span = nodes.inline("", "", *parsed, classes=[cls])
        self.out.append(span)
        self.out.extend(messages)

    def explanation(self, markdown: str, extra_attrs: str = "") -> None:
        self.html(f'<div class="nl-quiz-explain"{extra_attrs} hidden>')
        self.text(markdown, "nl-quiz-explain-text")
        self.html("</div>")

    def nodes(self) -> list[nodes.Node]:
        q = self.q
        self.html(
            f'<div class="nl-quiz" id="{attr(self.dom_id)}" data-quiz-id="{attr(q.id)}" '
            f'data-quiz-type="{q.type}"><fieldset class="nl-quiz-fieldset">'
            f'<legend class="nl-quiz-prompt"><span class="nl-quiz-kind">{KIND_LABEL[q.type]}</span> '
        )
        self.text(q.prompt, "nl-quiz-prompt-text")
        self.html("</legend>")
        {"single": self.choices, "multiple": self.choices, "ordering": self.ordering,
         "numeric": self.numeric}[q.type]()
        if q.explain and q.type != "numeric":
            self.explanation(q.explain, ' data-general="true"')
        self.html(
            '</fieldset><div class="nl-quiz-actions">'
            '<button type="button" class="nl-quiz-check">Check</button> '
            '<button type="button" class="nl-quiz-reset">Reset</button></div>'
            '<div class="nl-quiz-feedback" role="status" aria-live="polite"></div></div>'
        )
        container = nodes.container("", *self.out, classes=["nl-quiz-container"])
        return [container]

    def choices(self) -> None:
        kind = "radio" if self.q.type == "single" else "checkbox"
        self.html('<ul class="nl-quiz-options">')
        for i, choice in enumerate(self.q.choices):
            input_id = f"{self.dom_id}-{i}"
            self.html(
                f'<li class="nl-quiz-option" data-correct="{str(choice.correct).lower()}">'
                f'<input type="{kind}" id="{attr(input_id)}" name="{attr(self.dom_id)}" value="{i}"> '
                f'<label for="{attr(input_id)}">'
            )
            self.text(choice.text, "nl-quiz-option-text")
            self.html("</label>")
            self.explanation(choice.explain)
            self.html("</li>")
        self.html("</ul>")

    def ordering(self) -> None:
        self.html(
            '<p class="nl-quiz-hint">Use the <b>Move up</b> / <b>Move down</b> buttons '
            "(or Tab to them and press Enter) to put the steps in order.</p>"
            '<ol class="nl-quiz-order">'
        )
        for item in self.q.shuffled_order():
            self.html(f'<li class="nl-quiz-item" data-rank="{item}"><span class="nl-quiz-item-body">')
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

    def numeric(self) -> None:
        q = self.q
        input_id = f"{self.dom_id}-answer"
        example = "(2, 8, 10, 10)" if q.is_shape else "0.5"
        self.html(
            f'<label for="{attr(input_id)}" class="nl-quiz-numeric-label">Your answer</label> '
            f'<input type="text" class="nl-quiz-input" id="{attr(input_id)}" autocomplete="off" '
            f'placeholder="e.g. {example}" data-answer="{attr(json.dumps(list(q.answer)))}" '
            f'data-tolerance="{q.tolerance!r}">'
        )
        for wrong in q.wrong:
            self.explanation(wrong.explain, f' data-wrong-answer="{attr(json.dumps(list(wrong.answer)))}"')
        self.explanation(q.explain, ' data-general="true"')


KIND_LABEL = {
    "single": "Quiz (one answer):",
    "multiple": "Quiz (all that apply):",
    "ordering": "Quiz (put in order):",
    "numeric": "Quiz (type a value):",
}


def add_static_files(app: Sphinx, config) -> None:
    config.html_static_path.append(str(STATIC_DIR))


def setup(app: Sphinx) -> dict:
    app.add_config_value("normlab_quiz_dir", "book/quizzes", "env")
    app.add_directive("quiz", QuizDirective)
    app.connect("config-inited", add_static_files)
    app.add_js_file("normlab-quiz.js", defer="defer")
    app.add_css_file("normlab-quiz.css")
    return {"version": "0.1", "parallel_read_safe": True, "parallel_write_safe": True}
