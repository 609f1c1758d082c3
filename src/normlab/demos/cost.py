"""Demo 7, attention cost: time and memory of one self-attention layer against one
recurrent layer as the sequence grows (Vaswani et al. 2017, Table 1; the seed's long-document
summarisation scenario).

The curves are the formulas (multiply-adds; float32 bytes of the score matrix against
the recurrent state). The table is measured on this machine when the page is built, on
one thread: wall-clock times vary from run to run and machine to machine, the formulas
do not. A recurrent layer's n steps run one after another; attention's run in parallel.
"""

from __future__ import annotations

import functools

import numpy as np

from ..page.display import table_html
from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.experiments import (
    attention_flops,
    attention_memory_bytes,
    measure_attention_vs_rnn,
    rnn_flops,
    rnn_state_bytes,
)
from .figures import demo_widget, log_axes, new_figure, styled

D_MODEL, N_HEADS = 64, 4
SEQ_LENS = (256, 1024, 4096, 16384)
MEASURED_LENS = (64, 256, 1024)
ATTENTION = {"color": "#222222", "linestyle": "-", "linewidth": 2}
RECURRENT = {"color": "#7f7f7f", "linestyle": "--", "linewidth": 2}


@functools.lru_cache(maxsize=4)
def measured(seq_lens: tuple[int, ...] = MEASURED_LENS) -> dict:
    """Forward times of attention and an RNN (d_model 64, batch 1), measured once per process."""
    return measure_attention_vs_rnn(seq_lens, D_MODEL, N_HEADS)


def _count(x: float) -> str:
    return f"{x:,.0f}" if x < 1e6 else f"{x:.3g}".replace("e+0", "e").replace("e+", "e")


def _bytes(b: float) -> str:
    for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if b >= size:
            return f"{b / size:g} {unit}"
    return f"{b:g} B"


def at_length_table(seq_len: int) -> str:
    """The formulas at the chosen length: what the slider picks, in numbers."""
    att, rnn = attention_flops(seq_len, D_MODEL), rnn_flops(seq_len, D_MODEL)
    rows = [
        ["multiply-adds per layer", _count(att), _count(rnn), f"{att / rnn:.0f}×"],
        [
            "float32 bytes held",
            _bytes(attention_memory_bytes(seq_len, N_HEADS)),
            _bytes(rnn_state_bytes(D_MODEL)),
            f"{attention_memory_bytes(seq_len, N_HEADS) / rnn_state_bytes(D_MODEL):,.0f}×",
        ],
    ]
    return table_html(
        [f"at n = {seq_len:,}", "self-attention", "RNN", "ratio"],
        rows,
        caption=f"the formulas at the chosen length (d_model {D_MODEL}, {N_HEADS} heads)",
    )


def measured_table(seq_len: int | None = None) -> str:
    """Times measured in this process; the row of the chosen length is marked."""
    m = measured()
    rows = [
        [("▶ " if n == seq_len else "") + f"{n:,}", f"{a * 1e3:.2f}", f"{r * 1e3:.2f}", f"{a / r:.2f}"]
        for n, a, r in zip(m["seq"], m["attention_s"], m["rnn_s"])
    ]
    where = (
        ""
        if seq_len is None or seq_len in m["seq"]
        else f" n = {seq_len:,} is not measured: its scores alone would take "
        f"{_bytes(attention_memory_bytes(seq_len, N_HEADS))}."
    )
    return table_html(
        ["seq n", "attention (ms)", "RNN (ms)", "attention / RNN"],
        rows,
        caption=f"measured when this view was drawn (d_model {D_MODEL}, batch 1, one "
        f"thread, median of 5): your numbers will differ.{where}",
    )


@styled
def draw(seq_len: int = 1024) -> Picture:
    n = np.unique(np.geomspace(16, max(SEQ_LENS), 40).astype(int))
    fig, (ax_time, ax_mem) = new_figure(5.6, nrows=2)
    ax_time.plot(n, [attention_flops(k, D_MODEL) for k in n], **ATTENTION, label="self-attention: 4nd² + 2n²d")
    ax_time.plot(n, [rnn_flops(k, D_MODEL) for k in n], **RECURRENT, label="RNN: 2nd²")
    ax_mem.plot(
        n, [attention_memory_bytes(k, N_HEADS) for k in n], **ATTENTION, label=f"scores, {N_HEADS} heads: 4hn² B"
    )
    ax_mem.plot(n, [rnn_state_bytes(D_MODEL) for _ in n], **RECURRENT, label="RNN state: 4d B")
    for ax, what in ((ax_time, "multiply-adds"), (ax_mem, "float32 bytes")):
        ax.axvline(seq_len, color="gray", linestyle=":")
        log_axes(ax)
        ax.set_ylabel(what)
        ax.legend(loc="upper left")
    ax_mem.set_xlabel("sequence length n")
    ratio = attention_flops(seq_len, D_MODEL) / rnn_flops(seq_len, D_MODEL)
    memory = attention_memory_bytes(seq_len, N_HEADS)
    ax_time.set_title(
        f"n = {seq_len:,}: attention does {ratio:.0f}× the RNN's work\n"
        f"and holds {memory / 2**20:,.1f} MiB of scores (d = {D_MODEL})"
    )
    alt = (
        f"cost of one layer against sequence length, marked at n = {seq_len}: self-attention does "
        f"{ratio:.0f} times the recurrent layer's multiply-adds and holds {_bytes(memory)} of "
        f"attention scores, while the recurrent state stays {_bytes(rnn_state_bytes(D_MODEL))}"
    )
    return Picture(fig, alt)


def render(seq_len: int = 1024) -> list:
    return [draw(seq_len), at_length_table(seq_len), measured_table(seq_len)]


CONTROLS = {"seq_len": Control(list(SEQ_LENS), label="sequence length", value=1024)}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
