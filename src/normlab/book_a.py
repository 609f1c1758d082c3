"""Helpers for chapters 0-3 and 8: computed quiz answers and a table for cell outputs.

The quiz banks name these functions by dotted path, e.g.
``answer_from: normlab.book_a.block_output_shape``. Each builds the normlab object the
question is about and reads the answer off it (a shape, a count, a loss), so a quiz
answer and the library can never disagree.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def block_output_shape(batch: int, seq: int, d_model: int, n_heads: int, d_ff: int,
                       placement: str = "pre") -> tuple[int, ...]:
    """Shape of what a normlab Block of this placement returns for (batch, seq, d_model)."""
    from .blocks import Block

    block = Block(d_model, n_heads, d_ff, placement=placement)
    with torch.no_grad():
        return tuple(block(torch.zeros(batch, seq, d_model)).shape)


def ffn_hidden_shape(batch: int, seq: int, d_model: int, d_ff: int) -> tuple[int, ...]:
    """Shape inside the feed-forward network, after its first linear layer (traced)."""
    from .feedforward import FeedForward
    from .trace import trace_shapes

    steps = trace_shapes(FeedForward(d_model, d_ff), torch.zeros(batch, seq, d_model))
    return next(s.output_shape for s in steps if s.name == "linear1")


def block_parameter_count(d_model: int, n_heads: int, d_ff: int, placement: str = "pre") -> int:
    """Learnable parameters of one normlab Block (attention, FFN and its norms)."""
    from .blocks import Block

    return sum(p.numel() for p in Block(d_model, n_heads, d_ff, placement=placement).parameters())


def lm_logits_shape(batch: int, seq: int, vocab_size: int, n_layers: int = 2, d_model: int = 32,
                    n_heads: int = 4, d_ff: int = 64) -> tuple[int, ...]:
    """Shape of the logits a causal normlab language model returns for (batch, seq) token ids."""
    from .stack import TransformerStack

    model = TransformerStack(n_layers, d_model, n_heads, d_ff, causal=True, vocab_size=vocab_size)
    with torch.no_grad():
        return tuple(model(torch.zeros(batch, seq, dtype=torch.long)).shape)


def uniform_cross_entropy(vocab_size: int) -> float:
    """Cross-entropy (nats, rounded to 3 decimals) of a model that gives every token the
    same score: the loss a language model starts near before it has learned anything."""
    logits = torch.zeros(1, vocab_size)
    return round(F.cross_entropy(logits, torch.tensor([0])).item(), 3)




def html_table(header: list[str], rows: list[list]):
    """A table for a notebook cell's output (rendered by myst-nb and JupyterLab alike).

    Cells are escaped text; a tuple (a shape) is shown as code, e.g. ``(2, 8, 10, 10)``.
    """
    import html

    from IPython.display import HTML

    def cell(value) -> str:
        if isinstance(value, tuple):
            return f"<code>{html.escape(str(value))}</code>"
        return html.escape(str(value))

    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(v)}</td>" for v in row) + "</tr>" for row in rows)
    return HTML(f'<table class="table normlab-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>')



def silence_branches(block):
    """Zero the last linear layer of both core functions, so F(anything) = 0 in ``block``.

    What is left is the wiring alone: a block whose identity path is untouched then
    returns its input exactly. Returns the block (changed in place).
    """
    with torch.no_grad():
        for layer in (block.attn.out_proj, block.ffn.linear2):
            layer.weight.zero_()
            layer.bias.zero_()
    return block


def exercise_summary(notebook) -> dict:
    """Points of an nbgrader notebook, read from its cells' ``nbgrader`` metadata.

    Returns ``{"autograded": points of test cells, "manual": points of answers a person
    grades, "tests": number of test cells, "answers": number of cells the student fills}``.
    """
    import json
    from pathlib import Path

    cells = json.loads(Path(notebook).read_text(encoding="utf-8"))["cells"]
    summary = {"autograded": 0.0, "manual": 0.0, "tests": 0, "answers": 0}
    for cell in cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution"):
            summary["answers"] += 1
        if meta.get("grade") and not meta.get("solution") and not meta.get("task"):
            summary["autograded"] += meta.get("points", 0)
            summary["tests"] += 1
        elif meta.get("grade") or meta.get("task"):
            summary["manual"] += meta.get("points", 0)
    return summary


def check_feedback(check, answer, code: str = ""):
    """What a student sees when an exercise's visible check runs on ``answer``: the
    check's printed lines if it passes, its message if it fails. Returns HTML (with the
    answer's ``code`` above the feedback)."""
    import contextlib
    import html
    import io

    from .checks import CheckFailed

    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            check(answer)
        verdict, colour, message = "visible checks passed", "#1a7f37", printed.getvalue()
    except CheckFailed as failure:
        verdict, colour, message = "visible check failed", "#b00", str(failure)
    shown = f"<pre>{html.escape(code)}</pre>" if code else ""
    return (f"<div class='normlab-check-feedback'>{shown}<p><b style='color:{colour}'>{verdict}</b></p>"
            f"<pre style='white-space:pre-wrap'>{html.escape(message.strip())}</pre></div>")
