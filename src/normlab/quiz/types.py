"""Quiz types: one class per type, registered by name.

A type knows four things about its questions: how the bank writes them (:meth:`parse`),
how a response is graded (:meth:`check`), the HTML the ``{quiz}`` directive emits
(:meth:`html`, checked in the browser by the handler of the same name in
``static/normlab-quiz.js``), and the live ipywidgets input (:meth:`widget`).
Adding a type = one class here with ``@register``, one ``register("name", ...)`` handler
in the JS file, and their tests.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from .fields import Fail, as_numbers, parse_choices, variant_args
from .model import (
    TYPES,
    Feedback,
    Question,
    QuizType,
    Variant,
    WrongAnswer,
    fill,
    get_type,
    register,
    template_names,
    verdict,
)
from .numbers import numbers_match, parse_numbers

# A key this much longer (in characters) than every other option gives itself away.
LONGEST_KEY_RATIO = 1.5


@register
class SingleChoice(QuizType):
    name, label, bank_keys = "single", "Quiz (one answer):", ("options",)

    def parse(self, raw: dict[str, Any], common: dict[str, Any], fail: Fail) -> Question:
        choices = parse_choices(raw.get("options"), "options", fail, with_correct=True)
        n_correct = sum(c.correct for c in choices)
        if n_correct != 1:
            fail(f"a single-choice question needs exactly one option with 'correct: true', found {n_correct}")
        return Question(**common, choices=choices)

    def check(self, q: Question, response: Any, variant: int = 0) -> Feedback:
        chosen = q.choices[response]
        return Feedback(chosen.correct, verdict(chosen.correct), (chosen.explain,))

    def html(self, q: Question, out: Any) -> None:
        out.options("radio")

    def widget(self, q: Question, live: Any) -> Any:
        return live.option_rows(exclusive=True)

    def give_aways(self, q: Question) -> list[str]:
        key = next(c for c in q.choices if c.correct)
        others = [len(c.text) for c in q.choices if not c.correct]
        if others and len(key.text) > LONGEST_KEY_RATIO * max(others):
            return [
                f"the key is the longest option by far ({len(key.text)} characters, the next "
                f"{max(others)}): a reader who picks the longest option wins; reword the options"
            ]
        return []


@register
class MultipleChoice(SingleChoice):
    name, label = "multiple", "Quiz (all that apply):"

    def parse(self, raw: dict[str, Any], common: dict[str, Any], fail: Fail) -> Question:
        choices = parse_choices(raw.get("options"), "options", fail, with_correct=True)
        if not any(c.correct for c in choices):
            fail("a multiple-choice question needs at least one option with 'correct: true'")
        return Question(**common, choices=choices)

    def check(self, q: Question, response: Any, variant: int = 0) -> Feedback:
        picked = set(response)
        wrong = [i for i, c in enumerate(q.choices) if i in picked and not c.correct]
        missed = [i for i, c in enumerate(q.choices) if i not in picked and c.correct]
        if wrong or missed:
            # explain every option the learner got wrong, and the right ones they missed
            notes = tuple(q.choices[i].explain for i in sorted(wrong + missed))
            return Feedback(False, verdict(False), notes, tuple(q.choices[i].explain for i in missed))
        return Feedback(True, verdict(True), tuple(q.choices[i].explain for i in sorted(picked)))

    def html(self, q: Question, out: Any) -> None:
        out.options("checkbox")

    def widget(self, q: Question, live: Any) -> Any:
        return live.option_rows(exclusive=False)

    def give_aways(self, q: Question) -> list[str]:
        return []  # several keys: the longest option is no tell


@register
class Ordering(QuizType):
    """Items listed in one correct order; ``after`` says which must precede which, so
    steps that commute are accepted in every valid order.

    A step's explanation says where it goes, so a wrong order is told only how many steps
    are out of place: the explanations come once the order is right, or when the reader
    gives up (:meth:`reveal`)."""

    name, label, bank_keys = "ordering", "Quiz (put in order):", ("items",)
    gives_up = True

    def parse(self, raw: dict[str, Any], common: dict[str, Any], fail: Fail) -> Question:
        return Question(
            **common, choices=parse_choices(raw.get("items"), "items", fail, with_correct=False, with_after=True)
        )

    @staticmethod
    def predecessors(q: Question) -> list[set[int]]:
        """For each item, every item that must come before it (transitively)."""
        before: list[set[int]] = []
        for choice in q.choices:  # `after` only names earlier items, so one pass suffices
            needed = set(choice.after)
            for j in choice.after:
                needed |= before[j]
            before.append(needed)
        return before

    def misplaced(self, q: Question, order: list[int]) -> list[int]:
        """Positions of items in a broken precedence (either end of it), in order."""
        position = {item: pos for pos, item in enumerate(order)}
        bad = set()
        for item, needed in enumerate(self.predecessors(q)):
            for earlier in needed:
                if position[earlier] > position[item]:
                    bad |= {item, earlier}
        return [pos for pos, item in enumerate(order) if item in bad]

    def check(self, q: Question, response: Any, variant: int = 0) -> Feedback:
        order = list(response)
        if sorted(order) != list(range(len(q.choices))):
            raise ValueError(f"an ordering response lists each item index once, got {order!r}")
        misplaced = self.misplaced(q, order)
        if misplaced:
            return Feedback(False, f"Not quite: {len(misplaced)} of {len(order)} steps are out of place.", ())
        return Feedback(True, verdict(True), self.explanations(q, order))

    def reveal(self, q: Question, variant: int = 0) -> Feedback:
        return Feedback(False, "One right order:", self.explanations(q, range(len(q.choices)), with_text=True))

    @staticmethod
    def explanations(q: Question, order: Iterable[int], with_text: bool = False) -> tuple[str, ...]:
        """Every step's explanation in ``order``, then the question's."""
        steps = tuple(
            f"**{q.choices[i].text}** {q.choices[i].explain}" if with_text else q.choices[i].explain for i in order
        )
        return steps + ((q.explain,) if q.explain else ())

    def html(self, q: Question, out: Any) -> None:
        out.ordering([sorted(before) for before in self.predecessors(q)])

    def widget(self, q: Question, live: Any) -> Any:
        return live.order_rows()


@register
class Numeric(QuizType):
    """A number or a shape, typed; the key is typed in the bank or computed by normlab,
    optionally for several variants of the question's sizes (``vary``)."""

    name, label = "numeric", "Quiz (type a value):"
    bank_keys = ("answer", "answer_from", "args", "vary", "tolerance", "wrong")

    def parse(self, raw: dict[str, Any], common: dict[str, Any], fail: Fail) -> Question:
        if ("answer" in raw) == ("answer_from" in raw):
            fail("give exactly one of 'answer' (typed) or 'answer_from' (computed by normlab)")
        args = raw.get("args", {})
        source: Callable[..., Any] | None = None
        if "answer_from" in raw:
            source = resolve_answer_source(raw["answer_from"])
            if source is None:
                fail(
                    f"answer_from: unknown computation {raw['answer_from']!r}; expected a dotted path "
                    "such as normlab.quiz.keys.block_output_shape"
                )
            if not isinstance(args, dict):
                fail(f"'args' must be a mapping of keyword arguments for {raw['answer_from']}, got {args!r}")
        else:
            if "args" in raw or "vary" in raw:
                fail("'args' and 'vary' only go with 'answer_from'")
        tolerance = raw.get("tolerance", 0.0)
        if not isinstance(tolerance, (int, float)) or isinstance(tolerance, bool) or tolerance < 0:
            fail(f"'tolerance' must be a number >= 0, got {tolerance!r}")
        wrong_raw = raw.get("wrong", []) or []
        for i, item in enumerate(wrong_raw, start=1):
            if not isinstance(item, dict) or set(item) != {"answer", "explain"}:
                fail(f"wrong answer #{i}: expected a mapping with 'answer' and 'explain'")
        if not common["explain"]:
            fail("a numeric question needs 'explain' (shown after a wrong answer)")

        def key(params: dict) -> tuple[float, ...]:
            if "answer_from" not in raw:
                return as_numbers(raw["answer"], "answer", fail)
            name = raw["answer_from"]
            try:
                assert source is not None  # resolved above, or fail() raised
                value = source(**params)
            except Exception as err:  # the author's args are wrong: say so with the question id
                fail(f"answer_from: {name}(**{params}) failed: {type(err).__name__}: {err}")
            return as_numbers(list(value) if isinstance(value, tuple) else value, f"{name} result", fail)

        def wrong_for(params: dict) -> tuple[tuple[float, ...], ...]:
            return tuple(
                as_numbers(
                    fill(w["answer"], params) if isinstance(w["answer"], str) else w["answer"],
                    f"wrong answer #{i}",
                    fail,
                )
                for i, w in enumerate(wrong_raw, start=1)
            )

        used = template_names(common["prompt"]) | set().union(
            *(template_names(w["answer"]) for w in wrong_raw if isinstance(w["answer"], str))
        )
        variants: tuple[Variant, ...] = ()
        if "vary" in raw:
            draws = variant_args(common["id"], args, raw["vary"], fail)
            missing = sorted(set(raw["vary"]) - template_names(common["prompt"]))
            if missing:
                fail(f"'vary' changes {missing}, so the prompt must show them as {{{{{missing[0]}}}}}")
            variants = tuple(Variant(params, key(params), wrong_for(params)) for params in draws)
        unknown = sorted(used - set(args if "vary" in raw else ()))
        if unknown:
            fail(f"{{{{{unknown[0]}}}}} in the prompt or a wrong answer needs 'vary' with that name in 'args'")
        answer = key(args)
        wrong = tuple(WrongAnswer(values, str(w["explain"])) for values, w in zip(wrong_for(args), wrong_raw))
        return Question(**common, answer=answer, tolerance=float(tolerance), wrong=wrong, variants=variants)

    @staticmethod
    def keys(q: Question, variant: int = 0) -> tuple[tuple[float, ...], tuple[tuple[float, ...], ...]]:
        """The key and the wrong answers of one variant."""
        if q.variants:
            v = q.variants[variant]
            return v.answer, v.wrong
        return q.answer, tuple(w.answer for w in q.wrong)

    def check(self, q: Question, response: Any, variant: int = 0) -> Feedback:
        try:
            given = parse_numbers(response)
        except ValueError as err:
            return Feedback(False, str(err), ())
        answer, wrong = self.keys(q, variant)
        general = (q.explain,) if q.explain else ()
        if numbers_match(given, answer, q.tolerance):
            return Feedback(True, verdict(True), general)
        for values, note in zip(wrong, q.wrong):
            if numbers_match(given, values, q.tolerance):
                return Feedback(False, verdict(False), (note.explain,))
        return Feedback(False, verdict(False), general)

    def html(self, q: Question, out: Any) -> None:
        out.numeric(placeholder(q))

    def general_explanation(self, q: Question, out: Any) -> None:
        pass  # out.numeric placed it, after the wrong answers' explanations

    def variant_data(self, q: Question) -> list[dict[str, Any]]:
        return [{"params": v.params, "answer": list(v.answer), "wrong": [list(w) for w in v.wrong]} for v in q.variants]

    def answer_key(self, q: Question, variant: int = 0) -> tuple[float, ...]:
        return self.keys(q, variant)[0]

    empty_response = "Type an answer first."

    def widget(self, q: Question, live: Any) -> Any:
        return live.text_input(placeholder(q))


def placeholder(q: Question) -> str:
    """An input hint that names the form of the answer and never gives a number away."""
    return "a shape such as (a, b, …)" if q.is_shape else "a number"


def resolve_answer_source(name: Any) -> Callable[..., Any] | None:
    """The function a dotted path inside normlab names, or None."""
    import importlib

    if not isinstance(name, str):
        return None
    module_name, _, attr = name.rpartition(".")
    if module_name == "normlab" or module_name.startswith("normlab."):
        try:
            return getattr(importlib.import_module(module_name), attr, None)
        except ImportError:
            return None
    return None


__all__ = ["TYPES", "QuizType", "register", "get_type", "resolve_answer_source"]
