"""Visible checks for exercises/ordering: the order of a sub-layer's operations.

The checks recognise the placements by what they compute (an order of operations by the
formula it builds, a function by its output on a probe input), so a wrong answer is named
("that is post-norm") instead of merely rejected, and every order that computes the same
thing is accepted. Q5's names and letters are checked for format only: the hidden tests
in the source notebook decide them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ..nn.blocks import BLOCKS, PLACEMENTS
from ._core import (
    CheckFailed,
    Spy,
    check_name,
    expect,
    expect_function,
    expect_tensor,
    match,
    multiple_choice,
    question,
)

OPERATIONS = ("save_residual", "layer_norm", "sublayer_function", "dropout", "residual_add")
PLACEMENT_NAMES = PLACEMENTS


def _check_operation_list(order: Any, name: str) -> None:
    expect(
        isinstance(order, (list, tuple)),
        f'{name} must be a list of operation names, e.g. ["save_residual", ...]; got {type(order).__name__}',
    )
    for op in order:
        check_name(op, OPERATIONS, f"{name} entry")
    twice = sorted({op for op in order if list(order).count(op) > 1})
    expect(not twice, f"{name} lists {twice} more than once: each operation happens once per sub-layer")
    missing = [op for op in OPERATIONS if op not in order]
    expect(not missing, f"{name} is missing {missing}: use every operation in {OPERATIONS} exactly once")
    at = {op: i for i, op in enumerate(order)}
    # Rules true of every placement in this course, whatever the question.
    expect(
        at["save_residual"] < at["residual_add"],
        f"{name} adds the residual before saving it: save_residual keeps a copy of the "
        "sub-layer's input for the skip path, so it must come before residual_add",
    )
    expect(
        at["sublayer_function"] < at["residual_add"],
        f"{name} applies the sub-layer function after the residual add: F's output is "
        "what gets added to the skip path, so sublayer_function comes before residual_add",
    )


def computes(order: Any) -> str:
    """What an order of the five operations computes, as a formula, when every operation acts
    on one running tensor h (the notebook's rule): save_residual keeps r = h, layer_norm sets
    h = LN(h), sublayer_function h = F(h), dropout h = dropout(h), residual_add h = r + h.

    Orders that compute the same thing give the same formula, so an answer is judged by what
    it computes, never by its list:
    >>> computes(["save_residual", "layer_norm", "sublayer_function", "dropout", "residual_add"])
    'x + dropout(F(LN(x)))'
    """
    h, saved = "x", None
    for op in order:
        if op == "save_residual":
            saved = h
        elif op == "layer_norm":
            h = f"LN({h})"
        elif op == "sublayer_function":
            h = f"F({h})"
        elif op == "dropout":
            h = f"dropout({h})"
        elif op == "residual_add":
            h = f"{saved} + {h}"
        else:
            raise ValueError(f"unknown operation {op!r}: expected one of {OPERATIONS}")
    return h


# What each wiring computes, dropout left out (its place is checked on its own).
ORDER_FORMS = {
    "x + F(LN(x))": "pre",
    "LN(x + F(x))": "post",
    "x + LN(F(x))": "res-post",
    "LN(x) + F(LN(x))": "normalised-residual",
}
ORDER_FEEDBACK = {
    "pre": "that is pre-norm, x + F(LN(x)): the norm on F's input, the identity path left alone.",
    "post": "that is post-norm, LN(x + F(x)): the norm comes after the residual add.",
    "res-post": "that normalises F's output, x + LN(F(x)): the course text's LNorm(F(x)) + x read "
    "literally, which is res-post-norm (Swin V2, OLMo 2).",
    "normalised-residual": "the residual is saved after normalising, so the skip path carries LN(x): "
    "LN(x) + F(LN(x)). The skip path must carry x itself.",
}


def _check_order(order: Any, name: str, wanted: str) -> None:
    _check_operation_list(order, name)
    formula = computes(order)
    # Remove the one dropout(...) wrapper wherever it is, to see the placement alone.
    start = formula.index("dropout(")
    depth = 0
    for end in range(start + len("dropout"), len(formula)):  # find the ")" that closes dropout's "("
        depth += {"(": 1, ")": -1}.get(formula[end], 0)
        if depth == 0:
            break
    without_dropout = formula[:start] + formula[start + len("dropout(") : end] + formula[end + 1 :]
    form = ORDER_FORMS.get(without_dropout)
    if form != wanted:
        what = ORDER_FEEDBACK[form] if form else "that is none of the placements of this course."
        raise CheckFailed(f"{name} computes y = {formula}: {what}")
    expect(
        "dropout(F(" in formula,
        f"{name} computes y = {formula}: dropout acts on F's output, right after F and before "
        "the add (dropout elsewhere would drop the input to F or the identity path).",
    )


@question("ordering", "Q1 post-norm order", ["POST_NORM_ORDER"], hidden=3)
def post_norm_order(order: Any) -> None:
    _check_order(order, "POST_NORM_ORDER", "post")


@question("ordering", "Q2 pre-norm order", ["PRE_NORM_ORDER"], hidden=5)
def pre_norm_order(order: Any) -> None:
    _check_order(order, "PRE_NORM_ORDER", "pre")


# --------------------------------------------------------------------------- implementations


def _probe(d_model: int = 8) -> tuple[Tensor, nn.Module, nn.LayerNorm]:
    """A probe input, a sub-layer function F and a norm whose gain and bias are not 1 and 0
    (so that LN(x) can be told apart from x)."""
    x = torch.randn(2, 4, d_model) * 3 + 1
    f = nn.Sequential(nn.Linear(d_model, d_model), nn.Tanh())
    norm = nn.LayerNorm(d_model)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-1.0, 1.0)
    return x, f, norm


def sublayer_forms(x: Tensor, f: Callable[..., Any], norm: Any) -> dict[str, torch.Tensor]:
    """What each way of wiring one sub-layer computes on the probe."""
    with torch.no_grad():
        return {
            # the placements whose one sub-layer is a function of (x, f, norm) alone
            **{p: cls.sublayer(x, f, norm) for p, cls in BLOCKS.items() if cls.sublayer is not None},
            "normalised-residual": norm(x) + f(norm(x)),
            "no-residual-pre": f(norm(x)),
            "no-residual-post": norm(f(x)),
            "no-norm": x + f(x),
        }


FORM_FEEDBACK = {
    "post": "your sub-layer normalises after the residual add, LN(x + F(x)): that is post-norm (Vaswani et al. 2017).",
    "pre": "your sub-layer computes x + F(LN(x)): that is pre-norm, the norm on F's input with "
    "the identity path left alone.",
    "res-post": "your sub-layer computes x + LN(F(x)): it normalises F's output. That is the course "
    "text's LNorm(F(x)) + x read literally, which is res-post-norm (Swin V2, OLMo 2).",
    "sandwich": "your sub-layer computes x + LN(F(LN(x))): a norm on both sides of F is sandwich norm.",
    "normalised-residual": "your residual is taken from the normalised input: LN(x) + F(LN(x)). The "
    "skip path must carry x itself; normalise only the copy that goes into F.",
    "no-residual-pre": "the residual connection is missing: you return F(LN(x)) without adding x.",
    "no-residual-post": "the residual connection is missing: you return LN(F(x)) without adding x.",
    "no-norm": "norm is never applied: you return x + F(x).",
}


def _classify_sublayer(fn: Callable[..., Any], name: str) -> str:
    expect_function(fn, name, 3)
    x, f, norm = _probe()
    f_spy, norm_spy = Spy(f, "f"), Spy(norm, "norm")
    x_before = x.clone()
    out = fn(x, f_spy, norm_spy)
    expect(torch.equal(x, x_before), f"{name} changed its input x in place; return a new tensor instead")
    expect_tensor(out, tuple(x.shape), f"{name}(x, f, norm)", "a sub-layer keeps (batch, seq, d_model)")
    expect(f_spy.inputs, f"{name} never calls f: the sub-layer function must be applied")
    expect(norm_spy.inputs, f"{name} never calls norm: use the norm you are given, don't make your own")
    form = match(out, sublayer_forms(x, f, norm))
    expect(
        form is not None,
        f"{name} computes something that is none of the placements (post, pre, res-post, sandwich); "
        "check which tensor goes into f, which into norm, and what is added to what.",
    )
    assert form is not None  # expect() raised otherwise
    return form


@question("ordering", "Q3a post_norm_sublayer", ["post_norm_sublayer"], hidden=2)
def post_norm_sublayer(fn: Callable[..., Any]) -> None:
    form = _classify_sublayer(fn, "post_norm_sublayer")
    if form != "post":
        raise CheckFailed(FORM_FEEDBACK[form] + " Post-norm normalises the sum: LN(x + F(x)).")


@question("ordering", "Q3b pre_norm_sublayer", ["pre_norm_sublayer"], hidden=2)
def pre_norm_sublayer(fn: Callable[..., Any]) -> None:
    form = _classify_sublayer(fn, "pre_norm_sublayer")
    if form != "pre":
        raise CheckFailed(
            FORM_FEEDBACK[form] + " Standard pre-norm normalises F's input and leaves "
            "the identity path alone: x + F(LN(x))."
        )


# --------------------------------------------------------------------------- a stack of sub-layers


def _stack_forms(x: Tensor, fs: Any, norms: Any, final: Any) -> dict[str, torch.Tensor]:
    def run(step: Callable[[Tensor, Any, Any], Tensor], with_final: bool = True) -> Tensor:
        h = x
        for f, n in zip(fs, norms):
            h = step(h, f, n)
        return final(h) if with_final else h

    with torch.no_grad():
        return {
            "pre": run(lambda h, f, n: h + f(n(h))),
            "no-final": run(lambda h, f, n: h + f(n(h)), with_final=False),
            "post": run(lambda h, f, n: n(h + f(h)), with_final=False),
            "post+final": run(lambda h, f, n: n(h + f(h))),
            "normalised-residual": run(lambda h, f, n: n(h) + f(n(h))),
            "res-post": run(lambda h, f, n: h + n(f(h))),
            "final-every-layer": run(lambda h, f, n: final(h + f(n(h))), with_final=False),
            "one-norm": run(lambda h, f, n: h + f(norms[0](h))),
            "unrolled-x0": final(x + sum(f(n(x)) for f, n in zip(fs, norms))),
        }


STACK_FEEDBACK = {
    "no-final": "the final norm is missing: a pre-norm stack leaves the residual stream "
    "un-normalised, so it ends with one LN after the last sub-layer (GPT-2's ln_f).",
    "post": "your stack normalises the stream after every residual add: that is a post-norm stack.",
    "post+final": "your stack normalises the stream after every residual add (post-norm) and then "
    "adds a final norm; pre-norm normalises only each F's input.",
    "normalised-residual": "each step takes its residual from the normalised stream, LN(x_l) + F(LN(x_l)); "
    "the stream x_l itself must be carried forward unnormalised.",
    "res-post": "each step normalises F's output, x_l + LN(F(x_l)): res-post-norm, not pre-norm.",
    "final-every-layer": "final_norm is applied after every sub-layer; it belongs once, at the end.",
    "one-norm": "every step uses norms[0]; sub-layer l has its own norm, norms[l].",
    "unrolled-x0": "every F_l sees LN_l(x_0), the stack's input; F_l must see LN_l(x_l), the stream "
    "after the previous sub-layers.",
}


@question("ordering", "Q4 pre_norm_stack", ["pre_norm_stack"], hidden=2)
def pre_norm_stack(fn: Callable[..., Any]) -> None:
    expect_function(fn, "pre_norm_stack", 4)
    d = 8
    x = torch.randn(2, 4, d) * 3 + 1
    fs, norms = [], []
    for _ in range(3):
        _, f, n = _probe(d)
        fs.append(f)
        norms.append(n)
    _, _, final = _probe(d)
    out = fn(x, fs, norms, final)
    expect_tensor(
        out, tuple(x.shape), "pre_norm_stack(x, sublayers, norms, final_norm)", "the stack keeps (batch, seq, d_model)"
    )
    form = match(out, _stack_forms(x, fs, norms, final))
    expect(
        form is not None,
        "pre_norm_stack computes none of the stacks we know; apply x_{l+1} = x_l + F_l(LN_l(x_l)) "
        "for each l in order, then the final norm.",
    )
    assert form is not None  # expect() raised otherwise
    if form != "pre":
        raise CheckFailed(STACK_FEEDBACK[form])


# --------------------------------------------------------------------------- the course text's form


@question(
    "ordering",
    "Q5a course form name",
    ["COURSE_FORM_PLACEMENT"],
    hidden=1,
    format_only=True,
    hidden_tests="whether the name is right",
)
def course_form_placement(answer: Any) -> None:
    check_name(answer, PLACEMENT_NAMES, "COURSE_FORM_PLACEMENT")


standard_pre_norm_line = multiple_choice(
    "ordering", "standard_pre_norm_line", "Q5b standard pre-norm line", "STANDARD_PRE_NORM_LINE", "ABCD"
)
shared_property = multiple_choice("ordering", "shared_property", "Q5c what both forms share", "SHARED_PROPERTY", "ABCD")
