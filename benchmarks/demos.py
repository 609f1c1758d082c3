"""Latency of a live update of each demo at its default size (issue 15.6: cold p95 <= 1 s,
warm p95 <= 150 ms, figures at 2x).

    .venv/bin/python benchmarks/demos.py [--repeats 20] [--cold-repeats 5] [--compute]

A live update is what JupyterLab does when a control moves: the view of the new values
(from memory, from the on-disk view cache, or rendered and encoded now), turned into the
output widget. For each demo, moving its first control from the default to each other
value, we time:

- ``cold``: the first visit of a state in a fresh kernel after ``make book`` — the build
  has written every precomputed view to the cache (done here into a temporary directory,
  by building the demo's static form, as the book build does); a new live demo, nothing
  in memory, reads it from disk;
- ``warm``: a state visited before in this kernel (its encoded image kept in memory);
- ``redraw``: the numbers computed but the figure not drawn (no view cache): drawing
  and encoding at 2x, what a state costs that the build did not precompute;
- with ``--compute``: one first visit with every cache cleared (the numbers computed
  too; the warm-up demo trains two models), for information.

Wall-clock times on a shared machine include waiting for a core: the load average is
printed before and after. Ends with one line per demo:
``demo=<name> cold_p95_ms=<x> warm_p95_ms=<y> redraw_p95_ms=<z>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

import matplotlib

matplotlib.use("Agg")

from normlab import demos  # noqa: E402
from normlab.page.widgets import CACHE_ENV  # noqa: E402


def clear_caches(module) -> None:
    for value in vars(module).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def other_indices(demo) -> tuple[object, list[int]]:
    control = next(iter(demo.controls.values()))
    return control, [i for i in range(len(control.options)) if i != control.index]


def timed_move(control, index) -> float:
    start = time.perf_counter()
    control.index = index
    return (time.perf_counter() - start) * 1e3


def bench(module, repeats: int, cold_repeats: int, compute: bool) -> dict:
    out = {}
    if compute:
        clear_caches(module)
        os.environ[CACHE_ENV] = "off"
        start = time.perf_counter()
        module.demo(live=True)
        out["compute_ms"] = (time.perf_counter() - start) * 1e3
    with tempfile.TemporaryDirectory() as cache:
        os.environ[CACHE_ENV] = cache
        module.demo(live=False)  # the book build writes every view
        cold = []
        for _ in range(cold_repeats):
            demo = module.demo(live=True)  # a fresh kernel's demo: empty memory
            control, others = other_indices(demo)
            cold += [timed_move(control, i) for i in others]
        # warm: the same demo, states already seen
        control, others = other_indices(demo)
        default = next(i for i in range(len(control.options)) if i not in others)
        warm = []
        for k in range(repeats):
            warm.append(timed_move(control, others[k % len(others)]))
            warm.append(timed_move(control, default))
    os.environ[CACHE_ENV] = "off"  # numbers cached in memory, no views
    redraw = []
    for _ in range(max(1, cold_repeats)):
        demo = module.demo(live=True)
        control, others = other_indices(demo)
        redraw += [timed_move(control, i) for i in others]
    out.update(cold=cold, warm=warm, redraw=redraw)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="warm moves per demo (x2)")
    parser.add_argument(
        "--cold-repeats", type=int, default=5, help="fresh live demos per demo, each visiting every other state once"
    )
    parser.add_argument("--compute", action="store_true", help="also time one fully cold first view")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = {}
    for name, module in demos.DEMOS.items():
        r = results[name] = bench(module, args.repeats, args.cold_repeats, args.compute)
        extra = f"  compute_first_view_ms={r['compute_ms']:.0f}" if "compute_ms" in r else ""
        print(
            f"{name:<14} cold p50={statistics.median(r['cold']):.0f} ms ({len(r['cold'])} runs)  "
            f"warm p50={statistics.median(r['warm']):.1f} ms ({len(r['warm'])} runs)  "
            f"redraw p50={statistics.median(r['redraw']):.0f} ms ({len(r['redraw'])} runs){extra}",
            flush=True,
        )
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    for name, r in results.items():
        print(
            f"demo={name} cold_p95_ms={percentile(r['cold'], 95):.1f} "
            f"warm_p95_ms={percentile(r['warm'], 95):.1f} redraw_p95_ms={percentile(r['redraw'], 95):.1f}"
        )


if __name__ == "__main__":
    main()
