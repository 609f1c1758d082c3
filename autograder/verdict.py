"""The grader's own verdict on answer values: computed here, not in the student's kernel.

The exercises' hidden tests for multiple-choice and select-all answers are calls such as

    checks.expect_choice(ROOT_CAUSE, "B", name="ROOT_CAUSE", why={...})
    checks.selection_credit(MIGRATION_CHECKLIST, {"A", "B", "D", "F"}, points=3, ...)

Run in the kernel, they can be fooled: a `str` subclass whose `__eq__` says yes to
anything, or `checks.expect_choice.__code__` swapped for a no-op.  So the grader also
reads these calls out of the test cell's source (`answer_checks`, with `ast`: the key is a
literal there), fetches the answer as PLAIN data (`harness.plain`: the characters the
string really holds, signed by the guard), and runs normlab.checks' own function on that
plain value in the grader's process (`judge`).  The grader's verdict wins: a test the
kernel passed but the plain value fails gets 0, and the report flags the lie.
"""

from __future__ import annotations

import ast
import contextlib
import io
from dataclasses import dataclass
from typing import Any

CHECKED = ("expect_choice", "selection_credit", "expect_order")


@dataclass
class AnswerCheck:
    kind: str  # one of CHECKED
    variable: str  # the answer's name in the student's namespace
    correct: Any  # the literal key from the test source
    options: dict  # the call's literal keyword arguments (name, why, points, mistakes)


def _literal(node: ast.expr) -> Any:  # any Python literal the test source wrote (None: not a literal)
    try:
        return ast.literal_eval(node)
    except (ValueError, SyntaxError, TypeError):
        return None


def answer_checks(source: str) -> list[AnswerCheck]:
    """The checks of `source` that can be re-run on plain values: calls of
    `checks.<kind>(NAME, <literal>, ...)` whose key and keywords are literals."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    found = []
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in CHECKED
            and len(node.args) >= 2
            and isinstance(node.args[0], ast.Name)
        ):
            continue
        correct = _literal(node.args[1])
        options = {kw.arg: _literal(kw.value) for kw in node.keywords if kw.arg}
        if correct is None or any(v is None for v in options.values()):
            continue
        found.append(AnswerCheck(node.func.attr, node.args[0].id, correct, options))
    return found


def _value(plain: dict[str, Any]) -> str | set[str] | list[str] | _Opaque:  # plain: `harness.plain`'s JSON
    if plain["kind"] == "str":
        return plain["value"]
    if plain["kind"] == "set":
        return set(plain["value"])
    if plain["kind"] == "list":
        return list(plain["value"])
    return _Opaque(plain.get("type", "?"))


class _Opaque:
    """Stands for an answer that is neither text nor a collection of text."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name

    def __repr__(self) -> str:
        return f"<a {self.type_name}>"


def judge(check: AnswerCheck, plain: dict[str, Any]) -> tuple[bool, float | None, str]:
    """(passed, score_or_None, message) of normlab.checks' own function on the plain value."""
    from normlab import checks

    value = _value(plain)
    function = getattr(checks, check.kind)
    name = check.options.get("name", check.variable)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            if check.kind == "expect_choice":
                function(value, check.correct, why={}, name=name)
                return True, None, ""
            if check.kind == "expect_order":
                function(value, check.correct, mistakes={}, name=name)
                return True, None, ""
            score = function(value, set(check.correct), points=check.options.get("points", 1), why={}, name=name)
            return True, score, ""
        except Exception:  # noqa: BLE001  CheckFailed, or a TypeError on an opaque value
            return False, None, f"{name} = {value!r} is not the right answer"
