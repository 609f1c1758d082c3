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
variant (up to :data:`normlab.quiz.fields.MAX_VARIANTS` combinations of the listed values, the ``args`` first)
when the bank is loaded; ``{{name}}`` in the prompt and in wrong answers is the variant's
value.

What each type accepts, how it is checked, and how it is drawn lives in
:mod:`normlab.quiz.types`; the data in :mod:`normlab.quiz.model`; this module reads and
validates the files.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any, NoReturn

import yaml

from .model import Question
from .types import TYPES


class QuizBankError(ValueError):
    """A quiz bank is malformed; the message names the file and the question id."""


class QuizBankWarning(UserWarning):
    """A question is valid but gives its answer away (e.g. the key is by far the longest)."""


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
    """Warnings for a valid question whose form hints at its answer (its type knows which)."""
    return question.kind.give_aways(question)


def _parse_question(raw: Any, path: Path, number: int) -> Question:
    where = f"{path}: question #{number}"
    if not isinstance(raw, dict):
        raise QuizBankError(f"{where}: expected a mapping with id, type, prompt, ...")
    qid = raw.get("id")
    if not isinstance(qid, str) or not _ID.match(qid):
        raise QuizBankError(f"{where}: 'id' must be lowercase letters, digits and dashes, got {qid!r}")
    where = f"{path}: question '{qid}'"

    def fail(message: str) -> NoReturn:
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
