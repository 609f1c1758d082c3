"""The demo of book/09-training-deep-stacks.md: pre-norm on the book's reverse task at two
learning rates, with no warm-up, a linear warm-up, or warm-up + cosine decay
(normlab.studies.training.train_task), each over that page's 16 seeds: one faint loss curve
per seed and their median.
"""

from __future__ import annotations

import math

from ..page.widgets import Control, Picture, PrecomputedDemo
from ..studies.claims import LEARNED, TASK_SEEDS, count_learned
from ..studies.experiments import TaskConfig
from ..studies.training import train_task
from .figures import demo_widget, legend_below, new_figure, plot_loss_curves, styled

TASK = TaskConfig()
WARMUP_STEPS = 30
RECIPES = {"none": ("constant", 0), "warm-up": ("warmup", WARMUP_STEPS), "warm-up + cosine": ("cosine", WARMUP_STEPS)}
LEARNING_RATES = (1e-2, 1e-1)


def run(lr: float, recipe: str, placement: str = "pre", optimiser: str = "adam") -> tuple[dict, ...]:
    """The 16 seeds' records of one variant (cached: the claims of
    book/09-training-deep-stacks.md share them)."""
    schedule, warmup = RECIPES[recipe]
    return train_task(placement, lr, schedule, warmup, optimiser, TASK, TASK_SEEDS)


@styled
def render(lr: float = 1e-1, recipe: str = "none") -> Picture:
    fig, (ax_loss, ax_lr) = new_figure(5.4, nrows=2)
    runs = run(lr, recipe)
    learned = count_learned([r["accuracy"] for r in runs])
    summary = f"{learned} of {len(runs)} seeds reach {LEARNED:.0%} held-out accuracy"
    plot_loss_curves(ax_loss, [r["loss"] for r in runs], "pre", f"pre-norm, median of {len(runs)} seeds")
    ax_loss.axhline(math.log(TASK.vocab), color="gray", linestyle=":", linewidth=1.2, label="chance")
    ax_loss.set_ylim(0, math.log(TASK.vocab) * 1.3)
    ax_loss.set_ylabel("training loss\n(10-step mean)")
    ax_loss.set_title(f"{TASK.n_layers} pre-norm blocks, Adam, peak lr {lr:g}, {recipe}:\n{summary}")
    ax_lr.plot(runs[0]["lr"], color="#444444")
    ax_lr.set_xlabel("training step")
    ax_lr.set_ylabel("learning rate")
    legend_below(ax_loss)
    alt = (
        f"training loss of {len(runs)} seeds (one faint line each, their median bold) and the learning "
        f"rate over {TASK.steps} steps, {TASK.n_layers} pre-norm blocks, peak learning rate {lr:g}, "
        f"schedule {recipe}: {summary}"
    )
    return Picture(fig, alt)


CONTROLS = {
    "lr": Control(list(LEARNING_RATES), label="peak learning rate", value=1e-1),
    "recipe": Control(list(RECIPES), label="schedule"),
}


def demo(live: bool | None = None) -> PrecomputedDemo:
    return demo_widget(__name__, live)
