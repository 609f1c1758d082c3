"""Visible checks for exercises/design_review: the multiple-choice parts' format only.

Which option is right is decided by the hidden tests, which also explain each wrong
option; the written parts are graded by hand against the mark scheme in the source.
"""

from __future__ import annotations

from ._core import check_choice, check_selection, question

CHECKLIST_OPTIONS = "ABCDEFG"


@question("design_review", "1a root cause", ["ROOT_CAUSE"], hidden=1)
def root_cause(answer) -> None:
    check_choice(answer, "ABCD", "ROOT_CAUSE")


@question("design_review", "1b which shapes changed", ["SHAPES_CHANGED"], hidden=1)
def shapes_changed(answer) -> None:
    check_choice(answer, "ABCD", "SHAPES_CHANGED")


@question("design_review", "2a placement for the deep model", ["DEEP_MODEL_PLACEMENT"], hidden=1)
def deep_model_placement(answer) -> None:
    check_choice(answer, "ABCD", "DEEP_MODEL_PLACEMENT")


@question("design_review", "2b the cost of pre-norm", ["PRE_NORM_COST"], hidden=1)
def pre_norm_cost(answer) -> None:
    check_choice(answer, "ABCD", "PRE_NORM_COST")


@question("design_review", "3a migration checklist", ["MIGRATION_CHECKLIST"], hidden=1)
def migration_checklist(answer) -> None:
    check_selection(answer, CHECKLIST_OPTIONS, "MIGRATION_CHECKLIST")


@question("design_review", "4a incident root cause", ["INCIDENT_CAUSE"], hidden=1)
def incident_cause(answer) -> None:
    check_choice(answer, "ABCD", "INCIDENT_CAUSE")


@question("design_review", "4b attention weights shape", ["ATTENTION_WEIGHTS_SHAPE"], hidden=1)
def attention_weights_shape(answer) -> None:
    check_choice(answer, "ABCD", "ATTENTION_WEIGHTS_SHAPE")
