"""Quiz banks: the validator names the file and the question id, computed answer keys
come from normlab, and Question.check grades as the page's checker does."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from normlab.quiz import QuizBankError, load_bank, load_banks, parse_numbers

ROOT = Path(__file__).resolve().parents[1]

VALID = """
questions:
  - id: q-single
    type: single
    prompt: Which?
    options:
      - {text: A, explain: A is wrong because.}
      - {text: B, correct: true, explain: B is right because.}
  - id: q-multi
    type: multiple
    prompt: Which ones?
    options:
      - {text: A, correct: true, explain: yes A.}
      - {text: B, explain: not B.}
      - {text: C, correct: true, explain: yes C.}
  - id: q-order
    type: ordering
    prompt: Order them.
    explain: First, second, third.
    items:
      - {text: first, explain: goes first.}
      - {text: second, explain: goes second.}
      - {text: third, explain: goes third.}
  - id: q-shape
    type: numeric
    prompt: Shape?
    answer_from: normlab.answers.attention_weights_shape
    args: {batch: 2, seq: 10, d_model: 64, n_heads: 8}
    explain: (batch, heads, seq, seq).
    wrong:
      - {answer: "(2, 10, 10)", explain: forgot the heads.}
"""


def write(tmp_path: Path, text: str, name: str = "bank.yml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return path


def test_valid_bank_loads_with_the_computed_shape(tmp_path):
    questions = {q.id: q for q in load_bank(write(tmp_path, VALID))}
    assert list(questions) == ["q-single", "q-multi", "q-order", "q-shape"]
    assert questions["q-shape"].answer == (2, 8, 10, 10)  # from MultiHeadSelfAttention, not typed
    assert questions["q-shape"].answer_text() == "(2, 8, 10, 10)"


def test_every_bank_in_the_book_is_valid():
    bank = load_banks(ROOT / "book" / "quizzes")
    assert {"single", "multiple", "ordering", "numeric"} <= {q.type for q in bank.values()}


@pytest.mark.parametrize("broken, expected", [
    ("type: single\n    prompt: P", "question 'q-bad': 'options' must be a list"),
    ("type: essay\n    prompt: P", "question 'q-bad': 'type' must be one of"),
    ("type: single\n    prompt: P\n    options:\n      - {text: A, explain: e}\n      - {text: B, explain: e}",
     "question 'q-bad': a single-choice question needs exactly one option with 'correct: true', found 0"),
    ("type: single\n    prompt: P\n    options:\n      - {text: A, correct: true}\n      - {text: B, explain: e}",
     "question 'q-bad': options #1 ('A'): every entry needs an 'explain'"),
    ("type: numeric\n    prompt: P\n    explain: e\n    answer_from: no_such_thing",
     "question 'q-bad': answer_from: unknown computation 'no_such_thing'"),
    ("type: numeric\n    prompt: P\n    explain: e\n    answer_from: normlab.answers.attention_weights_shape\n"
     "    args: {batch: 2, seq: 10, d_model: 64, n_heads: 7}",
     "question 'q-bad': answer_from: normlab.answers.attention_weights_shape"),
    ("type: numeric\n    prompt: P\n    explain: e\n    answer: 3\n    answr_from: x",
     "question 'q-bad': unknown key(s) ['answr_from']"),
    ("type: numeric\n    prompt: P\n    answer: 3", "question 'q-bad': a numeric question needs 'explain'"),
])
def test_a_bad_question_is_reported_with_file_and_id(tmp_path, broken, expected):
    path = write(tmp_path, f"questions:\n  - id: q-bad\n    {broken}\n", "chapter9.yml")
    with pytest.raises(QuizBankError) as caught:
        load_bank(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    assert expected in message


def test_a_bad_id_or_file_is_reported(tmp_path):
    with pytest.raises(QuizBankError, match=r"bank.yml: question #1: 'id' must be lowercase"):
        load_bank(write(tmp_path, "questions:\n  - id: Bad Id\n    type: single\n"))
    with pytest.raises(QuizBankError, match=r"bank.yml: not valid YAML"):
        load_bank(write(tmp_path, "questions: [\n"))
    with pytest.raises(QuizBankError, match=r"bank.yml: expected a mapping with a list under 'questions:'"):
        load_bank(write(tmp_path, "- id: x\n"))


def test_an_id_used_in_two_banks_names_both_files(tmp_path):
    write(tmp_path, VALID, "a.yml")
    write(tmp_path, VALID, "b.yml")
    with pytest.raises(QuizBankError, match=r"b.yml: question 'q-single': id already used in .*a.yml"):
        load_banks(tmp_path)


def test_check_grades_each_type(tmp_path):
    q = {q.id: q for q in load_bank(write(tmp_path, VALID))}
    assert q["q-single"].check(1).correct
    wrong = q["q-single"].check(0)
    assert not wrong.correct and wrong.explanations == ("A is wrong because.",)

    assert q["q-multi"].check({0, 2}).correct
    partial = q["q-multi"].check({0})
    assert not partial.correct and partial.explanations == ("yes C.",)  # the missed one

    order = q["q-order"]
    assert order.shuffled_order() != [0, 1, 2]
    assert order.check([0, 1, 2]).correct
    assert order.check([1, 0, 2]).explanations == ("goes second.", "goes first.")  # by position

    shape = q["q-shape"]
    assert shape.check("(2, 8, 10, 10)").correct
    assert shape.check("[2,8,10,10]").correct
    assert shape.check("(2, 10, 10)").explanations == ("forgot the heads.",)
    assert shape.check("(1, 1, 1, 1)").explanations == ("(batch, heads, seq, seq).",)
    assert "Expected a number" in shape.check("two").message


def test_parse_numbers():
    assert parse_numbers("(2, 8, 10, 10)") == (2, 8, 10, 10)
    assert parse_numbers(" 0.5 ") == (0.5,)
    with pytest.raises(ValueError, match="Expected a number"):
        parse_numbers("2 x 8")


def test_show_renders_the_same_question_as_widgets(tmp_path):
    from normlab.quiz import QuizWidget, show

    write(tmp_path, VALID)
    box = show("q-order", quiz_dir=tmp_path)
    assert box.children[0].value.startswith("<b>Order them.")

    widget = QuizWidget(next(q for q in load_bank(tmp_path / "bank.yml") if q.id == "q-order"))
    start = list(widget.order)
    assert start == widget.question.shuffled_order()
    # the move buttons reorder; solving it and pressing Check says Correct
    while widget.order != [0, 1, 2]:
        pos = next(i for i, item in enumerate(widget.order) if item != i)
        widget._move(widget.order.index(pos), -1)
    widget._check()
    assert "Correct!" in widget.feedback.value

    numeric = QuizWidget(next(q for q in load_bank(tmp_path / "bank.yml") if q.id == "q-shape"))
    numeric.text.value = "(2, 10, 10)"
    numeric._check()
    assert "Not quite." in numeric.feedback.value and "forgot the heads." in numeric.feedback.value
    with pytest.raises(KeyError, match="no question 'nope'"):
        show("nope", quiz_dir=tmp_path)
