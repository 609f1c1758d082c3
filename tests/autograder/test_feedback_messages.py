"""Issue 23 problems 7-10: feedback keeps every message a student can learn from (visible
check messages, explanations written for students, what partial credit missed, the
question's name) and still removes hidden-test text.  Pure: no kernel, no nbgrader run."""

import nbformat
import pytest
from autograder_helpers import ASSIGNMENT, record_scores
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder.execute import is_self_check
from autograder.feedback import REMOVED, MarkPendingHandGrades, StripHiddenTests, strip_ansi, wrap_long_lines
from autograder.kernel.client import OutputCap, cell_frames

VISIBLE = "your sub-layer computes x + LN(F(x)): pre_norm_sublayer must return x + F(LN(x))"
WHY_D = "(batch, heads, seq, d_head) is the shape after split_heads, not of the weights."
WHY_B = "Warm-up is still cheap insurance for pre-norm models at scale."
HIDDEN = """### BEGIN HIDDEN TESTS
checks.expect_choice(WEIGHTS, "C", name="WEIGHTS", why={
    "D": "(batch, heads, seq, d_head) is the shape after split_heads, "
         "not of the weights.",
})
assert secret_probe("pre_norm_sublayer") == 17, "hidden-only message: probe 17 failed"
### END HIDDEN TESTS"""
PARTIAL = """checks.design_review.migration_checklist(CHECKLIST)
### BEGIN HIDDEN TESTS
checks.selection_credit(CHECKLIST, {"A", "B"}, 3, why={"B": "Warm-up is still cheap insurance for pre-norm "
                                                            "models at scale."}, name="CHECKLIST")
### END HIDDEN TESTS"""


def graded_cell(grade_id, source, outputs):
    cell = new_code_cell(source, metadata={"nbgrader": {"grade": True, "grade_id": grade_id, "points": 3}})
    cell.outputs = outputs
    return cell


def error(ename, evalue, traceback=None):
    return new_output("error", ename=ename, evalue=evalue, traceback=traceback or [f"{ename}: {evalue}"])


def stdout(text):
    return new_output("stream", name="stdout", text=text)


def strip(nb, tmp_path):
    """Run the preprocessor as `feedback` does, with a released notebook that names
    `pre_norm_sublayer` (students were given that name)."""
    release = tmp_path / "release" / "a1"
    release.mkdir(parents=True)
    nbformat.write(
        new_notebook(cells=[new_code_cell("def pre_norm_sublayer(x, f, norm):\n    ...")]), release / "n.ipynb"
    )
    step = StripHiddenTests(release_dir=str(tmp_path / "release"))
    return step.preprocess(nb, {"nbgrader": {"assignment": "a1", "notebook": "n"}})[0]


def texts(cell):
    return "".join(o.get("text", "") for o in cell.outputs)


def test_visible_messages_and_explanations_reach_the_student(tmp_path):
    nb = new_notebook(
        cells=[
            graded_cell(
                "test_visible", "checks.pre_norm(pre_norm_sublayer)\n" + HIDDEN, [error("CheckFailed", VISIBLE)]
            ),
            graded_cell(
                "test_weights", HIDDEN, [error("CheckFailed", f"WEIGHTS = 'D' is not the best answer. {WHY_D}")]
            ),
            graded_cell("test_probe", HIDDEN, [error("AssertionError", "hidden-only message: probe 17 failed")]),
            new_code_cell("checks.self_check()", outputs=[stdout("pre_norm_sublayer: 0 of 3 points\n")]),
        ]
    )
    visible, weights, probe, own = strip(nb, tmp_path).cells
    assert texts(visible) == f"test_visible: CheckFailed: {VISIBLE}\n"
    assert WHY_D in texts(weights) and texts(weights).startswith("test_weights: ")
    assert texts(probe) == "test_probe: a hidden test failed\n"  # the hidden test's own message stays hidden
    assert texts(own) == "pre_norm_sublayer: 0 of 3 points\n"  # the student's own summary is not removed


def test_partial_credit_shows_what_was_missed(tmp_path):
    result = new_output("execute_result", data={"text/plain": "1.5"}, execution_count=1)
    nb = new_notebook(
        cells=[graded_cell("test_checklist", PARTIAL, [stdout(f"CHECKLIST: missed B. {WHY_B}\n"), result])]
    )
    [cell] = strip(nb, tmp_path).cells
    assert texts(cell) == f"CHECKLIST: missed B. {WHY_B}\ntest_checklist: partial credit, 1.5 point(s)\n"


def test_hidden_text_smuggled_out_is_still_removed(tmp_path):
    nb = new_notebook(
        cells=[
            graded_cell("test_probe", HIDDEN, [error("AssertionError", "x")]),
            new_code_cell("print(stolen)", outputs=[stdout("stolen: hidden-only message: probe 17 failed\n")]),
        ]
    )
    assert texts(strip(nb, tmp_path).cells[1]) == REMOVED + "\n"


def test_tracebacks_lose_their_escape_codes(tmp_path):
    cut = "39m     l = 0\n\x1b[0;32m----> 3\x1b[0m \x1b[38;5;28;01mwhile\x1b[39;00m l \x1b[38;5;241m<"
    assert strip_ansi("\x1b[0;31mKeyboardInterrupt\x1b[0m") == "KeyboardInterrupt"
    nb = new_notebook(cells=[new_code_cell("f()", outputs=[error("KeyboardInterrupt", "", [cut])])])
    [line] = strip(nb, tmp_path).cells[0].outputs[0]["traceback"]
    assert "\x1b" not in line and "----> 3 while l <" in line


# ---------------------------------------------------------------- problem 9
FRAME = "\x1b[0;32mCell In[3], line 4\x1b[0m, in \x1b[0;36mpre_norm_sublayer\x1b[0;34m(x, f, norm)\x1b[0m\n"
LINES = "".join(f"\x1b[1;32m{n:>5}\x1b[0m     l \x1b[38;5;241m=\x1b[39m \x1b[38;5;241m{n}\x1b[39m\n" for n in range(40))
TORCH = "File /venv/torch/nn/modules/module.py:1736, in Module._call_impl(self, *args)\n" + "  x\n" * 80


def test_a_cut_traceback_keeps_where_it_was_and_no_half_escape_codes():
    cap = OutputCap(limit=100)
    traceback = [
        "Cell In[3], line 12\n   pre_norm_sublayer(x)\n",
        FRAME + LINES,
        TORCH,
        TORCH,
        TORCH,
        "KeyboardInterrupt: ",
    ]
    cap.add({"output_type": "error", "ename": "KeyboardInterrupt", "evalue": "", "traceback": traceback})
    [kept] = cap.outputs
    assert not any("\x1b" in line or "39m" in line or "241m" in line for line in kept["traceback"])
    assert kept["traceback"][0].startswith("Cell In[3], line 4, in pre_norm_sublayer(x, f, norm)\n...\n")
    assert cap.frames == {"pre_norm_sublayer"}  # read before the cut


def test_a_looping_function_is_known_and_self_check_is_not_run():
    assert cell_frames([strip_ansi(FRAME), "Cell In[5], line 2, in Block.forward(self, x)"]) == {
        "pre_norm_sublayer",
        "Block",
    }
    assert is_self_check(new_code_cell("checks.self_check();")) and not is_self_check(
        new_code_cell("self_check(); x = 1")
    )


# ---------------------------------------------------------------- problem 10
def test_pending_hand_grades_are_shown_as_pending(fresh_course, tmp_path):
    record_scores(fresh_course, {"20001": 0.0}, pending={"20001"})
    nb = nbformat.read(fresh_course.release_notebook(ASSIGNMENT, "layernorm"), as_version=4)
    resources = {
        "nbgrader": {
            "notebook": "layernorm",
            "assignment": ASSIGNMENT,
            "student": "20001",
            "db_url": fresh_course.db_url,
        }
    }
    cells = MarkPendingHandGrades().preprocess(nb, resources)[0].cells
    assert cells[0].source.startswith("**Not final**: 3 points wait for hand grading")
    pending = [i for i, c in enumerate(cells) if c.source.startswith("**Pending hand grading**")]
    assert [cells[i - 1].metadata["nbgrader"]["grade_id"] for i in pending] == ["layer_norm_shape", "layer_norm_values"]
    page = tmp_path / "page.html"
    page.write_text("<html><head><title>x</title></head><body><pre>" + "x" * 500 + "</pre></body></html>")
    wrap_long_lines(str(page))
    assert "white-space: pre-wrap" in page.read_text()


def test_maths_is_typeset_offline_and_code_is_left_alone(tmp_path):
    from autograder import maths

    why = maths.unavailable()
    if why:
        pytest.fail(f"maths in feedback needs node and the vendored MathJax (`make assets`): {why}")
    page = tmp_path / "page.html"
    page.write_text(
        '<html><head><!-- Load mathjax -->\n<script src="https://cdnjs.cloudflare.com/ajax/libs/mathjax/2.7.7/'
        'latest.js?config=TeX-AMS_CHTML-full,Safe"> </script></head><body><p>It computes $x + \\mathrm{LN}(F(x))$'
        " at $$O(n^2 d)$$ cost, $a &lt; b$.</p><pre>echo $HOME $PATH</pre><p>$5 or $6; "
        "$\\href{javascript:alert(1)}{x}$</p></body></html>"
    )
    assert maths.render_pages([str(page)]) == 3
    text = page.read_text()
    assert "cdnjs" not in text and "<script" not in text and text.count("<svg") == 3  # no network, no script
    assert "<pre>echo $HOME $PATH</pre>" in text and "$5 or $6" in text  # code and prices untouched
    assert "$\\href{javascript:alert(1)}{x}$" in text  # a link in TeX is not made into one
