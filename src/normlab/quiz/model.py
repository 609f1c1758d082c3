"""The quiz data model: questions, their parts, feedback, and the quiz-type interface.

A :class:`Question` is plain data read from a bank; what depends on its type (grading,
drawing, the live input) is asked of its :class:`QuizType` (``question.kind``). Both live
here so neither the loader (:mod:`.bank`) nor the types (:mod:`.types`) import each other:
types register themselves into :data:`TYPES` when :mod:`normlab.quiz` is imported.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from .numbers import format_numbers


@dataclass(frozen=True)
class Choice:
    text: str
    explain: str
    correct: bool = False
    after: tuple[int, ...] = ()  # ordering: items (0-based) that must come before this one


@dataclass(frozen=True)
class WrongAnswer:
    answer: tuple[float, ...]
    explain: str


@dataclass(frozen=True)
class Variant:
    """One draw of a parameterised numeric question: its sizes and the computed keys."""

    params: dict
    answer: tuple[float, ...]
    wrong: tuple[tuple[float, ...], ...]  # the question's wrong answers, filled in


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str  # "Correct!" or "Not quite."
    explanations: tuple[str, ...]  # what the learner should read next
    missed: tuple[str, ...] = ()  # of those, the right options the learner did not pick


@dataclass(frozen=True)
class Question:
    """One question. ``choices`` holds options (single/multiple) or items in a correct
    order (ordering); ``answer`` the key of a numeric question (its first variant's)."""

    id: str
    type: str
    prompt: str
    source: Path
    choices: tuple[Choice, ...] = ()
    answer: tuple[float, ...] = ()
    tolerance: float = 0.0
    explain: str = ""
    wrong: tuple[WrongAnswer, ...] = ()
    variants: tuple[Variant, ...] = ()  # empty unless the bank says `vary:`

    @property
    def kind(self) -> QuizType:
        """The class that knows this question's type (parse, check, html, widget)."""
        return get_type(self.type)

    @property
    def is_shape(self) -> bool:
        return len(self.answer) != 1

    def answer_text(self) -> str:
        return format_numbers(self.answer, as_shape=self.is_shape)

    def display_order(self) -> list[int]:
        """Options in the order readers see them: shuffled, seeded by the question id, so
        every build and the live widget show the same order."""
        return seeded_permutation(self.id, len(self.choices), salt="options")

    def shuffled_order(self) -> list[int]:
        """The ordering items' starting order: seeded by the id, never a solved order."""
        n = len(self.choices)
        order = seeded_permutation(self.id, n)
        for _ in range(n):
            if not self.kind.is_solved(self, order):
                break
            order = order[1:] + order[:1]  # rotate: a solved puzzle teaches nothing
        return order

    def prompt_for(self, variant: int = 0) -> str:
        """The prompt with a variant's sizes filled in."""
        return fill(self.prompt, self.variants[variant].params) if self.variants else self.prompt

    def check(self, response: Any, variant: int = 0) -> Feedback:
        """Grade a response: an option index (single), a set of indices (multiple), a
        list of item indices in the learner's order (ordering), or text (numeric)."""
        return self.kind.check(self, response, variant)

    def reveal(self, variant: int = 0) -> Feedback:
        """The answer with every explanation, for a reader who gives up (``kind.gives_up``)."""
        return self.kind.reveal(self, variant)


def verdict(correct: bool) -> str:
    return "Correct!" if correct else "Not quite."


def seeded_permutation(key: str, n: int, salt: str = "") -> list[int]:
    """A permutation of range(n) that depends only on ``key`` (stable across builds)."""
    seed = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    prefix = f"{salt}:" if salt else ""
    return sorted(range(n), key=lambda i: hashlib.sha256(f"{prefix}{seed}:{i}".encode()).hexdigest())


_PARAM = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def fill(template: str, params: dict) -> str:
    """Replace ``{{name}}`` by the variant's value."""
    return _PARAM.sub(lambda m: str(params[m.group(1)]), template)


def template_names(template: str) -> set[str]:
    return set(_PARAM.findall(template))


# --------------------------------------------------------------------------- quiz types

TYPES: dict[str, QuizType] = {}


def register(cls: type[QuizType]) -> type[QuizType]:
    """Class decorator: make a quiz type available to banks under ``cls.name``."""
    TYPES[cls.name] = cls()
    return cls


def get_type(name: str) -> QuizType:
    try:
        return TYPES[name]
    except KeyError:
        raise KeyError(f"no quiz type {name!r}; known: {', '.join(TYPES)}") from None


class QuizType:
    name: str = ""
    label: str = ""  # shown before the prompt, e.g. "Quiz (one answer):"
    bank_keys: tuple[str, ...] = ()  # keys a bank may give besides id, type, prompt, explain
    gives_up: bool = False  # offers "Show the answer" (:meth:`reveal`) to a reader who is stuck

    def parse(self, raw: dict[str, Any], common: dict[str, Any], fail: Callable[[str], NoReturn]) -> Question:
        raise NotImplementedError

    def check(self, q: Question, response: Any, variant: int = 0) -> Feedback:
        raise NotImplementedError

    def html(self, q: Question, out: Any) -> None:
        """Emit the answer area through ``out`` (normlab.book.quiz_directive.QuizHtml):
        ``out.html(markup)``, ``out.text(markdown, css_class)``, ``out.explanation(...)``."""
        raise NotImplementedError

    def widget(self, q: Question, live: Any) -> Any:
        """The live input: an object with ``.box`` (an ipywidget) and ``.response()``
        (None while unanswered); ``live`` is the QuizWidget (``live.markdown(text)``)."""
        raise NotImplementedError

    def is_solved(self, q: Question, response: Any) -> bool:
        return self.check(q, response).correct

    def reveal(self, q: Question, variant: int = 0) -> Feedback:
        """The answer and every explanation, for a reader who gives up (types with ``gives_up``)."""
        raise NotImplementedError(f"a {self.name} question has no 'Show the answer'")

    # what a reader is told when they press Check with no answer
    empty_response: str = "Choose an answer first."

    def answer_key(self, q: Question, variant: int = 0) -> tuple[float, ...]:
        """The key of the variant on screen, for tests and instructors (numeric types)."""
        return q.answer

    def variant_data(self, q: Question) -> list[dict[str, Any]]:
        """Every variant of a parameterised question as the page's script reads it
        (``data-variants``); empty for a type without variants."""
        return []

    def general_explanation(self, q: Question, out: Any) -> None:
        """Emit the question's own explanation after the answer area (a type whose
        :meth:`html` places it itself overrides this)."""
        if q.explain:
            out.explanation(q.explain, ' data-general="true"')

    def give_aways(self, q: Question) -> list[str]:
        """Warnings for a valid question whose form hints at its answer."""
        return []
