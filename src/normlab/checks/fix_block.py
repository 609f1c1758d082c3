"""Visible checks for exercises/fix_block: a pre-norm block and stack with planted bugs.

The student's classes follow the notebook's contract:
``TransformerBlock(d_model, n_heads, d_ff, dropout)`` with modules ``norm1, attn, norm2,
ffn, dropout`` and methods ``attention_sublayer(x, key_padding_mask=None)``,
``ffn_sublayer(x)``, ``forward(x, key_padding_mask=None)``;
``TransformerStack(n_layers, d_model, n_heads, d_ff, dropout)`` with ``blocks`` and
``final_norm``. Each check isolates one bug (eval mode where dropout must not matter,
no mask where the mask must not matter), so a student gets credit per bug fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor, nn

from ._core import CheckFailed, close, expect, expect_tensor, match, module_spy, question, reject_normlab
from .ordering import FORM_FEEDBACK, sublayer_forms

BLOCK_ATTRIBUTES = ("norm1", "attn", "norm2", "ffn", "dropout")
D_MODEL, N_HEADS, D_FF = 8, 2, 16


class ConstantBranch(nn.Module):
    """Stands in for attn or ffn: returns ``value`` (zeros by default) of x's shape."""

    def __init__(self, value: torch.Tensor | None = None) -> None:
        super().__init__()
        self.value = value

    def forward(self, x: Tensor, *args: Any, **kwargs: Any) -> Tensor:
        return torch.zeros_like(x) if self.value is None else self.value.expand_as(x).clone()


def randomise_norm(norm: nn.Module) -> None:
    """Give a norm a gain and bias far from 1 and 0, so LN(x) cannot pass for x."""
    with torch.no_grad():
        for name, param in norm.named_parameters():
            if name.endswith("weight"):
                param.uniform_(0.5, 2.0)
            else:
                param.uniform_(-1.0, 1.0)


def make_block(
    block_class: type[Any], dropout: float = 0.0, d_model: int = D_MODEL, n_heads: int = N_HEADS, d_ff: int = D_FF
) -> Any:
    """The learner's block, built and checked for the modules the grader reads by name
    (so it is typed by what the grader may do with it: anything)."""
    expect(
        isinstance(block_class, type) and issubclass(block_class, nn.Module),
        f"TransformerBlock should be an nn.Module class, got {block_class!r}",
    )
    reject_normlab(block_class, "TransformerBlock")
    block = block_class(d_model, n_heads, d_ff, dropout=dropout)
    missing = [a for a in BLOCK_ATTRIBUTES if not isinstance(getattr(block, a, None), nn.Module)]
    expect(
        not missing,
        f"TransformerBlock has no module {missing}: keep the names {BLOCK_ATTRIBUTES} so the grader can find them",
    )
    randomise_norm(block.norm1)
    randomise_norm(block.norm2)
    return block


def make_stack(
    stack_class: type[Any],
    n_layers: int = 2,
    dropout: float = 0.0,
    d_model: int = D_MODEL,
    n_heads: int = N_HEADS,
    d_ff: int = D_FF,
) -> Any:
    """The learner's stack, built (typed like :func:`make_block`'s block)."""
    expect(
        isinstance(stack_class, type) and issubclass(stack_class, nn.Module),
        f"TransformerStack should be an nn.Module class, got {stack_class!r}",
    )
    reject_normlab(stack_class, "TransformerStack")
    stack = stack_class(n_layers, d_model, n_heads, d_ff, dropout=dropout)
    expect(
        isinstance(getattr(stack, "blocks", None), nn.ModuleList) and len(stack.blocks) == n_layers,
        f"TransformerStack should keep its {n_layers} blocks in an nn.ModuleList called blocks",
    )
    for block in stack.blocks:
        reject_normlab(block, "TransformerStack's blocks")
    return stack


def probe_input(batch: int = 2, seq: int = 5, d_model: int = D_MODEL) -> torch.Tensor:
    return torch.randn(batch, seq, d_model) * 2 + 1


def _check_wiring(block: Any, sublayer: str, f: Callable[..., Any], norm: Any, norm_name: str) -> None:
    x = probe_input()
    out = getattr(block, sublayer)(x)
    expect_tensor(out, tuple(x.shape), f"block.{sublayer}(x)", "a sub-layer keeps (batch, seq, d_model)")
    form = match(out, sublayer_forms(x, f, norm))
    expect(
        form is not None,
        f"{sublayer} computes none of the known wirings; it should use self.{norm_name} and "
        "add the branch to the untouched x",
    )
    if form != "pre":
        raise CheckFailed(
            f"{sublayer}: {FORM_FEEDBACK[str(form)]} This block must be pre-norm: x + dropout(F(self.{norm_name}(x)))."
        )


@question("fix_block", "Bug 1: attention sub-layer wiring", ["TransformerBlock"], hidden=2)
def attention_wiring(block_class: type[Any]) -> None:
    block = make_block(block_class).eval()
    _check_wiring(block, "attention_sublayer", lambda h: block.attn(h), block.norm1, "norm1")


@question("fix_block", "Bug 2: feed-forward sub-layer wiring", ["TransformerBlock"], hidden=2)
def ffn_wiring(block_class: type[Any]) -> None:
    block = make_block(block_class).eval()
    _check_wiring(block, "ffn_sublayer", block.ffn, block.norm2, "norm2")


def _run_seeded(fn: Callable[..., Any], x: Tensor, seed: int) -> Any:
    torch.manual_seed(seed)
    return fn(x)


@question("fix_block", "Bug 3: dropout placement", ["TransformerBlock"], hidden=2)
def dropout_placement(block_class: type[Any]) -> None:
    for sublayer, branch in (("attention_sublayer", "attn"), ("ffn_sublayer", "ffn")):
        block = make_block(block_class, dropout=0.5).train()
        x = probe_input()
        run = getattr(block, sublayer)
        setattr(block, branch, ConstantBranch())  # F(.) = 0
        first, second = _run_seeded(run, x, 1), _run_seeded(run, x, 2)
        expect(
            torch.equal(first, second),
            f"{sublayer}: with the branch F returning zeros, the output still changes from one "
            "training step to the next: dropout is applied to the identity path (the residual). "
            "Dropout belongs on F's output only: x + dropout(F(LN(x))).",
        )
        setattr(block, branch, ConstantBranch(torch.ones(D_MODEL)))  # F(.) = 1
        first, second = _run_seeded(run, x, 1), _run_seeded(run, x, 2)
        expect(
            not torch.equal(first, second),
            f"{sublayer}: in training mode the branch is never dropped: keep self.dropout on "
            "F's output (where nn.TransformerEncoderLayer puts it); only the identity path "
            "must be free of dropout.",
        )


@question("fix_block", "Bug 4: attention mask", ["TransformerBlock"], hidden=2)
def attention_mask(block_class: type[Any]) -> None:
    block = make_block(block_class).eval()
    x = probe_input()
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[0, 3:] = True  # sample 0: last two tokens are padding
    changed = x.clone()
    changed[0, 3:] = torch.randn(2, D_MODEL) * 5  # new values at the padded positions only
    out, out_changed = block(x, mask), block(changed, mask)
    expect_tensor(out, tuple(x.shape), "block(x, key_padding_mask)")
    no_padding = torch.zeros(2, 5, dtype=torch.bool)
    expect(
        close(block(x, no_padding), block(x), atol=1e-5),
        "with a key_padding_mask that pads nothing (all False) the output differs from no mask: "
        "True marks padding (PyTorch's convention); don't invert the mask.",
    )
    expect(
        close(out[0, :3], out_changed[0, :3], atol=1e-5) and close(out[1], out_changed[1], atol=1e-5),
        "changing the padded tokens changed the output at real tokens: the attention mask is "
        "ignored. Pass key_padding_mask on to self.attn (True = padding).",
    )


@question("fix_block", "Bug 5: final norm of the stack", ["TransformerStack"], hidden=2)
def final_norm(stack_class: type[Any]) -> None:
    stack = make_stack(stack_class).eval()
    norm: Any = getattr(stack, "final_norm", None)
    expect(
        isinstance(norm, nn.Module),
        "TransformerStack has no final_norm module: a pre-norm stack leaves the residual "
        "stream un-normalised, so it must end with one LayerNorm after the last block "
        "(GPT-2's ln_f; nn.TransformerEncoder(norm=None) silently leaves it out).",
    )
    randomise_norm(norm)
    norm_calls, last_block_calls = module_spy(norm), module_spy(stack.blocks[-1])
    x = probe_input()
    out = stack(x)
    expect_tensor(out, tuple(x.shape), "stack(x)")
    calls = list(norm_calls)  # before the check's own calls of norm below
    expect(
        len(calls) <= 1,
        f"final_norm is applied {len(calls)} times: it belongs once, after the last block, not inside the loop",
    )
    last_output = last_block_calls[-1][1]
    with torch.no_grad():
        wanted = norm(last_output)
    if close(out, wanted, atol=1e-6):
        # final_norm(h), or an equivalent such as F.layer_norm(h, ..., final_norm.weight, .bias)
        return
    expect(
        calls or _uses_params(stack, norm),
        "final_norm is defined but never applied: call it once on the output of the last block "
        "(final_norm(x), or F.layer_norm with final_norm's weight and bias)",
    )
    expect(
        not calls or close(calls[0][0], last_output, atol=1e-6), "final_norm is not applied to the last block's output"
    )
    raise CheckFailed(
        "the stack should return final_norm applied to the last block's output, "
        "unchanged: final_norm(x), with its own gain, bias and eps"
    )


def _uses_params(stack: nn.Module, norm: nn.Module) -> bool:
    """Whether the stack's output depends on final_norm's parameters (e.g. through
    F.layer_norm(x, shape, final_norm.weight, final_norm.bias) with another eps)."""
    params = [p for p in norm.parameters() if p.requires_grad]
    if not params:
        return False
    out = stack(probe_input())
    grads = torch.autograd.grad(out.sum(), params, allow_unused=True)
    return any(g is not None for g in grads)


def reference_stack(stack: Any, x: torch.Tensor, key_padding_mask: Tensor | None = None) -> torch.Tensor:
    """What a correct pre-norm stack computes from this stack's own modules, in eval mode:
    x + attn(norm1(x), mask), then x + ffn(norm2(x)) in every block, then final_norm."""
    h = x
    for block in stack.blocks:
        h = h + block.attn(block.norm1(h), key_padding_mask)
        h = h + block.ffn(block.norm2(h))
    return stack.final_norm(h)


@question("fix_block", "All bugs: the whole stack", ["TransformerStack"], hidden=2)
def whole_stack(stack_class: type[Any]) -> None:
    stack = make_stack(stack_class).eval()
    norm: Any = getattr(stack, "final_norm", None)
    expect(isinstance(norm, nn.Module), "the stack has no final_norm yet (see bug 5)")
    randomise_norm(norm)
    for block in stack.blocks:
        randomise_norm(block.norm1)
        randomise_norm(block.norm2)
    x = probe_input().requires_grad_(True)
    mask = torch.zeros(2, 5, dtype=torch.bool)
    mask[1, 3:] = True
    out = stack(x, mask)
    expect_tensor(out, tuple(x.shape), "stack(x, key_padding_mask)")
    expect(torch.isfinite(out).all(), "the stack's output has NaN or inf values")
    real = ~mask
    expect(
        close(out[real], reference_stack(stack, x, mask)[real], atol=1e-5),
        "the whole stack differs from the reference pre-norm stack built from its own modules "
        "(x + attn(norm1(x), mask), x + ffn(norm2(x)) per block, then final_norm) at the real "
        "tokens: fix the bugs the tests above name, then run this one again",
    )
    out.square().mean().backward()
    no_grad = [name for name, p in stack.named_parameters() if p.grad is None]
    expect(not no_grad, f"these parameters get no gradient, so they never train: {no_grad}")
