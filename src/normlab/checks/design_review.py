"""Visible checks for exercises/design_review: the multiple-choice parts' format only.

Which option is right is decided by the hidden tests, which also explain each wrong
option; the written parts are graded by hand against the mark scheme in the source.
"""

from __future__ import annotations

from ._core import multiple_choice

_A = "design_review"

root_cause = multiple_choice(_A, "root_cause", "1a root cause", "ROOT_CAUSE", "ABCD")
shapes_changed = multiple_choice(_A, "shapes_changed", "1b which shapes changed", "SHAPES_CHANGED", "ABCD")
deep_model_placement = multiple_choice(
    _A, "deep_model_placement", "2a placement for the deep model", "DEEP_MODEL_PLACEMENT", "ABCD"
)
pre_norm_cost = multiple_choice(_A, "pre_norm_cost", "2b the cost of pre-norm", "PRE_NORM_COST", "ABCD")
migration_checklist = multiple_choice(
    _A, "migration_checklist", "3a migration checklist", "MIGRATION_CHECKLIST", "ABCDEFG", select_all=True
)
incident_cause = multiple_choice(_A, "incident_cause", "4a incident root cause", "INCIDENT_CAUSE", "ABCD")
attention_weights_shape = multiple_choice(
    _A, "attention_weights_shape", "4b attention weights shape", "ATTENTION_WEIGHTS_SHAPE", "ABCD"
)
