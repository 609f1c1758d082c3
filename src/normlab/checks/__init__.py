"""Checks for the graded exercises (exercises/<assignment>/<assignment>.ipynb).

In a notebook::

    from normlab import checks
    checks.setup("ordering")                      # first cell
    checks.ordering.post_norm_order(POST_NORM_ORDER)   # a question's test cell
    checks.self_check()                           # every visible check, one summary

Visible checks name the misconception they find, or say "format only: the hidden checks
decide" when they can only check an answer's form (a letter, a name); hidden checks (in the instructor's
source notebook only) use ``expect``, ``expect_close``, ``expect_choice``,
``expect_order`` and ``selection_credit`` with answers written in the hidden test.
"""

from . import design_review, fix_block, ordering, shape_debugging
from ._core import (
    FORMAT_ONLY,
    REGISTRY,
    CheckFailed,
    NotAnswered,
    check_choice,
    check_name,
    check_selection,
    close,
    expect,
    expect_choice,
    expect_close,
    expect_grads_close,
    expect_order,
    expect_tensor,
    given,
    hidden_note,
    quiet,
    reject_normlab,
    seeded,
    selection_credit,
    self_check,
    setup,
    uses_normlab,
)

__all__ = [
    "design_review",
    "fix_block",
    "ordering",
    "shape_debugging",
    "FORMAT_ONLY",
    "REGISTRY",
    "CheckFailed",
    "NotAnswered",
    "check_choice",
    "check_name",
    "check_selection",
    "close",
    "expect_grads_close",
    "expect",
    "expect_choice",
    "expect_close",
    "expect_order",
    "expect_tensor",
    "given",
    "hidden_note",
    "quiet",
    "reject_normlab",
    "seeded",
    "selection_credit",
    "self_check",
    "setup",
    "uses_normlab",
]
