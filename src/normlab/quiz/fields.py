"""Field parsers shared by the quiz types: option and item lists, numbers and shapes, variants.

Each takes the raw YAML value and a ``fail(message)`` callback from the loader, which
raises :class:`normlab.quiz.bank.QuizBankError` naming the file and the question.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any, NoReturn

from .model import Choice, seeded_permutation
from .numbers import parse_numbers

MAX_VARIANTS = 12
Fail = Callable[[str], NoReturn]


def parse_choices(raw: Any, key: str, fail: Fail, with_correct: bool, with_after: bool = False) -> tuple[Choice, ...]:
    """The ``options`` / ``items`` list shared by the choice and ordering types."""
    if not isinstance(raw, list) or len(raw) < 2:
        fail(f"'{key}' must be a list of at least 2 entries")
    allowed = {"text", "explain"} | ({"correct"} if with_correct else set()) | ({"after"} if with_after else set())
    choices = []
    for i, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            fail(f"{key} #{i}: expected a mapping with 'text' and 'explain'")
        unknown = sorted(set(item) - allowed)
        if unknown:
            fail(f"{key} #{i}: unknown key(s) {unknown}; expected some of {sorted(allowed)}")
        text, explain = item.get("text"), item.get("explain")
        if not isinstance(text, (str, int, float)) or str(text).strip() == "":
            fail(f"{key} #{i}: 'text' must be non-empty text")
        if not isinstance(explain, str) or not explain.strip():
            fail(f"{key} #{i} ({str(text)[:40]!r}): every entry needs an 'explain'")
        correct = item.get("correct", False)
        if not isinstance(correct, bool):
            fail(f"{key} #{i}: 'correct' must be true or false, got {correct!r}")
        after: tuple[int, ...] = (i - 2,) if i > 1 else ()  # default: the item listed before
        if "after" in item:
            given = item["after"]
            if not isinstance(given, list) or not all(
                isinstance(n, int) and not isinstance(n, bool) and 1 <= n < i for n in given
            ):
                fail(f"{key} #{i}: 'after' must list item numbers listed before it (1 to {i - 1}), got {given!r}")
            after = tuple(sorted(n - 1 for n in set(given)))
        choices.append(Choice(str(text).strip(), explain.strip(), correct, after))
    return tuple(choices)


def as_numbers(value: Any, what: str, fail: Fail) -> tuple[float, ...]:
    if isinstance(value, bool):
        fail(f"'{what}' must be a number or a shape, got {value!r}")
    if isinstance(value, (int, float)):
        return (float(value),)
    if (
        isinstance(value, (list, tuple))
        and value
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)
    ):
        return tuple(float(v) for v in value)
    if isinstance(value, str):
        try:
            return parse_numbers(value)
        except ValueError as err:
            fail(f"'{what}': {err}")
    fail(f"'{what}' must be a number or a shape such as [2, 8, 10, 10], got {value!r}")


def variant_args(qid: str, args: dict, vary: Any, fail: Fail) -> list[dict]:
    """The ``args`` first, then up to MAX_VARIANTS - 1 other combinations of ``vary``,
    in an order seeded by the question id."""
    if not isinstance(vary, dict) or not vary:
        fail(f"'vary' must map argument names to lists of values, got {vary!r}")
    for name, values in vary.items():
        if name not in args:
            fail(f"'vary' names {name!r}, which is not in 'args' ({sorted(args)})")
        if not isinstance(values, list) or not values:
            fail(f"'vary': {name!r} must list at least one value, got {values!r}")
    names = sorted(vary)
    combos = [dict(zip(names, values)) for values in itertools.product(*(vary[n] for n in names))]
    combos = [{**args, **combo} for combo in combos]
    combos = [c for c in combos if c != args]
    order = seeded_permutation(qid, len(combos), salt="variants")
    return [dict(args)] + [combos[i] for i in order[: MAX_VARIANTS - 1]]
