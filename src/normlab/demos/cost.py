"""Demo 7, attention cost: time and memory of one self-attention layer against one
recurrent layer as the sequence grows (facts.md section 6; the seed's long-document
summarisation scenario).

The curves are the formulas (multiply-adds; float32 bytes of the score matrix against
the recurrent state). The table is measured on this machine when the page is built, on
one thread: wall-clock times vary from run to run and machine to machine, the formulas
do not. A recurrent layer's n steps run one after another; attention's run in parallel.
"""

from __future__ import annotations

import functools

import ipywidgets as widgets
import numpy as np

from ..display import table_html
from ..experiments import (attention_flops, attention_memory_bytes, measure_attention_vs_rnn,
                           rnn_flops, rnn_state_bytes)
from ..widgets import Control, precomputed_demo
from ._plot import image, log_axes, new_figure, png_bytes

D_MODEL, N_HEADS = 64, 4
SEQ_LENS = (256, 1024, 4096, 16384)
MEASURED_LENS = (64, 256, 1024)


@functools.lru_cache(maxsize=4)
def measured(seq_lens: tuple[int, ...] = MEASURED_LENS) -> dict:
    """Forward times of attention and an RNN (d_model 64, batch 1), measured once per process."""
    return measure_attention_vs_rnn(seq_lens, D_MODEL, N_HEADS)


def measured_table() -> str:
    m = measured()
    rows = [[n, f"{a * 1e3:.2f}", f"{r * 1e3:.2f}", f"{a / r:.2f}"]
            for n, a, r in zip(m["seq"], m["attention_s"], m["rnn_s"])]
    return table_html(["seq n", "attention (ms)", "RNN (ms)", "attention / RNN"], rows,
                      caption=f"measured when this page was built (d_model {D_MODEL}, batch 1, one "
                              f"thread, median of 5): your numbers will differ")


@functools.lru_cache(maxsize=16)
def figure_png(seq_len: int) -> bytes:
    return png_bytes(draw(seq_len))


def render(seq_len: int = 1024):
    return widgets.VBox([image(figure_png(seq_len)), widgets.HTML(measured_table())])


def draw(seq_len: int = 1024):
    n = np.unique(np.geomspace(16, max(SEQ_LENS), 40).astype(int))
    fig, (ax_time, ax_mem) = new_figure(7.0, 3.0, ncols=2)
    ax_time.plot(n, [attention_flops(k, D_MODEL) for k in n], label="self-attention: 4nd² + 2n²d")
    ax_time.plot(n, [rnn_flops(k, D_MODEL) for k in n], label="RNN: 2nd²")
    ax_mem.plot(n, [attention_memory_bytes(k, N_HEADS) for k in n], label=f"scores, {N_HEADS} heads: 4·h·n² B")
    ax_mem.plot(n, [rnn_state_bytes(D_MODEL) for _ in n], label="RNN state: 4·d B")
    for ax, what in ((ax_time, "multiply-adds per layer"), (ax_mem, "float32 bytes held")):
        ax.axvline(seq_len, color="gray", linestyle=":")
        log_axes(ax)
        ax.set_xlabel("sequence length n")
        ax.set_ylabel(what)
        ax.legend(fontsize=7)
    ratio = attention_flops(seq_len, D_MODEL) / rnn_flops(seq_len, D_MODEL)
    memory = attention_memory_bytes(seq_len, N_HEADS)
    fig.suptitle(f"n = {seq_len}: attention does {ratio:.0f}× the RNN's multiply-adds and holds "
                 f"{memory / 2**20:.1f} MiB of scores (d = {D_MODEL})", fontsize=9)
    return fig


CONTROLS = {"seq_len": Control(list(SEQ_LENS), label="sequence length", value=1024)}


def demo(live: bool | None = None):
    return precomputed_demo(render, CONTROLS, live=live)
