"""What a seed ensemble costs, for each training setup the book uses (issue 21: an 8-seed
ensemble at most 2.5x the wall time of one seed on 2 cores).

    .venv/bin/python benchmarks/ensembles.py [--seeds 8] [--setups reverse-task lm-8 ...]

For each setup, side by side in one run and on one thread (as the book build runs a
chapter), the wall time of:

- ``one``: one seed trained alone (an ensemble of one, through the same loop);
- ``sequential``: n seeds one after another, each alone (what n runs would cost);
- ``batched``: the n seeds trained together as one batched model
  (normlab.studies.training.fit: stacked parameters, ``vmap(functional_call)``).

The runs bypass every cache (in memory and on disk). Both code paths are run once before
timing, and ``one`` and ``batched`` are the best of ``--repeats`` timings (``sequential`` is
timed once: it is the long one). The load average is printed before and after: wall times
on a shared machine include waiting for a core. Ends with one line
per setup: ``setup=<name> seeds=<n> one_s=<x> sequential_s=<y> batched_s=<z> batched_over_one=<r>``.
"""

from __future__ import annotations

import argparse
import os
import time

os.environ["NORMLAB_RUN_CACHE"] = "off"  # time the training, not the disk

import torch  # noqa: E402

from normlab.studies.depthfixes import DEPTH_FIXES  # noqa: E402
from normlab.studies.experiments import TaskConfig  # noqa: E402
from normlab.studies.lm import LMConfig, train_lm  # noqa: E402
from normlab.studies.training import train_task  # noqa: E402

TASK = TaskConfig()
LM = LMConfig()


def reverse_task(seeds):
    return train_task.__wrapped__("pre", 0.01, "constant", 0, "adam", TASK, seeds)


def lm(n_layers, placement="pre", modify=None):
    def train(seeds):
        return train_lm.__wrapped__(placement, n_layers, LM, seeds, modify)

    return train


SETUPS = {
    "reverse-task": reverse_task,  # chapter 9 and the measurements page: 8 blocks, 100 steps
    "lm-2": lm(2),  # chapter 11: the character LM, 200 steps
    "lm-4": lm(4),
    "lm-8": lm(8),
    "lm-8-mix-ln": lm(8, modify=DEPTH_FIXES["Mix-LN"]["modify"]),  # a modified stack
}


def timed(fn, *args) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=8)
    parser.add_argument("--setups", nargs="+", choices=list(SETUPS), default=list(SETUPS))
    parser.add_argument("--repeats", type=int, default=3, help="timings of one and batched; the best is kept")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load average before: {os.getloadavg()}", flush=True)
    lines = []
    for name in args.setups:
        train = SETUPS[name]
        seeds = tuple(range(args.seeds))
        train((0,))  # warm up both code paths, so no timing includes first-call costs
        train(seeds)
        one = min(timed(train, (0,)) for _ in range(args.repeats))
        sequential = sum(timed(train, (seed,)) for seed in seeds)
        batched = min(timed(train, seeds) for _ in range(args.repeats))
        line = (
            f"setup={name} seeds={args.seeds} one_s={one:.2f} sequential_s={sequential:.2f} "
            f"batched_s={batched:.2f} batched_over_one={batched / one:.2f}"
        )
        print(line, flush=True)
        lines.append(line)
    print(f"load average after: {os.getloadavg()}")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
