"""The live surface: a bank question as ipywidgets in a running notebook.

    from normlab import quiz
    quiz.show("attn-weights-shape")

Prompts, options and explanations are the bank's Markdown, rendered to HTML by
markdown-it-py with the ``$...$`` math left for the notebook's MathJax (``HTMLMath``),
so a notebook shows what the built page shows. Options come in the page's seeded order;
a parameterised question draws one of its variants per reader and offers "Try another".
"""

from __future__ import annotations

import html
import os
import random
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from .bank import load_banks
from .model import Feedback, Question

_MATH = re.compile(r"\$\$.+?\$\$|\$[^$\n]+?\$", re.DOTALL)


@lru_cache(maxsize=1)
def _markdown() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False})


def markdown_html(text: str, block: bool = False) -> str:
    """Bank Markdown -> HTML, with math kept verbatim for MathJax: ``*x* and $\\sqrt{d}$``
    -> ``<em>x</em> and $\\sqrt{d}$``."""
    maths: list[str] = []

    def protect(match: re.Match[str]) -> str:
        maths.append(match.group(0))
        return f"\ue000{len(maths) - 1}\ue001"

    guarded = _MATH.sub(protect, text)
    md = _markdown()
    rendered = md.render(guarded) if block else md.renderInline(guarded)
    return re.sub("\ue000(\\d+)\ue001", lambda m: html.escape(maths[int(m.group(1))], quote=False), rendered)


def default_quiz_dir(start: Path | None = None) -> Path:
    """``book/quizzes`` of the book this notebook sits in (found upward from cwd)."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file() and (folder / "book" / "quizzes").is_dir():
            return folder / "book" / "quizzes"
    bundled = Path(__file__).resolve().parents[3] / "book" / "quizzes"  # editable install
    if bundled.is_dir():
        return bundled
    raise FileNotFoundError(f"no book/quizzes folder found above {start}; pass quiz_dir=")


def get_question(question_id: str, quiz_dir: str | os.PathLike | None = None) -> Question:
    quiz_dir = Path(quiz_dir) if quiz_dir else default_quiz_dir()
    bank = load_banks(quiz_dir)
    if question_id not in bank:
        raise KeyError(f"no question {question_id!r} in {quiz_dir}; known: {sorted(bank)}")
    return bank[question_id]


def show(question_id: str, quiz_dir: str | os.PathLike | None = None, variant: int | None = None) -> Any:
    """Render a bank question as ipywidgets (for a live kernel) and return the widget."""
    return QuizWidget(get_question(question_id, quiz_dir), variant=variant).box


class _Area:
    def __init__(self, box: Any, response: Callable[[], Any], solve: Callable[[], None] | None = None) -> None:
        self.box, self.response, self.solve = box, response, solve  # solve: show the answer


class QuizWidget:
    """The ipywidgets surface: the learner's input, Check, Reset (and Try another) and
    feedback, all graded by :meth:`Question.check`."""

    def __init__(self, question: Question, variant: int | None = None) -> None:
        import ipywidgets as w

        self.question = q = question
        n = max(1, len(q.variants))
        self.variant = random.randrange(n) if variant is None else variant % n
        self.order: list[int] = []
        self.feedback = w.HTMLMath(value="")
        self.prompt = w.HTMLMath(value="")
        check, reset = w.Button(description="Check", button_style="primary"), w.Button(description="Reset")
        check.on_click(lambda _: self._check())
        reset.on_click(lambda _: self._reset())
        buttons = [check, reset]
        if q.kind.gives_up:
            give_up = w.Button(description="Show the answer", tooltip="One right answer, with every explanation")
            give_up.on_click(lambda _: self.reveal())
            buttons.append(give_up)
        if len(q.variants) > 1:
            another = w.Button(description="Try another", tooltip="The same question with other sizes")
            another.on_click(lambda _: self.try_another())
            buttons.append(another)
        self.answer_area = w.VBox()
        self._reset()
        self.box = w.VBox([self.prompt, self.answer_area, w.HBox(buttons), self.feedback])

    def markdown(self, text: str) -> str:
        return markdown_html(text)

    # --- inputs the quiz types ask for --------------------------------------------

    def option_rows(self, exclusive: bool) -> _Area:
        """One row per option (a box to tick and its Markdown/LaTeX text), in the page's
        order; ``exclusive`` lets one box be ticked at a time."""
        import ipywidgets as w

        q = self.question
        order = q.display_order()
        boxes = {}
        rows = []
        for i in order:
            box = w.Checkbox(value=False, indent=False, layout=w.Layout(width="2em"))
            boxes[i] = box
            rows.append(w.HBox([box, w.HTMLMath(value=self.markdown(q.choices[i].text))]))
        if exclusive:

            def only_one(change: dict[str, Any], chosen: int) -> None:
                if change["new"]:
                    for i, other in boxes.items():
                        if i != chosen and other.value:
                            other.value = False

            for i, box in boxes.items():
                box.observe(lambda change, i=i: only_one(change, i), names="value")
        self.boxes = boxes

        def response() -> int | set[int] | None:
            picked = {i for i, box in boxes.items() if box.value}
            if not picked:
                return None
            return next(iter(picked)) if exclusive else picked

        return _Area(w.VBox(rows), response)

    def order_rows(self) -> _Area:
        import ipywidgets as w

        self.order = self.question.shuffled_order()
        self._order_box = w.VBox()
        self._draw_order()

        def solve() -> None:
            self.order = list(range(len(self.question.choices)))  # the bank lists a right order
            self._draw_order()

        return _Area(self._order_box, lambda: list(self.order), solve)

    def text_input(self, placeholder: str) -> _Area:
        import ipywidgets as w

        self.text = w.Text(placeholder=placeholder, description="Answer:")
        self.text.on_submit(lambda _: self._check())
        return _Area(self.text, lambda: self.text.value)

    # --- actions -------------------------------------------------------------------

    def _draw_order(self) -> None:
        import ipywidgets as w

        rows = []
        for pos, item in enumerate(self.order):
            up = w.Button(description="↑", tooltip="Move up", layout=w.Layout(width="3em"), disabled=pos == 0)
            down = w.Button(
                description="↓", tooltip="Move down", layout=w.Layout(width="3em"), disabled=pos == len(self.order) - 1
            )
            up.on_click(lambda _, p=pos: self._move(p, -1))
            down.on_click(lambda _, p=pos: self._move(p, +1))
            text = self.markdown(self.question.choices[item].text)
            rows.append(w.HBox([up, down, w.HTMLMath(value=f"{pos + 1}. {text}")]))
        self._order_box.children = rows

    def _move(self, pos: int, step: int) -> None:
        other = pos + step
        self.order[pos], self.order[other] = self.order[other], self.order[pos]
        self._draw_order()

    def response(self) -> Any:
        return self.area.response()

    def _check(self) -> None:
        response = self.response()
        if response is None or response == "":
            self.feedback.value = self.question.kind.empty_response
            return
        self.show_feedback(self.question.check(response, self.variant))

    def reveal(self) -> None:
        """Give up: show one right answer and every explanation."""
        if self.area.solve:
            self.area.solve()
        self.show_feedback(self.question.reveal(self.variant))

    def show_feedback(self, result: Feedback) -> None:
        colour = "green" if result.correct else "#b00"
        notes = "".join(
            f"<li>{'<i>Missed (a right option you did not pick):</i> ' if text in result.missed else ''}"
            f"{self.markdown(text)}</li>"
            for text in result.explanations
        )
        self.feedback.value = f"<b style='color:{colour}'>{html.escape(result.message)}</b><ul>{notes}</ul>"

    def try_another(self) -> None:
        """Draw another variant of a parameterised question (new sizes, new key)."""
        n = len(self.question.variants)
        if n > 1:
            self.variant = (self.variant + random.randrange(1, n)) % n
        self._reset()

    def key(self) -> tuple[float, ...]:
        """The answer of the variant on screen (for tests and instructors)."""
        return self.question.kind.answer_key(self.question, self.variant)

    def _reset(self) -> None:
        q = self.question
        self.feedback.value = ""
        self.prompt.value = f"<b>{self.markdown(q.prompt_for(self.variant))}</b>"
        self.area = q.kind.widget(q, self)
        self.answer_area.children = [self.area.box]
