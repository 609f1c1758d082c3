"""Demo 6, shape tracer: every tensor's shape through one pre-norm block, for chosen
batch, seq, d_model, heads and d_ff (uses :func:`normlab.trace_shapes`). A choice the
block cannot take (d_model not divisible by heads) shows the library's ShapeError.
"""

from __future__ import annotations

import functools
import html

import torch

from ..nn.blocks import PreNormBlock
from ..nn.shapes import ShapeError
from ..nn.trace import trace_shapes
from ..page.display import table_html
from ..page.widgets import Control, PrecomputedDemo
from ..studies.seeds import seed_everything
from .figures import demo_widget


@functools.lru_cache(maxsize=16)
def _block(d_model: int, n_heads: int, d_ff: int) -> PreNormBlock:
    seed_everything(0)
    return PreNormBlock(d_model, n_heads, d_ff)


def trace_rows(batch: int, seq: int, d_model: int, n_heads: int, d_ff: int) -> list[list[str]]:
    """(step, op, input shape, output shape) of every leaf step; raises ShapeError."""
    block = _block(d_model, n_heads, d_ff)
    x = torch.zeros(batch, seq, d_model)  # only the shapes matter
    return [[s.name, s.op, str(s.input_shape), str(s.output_shape)] for s in trace_shapes(block, x)]


def render(batch: int = 2, seq: int = 10, d_model: int = 64, n_heads: int = 4, d_ff: int = 256) -> str:
    try:
        rows = trace_rows(batch, seq, d_model, n_heads, d_ff)
    except ShapeError as err:
        return f"<div class='normlab-error' style='color:#b00'><b>ShapeError</b>: {html.escape(str(err))}</div>"
    return table_html(
        ["step", "op", "input", "output"],
        rows,
        caption=f"pre-norm block, x of shape (batch={batch}, seq={seq}, d_model={d_model}); "
        f"d_head = d_model / heads = {d_model // n_heads}",
    )


CONTROLS = {
    "batch": Control([1, 2], label="batch", value=2),
    "seq": Control([4, 10], label="seq", value=10),
    "d_model": Control([60, 64], label="d_model", value=64),
    "n_heads": Control([4, 5], label="heads", value=4),
    "d_ff": Control([128, 256], label="d_ff", value=256),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
