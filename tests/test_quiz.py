"""Quiz banks: the validator names the file and the question id, computed answer keys
come from normlab, Question.check grades as the page's checker does, and the live widget
shows the same question (Markdown, math, order) as the page."""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest

from normlab.quiz import QuizBankError, QuizBankWarning, load_bank, load_banks, parse_numbers
from normlab.quiz.numbers import accepted_forms

ROOT = Path(__file__).resolve().parents[1]


@functools.lru_cache(maxsize=1)
def book_bank():
    """Every bank of the book, loaded once (each load computes the keys with torch)."""
    return load_banks(ROOT / "book" / "quizzes")


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
    answer_from: normlab.quiz.keys.attention_weights_shape
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
    bank = book_bank()
    assert {"single", "multiple", "ordering", "numeric"} <= {q.type for q in bank.values()}


@pytest.mark.parametrize(
    "broken, expected",
    [
        ("type: single\n    prompt: P", "question 'q-bad': 'options' must be a list"),
        ("type: essay\n    prompt: P", "question 'q-bad': 'type' must be one of"),
        (
            "type: single\n    prompt: P\n    options:\n      - {text: A, explain: e}\n      - {text: B, explain: e}",
            "question 'q-bad': a single-choice question needs exactly one option with 'correct: true', found 0",
        ),
        (
            "type: single\n    prompt: P\n    options:\n"
            "      - {text: A, correct: true}\n      - {text: B, explain: e}",
            "question 'q-bad': options #1 ('A'): every entry needs an 'explain'",
        ),
        (
            "type: numeric\n    prompt: P\n    explain: e\n    answer_from: no_such_thing",
            "question 'q-bad': answer_from: unknown computation 'no_such_thing'",
        ),
        (
            "type: numeric\n    prompt: P\n    explain: e\n    answer_from: normlab.quiz.keys.attention_weights_shape\n"
            "    args: {batch: 2, seq: 10, d_model: 64, n_heads: 7}",
            "question 'q-bad': answer_from: normlab.quiz.keys.attention_weights_shape",
        ),
        (
            "type: numeric\n    prompt: P\n    explain: e\n    answer: 3\n    answr_from: x",
            "question 'q-bad': unknown key(s) ['answr_from']",
        ),
        ("type: numeric\n    prompt: P\n    answer: 3", "question 'q-bad': a numeric question needs 'explain'"),
    ],
)
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
    assert partial.missed == ("yes C.",)  # shown as missed, not as a wrong pick
    mixed = q["q-multi"].check({0, 1})
    assert mixed.explanations == ("not B.", "yes C.") and mixed.missed == ("yes C.",)

    order = q["q-order"]
    assert order.shuffled_order() != [0, 1, 2]
    right = order.check([0, 1, 2])
    assert right.correct and right.explanations == (
        "goes first.",
        "goes second.",
        "goes third.",
        "First, second, third.",
    )
    wrong = order.check([1, 0, 2])  # no step's explanation: each one says where it goes
    assert not wrong.correct and wrong.explanations == () and "2 of 3 steps are out of place" in wrong.message

    shape = q["q-shape"]
    assert shape.check("(2, 8, 10, 10)").correct
    assert shape.check("[2,8,10,10]").correct
    assert shape.check("(2, 10, 10)").explanations == ("forgot the heads.",)
    assert shape.check("(1, 1, 1, 1)").explanations == ("(batch, heads, seq, seq).",)
    assert "Expected a number" in shape.check("two").message


def test_parse_numbers():
    assert parse_numbers("(2, 8, 10, 10)") == (2, 8, 10, 10)
    assert parse_numbers(" 0.5 ") == (0.5,)
    assert parse_numbers("2 x 8") == (2, 8)
    with pytest.raises(ValueError, match="Expected a number"):
        parse_numbers("2 by 8")


def test_show_renders_the_same_question_as_widgets(tmp_path):
    from normlab.quiz import QuizWidget, show

    write(tmp_path, VALID)
    box = show("q-order", quiz_dir=tmp_path)
    assert box.children[0].value.startswith("<b>Order them.")
    assert show("q-single", quiz_dir=tmp_path) is not None

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


# --- numbers: one specification, two parsers ----------------------------------------

FORMS = accepted_forms()
JS_FILE = ROOT / "src" / "normlab" / "book" / "static" / "normlab-quiz.js"


@pytest.mark.parametrize("form", FORMS, ids=[f["text"] or "empty" for f in FORMS])
def test_python_parser_follows_the_number_forms(form):
    if form["numbers"] is None:
        with pytest.raises(ValueError, match="Expected a number"):
            parse_numbers(form["text"])
    else:
        assert parse_numbers(form["text"]) == pytest.approx(tuple(form["numbers"]))


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (the browser test runs them too)")
def test_js_parser_follows_the_number_forms():
    script = (
        f"const nl = require({json.dumps(str(JS_FILE))});"
        f"const forms = {json.dumps(FORMS)};"
        "console.log(JSON.stringify(forms.map(f => nl.parseNumbers(f.text))));"
    )
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout
    got = json.loads(out)
    for form, numbers in zip(FORMS, got):
        assert numbers == (None if form["numbers"] is None else pytest.approx(form["numbers"])), form["text"]


def test_thousands_separators_and_torch_sizes_are_right_answers():
    bank = book_bank()
    counts = [q for q in bank.values() if q.type == "numeric" and not q.is_shape and q.answer[0] >= 1000]
    assert counts, "the book has count questions above 1,000"
    for q in counts:
        assert q.check(f"{int(q.answer[0]):,}").correct, q.id
    shape = bank["ch2-weights-shape"]
    dims = [int(v) for v in shape.answer]
    assert shape.check(f"torch.Size({dims})").correct
    assert shape.check(" x ".join(map(str, dims))).correct
    assert shape.check("×".join(map(str, dims))).correct


# --- shuffled options, give-away warnings, placeholders -----------------------------


def test_options_are_shuffled_the_same_way_every_time_and_the_key_moves():
    bank = book_bank()
    choice = [q for q in bank.values() if q.type in ("single", "multiple")]
    assert all(q.display_order() == q.display_order() for q in choice)
    assert all(sorted(q.display_order()) == list(range(len(q.choices))) for q in choice)
    singles = [q for q in choice if q.type == "single"]
    first_shown = [next(i for i, c in enumerate(q.choices) if c.correct) == q.display_order()[0] for q in singles]
    last_shown = [next(i for i, c in enumerate(q.choices) if c.correct) == q.display_order()[-1] for q in singles]
    # the key is neither always first nor never last any more
    assert 0 < sum(first_shown) < len(singles) / 2 and sum(last_shown) > 0


def test_no_book_question_gives_its_key_away_by_length():
    from normlab.quiz.bank import give_aways

    bank = book_bank()
    assert {q.id: give_aways(q) for q in bank.values() if give_aways(q)} == {}
    singles = [q for q in bank.values() if q.type == "single"]

    def key_is_strictly_longest(q):
        key = next(c for c in q.choices if c.correct)
        return all(len(c.text) < len(key.text) for c in q.choices if not c.correct)

    longest = sum(map(key_is_strictly_longest, singles))  # 24 of 31 before the banks were reworded
    # a reader who always picks the longest option does no better than a good guesser
    assert longest <= len(singles) // 3, f"{longest} of {len(singles)} keys are the longest option"


def test_a_key_much_longer_than_every_other_option_is_warned_about(tmp_path):
    text = """
    questions:
      - id: q-long
        type: single
        prompt: Which?
        options:
          - {text: A short one, explain: no.}
          - {text: "The right one, explained at length with every qualification", correct: true, explain: yes.}
    """
    with pytest.warns(QuizBankWarning, match=r"bank.yml: question 'q-long': the key is the longest option by far"):
        load_bank(write(tmp_path, text))


def test_numeric_placeholders_never_show_a_number():
    from normlab.quiz.types import placeholder

    bank = book_bank()
    for q in bank.values():
        if q.type == "numeric":
            assert not any(ch.isdigit() for ch in placeholder(q)), q.id


# --- ordering: every valid order ------------------------------------------------------


def test_ordering_accepts_every_order_the_bank_allows():
    q = book_bank()["pre-norm-order-course"]
    keep, apply_f, norm, add = range(4)
    assert q.check([keep, apply_f, norm, add]).correct
    assert q.check([apply_f, keep, norm, add]).correct  # keeping x and applying F commute
    assert q.check([apply_f, norm, keep, add]).correct
    wrong = q.check([norm, apply_f, keep, add])
    assert not wrong.correct and wrong.explanations == ()
    assert not q.check([keep, apply_f, add, norm]).correct
    assert not q.kind.is_solved(q, q.shuffled_order())


def test_ordering_explains_the_steps_only_once_the_order_is_right_or_the_reader_gives_up():
    """pre-norm-order-course used to show every step's explanation at the first Check, and
    the explanations ("comes last", "before the residual add") gave the order away."""
    from normlab.quiz import QuizWidget

    q = book_bank()["pre-norm-order-course"]
    steps = [c.explain for c in q.choices]
    first = q.check(q.shuffled_order())
    assert not first.correct and first.explanations == ()
    assert q.check(list(range(len(steps)))).explanations == (*steps, q.explain)
    gave_up = q.reveal()
    assert len(gave_up.explanations) == len(steps) + 1
    assert all(step in shown for step, shown in zip(steps, gave_up.explanations))

    widget = QuizWidget(q)
    widget._check()
    assert "out of place" in widget.feedback.value
    assert not any(step[:30] in widget.feedback.value for step in steps)
    widget.reveal()  # "Show the answer": a right order on screen, with every explanation
    assert q.check(widget.order).correct and "One right order" in widget.feedback.value
    assert widget.feedback.value.count("<li>") == len(steps) + 1


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed (the browser tests run the page)")
def test_js_ordering_shows_no_explanation_before_the_order_is_right():
    q = book_bank()["pre-norm-order-course"]
    from normlab.quiz.types import Ordering

    before = {rank: sorted(needed) for rank, needed in enumerate(Ordering.predecessors(q))}
    start, solved = q.shuffled_order(), list(range(len(q.choices)))
    script = (
        f"const nl = require({json.dumps(str(JS_FILE))});"
        f"const before = {json.dumps(before)};"
        f"console.log(JSON.stringify([nl.orderingVerdict({start}, before, false), "
        f"nl.orderingVerdict({solved}, before, false), nl.orderingVerdict({start}, before, true)]));"
    )
    wrong, right, gave_up = json.loads(
        subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True).stdout
    )
    assert not wrong["correct"] and wrong["misplaced"] and wrong["explain"] == []
    assert right["correct"] and sorted(right["explain"]) == solved
    assert not gave_up["correct"] and sorted(gave_up["explain"]) == solved


def test_the_page_offers_show_the_answer_for_ordering_questions_only(tmp_path):
    """The {quiz} directive's HTML, from a one-page Sphinx build: the ordering question has a
    "Show the answer" button and every explanation starts hidden."""
    from sphinx.cmd.build import build_main

    source = tmp_path / "src"
    write(source.mkdir() or source, VALID, "bank.yml")
    (source / "conf.py").write_text(
        'extensions = ["myst_parser", "normlab.book.quiz_directive"]\nnormlab_quiz_dir = "."\n'
    )
    (source / "index.md").write_text("# Quiz\n\n```{quiz} q-order\n```\n\n```{quiz} q-single\n```\n")
    assert build_main([str(source), str(tmp_path / "out"), "-b", "html", "-q", "-W"]) == 0
    page = (tmp_path / "out" / "index.html").read_text()
    order, single = page.split('id="quiz-q-order"')[1].split('id="quiz-q-single"')
    assert order.count('class="nl-quiz-reveal"') == 1 and "nl-quiz-reveal" not in single
    explanations = re.findall(r'<div class="nl-quiz-explain"[^>]*>', order)
    assert len(explanations) == 4 and all(tag.endswith(" hidden>") for tag in explanations)  # 3 steps, 1 general


def test_ordering_after_is_validated(tmp_path):
    text = """
    questions:
      - id: q-after
        type: ordering
        prompt: Order.
        items:
          - {text: a, explain: a.}
          - {text: b, explain: b., after: [2]}
    """
    with pytest.raises(QuizBankError, match=r"question 'q-after': items #2: 'after' must list item numbers"):
        load_bank(write(tmp_path, text))


# --- parameterised questions -------------------------------------------------------

PARAM = """
questions:
  - id: q-param
    type: numeric
    prompt: Batch {{batch}}, {{seq}} tokens, 8 heads. Shape of the weights?
    answer_from: normlab.quiz.keys.attention_weights_shape
    args: {batch: 2, seq: 10, d_model: 64, n_heads: 8}
    vary: {batch: [2, 3], seq: [5, 10, 12]}
    explain: (batch, heads, seq, seq).
    wrong:
      - {answer: "({{batch}}, {{seq}}, {{seq}})", explain: forgot the heads.}
"""


def test_parameterised_question_computes_every_variants_key(tmp_path):
    q = load_bank(write(tmp_path, PARAM))[0]
    assert len(q.variants) == 6 and q.variants[0].params["batch"] == 2 and q.variants[0].params["seq"] == 10
    for n, v in enumerate(q.variants):
        b, s = v.params["batch"], v.params["seq"]
        assert v.answer == (b, 8, s, s)  # computed by normlab for these sizes
        assert q.check(f"({b}, 8, {s}, {s})", variant=n).correct
        assert q.check(f"({b}, {s}, {s})", variant=n).explanations == ("forgot the heads.",)
        assert f"Batch {b}, {s} tokens" in q.prompt_for(n)
    assert not q.check("(2, 8, 10, 10)", variant=1).correct


def test_parameterised_question_must_show_what_varies(tmp_path):
    broken = PARAM.replace("Batch {{batch}}, {{seq}} tokens", "Batch {{batch}}")
    with pytest.raises(QuizBankError, match=r"'vary' changes \['seq'\], so the prompt must show them"):
        load_bank(write(tmp_path, broken))
    broken = PARAM.replace("seq: [5, 10, 12]", "heads: [1]")
    with pytest.raises(QuizBankError, match=r"'vary' names 'heads', which is not in 'args'"):
        load_bank(write(tmp_path, broken))


def test_live_widget_try_another_draws_new_sizes_with_their_key(tmp_path):
    from normlab.quiz import QuizWidget

    q = load_bank(write(tmp_path, PARAM))[0]
    widget = QuizWidget(q, variant=0)
    assert "Batch 2, 10 tokens" in widget.prompt.value
    widget.try_another()
    assert widget.variant != 0
    b, s = (q.variants[widget.variant].params[k] for k in ("batch", "seq"))
    assert f"Batch {b}, {s} tokens" in widget.prompt.value
    widget.text.value = f"{b} x 8 x {s} x {s}"
    widget._check()
    assert "Correct!" in widget.feedback.value


def test_book_has_parameterised_questions():
    bank = book_bank()
    assert len([q for q in bank.values() if len(q.variants) > 1]) >= 3


# --- the live widget renders Markdown and math ------------------------------------


def test_markdown_html_keeps_math_for_mathjax():
    from normlab.quiz import markdown_html

    assert markdown_html(r"*x* and `code` and $\sqrt{d_k}$ and $a_1 * b_2$") == (
        r"<em>x</em> and <code>code</code> and $\sqrt{d_k}$ and $a_1 * b_2$"
    )
    assert markdown_html("$a < b$") == "$a &lt; b$"


def test_live_widget_shows_markdown_prompts_and_latex_options(tmp_path):
    from normlab.quiz import QuizWidget

    text = r"""
    questions:
      - id: q-math
        type: single
        prompt: Which formula is **post-norm**?
        options:
          - {text: "$y = x + F(\\mathrm{LN}(x))$", explain: pre-norm.}
          - {text: "$y = \\mathrm{LN}(x + F(x))$", correct: true, explain: "*after* the sum."}
          - {text: "$y = x + \\mathrm{LN}(F(x))$", explain: res-post.}
    """
    q = load_bank(write(tmp_path, text))[0]
    widget = QuizWidget(q)
    assert "<strong>post-norm</strong>" in widget.prompt.value and "**" not in widget.prompt.value
    rows = widget.area.box.children
    labels = [row.children[1] for row in rows]
    assert all(type(label).__name__ == "HTMLMath" for label in labels)  # typeset by MathJax
    assert [label.value for label in labels] == [q.choices[i].text for i in q.display_order()]
    key = next(i for i, c in enumerate(q.choices) if c.correct)
    wrong = next(i for i, c in enumerate(q.choices) if not c.correct)
    widget.boxes[wrong].value = True
    widget.boxes[key].value = True  # one answer: ticking another clears the first
    assert not widget.boxes[wrong].value
    widget._check()
    assert "Correct!" in widget.feedback.value and "<em>after</em>" in widget.feedback.value


def test_live_multiple_choice_says_missed(tmp_path):
    from normlab.quiz import QuizWidget

    q = next(q for q in load_bank(write(tmp_path, VALID)) if q.id == "q-multi")
    widget = QuizWidget(q)
    widget.boxes[0].value = True
    widget._check()
    assert "Missed" in widget.feedback.value and "yes C." in widget.feedback.value


def test_import_normlab_then_quiz_show():
    code = (
        "import normlab, pathlib; "
        f"box = normlab.quiz.show('ch2-doubling', quiz_dir=pathlib.Path({str(ROOT / 'book' / 'quizzes')!r})); "
        "print(type(box).__name__)"
    )
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "VBox"


# --- the notebook form in chapters ---------------------------------------------------


def test_quiz_code_cells_become_directives_with_the_same_line_count():
    from normlab.book.quiz_directive import quiz_cells_to_directives

    source = (
        'text\n\n```{code-cell} ipython3\n:tags: [quiz]\n\nquiz.show("ch2-doubling")\n```\n\n'
        "```{code-cell} ipython3\nx = 1\n```\n"
    )
    out = quiz_cells_to_directives(source)
    assert "```{quiz} ch2-doubling\n" in out and "quiz.show" not in out
    assert out.count("\n") == source.count("\n")
    assert "x = 1" in out  # other cells untouched
    with pytest.raises(QuizBankError, match=r"ch.md:3: a code cell tagged 'quiz' must hold one line"):
        quiz_cells_to_directives("a\n\n```{code-cell} ipython3\n:tags: [quiz]\nprint(1)\n```\n", "ch.md")


def test_every_chapter_quiz_is_a_code_cell_that_runs_in_a_notebook():
    from normlab.book.quiz_directive import QUIZ_CELL, quiz_cells_to_directives

    bank = book_bank()
    shown = []
    for chapter in sorted((ROOT / "book").glob("*.md")):
        text = chapter.read_text()
        assert "```{quiz}" not in text, f"{chapter.name}: write quizzes as quiz.show code cells"
        cells = [m for m in QUIZ_CELL.finditer(text) if "quiz" in m.group("options")]
        if cells:
            assert "from normlab import quiz" in text, f"{chapter.name}: needs `from normlab import quiz`"
            first = text.index("from normlab import quiz")
            assert first < cells[0].start(), f"{chapter.name}: import quiz before the first question"
        for line in quiz_cells_to_directives(text, chapter.name).splitlines():
            if line.startswith("```{quiz}"):
                shown.append(line.split()[-1])
    assert shown and set(shown) <= set(bank)
    assert len(shown) == len(set(shown))


def test_a_new_quiz_type_is_one_registered_class(tmp_path):
    """What adding a type takes on the Python side: one class (parse, check, html, widget)."""
    from normlab.quiz import TYPES, Feedback, Question, QuizType, register, verdict

    class TrueFalse(QuizType):
        name, label, bank_keys = "truefalse", "Quiz (true or false):", ("answer",)

        def parse(self, raw, common, fail):
            if not isinstance(raw.get("answer"), bool):
                fail("'answer' must be true or false")
            return Question(**common, answer=(float(raw["answer"]),))

        def check(self, q, response, variant=0):
            right = bool(response) == bool(q.answer[0])
            return Feedback(right, verdict(right), (q.explain,))

        def html(self, q, out):
            out.html("<p>true / false buttons</p>")

        def widget(self, q, live):
            return live.text_input("true or false")

    register(TrueFalse)
    try:
        bank = write(
            tmp_path, "questions:\n  - {id: q-tf, type: truefalse, prompt: Is it true, answer: true, explain: E.}\n"
        )
        q = load_bank(bank)[0]
        assert q.check(True).correct and not q.check(False).correct
        with pytest.raises(QuizBankError, match="'answer' must be true or false"):
            load_bank(write(tmp_path, "questions:\n  - {id: q-tf, type: truefalse, prompt: Is it true, answer: 1}\n"))
    finally:
        del TYPES["truefalse"]
