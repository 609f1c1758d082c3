"""Figures drawn by code: the history of norm placement, and two whole architectures.

TIMELINE                 (year, what happened, bibliography key), in order
timeline_figure()        the timeline as a matplotlib Figure
ARCHITECTURES            the sub-layers of each architecture, bottom to top
architecture_figure()    encoder-decoder (post-norm, 2017) and decoder-only (pre-norm)
wiring_figure(placement) one sub-layer of a placement, as the wiring explorer draws it, and its alt text
"""

from __future__ import annotations

import textwrap

from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ..page.widgets import min_font_pt


def wiring_figure(placement: str) -> tuple[Figure, str]:
    """One sub-layer of ``placement`` (its branch, the add and the identity path) drawn as
    chapter 1's wiring explorer draws it, with the figure's alt text: the static figure of
    the chapter where the placement is defined."""
    from ..demos import wiring

    return wiring.draw(placement), wiring.alt_text(placement)


TIMELINE = [
    (2016, "pre-activation ResNets: identity path never normalised", "he2016identity"),
    (2017, "Transformer: post-norm, LN(x + F(x))", "vaswani2017attention"),
    (2018, "Tensor2Tensor defaults to pre-norm", "vaswani2018tensor2tensor"),
    (2019, "Baevski & Auli, Wang et al.: deep pre-norm; GPT-2", "wang2019learning"),
    (2020, "Xiong et al.: why pre-norm; Liu et al.: amplification, Admin", "xiong2020layer"),
    (2021, "NormFormer: extra norms; CogView: sandwich norm", "shleifer2021normformer"),
    (2022, "DeepNet: 1,000 post-norm layers; Swin V2: res-post-norm", "wang2022deepnet"),
    (2024, "Gemma 2: sandwich + soft-capping; OLMo 2: res-post + QK-norm", "gemmateam2024gemma2"),
    (2025, "Gemma 3: QK-norm; Peri-LN; DyT: no norm at all", "zhu2025transformers"),
]


# Both figures are drawn narrow, so that on a phone (a ~340 CSS px text column) their
# smallest text is still 11 CSS px (normlab.page.widgets.min_font_pt); long labels wrap instead.
TIMELINE_WIDTH_IN = 3.4
ARCHITECTURE_WIDTH_IN = 4.0


def timeline_figure() -> Figure:
    """TIMELINE as a vertical list: a dot per year on a line, the event beside it, wrapped."""
    font = round(min_font_pt(TIMELINE_WIDTH_IN) + 0.6, 1)
    events = [textwrap.fill(text, 40, break_on_hyphens=False) for _, text, _ in TIMELINE]
    line_in = font / 72 * 1.3
    heights = [line_in * (event.count("\n") + 1) + 0.12 for event in events]
    fig = Figure(figsize=(TIMELINE_WIDTH_IN, sum(heights) + 0.1))
    ax = fig.add_axes((0, 0, 1, 1))
    total = sum(heights) + 0.1
    top = total - 0.05
    centres = []
    for height in heights:
        centres.append(top - height / 2)
        top -= height
    ax.plot([0.6, 0.6], [centres[-1], centres[0]], color="#1f77b4", linewidth=1.5)
    for (year, _, _), event, y in zip(TIMELINE, events, centres):
        ax.plot(0.6, y, "o", color="#1f77b4", markersize=5)
        ax.text(0.05, y, str(year), ha="left", va="center", fontsize=font, weight="bold")
        ax.text(0.75, y, event, ha="left", va="center", fontsize=font, linespacing=1.15)
    ax.set_xlim(0, TIMELINE_WIDTH_IN)
    ax.set_ylim(0, total)
    ax.axis("off")
    return fig


# Each architecture: columns of boxes from bottom to top. A box is (label, kind); kind picks
# the colour. "->" in a label of the decoder marks the cross-attention's input.
ARCHITECTURES = {
    "encoder-decoder (2017, post-norm)": {
        "encoder (x N)": [
            ("embedding + positions", "io"),
            ("self-attention", "attn"),
            ("add & LayerNorm", "norm"),
            ("feed-forward", "ffn"),
            ("add & LayerNorm", "norm"),
        ],
        "decoder (x N)": [
            ("embedding + positions", "io"),
            ("masked self-attention", "attn"),
            ("add & LayerNorm", "norm"),
            ("cross-attention (K, V from encoder)", "cross"),
            ("add & LayerNorm", "norm"),
            ("feed-forward", "ffn"),
            ("add & LayerNorm", "norm"),
            ("linear + softmax", "io"),
        ],
    },
    "decoder-only (GPT-2 / LLaMA, pre-norm)": {
        "decoder (x N)": [
            ("embedding (+ positions)", "io"),
            ("norm", "norm"),
            ("masked self-attention, then add", "attn"),
            ("norm", "norm"),
            ("feed-forward, then add", "ffn"),
            ("final norm", "norm"),
            ("linear + softmax", "io"),
        ],
    },
}
COLOURS = {"io": "#eeeeee", "attn": "#ffd8a8", "cross": "#ffc9c9", "ffn": "#b2f2bb", "norm": "#a5d8ff"}


def architecture_figure() -> Figure:
    """Both architectures side by side, one column of boxes per stack, bottom to top;
    the encoder's output feeds the decoder's cross-attention. Laid out in inches."""
    font = round(min_font_pt(ARCHITECTURE_WIDTH_IN) + 0.5, 1)
    line_in = font / 72 * 1.25
    columns = [(arch, name, boxes) for arch, parts in ARCHITECTURES.items() for name, boxes in parts.items()]
    margin, gap_x, arrow_in = 0.05, 0.15, 0.16
    width = (ARCHITECTURE_WIDTH_IN - 2 * margin - gap_x * (len(columns) - 1)) / len(columns)
    chars = int(width * 72 / (font * 0.6))  # characters per line in a box
    stacks = []
    for _arch, _name, boxes in columns:
        laid, y = [], 0.05
        for label, kind in boxes:
            text = textwrap.fill(label, chars, break_on_hyphens=False, break_long_words=False)
            height = line_in * (text.count("\n") + 1) + 0.1
            laid.append((text, kind, y, height))
            y += height + arrow_in
        stacks.append(laid)
    stack_top = max(laid[-1][2] + laid[-1][3] for laid in stacks)
    titles = [textwrap.fill(arch, 18 if len(parts) == 1 else 40) for arch, parts in ARCHITECTURES.items()]
    title_lines = max(t.count("\n") + 1 for t in titles)
    total = stack_top + 0.12 + line_in + 0.08 + title_lines * line_in + 0.08
    fig = Figure(figsize=(ARCHITECTURE_WIDTH_IN, total))
    inches = fig.dpi_scale_trans
    xs = [margin + c * (width + gap_x) for c in range(len(columns))]
    for x, (_arch, name, _boxes), laid in zip(xs, columns, stacks):
        for b, (text, kind, y, height) in enumerate(laid):
            fig.patches.append(
                FancyBboxPatch(
                    (x, y),
                    width,
                    height,
                    boxstyle="round,pad=0.02",
                    transform=inches,
                    facecolor=COLOURS[kind],
                    edgecolor="#555",
                    linewidth=0.8,
                )
            )
            fig.text(x + width / 2, y + height / 2, text, ha="center", va="center", fontsize=font, transform=inches)
            if b:
                below = laid[b - 1]
                fig.patches.append(
                    FancyArrowPatch(
                        (x + width / 2, below[2] + below[3] + 0.02),
                        (x + width / 2, y - 0.02),
                        transform=inches,
                        arrowstyle="-|>",
                        mutation_scale=7,
                        color="#555",
                    )
                )
        fig.text(
            x + width / 2,
            stack_top + 0.12,
            name,
            ha="center",
            va="bottom",
            fontsize=font,
            weight="bold",
            transform=inches,
        )
    column = 0
    for title, (_arch, parts) in zip(titles, ARCHITECTURES.items()):
        left, right = xs[column], xs[column + len(parts) - 1] + width
        fig.text((left + right) / 2, total - 0.05, title, ha="center", va="top", fontsize=font, transform=inches)
        column += len(parts)
    # the encoder's last output feeds the decoder's cross-attention
    encoder, decoder = stacks[0], stacks[1]
    cross = next(i for i, (text, *_rest) in enumerate(decoder) if text.startswith("cross"))
    _, _, ey, eh = encoder[-1]
    _, _, cy, ch = decoder[cross]
    fig.patches.append(
        FancyArrowPatch(
            (xs[0] + width, ey + eh / 2),
            (xs[1], cy + ch / 2),
            transform=inches,
            arrowstyle="-|>",
            mutation_scale=8,
            color="#c92a2a",
            connectionstyle="arc3,rad=-0.25",
            linewidth=1.2,
        )
    )
    return fig
