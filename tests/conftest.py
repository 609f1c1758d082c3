"""Suite-wide marks: what each test needs, and which tests share a worker under xdist.

``make check`` selects ``-m "not browser and not jupyterlab and not slow and not nbgrader"``; ``make test``
runs everything with ``-n 2 --dist loadgroup --no-loadscope-reorder``, in the order
``longest_first`` gives, while the claims evaluations run in the background
(tests/claims/evaluations.py). Tests that share an expensive
session-scoped fixture get one ``xdist_group``, so that fixture is built once, on one
worker (a session fixture is per worker under xdist):

* the tests using ``lab``: one JupyterLab server (plus its chromium);
* tests/autograder: one released nbgrader course (``released_course``);
* tests/exercises: one course per assignment (the tests parametrized by ``assignment``).

tests/browser is not grouped: its session fixtures, a chromium and an http server, take a
second or two, so each worker starting its own costs less than 135 tests queued on one.

Marks are added here, by folder and by fixture, so a new test in those folders is
grouped without remembering to.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Under xdist, each worker and every kernel it starts (nbgrader's, JupyterLab's) is one
# process of several on two cores: torch's default of a thread per core makes them fight
# over the cores. One thread each, as the book build runs its chapters; set before any
# test imports torch, and inherited by the kernels.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ.setdefault("OMP_NUM_THREADS", "1")
RESULTS = TESTS.parent / "test-results"  # screenshots of failed browser tests
CHROMIUM = Path("/usr/bin/chromium")
# Debian's chromium (`make chromium`), not a playwright download: the suite runs offline.
# --no-sandbox: chromium's own sandbox refuses to start as root, which `make test` runs as;
# the --disable-* and --no-first-run flags stop the browser's own background requests
# (updates, sync, first-run pages), so an offline test sees only the page's traffic.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def pytest_configure(config):
    """In the process that runs the session (xdist's controller, or pytest alone), the plugin
    that evaluates the book's claims in the background (tests/claims/evaluations.py)."""
    if not hasattr(config, "workerinput"):
        from claims.evaluations import PLUGIN, ClaimsInBackground

        config.pluginmanager.register(ClaimsInBackground(), PLUGIN)


@pytest.fixture(scope="session")
def browser():
    """One headless Debian chromium per test process, shared by tests/browser and tests/lab:
    playwright's sync API allows one running instance per process, and under xdist both
    folders can land on the same worker."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


GROUP_OF_FOLDER: dict[str, str] = {}  # tests/autograder names its own two groups (its conftest)
GROUP_OF_FIXTURE = {"lab": "jupyterlab"}
NBGRADER_FIXTURES = {"released", "graded", "released_course", "fresh_course"}


@pytest.hookimpl(wrapper=True)
def pytest_collection_modifyitems(items):
    """Marks and groups before every other implementation (xdist's worker reads the groups
    in its own), the order after them all."""
    for item in items:
        parts = Path(str(item.fspath)).relative_to(TESTS).parts
        folder = parts[0] if len(parts) > 1 else None
        if folder == "browser" or {"browser", "page"} & set(item.fixturenames):
            item.add_marker(pytest.mark.browser)
        if "lab" in item.fixturenames:
            item.add_marker(pytest.mark.jupyterlab)
        if folder == "autograder" or NBGRADER_FIXTURES & set(item.fixturenames):
            item.add_marker(pytest.mark.nbgrader)
        if item.get_closest_marker("xdist_group") is None:
            group = GROUP_OF_FOLDER.get(folder) or next(
                (g for fixture, g in GROUP_OF_FIXTURE.items() if fixture in item.fixturenames), None
            )
            if folder == "exercises" and group is None:  # one course per assignment (tests/exercises/conftest.py)
                group = getattr(getattr(item, "callspec", None), "params", {}).get("assignment")
            if group:
                item.add_marker(pytest.mark.xdist_group(group))
    result = yield
    if items and getattr(items[0].config.option, "loadgroup", False):  # an xdist worker under --dist loadgroup
        for item in items:
            name_groups_in_node_id(item)
    items[:] = longest_first(items)
    return result


def name_groups_in_node_id(item) -> None:
    """Put the item's xdist_group into its node id (``<id>@<group>``), where xdist's worker
    meant to: pytest 9 derives ``nodeid`` from ``item._id``, so xdist 3.8's assignment to
    ``item._nodeid`` has no effect, and without the suffix the controller schedules every
    test on its own: each worker built its own JupyterLab server, released course and
    autograde of every assignment. A no-op once xdist's own suffix is in the node id."""
    group = group_of(item)
    if group is None or item.nodeid.endswith(f"@{group}"):
        return
    from _pytest.nodeid import NodeId

    item._id = NodeId.parse(f"{item.nodeid}@{group}")


def group_of(item) -> str | None:
    marker = item.get_closest_marker("xdist_group")
    return (marker.kwargs.get("name") or marker.args[0]) if marker else None


def longest_first(items):
    """The order xdist hands out work (``--no-loadscope-reorder`` keeps it): the groups,
    largest first, then the single tests as collected; started last, a long test would run
    alone on one worker while the other idles. Last of all the claims tests, which only wait
    for the reports of evaluations running in the background since the session started
    (tests/claims/evaluations.py): a worker waiting there leaves its core to them."""
    sizes = Counter(group_of(item) for item in items)

    def rank(item):
        folder = Path(str(item.fspath)).relative_to(TESTS).parts[0]
        if folder == "claims" and item.get_closest_marker("slow"):
            return (3, 0)
        group = group_of(item)
        return (1, -sizes[group]) if group else (2, 0)

    return sorted(items, key=rank)  # stable: a group's tests stay in their order


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item, so a page fixture can tell after the
    test body whether it failed (for `screenshot_if_failed`)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture
def screenshot_if_failed(request):
    """For a page fixture's teardown: ``screenshot_if_failed(page)`` saves a screenshot to
    test-results/ if the test body failed."""

    def save(page, prefix: str = "", full_page: bool = False) -> None:
        report = getattr(request.node, "rep_call", None)
        if report is None or not report.failed:
            return
        RESULTS.mkdir(exist_ok=True)
        name = re.sub(r"[^\w.-]+", "_", request.node.name)
        try:
            page.screenshot(path=str(RESULTS / f"{prefix}{name}.png"), full_page=full_page)
        except Exception as err:  # noqa: BLE001  a crashed page still lets the test report its failure
            print(f"screenshot failed: {err}")

    return save
