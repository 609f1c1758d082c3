"""Demo 5, warm-up and learning rate: small post-norm and pre-norm stacks trained on a
synthetic task (reverse a random token sequence) with Adam, with or without a linear
learning-rate warm-up (Xiong et al. 2020's warm-up result on IWSLT14 De-En).

The models are tiny (8 blocks, d_model 32) and train for 100 steps, so that the book
can run every variant at build time; book/measurements.md says how this compares with
the paper's 6+6-layer translation model.
"""

from __future__ import annotations

import math

from ..page.widgets import Control, Picture
from ..studies.experiments import TaskConfig, train_reverse
from .figures import demo_widget, legend_below, new_figure, plot_loss_curve, styled

# The sweep on book/measurements.md: at this size, without warm-up post-norm stays at
# chance at HIGH_LR for every seed tried, while 30 warm-up steps or pre-norm train it.
TASK = TaskConfig()  # 8 blocks, d_model 32, 100 steps of 32 sequences
WARMUP_STEPS = 30
HIGH_LR = 1e-2


def run(placement: str, lr: float, warmup_steps: int, seed: int = 0) -> dict:
    """One seeded training run (see :func:`normlab.studies.experiments.train_reverse`, cached there)."""
    return train_reverse(placement, lr, warmup_steps, TASK, seed)


@styled
def render(lr: float = 1e-2, warmup: str = "none") -> Picture:
    warmup_steps = WARMUP_STEPS if warmup != "none" else 0
    fig, ax = new_figure(3.6)
    results = {}
    for placement in ("post", "pre"):
        result = results[placement] = run(placement, lr, warmup_steps)
        diverged = " (diverged)" if result["diverged"] else ""
        label = f"{placement}: held-out accuracy {result['accuracy']:.0%}{diverged}"
        plot_loss_curve(ax, result["loss"], placement, label)
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
        f"warm-up {warmup}: post vs pre; held-out token accuracy "
        + ", ".join(f"{p} {r['accuracy']:.0%}" + (" (diverged)" if r["diverged"] else "") for p, r in results.items())
    )
    return Picture(fig, alt)


CONTROLS = {
    "lr": Control([1e-3, HIGH_LR], label="learning rate", value=HIGH_LR),
    "warmup": Control(["none", f"{WARMUP_STEPS} steps"], label="warm-up"),
}


def demo(live: bool | None = None):
    return demo_widget(__name__, live)
