"""Quiz banks: one YAML format, two surfaces.

A bank is a YAML file under ``book/quizzes/`` holding a list of questions::

    questions:
      - id: post-norm-formula          # unique across all banks; used by {quiz} and show()
        type: single                   # single | multiple | ordering | numeric
        prompt: Which formula is post-norm?
        options:                       # single / multiple: each option explains itself
          - text: "$y = \\mathrm{LN}(x + F(x))$"
            correct: true
            explain: The norm is applied after the residual sum.
          - text: "$y = x + F(\\mathrm{LN}(x))$"
            explain: That is pre-norm; the identity path is never normalised.
      - id: pre-norm-order
        type: ordering
        prompt: Put the operations of one pre-norm sub-layer in order.
        items:                         # listed in the CORRECT order; shown shuffled
          - {text: LayerNorm of x, explain: The branch starts by normalising its input.}
          - {text: "Sub-layer F", explain: F sees the normalised input.}
          - {text: Add x back, explain: The residual sum is left unnormalised.}
      - id: attn-weights-shape
        type: numeric                  # a number or a shape such as (2, 8, 10, 10)
        prompt: ...
        answer_from: normlab.answers.attention_weights_shape   # computed, not typed
        args: {batch: 2, seq: 10, d_model: 64, n_heads: 8}
        explain: One (seq, seq) matrix per head and per sequence.
        wrong:                         # optional: explanations for likely wrong answers
          - {answer: "(2, 10, 10)", explain: That forgets the heads axis.}

A numeric question gives either ``answer:`` (a number or a list for a shape, plus an
optional ``tolerance``) or ``answer_from:``, called with ``args`` when the bank is
loaded: a dotted path to a function in normlab, e.g. ``normlab.answers.block_output_shape``
or ``normlab.costs.crossover_seq``.

Surfaces: the ``{quiz}`` directive (:mod:`normlab.sphinx_quiz`, checked in the browser by
``static/normlab-quiz.js``) and :func:`show` (ipywidgets in a live notebook). Both use
the same bank and the same rules as :meth:`Question.check`.
"""

from __future__ import annotations

import hashlib
import importlib
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import yaml

QUESTION_TYPES = ("single", "multiple", "ordering", "numeric")


class QuizBankError(ValueError):
    """A quiz bank is malformed; the message names the file and the question id."""


# ---------------------------------------------------------------------------
# The bank format
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Choice:
    text: str
    explain: str
    correct: bool = False


@dataclass(frozen=True)
class WrongAnswer:
    answer: tuple[float, ...]
    explain: str


@dataclass(frozen=True)
class Feedback:
    correct: bool
    message: str  # "Correct!" or "Not quite."
    explanations: tuple[str, ...]  # what the learner should read next


@dataclass(frozen=True)
class Question:
    """One question. ``choices`` holds options (single/multiple) or items in the correct
    order (ordering); ``answer`` the key of a numeric question."""

    id: str
    type: str
    prompt: str
    source: Path
    choices: tuple[Choice, ...] = ()
    answer: tuple[float, ...] = ()
    tolerance: float = 0.0
    explain: str = ""
    wrong: tuple[WrongAnswer, ...] = ()

    @property
    def is_shape(self) -> bool:
        return len(self.answer) != 1

    def answer_text(self) -> str:
        return format_numbers(self.answer, as_shape=self.is_shape)

    def shuffled_order(self) -> list[int]:
        """A deterministic shuffle of the ordering items, never the solved order."""
        n = len(self.choices)
        seed = int(hashlib.sha256(self.id.encode()).hexdigest(), 16)
        order = sorted(range(n), key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())
        if order == list(range(n)):
            order = order[1:] + order[:1]  # rotate: a solved puzzle teaches nothing
        return order

    def check(self, response) -> Feedback:
        """Grade a response: an option index (single), a set of indices (multiple), a
        list of item indices in the learner's order (ordering), or text (numeric)."""
        if self.type == "single":
            chosen = self.choices[response]
            return Feedback(chosen.correct, verdict(chosen.correct), (chosen.explain,))
        if self.type == "multiple":
            picked = set(response)
            # explain every option the learner got wrong (or all picked ones when right)
            wrong = [c.explain for i, c in enumerate(self.choices) if (i in picked) != c.correct]
            if wrong:
                return Feedback(False, verdict(False), tuple(wrong))
            return Feedback(True, verdict(True), tuple(self.choices[i].explain for i in sorted(picked)))
        if self.type == "ordering":
            misplaced = [self.choices[item].explain for pos, item in enumerate(response) if pos != item]
            if misplaced:
                return Feedback(False, verdict(False), tuple(misplaced))
            return Feedback(True, verdict(True), (self.explain,) if self.explain else ())
        if self.type == "numeric":
            try:
                given = parse_numbers(response)
            except ValueError as err:
                return Feedback(False, str(err), ())
            if numbers_match(given, self.answer, self.tolerance):
                return Feedback(True, verdict(True), (self.explain,) if self.explain else ())
            for wrong in self.wrong:
                if numbers_match(given, wrong.answer, self.tolerance):
                    return Feedback(False, verdict(False), (wrong.explain,))
            return Feedback(False, verdict(False), (self.explain,) if self.explain else ())
        raise AssertionError(self.type)


def verdict(correct: bool) -> str:
    return "Correct!" if correct else "Not quite."


_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def parse_numbers(text: str) -> tuple[float, ...]:
    """``"(2, 8, 10, 10)"`` -> (2.0, 8.0, 10.0, 10.0); ``"0.5"`` -> (0.5,)."""
    inner = str(text).strip().strip("()[]").strip()
    parts = [p for p in re.split(r"[,\s]+", inner) if p]
    if not parts or not all(_NUMBER.match(p) for p in parts):
        raise ValueError(f"Expected a number such as 0.5 or a shape such as (2, 8, 10, 10), got {text!r}.")
    return tuple(float(p) for p in parts)


def numbers_match(given: Sequence[float], expected: Sequence[float], tolerance: float) -> bool:
    return len(given) == len(expected) and all(
        math.isclose(g, e, rel_tol=0.0, abs_tol=tolerance) for g, e in zip(given, expected)
    )


def format_numbers(values: Sequence[float], as_shape: bool) -> str:
    text = ", ".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in values)
    return f"({text})" if as_shape else text


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
        questions.append(question)
    return questions


def load_banks(folder: str | os.PathLike) -> dict[str, Question]:
    """All ``*.yml`` banks in ``folder`` by question id; ids must be unique across files."""
    by_id: dict[str, Question] = {}
    for path in sorted(Path(folder).glob("*.yml")):
        for question in load_bank(path):
            if question.id in by_id:
                raise QuizBankError(
                    f"{path}: question '{question.id}': id already used in {by_id[question.id].source}"
                )
            by_id[question.id] = question
    return by_id


def _parse_question(raw: Any, path: Path, number: int) -> Question:
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
    if qtype not in QUESTION_TYPES:
        fail(f"'type' must be one of {', '.join(QUESTION_TYPES)}, got {qtype!r}")
    allowed = {"id", "type", "prompt", "explain"} | {
        "single": {"options"}, "multiple": {"options"}, "ordering": {"items"},
        "numeric": {"answer", "answer_from", "args", "tolerance", "wrong"},
    }[qtype]
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

    if qtype in ("single", "multiple"):
        choices = _parse_choices(raw.get("options"), "options", fail, with_correct=True)
        n_correct = sum(c.correct for c in choices)
        if qtype == "single" and n_correct != 1:
            fail(f"a single-choice question needs exactly one option with 'correct: true', found {n_correct}")
        if qtype == "multiple" and n_correct < 1:
            fail("a multiple-choice question needs at least one option with 'correct: true'")
        return Question(**common, choices=choices)

    if qtype == "ordering":
        return Question(**common, choices=_parse_choices(raw.get("items"), "items", fail, with_correct=False))

    # numeric
    if ("answer" in raw) == ("answer_from" in raw):
        fail("give exactly one of 'answer' (typed) or 'answer_from' (computed by normlab)")
    if "answer_from" in raw:
        answer = _computed_answer(raw["answer_from"], raw.get("args", {}), fail)
    else:
        if "args" in raw:
            fail("'args' only goes with 'answer_from'")
        answer = _as_numbers(raw["answer"], "answer", fail)
    tolerance = raw.get("tolerance", 0.0)
    if not isinstance(tolerance, (int, float)) or tolerance < 0:
        fail(f"'tolerance' must be a number >= 0, got {tolerance!r}")
    wrong = []
    for i, item in enumerate(raw.get("wrong", []) or [], start=1):
        if not isinstance(item, dict) or set(item) != {"answer", "explain"}:
            fail(f"wrong answer #{i}: expected a mapping with 'answer' and 'explain'")
        wrong.append(WrongAnswer(_as_numbers(item["answer"], f"wrong answer #{i}", fail), str(item["explain"])))
    if not common["explain"]:
        fail("a numeric question needs 'explain' (shown after a wrong answer)")
    return Question(**common, answer=answer, tolerance=float(tolerance), wrong=tuple(wrong))


def _parse_choices(raw: Any, key: str, fail, with_correct: bool) -> tuple[Choice, ...]:
    if not isinstance(raw, list) or len(raw) < 2:
        fail(f"'{key}' must be a list of at least 2 entries")
    allowed = {"text", "explain", "correct"} if with_correct else {"text", "explain"}
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
        choices.append(Choice(str(text).strip(), explain.strip(), correct))
    return tuple(choices)


def _as_numbers(value: Any, what: str, fail) -> tuple[float, ...]:
    if isinstance(value, bool):
        fail(f"'{what}' must be a number or a shape, got {value!r}")
    if isinstance(value, (int, float)):
        return (float(value),)
    if isinstance(value, (list, tuple)) and value and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) for v in value
    ):
        return tuple(float(v) for v in value)
    if isinstance(value, str):
        try:
            return parse_numbers(value)
        except ValueError as err:
            fail(f"'{what}': {err}")
    fail(f"'{what}' must be a number or a shape such as [2, 8, 10, 10], got {value!r}")


def resolve_answer_source(name: Any) -> Callable[..., Any] | None:
    """The function a dotted path inside normlab names, or None."""
    if not isinstance(name, str):
        return None
    module_name, _, attr = name.rpartition(".")
    if module_name == "normlab" or module_name.startswith("normlab."):
        try:
            return getattr(importlib.import_module(module_name), attr, None)
        except ImportError:
            return None
    return None


def _computed_answer(name: Any, args: Any, fail) -> tuple[float, ...]:
    source = resolve_answer_source(name)
    if source is None:
        fail(f"answer_from: unknown computation {name!r}; expected a dotted path such as "
             "normlab.answers.block_output_shape")
    if not isinstance(args, dict):
        fail(f"'args' must be a mapping of keyword arguments for {name}, got {args!r}")
    try:
        value = source(**args)
    except Exception as err:  # the author's args are wrong: say so with the question id
        fail(f"answer_from: {name}(**{args}) failed: {type(err).__name__}: {err}")
    return _as_numbers(list(value) if isinstance(value, tuple) else value, f"{name} result", fail)


# ---------------------------------------------------------------------------
# Live notebook surface
# ---------------------------------------------------------------------------


def default_quiz_dir(start: Path | None = None) -> Path:
    """``book/quizzes`` of the book this notebook sits in (found upward from cwd)."""
    start = (start or Path.cwd()).resolve()
    for folder in (start, *start.parents):
        if (folder / "_config.yml").is_file() and (folder / "book" / "quizzes").is_dir():
            return folder / "book" / "quizzes"
    bundled = Path(__file__).resolve().parents[2] / "book" / "quizzes"  # editable install
    if bundled.is_dir():
        return bundled
    raise FileNotFoundError(f"no book/quizzes folder found above {start}; pass quiz_dir=")



def get_question(question_id: str, quiz_dir: str | os.PathLike | None = None) -> Question:
    quiz_dir = Path(quiz_dir) if quiz_dir else default_quiz_dir()
    bank = load_banks(quiz_dir)
    if question_id not in bank:
        raise KeyError(f"no question {question_id!r} in {quiz_dir}; known: {sorted(bank)}")
    return bank[question_id]


def show(question_id: str, quiz_dir: str | os.PathLike | None = None):
    """Render a bank question as ipywidgets (for a live kernel) and return the widget."""
    return QuizWidget(get_question(question_id, quiz_dir)).box


@dataclass
class QuizWidget:
    """The ipywidgets surface: the learner's input, Check, Reset and feedback."""

    question: Question
    order: list[int] = field(default_factory=list)

    def __post_init__(self):
        import ipywidgets as w

        q = self.question
        self.feedback = w.HTMLMath(value="")
        check, reset = w.Button(description="Check", button_style="primary"), w.Button(description="Reset")
        check.on_click(lambda _: self._check())
        reset.on_click(lambda _: self._reset())
        self.answer_area = w.VBox()
        self._build_input()
        self.box = w.VBox(
            [w.HTMLMath(value=f"<b>{q.prompt}</b>"), self.answer_area, w.HBox([check, reset]), self.feedback]
        )

    def _build_input(self):
        import ipywidgets as w

        q = self.question
        if q.type == "single":
            self.radio = w.RadioButtons(options=[(c.text, i) for i, c in enumerate(q.choices)], value=None)
            self.answer_area.children = [self.radio]
        elif q.type == "multiple":
            self.boxes = [w.Checkbox(description=c.text, value=False, indent=False) for c in q.choices]
            self.answer_area.children = self.boxes
        elif q.type == "ordering":
            self.order = q.shuffled_order()
            self._draw_order()
        else:
            self.text = w.Text(placeholder="e.g. (2, 8, 10, 10) or 0.5", description="Answer:")
            self.answer_area.children = [self.text]

    def _draw_order(self):
        import ipywidgets as w

        rows = []
        for pos, item in enumerate(self.order):
            up = w.Button(description="↑", tooltip="Move up", layout=w.Layout(width="3em"), disabled=pos == 0)
            down = w.Button(description="↓", tooltip="Move down", layout=w.Layout(width="3em"),
                            disabled=pos == len(self.order) - 1)
            up.on_click(lambda _, p=pos: self._move(p, -1))
            down.on_click(lambda _, p=pos: self._move(p, +1))
            rows.append(w.HBox([up, down, w.HTMLMath(value=f"{pos + 1}. {self.question.choices[item].text}")]))
        self.answer_area.children = rows

    def _move(self, pos: int, step: int):
        other = pos + step
        self.order[pos], self.order[other] = self.order[other], self.order[pos]
        self._draw_order()

    def response(self):
        q = self.question
        if q.type == "single":
            return self.radio.value
        if q.type == "multiple":
            return {i for i, box in enumerate(self.boxes) if box.value}
        if q.type == "ordering":
            return list(self.order)
        return self.text.value

    def _check(self):
        response = self.response()
        if response is None:
            self.feedback.value = "Choose an answer first."
            return
        result = self.question.check(response)
        colour = "green" if result.correct else "#b00"
        notes = "".join(f"<li>{text}</li>" for text in result.explanations)
        self.feedback.value = f"<b style='color:{colour}'>{result.message}</b><ul>{notes}</ul>"

    def _reset(self):
        self.feedback.value = ""
        self._build_input()
