"""Write every demo's views to the view cache a live kernel reads (normlab.page.widgets.ViewCache).

    python -m normlab.demos [--quiet]

The book build writes them as it executes the chapters; a build that reuses executed
chapters (jupyter-cache) does not, and the views are keyed by normlab's code version.
This fills what is missing (views already cached are only read) and prints, per demo,
how many views it holds and how long it took. `make book` runs it after the build.
"""

from __future__ import annotations

import argparse
import os
import time

import matplotlib

matplotlib.use("Agg")

from normlab.demos import DEMOS, case_studies  # noqa: E402
from normlab.page.widgets import STATIC_WIDGETS_ENV, ViewCache  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true")
    args = parser.parse_args()
    os.environ[STATIC_WIDGETS_ENV] = "1"
    if ViewCache.root() is None:
        print("normlab.demos: the view cache is off (NORMLAB_DEMO_CACHE=off); nothing to do")
        return
    builders = {**{name: module.demo for name, module in DEMOS.items()}, "casestudies": case_studies.demo}
    for name, build in builders.items():
        start = time.perf_counter()
        demo = build(live=False)
        if not args.quiet:
            print(
                f"normlab.demos: {name}: {demo.variants} views in {ViewCache.root()} "
                f"({time.perf_counter() - start:.1f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()
