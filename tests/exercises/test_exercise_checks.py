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


@pytest.mark.parametrize("wrong,says", [
    (post_norm, "normalises after the residual add, LN(x + F(x)): that is post-norm"),
    (lambda x, f, norm: x + norm(f(x)), "course text's LNorm(F(x)) + x read literally"),
    (lambda x, f, norm: norm(x) + f(norm(x)), "residual is taken from the normalised input"),
    (lambda x, f, norm: f(norm(x)), "residual connection is missing"),
    (lambda x, f, norm: x + f(nn.functional.layer_norm(x, x.shape[-1:])), "never calls norm"),
])
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
        return normlab.attention.SplitHeads(n_heads)(x)

    def uses_helper(x, f, norm):          # normlab hidden one call away
        return split(x, 2)

    assert checks.uses_normlab(normlab.PreNormBlock) == "normlab.blocks.PreNormBlock"
    assert checks.uses_normlab(Mine) == "normlab.blocks.PreNormBlock"
    assert checks.uses_normlab(split) == "normlab"
    assert checks.uses_normlab(uses_helper) == "normlab"
    assert checks.uses_normlab(pre_norm) is None
    assert checks.uses_normlab(nn.LayerNorm(4)) is None
    with pytest.raises(CheckFailed, match="normlab's reference implementation"):
        checks.fix_block.attention_wiring(normlab.PreNormBlock)
    with pytest.raises(CheckFailed, match=r"normlab's reference implementation \(normlab.feedforward"):
        checks.shape_debugging.feed_forward(normlab.FeedForward)


def test_warnings_never_reach_stderr(capfd):
    def noisy(x, f, norm):
        warnings.warn("enable_nested_tensor is True, but self.use_nested_tensor is False", UserWarning)
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
    namespace = {"POST_NORM_ORDER": ["save_residual", "layer_norm", "sublayer_function",
                                     "dropout", "residual_add"],           # wrong, but well-formed
                 "PRE_NORM_ORDER": ["layernorm"],                          # malformed
                 "pre_norm_sublayer": post_norm}                           # a misconception
    summary = checks.self_check("ordering", namespace=namespace)
    out = capsys.readouterr().out
    assert summary["Q1 post-norm order"] == "passed"          # only hidden checks can fail it
    assert summary["Q2 pre-norm order"] == "failed"
    assert summary["Q3b pre_norm_sublayer"] == "failed"
    assert summary["Q4 pre_norm_stack"] == "not answered"
    assert "that is post-norm" in out and "define pre_norm_stack" in out
    assert "0/8" not in out and "1/8 questions pass their visible checks" in out
    assert "17 hidden checks will also run at grading" in out


def test_self_check_reads_the_callers_variables(capsys):
    SHARED_PROPERTY = "c"                                     # noqa: F841 (read by self_check)
    summary = checks.self_check("ordering", namespace=locals())
    assert summary["Q5c what both forms share"] == "passed"


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
        return norm(x + f(x)).as_subclass(AlwaysClose)   # post-norm, dressed up

    assert torch.allclose(wrong_but_lying(torch.zeros(2, 3), lambda t: t + 1, lambda t: t),
                          torch.ones(2, 3) * 42)         # the trick works on plain torch
    with pytest.raises(CheckFailed, match="post-norm"):
        checks.ordering.pre_norm_sublayer(wrong_but_lying)
    assert not checks.close(torch.zeros(3).as_subclass(AlwaysClose), torch.ones(3))
