"""Quiz banks: one YAML format, read and validated here.

A bank is a YAML file under ``book/quizzes/`` holding a list of questions::

    questions:
      - id: post-norm-formula          # unique across all banks; used by quiz.show()
        type: single                   # single | multiple | ordering | numeric (types.py)
        prompt: Which formula is post-norm?
        options:                       # single / multiple: each option explains itself;
          - text: "$y = \\mathrm{LN}(x + F(x))$"    # shown in a seeded shuffled order
            correct: true
            explain: The norm is applied after the residual sum.
          - text: "$y = x + F(\\mathrm{LN}(x))$"
            explain: That is pre-norm; the identity path is never normalised.
      - id: pre-norm-order
        type: ordering
        prompt: Put the operations of one pre-norm sub-layer in order.
        items:                         # listed in A correct order; shown shuffled
          - {text: LayerNorm of x, explain: The branch starts by normalising its input.}
          - {text: "Sub-layer F", explain: F sees the normalised input.}
          - {text: Add x back, explain: The residual sum is left unnormalised.}
        # By default each item must come after the one listed before it (one accepted
        # order). Steps that commute say what they need instead: `after: [1, 3]` (the
        # item numbers, from 1, that must come earlier), `after: []` (nothing).
      - id: attn-weights-shape
        type: numeric                  # a number or a shape such as (2, 8, 10, 10)
        prompt: Batch {{batch}}, {{seq}} tokens, ... what shape are the weights?
        answer_from: normlab.quiz.keys.attention_weights_shape   # computed, not typed
        args: {batch: 2, seq: 10, d_model: 64, n_heads: 8}
        vary: {batch: [2, 3, 4], seq: [6, 10, 12]}   # optional: a parameterised question
        explain: One (seq, seq) matrix per head and per sequence.
        wrong:                         # optional: explanations for likely wrong answers
          - {answer: "({{batch}}, {{seq}}, {{seq}})", explain: That forgets the heads axis.}

A numeric question gives either ``answer:`` (a number or a list for a shape, plus an
optional ``tolerance``) or ``answer_from:``, called with ``args`` when the bank is
loaded: a dotted path to a function in normlab, e.g. ``normlab.quiz.keys.block_output_shape``
or ``normlab.studies.costs.crossover_seq``. With ``vary:``, normlab computes the key of every
variant (up to :data:`MAX_VARIANTS` combinations of the listed values, the ``args`` first)
when the bank is loaded; ``{{name}}`` in the prompt and in wrong answers is the variant's
value.

What each type accepts, how it is checked, and how it is drawn lives in
:mod:`normlab.quiz.types`; this module holds the data and the file format.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from .numbers import format_numbers

MAX_VARIANTS = 12
# A key this much longer (in characters) than every other option gives itself away.
LONGEST_KEY_RATIO = 1.5


class QuizBankError(ValueError):
    """A quiz bank is malformed; the message names the file and the question id."""


class QuizBankWarning(UserWarning):
    """A question is valid but gives its answer away (e.g. the key is by far the longest)."""


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
    def kind(self):
        from .types import get_type

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

    def check(self, response, variant: int = 0) -> Feedback:
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


# ---------------------------------------------------------------------------
# Loading and validating
# ---------------------------------------------------------------------------

_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")


def load_bank(path: str | os.PathLike) -> list[Question]:
    """Read and validate one bank; raise QuizBankError naming the file and question id."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise QuizBankError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("questions"), list):
        raise QuizBankError(f"{path}: expected a mapping with a list under 'questions:'")
    questions, seen = [], set()
    for number, raw in enumerate(data["questions"], start=1):
        question = _parse_question(raw, path, number)
        if question.id in seen:
            raise QuizBankError(f"{path}: question '{question.id}': id used twice in this file")
        seen.add(question.id)
        for message in give_aways(question):
            warnings.warn(f"{path}: question '{question.id}': {message}", QuizBankWarning, stacklevel=2)
        questions.append(question)
    return questions


def load_banks(folder: str | os.PathLike) -> dict[str, Question]:
    """All ``*.yml`` banks in ``folder`` by question id; ids must be unique across files."""
    by_id: dict[str, Question] = {}
    for path in sorted(Path(folder).glob("*.yml")):
        for question in load_bank(path):
            if question.id in by_id:
                raise QuizBankError(f"{path}: question '{question.id}': id already used in {by_id[question.id].source}")
            by_id[question.id] = question
    return by_id


def give_aways(question: Question) -> list[str]:
    """Warnings for a valid question whose form hints at its answer."""
    if question.type != "single":
        return []
    key = next(c for c in question.choices if c.correct)
    others = [len(c.text) for c in question.choices if not c.correct]
    if others and len(key.text) > LONGEST_KEY_RATIO * max(others):
        return [
            f"the key is the longest option by far ({len(key.text)} characters, the next "
            f"{max(others)}): a reader who picks the longest option wins; reword the options"
        ]
    return []


def _parse_question(raw: Any, path: Path, number: int) -> Question:
    from .types import TYPES

    where = f"{path}: question #{number}"
    if not isinstance(raw, dict):
        raise QuizBankError(f"{where}: expected a mapping with id, type, prompt, ...")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        raise QuizBankError(f"{where}: 'id' must be lowercase letters, digits and dashes, got {qid!r}")
    where = f"{path}: question '{qid}'"

    def fail(message: str):
        raise QuizBankError(f"{where}: {message}")

    qtype = raw.get("type")
    if qtype not in TYPES:
        fail(f"'type' must be one of {', '.join(TYPES)}, got {qtype!r}")
    kind = TYPES[qtype]
    allowed = {"id", "type", "prompt", "explain"} | set(kind.bank_keys)
    unknown = sorted(set(raw) - allowed)
    if unknown:
        fail(f"unknown key(s) {unknown} for a {qtype} question; expected some of {sorted(allowed)}")
    prompt = raw.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        fail("'prompt' must be non-empty text")
    explain = raw.get("explain", "")
    if not isinstance(explain, str):
        fail("'explain' must be text")
    common = dict(id=qid, type=qtype, prompt=prompt.strip(), source=path, explain=explain.strip())
    return kind.parse(raw, common, fail)


def parse_choices(raw: Any, key: str, fail, with_correct: bool, with_after: bool = False) -> tuple[Choice, ...]:
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


def as_numbers(value: Any, what: str, fail) -> tuple[float, ...]:
    from .numbers import parse_numbers

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


def variant_args(qid: str, args: dict, vary: Any, fail) -> list[dict]:
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
