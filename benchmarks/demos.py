"""Latency of a live update of each demo at its default size (issue 4: p95 <= 150 ms).

    .venv/bin/python benchmarks/demos.py [--repeats 20]

A live update is what JupyterLab does when a control moves: ``render`` for the new
values, the figure drawn to PNG, the output widget replaced. For each demo we build its
live form, then move its first control to a neighbouring value and back, ``repeats``
times, timing each move. The demos cache their computations per process
(``functools.lru_cache``) and their drawings per combination of values. The last lines
report a move with the computation cached but the drawing *not* (its cache cleared
before every move): what a learner waits for on a state whose numbers are known but
whose figure has not been drawn yet. Printed above them: `revisit` (both cached) and
`first_render_ms`, the first view of a demo with every cache cleared, computation
included (the warm-up demo trains two models there), and the update's CPU time (on a
shared, loaded machine the wall-clock time includes waiting for a core).

Ends with one line per demo: ``demo=<name> p50_ms=<x> p95_ms=<y>``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import matplotlib

matplotlib.use("Agg")

from normlab import demos  # noqa: E402


def clear_caches(module) -> None:
    for value in vars(module).values():
        if hasattr(value, "cache_clear"):
            value.cache_clear()


def percentile(values, q):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def forget_drawings(module) -> None:
    for value in vars(module).values():
        if callable(value) and hasattr(value, "cache_clear") and (
                hasattr(value, "draw") or "png" in getattr(value, "__name__", "")):
            value.cache_clear()


def bench(module, repeats: int) -> tuple[float, list[float], list[float]]:
    clear_caches(module)
    start = time.perf_counter()
    demo = module.demo(live=True)                      # first render at default values
    first_ms = (time.perf_counter() - start) * 1e3
    name, control = next(iter(demo.controls.items()))
    default = control.index
    neighbour = default + 1 if default + 1 < len(control.options) else default - 1
    control.index = neighbour                          # visit once: computations cached
    control.index = default
    redraw, revisit, cpu = [], [], []
    for i in range(2 * repeats):
        if i < repeats:
            forget_drawings(module)
        start, start_cpu = time.perf_counter(), time.process_time()
        control.index = neighbour if i % 2 == 0 else default
        (redraw if i < repeats else revisit).append((time.perf_counter() - start) * 1e3)
        if i < repeats:
            cpu.append((time.process_time() - start_cpu) * 1e3)
    return first_ms, redraw, revisit, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    results = {}
    for name, module in demos.DEMOS.items():
        first_ms, times, revisit, cpu = bench(module, args.repeats)
        results[name] = times
        print(f"{name:<14} first_render_ms={first_ms:.0f} (caches cleared)  "
              f"update p50={statistics.median(times):.0f} max={max(times):.0f} ms "
              f"(cpu p50={statistics.median(cpu):.0f} ms)  "
              f"revisit p50={statistics.median(revisit):.1f} ms", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    for name, times in results.items():
        print(f"demo={name} p50_ms={statistics.median(times):.1f} p95_ms={percentile(times, 95):.1f}")


if __name__ == "__main__":
    main()
