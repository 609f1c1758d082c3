"""Wrong submissions, written as the mistakes students make.

Each one starts from the model answers (or, for fix_block, from the broken code the
student copies) and changes only what that student got wrong, as a small patch. It lists
the test cells that must lose points, with the score each must get and a phrase its
feedback must contain; every other autograded cell must keep full marks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

# The two reference submissions every assignment is graded with (nbgrader student ids).
SOLUTION, RELEASE = "solution", "untouched"


@dataclass(frozen=True)
class Lost:
    score: float  # what the cell must score
    says: str  # a phrase its error message or printed feedback must contain


@dataclass(frozen=True)
class Wrong:
    name: str  # also the nbgrader student id
    mistake: str  # what the student believed or did
    answers: Callable[[dict[str, str]], dict[str, str]]  # cells -> {answer grade_id: text}
    lost: dict[str, Lost] = field(default_factory=dict)


def patch(text: str, *edits: tuple[str, str]) -> str:
    """Apply (old, new) edits; each old text must occur exactly once, so a patch that no
    longer fits the notebook fails loudly instead of silently testing nothing."""
    for old, new in edits:
        count = text.count(old)
        if count != 1:
            raise ValueError(f"patch expects {old!r} exactly once, found it {count} times")
        text = text.replace(old, new)
    return text


# --------------------------------------------------------------------------- ordering


def _order(name: str, *ops: str) -> str:
    return f"{name} = {list(ops)!r}\n"


ORDERING = [
    Wrong(
        "swapped",
        "mixes up which wiring is called post-norm and which pre-norm",
        lambda c: {
            "post_norm_order": _order(
                "POST_NORM_ORDER", "save_residual", "layer_norm", "sublayer_function", "dropout", "residual_add"
            ),
            "pre_norm_order": _order(
                "PRE_NORM_ORDER", "save_residual", "sublayer_function", "dropout", "residual_add", "layer_norm"
            ),
        },
        {"test_post_norm_order": Lost(0, "that is pre-norm"), "test_pre_norm_order": Lost(0, "that is post-norm")},
    ),
    Wrong(
        "normresidual",
        "takes the residual from the normalised input, LN(x) + F(LN(x))",
        lambda c: {
            "pre_norm_order": _order(
                "PRE_NORM_ORDER", "layer_norm", "save_residual", "sublayer_function", "dropout", "residual_add"
            ),
            "pre_norm_sublayer": "def pre_norm_sublayer(x, f, norm):\n    x = norm(x)\n    return x + f(x)\n",
        },
        {
            "test_pre_norm_order": Lost(0, "LN(x) + F(LN(x))"),
            "test_pre_norm_sublayer": Lost(0, "residual is taken from the normalised input"),
        },
    ),
    Wrong(
        "coursetext",
        "reads the course text's LNorm(F(x)) + x literally as standard pre-norm",
        lambda c: {
            "pre_norm_order": _order(
                "PRE_NORM_ORDER", "save_residual", "sublayer_function", "layer_norm", "dropout", "residual_add"
            ),
            "pre_norm_sublayer": "def pre_norm_sublayer(x, f, norm):\n    return norm(f(x)) + x\n",
            "course_form": 'COURSE_FORM_PLACEMENT = "pre"\nSTANDARD_PRE_NORM_LINE = "A"\nSHARED_PROPERTY = "C"\n',
        },
        {
            "test_pre_norm_order": Lost(0, "res-post-norm"),
            "test_pre_norm_sublayer": Lost(0, "res-post-norm"),
            "test_course_form_placement": Lost(0, "Standard pre-norm (Xiong et al. 2020"),
            "test_standard_pre_norm_line": Lost(0, "course text's formula taken literally"),
        },
    ),
    Wrong(
        "nofinalnorm",
        "forgets the final norm of a pre-norm stack and drops the sum, not F(x)",
        lambda c: {
            "post_norm_order": _order(
                "POST_NORM_ORDER", "save_residual", "sublayer_function", "residual_add", "dropout", "layer_norm"
            ),
            "pre_norm_stack": "def pre_norm_stack(x, sublayers, norms, final_norm):\n"
            "    for f, norm in zip(sublayers, norms):\n"
            "        x = x + f(norm(x))\n"
            "    return x\n",
        },
        {
            "test_post_norm_order": Lost(0, "dropout acts on F's output"),
            "test_pre_norm_stack": Lost(0, "final norm is missing"),
        },
    ),
    Wrong(
        "hardcoded",
        "builds its own LayerNorm instead of the norm argument; a post-norm stack",
        lambda c: {
            "post_norm_sublayer": "def post_norm_sublayer(x, f, norm):\n"
            "    return nn.functional.layer_norm(x + f(x), x.shape[-1:])\n",
            "pre_norm_stack": "def pre_norm_stack(x, sublayers, norms, final_norm):\n"
            "    for f, norm in zip(sublayers, norms):\n"
            "        x = norm(x + f(x))\n"
            "    return x\n",
        },
        {"test_post_norm_sublayer": Lost(0, "never calls norm"), "test_pre_norm_stack": Lost(0, "post-norm stack")},
    ),
    Wrong(
        "sloppyformat",
        "a typo in an operation name and an option's text for its letter",
        lambda c: {
            "post_norm_order": _order(
                "POST_NORM_ORDER", "save_residual", "sublayer_function", "dropout", "residual_add", "layernorm"
            ),
            # lower case is accepted; the option's text is not
            "course_form": 'COURSE_FORM_PLACEMENT = "res-post"\nSTANDARD_PRE_NORM_LINE = "b"\n'
            'SHARED_PROPERTY = "C) the identity path"\n',
        },
        {
            "test_post_norm_order": Lost(0, "Did you mean 'layer_norm'"),
            "test_shared_property": Lost(0, "just the letter"),
        },
    ),
]


# --------------------------------------------------------------------------- fix_block


def _broken(c):
    return c["broken_code"]


FIX_BLOCK = [
    Wrong(
        "onlynorms",
        "fixes the attention norm placement only, still without the mask",
        lambda c: {
            "fixed_block": patch(
                _broken(c),
                (
                    "return self.norm1(x + self.dropout(self.attn(x)))",
                    "return x + self.dropout(self.attn(self.norm1(x)))",
                ),
            )
        },
        {
            "test_ffn_wiring": Lost(0, "residual is taken from the normalised input"),
            "test_dropout_placement": Lost(0, "dropout is applied to the identity path"),
            "test_attention_mask": Lost(0, "the attention mask is ignored"),
            "test_final_norm": Lost(0, "no final_norm"),
            "test_whole_stack": Lost(0, "final_norm"),
        },
    ),
    Wrong(
        "normresidual",
        "'saves a copy' by reusing the normalised x for the residual in both sub-layers",
        lambda c: {
            "fixed_block": patch(
                c["fixed_block"],
                (
                    "return x + self.dropout(self.attn(self.norm1(x), key_padding_mask))",
                    "x = self.norm1(x)\n        return x + self.dropout(self.attn(x, key_padding_mask))",
                ),
                (
                    "return x + self.dropout(self.ffn(self.norm2(x)))",
                    "x = self.norm2(x)\n        return x + self.dropout(self.ffn(x))",
                ),
            )
        },
        {
            "test_attention_wiring": Lost(0, "residual is taken from the normalised input"),
            "test_ffn_wiring": Lost(0, "residual is taken from the normalised input"),
            "test_whole_stack": Lost(0, "differs from the reference"),
        },
    ),
    Wrong(
        "invertedmask",
        "inverts key_padding_mask, reading True as 'attend here'",
        lambda c: {
            "fixed_block": patch(
                c["fixed_block"],
                (
                    "self.attn(self.norm1(x), key_padding_mask)",
                    "self.attn(self.norm1(x), None if key_padding_mask is None else ~key_padding_mask)",
                ),
            )
        },
        {"test_attention_mask": Lost(0, "don't invert the mask"), "test_whole_stack": Lost(0, "NaN")},
    ),
    Wrong(
        "nodropout",
        "removes dropout altogether instead of moving it off the identity path",
        lambda c: {
            "fixed_block": patch(
                c["fixed_block"],
                (
                    "return x + self.dropout(self.attn(self.norm1(x), key_padding_mask))",
                    "return x + self.attn(self.norm1(x), key_padding_mask)",
                ),
                ("return x + self.dropout(self.ffn(self.norm2(x)))", "return x + self.ffn(self.norm2(x))"),
            )
        },
        {"test_dropout_placement": Lost(0, "the branch is never dropped")},
    ),
    Wrong(
        "normperblock",
        "applies final_norm after every block, inside the loop",
        lambda c: {
            "fixed_block": patch(
                c["fixed_block"],
                (
                    "            x = block(x, key_padding_mask)\n        return self.final_norm(x)",
                    "            x = self.final_norm(block(x, key_padding_mask))\n        return x",
                ),
            )
        },
        {"test_final_norm": Lost(0, "applied 2 times"), "test_whole_stack": Lost(0, "differs from the reference")},
    ),
    Wrong(
        "unusednorm",
        "defines final_norm but never calls it",
        lambda c: {"fixed_block": patch(c["fixed_block"], ("        return self.final_norm(x)", "        return x"))},
        {
            "test_final_norm": Lost(0, "defined but never applied"),
            "test_whole_stack": Lost(0, "differs from the reference"),
        },
    ),
    Wrong(
        "usesnormlab",
        "answers with normlab's own PreNormBlock",
        lambda c: {
            "fixed_block": "import normlab\n\nTransformerBlock = normlab.PreNormBlock\n\n"
            "class TransformerStack" + c["fixed_block"].split("class TransformerStack", 1)[1]
        },
        {
            test: Lost(0, "normlab's reference implementation")
            for test in (
                "test_attention_wiring",
                "test_ffn_wiring",
                "test_dropout_placement",
                "test_attention_mask",
                "test_final_norm",
                "test_whole_stack",
            )
        },
    ),
]


# --------------------------------------------------------------------------- shape_debugging

SHAPE_DEBUGGING = [
    Wrong(
        "notranspose",
        "reshapes between (batch, seq, ...) and (batch, heads, ...) without a transpose",
        lambda c: {
            "split_heads": "def split_heads(x, n_heads):\n    batch, seq, d_model = x.shape\n"
            "    return x.reshape(batch, n_heads, seq, d_model // n_heads)\n",
            "merge_heads": "def merge_heads(x):\n    batch, heads, seq, d_head = x.shape\n"
            "    return x.reshape(batch, seq, heads * d_head)\n",
        },
        {"test_split_heads": Lost(0, "scrambled values"), "test_merge_heads": Lost(0, "scrambled values")},
    ),
    Wrong(
        "viewaftertranspose",
        "calls view() after transpose; sizes the FFN hidden layer d_model",
        lambda c: {
            "merge_heads": "def merge_heads(x):\n    batch, heads, seq, d_head = x.shape\n"
            "    return x.transpose(1, 2).view(batch, seq, heads * d_head)\n",
            "feed_forward": patch(
                c["feed_forward"],
                ("nn.Linear(d_model, d_ff)", "nn.Linear(d_model, d_model)"),
                ("nn.Linear(d_ff, d_model)", "nn.Linear(d_model, d_model)"),
            ),
        },
        {
            "test_merge_heads": Lost(0, "view() needs a contiguous tensor"),
            "test_feed_forward": Lost(0, "linear1 maps 8 -> 8 features"),
        },
    ),
    Wrong(
        "zerofill",
        "fills masked scores with 0; splits d_model as (d_head, heads)",
        lambda c: {
            "apply_padding_mask": patch(c["apply_padding_mask"], ('float("-inf")', "0.0")),
            "split_heads": "def split_heads(x, n_heads):\n    batch, seq, d_model = x.shape\n"
            "    return x.view(batch, seq, d_model // n_heads, n_heads).permute(0, 3, 1, 2)\n",
        },
        {"test_apply_padding_mask": Lost(0, "not 0"), "test_split_heads": Lost(0, "right shape, wrong values")},
    ),
    Wrong(
        "halftranspose",
        "masks the query axis; transposes into the seq-first module but not back",
        lambda c: {
            "apply_padding_mask": patch(
                c["apply_padding_mask"], ("key_padding_mask[:, None, None, :]", "key_padding_mask[:, None, :, None]")
            ),
            "self_attend": "def self_attend(mha, x):\n    x = x.transpose(0, 1)\n"
            "    return mha(x, x, x, need_weights=False)[0]\n",
        },
        {
            "test_apply_padding_mask": Lost(0, "blocks a query"),
            "test_self_attend": Lost(0, "did not transpose the result back"),
        },
    ),
    Wrong(
        "hardcodedwidth",
        "hard-codes the FFN width as 4 * d_model (GPT-2's ratio); reshapes with view() where a transpose is needed",
        lambda c: {
            "feed_forward": patch(
                c["feed_forward"],
                ("nn.Linear(d_model, d_ff)", "nn.Linear(d_model, 4 * d_model)"),
                ("nn.Linear(d_ff, d_model)", "nn.Linear(4 * d_model, d_model)"),
            ),
            "self_attend": "def self_attend(mha, x):\n    batch, seq, d_model = x.shape\n"
            "    x = x.view(seq, batch, d_model)\n"
            "    return mha(x, x, x, need_weights=False)[0].view(batch, seq, d_model)\n",
        },
        {
            "test_feed_forward": Lost(0, "the weights should be (d_ff, d_model)"),  # hidden check only
            "test_self_attend": Lost(0, "mixing examples of the batch"),
        },
    ),
    Wrong(
        "usesnormlab",
        "answers with normlab's SplitHeads and FeedForward",
        lambda c: {
            "split_heads": "from normlab.nn.attention import SplitHeads\n\n"
            "def split_heads(x, n_heads):\n    return SplitHeads(n_heads)(x)\n",
            "feed_forward": "from normlab import FeedForward\n",
        },
        {
            "test_split_heads": Lost(0, "normlab's reference implementation"),
            "test_feed_forward": Lost(0, "normlab's reference implementation"),
        },
    ),
]


# --------------------------------------------------------------------------- design_review


def _choices(**answers) -> str:
    return "".join(f"{name} = {value!r}\n" for name, value in answers.items())


DESIGN_REVIEW = [
    Wrong(
        "shapehunter",
        "looks for a shape bug where the wiring changed",
        lambda c: {"scenario1_choices": _choices(ROOT_CAUSE="A", SHAPES_CHANGED="A")},
        {
            "test_root_cause": Lost(0, "Nothing changed shape"),
            "test_shapes_changed": Lost(0, "changes values, not shapes"),
        },
    ),
    Wrong(
        "postnormloyal",
        "picks post-norm for the deep model and believes pre-norm needs warm-up",
        lambda c: {"scenario2_choices": _choices(DEEP_MODEL_PLACEMENT="A", PRE_NORM_COST="B")},
        {"test_deep_model_placement": Lost(0, "warm-up"), "test_pre_norm_cost": Lost(0, "pre-norm LLMs still warm up")},
    ),
    Wrong(
        "nofinalnorm",
        "leaves the final norm off the migration checklist",
        lambda c: {"scenario3_choices": 'MIGRATION_CHECKLIST = {"A", "D", "F"}\n'},
        {"test_migration_checklist": Lost(2.25, "missed B")},
    ),
    Wrong(
        "reusecheckpoint",
        "expects the post-norm checkpoint to work unchanged; blames dropout",
        lambda c: {
            "scenario3_choices": 'MIGRATION_CHECKLIST = ["A", "B", "D", "E", "F"]\n',
            "scenario4_choices": _choices(INCIDENT_CAUSE="C", ATTENTION_WEIGHTS_SHAPE="B"),
        },
        {
            "test_migration_checklist": Lost(2.25, "E should not be selected"),
            "test_incident_cause": Lost(0, "Dropout still acts on the attention output"),
        },
    ),
    Wrong(
        "formats",
        "writes the option's text, and the checklist as one string",
        lambda c: {
            "scenario1_choices": _choices(ROOT_CAUSE="B. post-norm", SHAPES_CHANGED="D"),
            "scenario3_choices": 'MIGRATION_CHECKLIST = "ABDF"\n',
        },
        {
            "test_root_cause": Lost(0, "just the letter"),
            "test_migration_checklist": Lost(0, "must be a set of letters"),
        },
    ),
    Wrong(
        "splitqueries",
        "mistakes per-head queries for attention weights; blames the attention input",
        lambda c: {"scenario4_choices": _choices(INCIDENT_CAUSE="A", ATTENTION_WEIGHTS_SHAPE="D")},
        {
            "test_incident_cause": Lost(0, "still sees ln1(x)"),
            "test_attention_weights_shape": Lost(0, "per-head queries"),
        },
    ),
]

# --------------------------------------------------------------------------- right, but not the model answer

RIGHT_ORDERING = [
    Wrong(
        "otherstyle",
        "right answers written differently: tuples, a reduce, a named helper",
        lambda c: {
            "post_norm_order": 'POST_NORM_ORDER = ("save_residual", "sublayer_function", "dropout", '
            '"residual_add", "layer_norm")\n',
            "pre_norm_sublayer": "def pre_norm_sublayer(x, f, norm):\n"
            "    residual = x\n    h = norm(x)\n    h = f(h)\n"
            "    return residual + h\n",
            "pre_norm_stack": "import functools\n\n"
            "def pre_norm_stack(x, sublayers, norms, final_norm):\n"
            "    step = lambda h, fn: h + fn[0](fn[1](h))\n"
            "    return final_norm(functools.reduce(step, zip(sublayers, norms), x))\n",
            "course_form": 'COURSE_FORM_PLACEMENT = "res-post"\nSTANDARD_PRE_NORM_LINE = " b "\n'
            'SHARED_PROPERTY = "c"\n',
        },
    ),
]

RIGHT_FIX_BLOCK = [
    Wrong(
        "functionalnorm",
        "applies the final norm as F.layer_norm with final_norm's parameters, and passes the mask by keyword",
        lambda c: {
            "fixed_block": patch(
                c["fixed_block"],
                (
                    "self.attn(self.norm1(x), key_padding_mask)",
                    "self.attn(self.norm1(x), key_padding_mask=key_padding_mask)",
                ),
                (
                    "        return self.final_norm(x)",
                    "        return nn.functional.layer_norm(x, x.shape[-1:], self.final_norm.weight,\n"
                    "                                        self.final_norm.bias, self.final_norm.eps)",
                ),
            )
        },
    ),
]

RIGHT_SHAPE_DEBUGGING = [
    Wrong(
        "inplace",
        "masks in place with masked_fill_, splits with unflatten, merges with flatten",
        lambda c: {
            "split_heads": "def split_heads(x, n_heads):\n"
            "    return x.unflatten(-1, (n_heads, -1)).permute(0, 2, 1, 3)\n",
            "merge_heads": "def merge_heads(x):\n    return x.permute(0, 2, 1, 3).flatten(2)\n",
            "apply_padding_mask": "def apply_padding_mask(scores, key_padding_mask):\n"
            "    return scores.masked_fill_(key_padding_mask[:, None, None, :], "
            "float('-inf'))\n",
            "self_attend": "def self_attend(mha, x):\n    x = x.permute(1, 0, 2)\n"
            "    out, _ = mha(x, x, x)\n    return out.permute(1, 0, 2)\n",
        },
    ),
]

RIGHT_DESIGN_REVIEW = [
    Wrong(
        "lowercase",
        "right letters in lower case, the checklist as a list",
        lambda c: {
            "scenario1_choices": _choices(ROOT_CAUSE="b", SHAPES_CHANGED="d"),
            "scenario3_choices": 'MIGRATION_CHECKLIST = ["a", "b", "d", "f"]\n',
        },
    ),
]

# Submissions that are right but differ from the model answers: each gets full marks.
RIGHT = {
    "ordering": RIGHT_ORDERING,
    "fix_block": RIGHT_FIX_BLOCK,
    "shape_debugging": RIGHT_SHAPE_DEBUGGING,
    "design_review": RIGHT_DESIGN_REVIEW,
}

WRONG = {
    "ordering": ORDERING,
    "fix_block": FIX_BLOCK,
    "shape_debugging": SHAPE_DEBUGGING,
    "design_review": DESIGN_REVIEW,
}
