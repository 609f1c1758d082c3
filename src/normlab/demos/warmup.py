"""Demo 5, warm-up and learning rate: small post-norm and pre-norm stacks trained on a
synthetic task (reverse a random token sequence) with Adam, with or without a linear
learning-rate warm-up (Xiong et al. 2020's warm-up result on IWSLT14 De-En).

The models are tiny (8 blocks, d_model 32) and train for 100 steps, 16 seeds at once, so
that the book can run every variant at build time; book/measurements.md says how this
compares with the paper's 6+6-layer translation model.
"""

from __future__ import annotations

import math

from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.claims import TASK_SEEDS, count_learned
from ..studies.experiments import TaskConfig
from ..studies.training import train_task
from .figures import demo_widget, legend_below, new_figure, plot_loss_curves, styled

# The setting of book/measurements.md: at this size and HIGH_LR, post-norm without warm-up
# stays near chance in every seed, while 30 warm-up steps or pre-norm train it
# (claims of normlab.studies.claims, over 16 seeds).
TASK = TaskConfig()  # 8 blocks, d_model 32, 100 steps of 32 sequences
WARMUP_STEPS = 30
HIGH_LR = 1e-2


def run(placement: str, lr: float, warmup_steps: int) -> tuple[dict, ...]:
    """The 16 seeds' runs, Adam with a linear warm-up of ``warmup_steps`` steps (0: none),
    constant after (normlab.studies.training.train_task, cached there)."""
    return train_task(placement, lr, "warmup" if warmup_steps else "constant", warmup_steps, "adam", TASK, TASK_SEEDS)


@styled
def render(lr: float = 1e-2, warmup: str = "none") -> Picture:
    warmup_steps = WARMUP_STEPS if warmup != "none" else 0
    fig, ax = new_figure(3.6)
    learned = {}
    for placement in ("post", "pre"):
        runs = run(placement, lr, warmup_steps)
        learned[placement] = f"{count_learned([r['accuracy'] for r in runs])} of {len(runs)} seeds learned"
        plot_loss_curves(ax, [r["loss"] for r in runs], placement, f"{placement}: {learned[placement]}")
    ax.axhline(math.log(TASK.vocab), color="gray", linestyle=":", linewidth=1.2, label=f"chance: ln {TASK.vocab}")
    if warmup_steps:
        ax.axvspan(0, warmup_steps, color="gray", alpha=0.12, label="warm-up")
    ax.set_xlabel("training step")
    ax.set_ylabel("training loss (10-step mean)")
    ax.set_ylim(0, math.log(TASK.vocab) * 1.3)
    ax.set_title(f"{TASK.n_layers} blocks, Adam lr {lr:g}, warm-up: {warmup}")
    legend_below(ax)
    alt = (
        f"training loss over {TASK.steps} steps, {TASK.n_layers} blocks, learning rate {lr:g}, "
        f"warm-up {warmup}, 16 seeds each (faint lines, median bold): post vs pre; "
        + ", ".join(f"{p}-norm {text}" for p, text in learned.items())
    )
    return Picture(fig, alt)


CONTROLS = {
    "lr": Control([1e-3, HIGH_LR], label="learning rate", value=HIGH_LR),
    "warmup": Control(["none", f"{WARMUP_STEPS} steps"], label="warm-up"),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
