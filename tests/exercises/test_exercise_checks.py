"""normlab.checks in-process (no nbgrader): the student-facing behaviour of the checks."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

import normlab
from normlab import checks
from normlab.checks import CheckFailed


def post_norm(x, f, norm):
    return norm(x + f(x))


def pre_norm(x, f, norm):
    return x + f(norm(x))


def pre_norm_stack(x, sublayers, norms, final_norm):
    for f, norm in zip(sublayers, norms):
        x = x + f(norm(x))
    return final_norm(x)


def test_a_passing_visible_check_says_how_many_hidden_checks_follow(capsys):
    checks.ordering.pre_norm_sublayer(pre_norm)
    out = capsys.readouterr().out
    assert "Q3b pre_norm_sublayer: visible checks passed." in out
    assert "2 hidden checks will also run at grading" in out


@pytest.mark.parametrize(
    "wrong,says",
    [
        (post_norm, "normalises after the residual add, LN(x + F(x)): that is post-norm"),
        (lambda x, f, norm: x + norm(f(x)), "course text's LNorm(F(x)) + x read literally"),
        (lambda x, f, norm: norm(x) + f(norm(x)), "residual is taken from the normalised input"),
        (lambda x, f, norm: f(norm(x)), "residual connection is missing"),
        (lambda x, f, norm: x + f(nn.functional.layer_norm(x, x.shape[-1:])), "never calls norm"),
    ],
)
def test_pre_norm_check_names_the_misconception(wrong, says):
    with pytest.raises(CheckFailed, match="Q3b pre_norm_sublayer") as failure:
        checks.ordering.pre_norm_sublayer(wrong)
    assert says in str(failure.value)


def test_student_errors_are_reported_with_their_traceback():
    def broken(x, f, norm):
        return x @ torch.ones(3, 3)

    with pytest.raises(CheckFailed, match="your code raised RuntimeError") as failure:
        checks.ordering.pre_norm_sublayer(broken)
    assert isinstance(failure.value.__cause__, RuntimeError)


def test_answers_built_on_normlab_are_rejected():
    class Mine(normlab.PreNormBlock):
        pass

    def split(x, n_heads):
        return normlab.nn.attention.SplitHeads(n_heads)(x)

    def uses_helper(x, f, norm):  # normlab hidden one call away
        return split(x, 2)

    assert checks.uses_normlab(normlab.PreNormBlock) == "normlab.nn.blocks.PreNormBlock"
    assert checks.uses_normlab(Mine) == "normlab.nn.blocks.PreNormBlock"
    assert checks.uses_normlab(split) == "normlab"
    assert checks.uses_normlab(uses_helper) == "normlab"
    assert checks.uses_normlab(pre_norm) is None
    assert checks.uses_normlab(nn.LayerNorm(4)) is None
    with pytest.raises(CheckFailed, match="normlab's reference implementation"):
        checks.fix_block.attention_wiring(normlab.PreNormBlock)
    with pytest.raises(CheckFailed, match=r"normlab's reference implementation \(normlab.nn.feedforward"):
        checks.shape_debugging.feed_forward(normlab.FeedForward)


def test_warnings_never_reach_stderr(capfd):
    def noisy(x, f, norm):
        warnings.warn("enable_nested_tensor is True, but self.use_nested_tensor is False", UserWarning, stacklevel=2)
        return pre_norm(x, f, norm)

    checks.ordering.pre_norm_sublayer(noisy)
    assert capfd.readouterr().err == ""


def test_checks_are_seeded_and_leave_the_students_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    checks.ordering.pre_norm_stack(pre_norm_stack)
    assert torch.equal(torch.rand(3), expected)


def test_self_check_summarises_every_question_without_answers(capsys):
    namespace = {
        "POST_NORM_ORDER": ["save_residual", "sublayer_function", "dropout", "residual_add", "layer_norm"],  # right
        "PRE_NORM_ORDER": ["layernorm"],  # malformed
        "pre_norm_sublayer": post_norm,  # a misconception
        "STANDARD_PRE_NORM_LINE": "A",
    }  # wrong, but well-formed
    summary = checks.self_check("ordering", namespace=namespace)
    out = capsys.readouterr().out
    assert summary["Q1 post-norm order"] == "passed"
    assert summary["Q2 pre-norm order"] == "failed"
    assert summary["Q3b pre_norm_sublayer"] == "failed"
    assert summary["Q4 pre_norm_stack"] == "not answered"
    assert summary["Q5b standard pre-norm line"] == "format ok"  # only the hidden check can tell
    assert "that is post-norm" in out and "define pre_norm_stack" in out
    assert "Q5b standard pre-norm line: well-formed; format only: the hidden checks decide" in out
    assert "1/8 questions pass their visible checks, 1 more is well-formed" in out
    assert "17 hidden checks will also run at grading" in out


def test_self_check_reads_the_callers_variables(capsys):
    SHARED_PROPERTY = "c"  # noqa: F841 (read by self_check)
    summary = checks.self_check("ordering", namespace=locals())
    assert summary["Q5c what both forms share"] == "format ok"


PRE_ORDER = ["save_residual", "layer_norm", "sublayer_function", "dropout", "residual_add"]
POST_ORDER = ["save_residual", "sublayer_function", "dropout", "residual_add", "layer_norm"]


def test_order_questions_judge_what_the_order_computes():
    assert checks.ordering.computes(PRE_ORDER) == "x + dropout(F(LN(x)))"
    assert checks.ordering.computes(POST_ORDER) == "LN(x + dropout(F(x)))"
    checks.ordering.post_norm_order(tuple(POST_ORDER))  # a tuple is as good as a list
    checks.ordering.pre_norm_order(PRE_ORDER)
    with pytest.raises(CheckFailed, match=r"computes y = x \+ dropout\(F\(LN\(x\)\)\): that is pre-norm"):
        checks.ordering.post_norm_order(PRE_ORDER)
    with pytest.raises(CheckFailed, match="that is post-norm"):
        checks.ordering.pre_norm_order(POST_ORDER)
    with pytest.raises(CheckFailed, match=r"LN\(x\) \+ F\(LN\(x\)\)"):  # normalised before saving
        checks.ordering.pre_norm_order(["layer_norm"] + [op for op in PRE_ORDER if op != "layer_norm"])
    with pytest.raises(CheckFailed, match="dropout acts on F's output"):
        checks.ordering.pre_norm_order(["save_residual", "dropout", "layer_norm", "sublayer_function", "residual_add"])


def test_letter_answers_say_format_only_and_what_the_hidden_check_decides(capsys):
    checks.ordering.standard_pre_norm_line("A")  # wrong, but the format is right
    out = capsys.readouterr().out
    assert "format only: the hidden checks decide" in out and "visible checks passed" not in out
    assert "whether your choice is right" in out and "seeds" not in out
    checks.design_review.migration_checklist({"A"})
    assert "partial credit" in capsys.readouterr().out


def _render(failure: pytest.ExceptionInfo) -> str:
    return "\n".join(failure.value._render_traceback_())


def test_a_failed_check_shows_its_message_not_the_checks_traceback():
    with pytest.raises(CheckFailed) as failure:
        checks.ordering.pre_norm_sublayer(post_norm)
    shown = _render(failure)
    assert shown.startswith("CheckFailed: Q3b pre_norm_sublayer: your sub-layer normalises after")
    assert "_core.py" not in shown and "Traceback" not in shown and len(shown.splitlines()) == 1


def test_when_student_code_raises_only_their_frames_are_shown():
    def broken(x, f, norm):
        return x @ torch.ones(3, 3)

    with pytest.raises(CheckFailed) as failure:
        checks.ordering.pre_norm_sublayer(broken)
    shown = _render(failure)
    assert "in broken" in shown and "return x @ torch.ones(3, 3)" in shown
    assert "checks/ordering.py" not in shown and "checks/_core.py" not in shown
    assert shown.rstrip().endswith("your code raised RuntimeError: " + str(failure.value.__cause__))


def test_a_placeholder_answer_is_not_answered_yet(capsys):
    def split_heads(x, n_heads):
        raise NotImplementedError()

    with pytest.raises(checks.NotAnswered, match="not answered yet") as failure:
        checks.shape_debugging.split_heads(split_heads)
    assert "raised NotImplementedError" not in str(failure.value)
    summary = checks.self_check("shape_debugging", namespace={"split_heads": split_heads})
    assert summary["Q1 split_heads"] == "not answered"
    assert "[ ] Q1 split_heads: not answered yet" in capsys.readouterr().out


def test_an_error_without_a_message_is_named_alone():
    def silent(x, f, norm):
        raise ValueError()

    with pytest.raises(CheckFailed) as failure:
        checks.ordering.pre_norm_sublayer(silent)
    assert str(failure.value).endswith("your code raised ValueError")


def test_multiple_choice_format_and_hidden_feedback():
    assert checks.check_choice(" b ", "ABCD", "X") == "B"
    with pytest.raises(CheckFailed, match="just the letter"):
        checks.check_choice("B) post-norm", "ABCD", "X")
    checks.expect_choice("b", "B", why={}, name="X")
    with pytest.raises(CheckFailed, match="that is post-norm"):
        checks.expect_choice("C", "B", why={"C": "that is post-norm"}, name="X")
    with pytest.raises(CheckFailed, match="must be a set of letters"):
        checks.check_selection("ABD", "ABCDEFG", "X")


def test_selection_credit_gives_partial_marks_and_explains(capsys):
    why = {"B": "the final norm", "E": "checkpoints differ"}
    assert checks.selection_credit({"A", "B", "D", "F"}, {"A", "B", "D", "F"}, 3, why, "X") == 3
    assert checks.selection_credit({"A", "D", "F"}, {"A", "B", "D", "F"}, 3, why, "X") == 2.25
    assert checks.selection_credit({"A", "E"}, {"A", "B", "D", "F"}, 3, why, "X") == 0
    out = capsys.readouterr().out
    assert "missed B. the final norm" in out and "E should not be selected. checkpoints differ" in out


def test_grads_check_names_the_tensor_without_gradient():
    x = torch.randn(2, 3, requires_grad=True)
    w = torch.randn(3, requires_grad=True)
    with pytest.raises(CheckFailed, match="no gradient reaches w"):
        checks.expect_grads_close(x * 2, x * 2 + w, {"x": x, "w": w}, "toy")
    with pytest.raises(CheckFailed, match="gradient w.r.t. x differs"):
        checks.expect_grads_close(x * 3, x * 2, {"x": x}, "toy")


class AlwaysClose(torch.Tensor):
    """A student's trick: a tensor whose torch.allclose / equal always say True."""

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        if func in (torch.allclose, torch.equal, torch.Tensor.allclose):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})


def test_a_tensor_that_lies_to_allclose_does_not_pass():
    def wrong_but_lying(x, f, norm):
        return norm(x + f(x)).as_subclass(AlwaysClose)  # post-norm, dressed up

    assert torch.allclose(
        wrong_but_lying(torch.zeros(2, 3), lambda t: t + 1, lambda t: t), torch.ones(2, 3) * 42
    )  # the trick works on plain torch
    with pytest.raises(CheckFailed, match="post-norm"):
        checks.ordering.pre_norm_sublayer(wrong_but_lying)
    assert not checks.close(torch.zeros(3).as_subclass(AlwaysClose), torch.ones(3))


# --------------------------------------------------------------------------- the notebooks' own code


def notebook_namespace(assignment: str, *grade_ids: str) -> dict:
    """Run the named cells of the source notebook (setup first) in one namespace, as a
    student's kernel would; solution markers are comments, so solution cells run as written."""
    import nbformat
    from nbgrader_course import EXERCISES, cells_by_id

    cells = cells_by_id(nbformat.read(EXERCISES / assignment / f"{assignment}.ipynb", as_version=4))
    namespace = {"__name__": "__main__"}
    for grade_id in ("setup",) + grade_ids:
        exec(compile(cells[grade_id].source, f"<{grade_id}>", "exec"), namespace)
    return namespace


FIXES = (
    "x + dropout(F(self.norm1(x)))",
    "residual is taken from the normalised input",
    "dropout is applied to the identity path",
    "Pass key_padding_mask",
    "final_norm",
)


def test_fix_block_self_check_on_the_untouched_notebook_gives_no_fix_away(capsys):
    ns = notebook_namespace("fix_block", "given_modules", "broken_code")
    summary = checks.self_check("fix_block", namespace=ns)
    out = capsys.readouterr().out
    assert set(summary.values()) == {"not answered"}
    assert "still the given code" in out
    assert not [fix for fix in FIXES if fix in out]


def test_fix_block_whole_stack_check_fails_with_the_bugs_in_place():
    ns = notebook_namespace("fix_block", "given_modules", "broken_code")
    with pytest.raises(CheckFailed, match="All bugs: the whole stack"):
        checks.fix_block.whole_stack(ns["TransformerStack"])
    # each single bug left in a fixed stack is caught too
    fixed = notebook_namespace("fix_block", "given_modules", "fixed_block")
    checks.fix_block.whole_stack(fixed["TransformerStack"])
    block = fixed["TransformerBlock"]
    bugs = {
        "attention": lambda self, x, m=None: self.norm1(x + self.dropout(self.attn(x, m))),
        "ffn": lambda self, x: (lambda h: h + self.ffn(h))(self.norm2(x)),
        "mask": lambda self, x, m=None: x + self.dropout(self.attn(self.norm1(x))),
    }
    for name, method in bugs.items():
        broken = type(f"Broken{name}", (block,), {("ffn_sublayer" if name == "ffn" else "attention_sublayer"): method})
        stack = type("Stack", (fixed["TransformerStack"],), {})
        original = fixed["TransformerBlock"]
        fixed["TransformerBlock"] = broken  # the stack builds its blocks by this name
        try:
            with pytest.raises(CheckFailed, match="differs from the reference pre-norm stack"):
                checks.fix_block.whole_stack(stack)
        finally:
            fixed["TransformerBlock"] = original


def test_fix_block_final_norm_accepts_the_functional_layer_norm():
    ns = notebook_namespace("fix_block", "given_modules", "fixed_block")

    class FunctionalStack(ns["TransformerStack"]):
        def forward(self, x, key_padding_mask=None):
            for block in self.blocks:
                x = block(x, key_padding_mask)
            n = self.final_norm
            return nn.functional.layer_norm(x, n.normalized_shape, n.weight, n.bias, n.eps)

    class NormAfterEveryBlock(ns["TransformerStack"]):
        def forward(self, x, key_padding_mask=None):
            for block in self.blocks:
                x = self.final_norm(block(x, key_padding_mask))
            return x

    class PlainLayerNormAtTheEnd(ns["TransformerStack"]):  # the right place, not final_norm's gain
        def forward(self, x, key_padding_mask=None):
            for block in self.blocks:
                x = block(x, key_padding_mask)
            return nn.functional.layer_norm(x, x.shape[-1:])

    checks.fix_block.final_norm(FunctionalStack)
    checks.fix_block.whole_stack(FunctionalStack)
    with pytest.raises(CheckFailed, match="applied 2 times"):
        checks.fix_block.final_norm(NormAfterEveryBlock)
    with pytest.raises(CheckFailed, match="defined but never applied"):
        checks.fix_block.final_norm(PlainLayerNormAtTheEnd)


def test_shape_debugging_self_check_on_the_untouched_notebook_says_not_answered(capsys):
    ns = notebook_namespace("shape_debugging", "buggy_code")
    summary = checks.self_check("shape_debugging", namespace=ns)
    out = capsys.readouterr().out
    assert set(summary.values()) == {"not answered"}
    assert "scrambled" not in out and "raised" not in out


def test_shape_debugging_accepts_an_in_place_mask():
    def apply_padding_mask(scores, key_padding_mask):
        return scores.masked_fill_(key_padding_mask[:, None, None, :], float("-inf"))

    checks.shape_debugging.apply_padding_mask(apply_padding_mask)
