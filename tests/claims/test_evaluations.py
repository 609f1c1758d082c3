"""The claims evaluations run beside the suite without slowing it (evaluations.py): each at
the lowest priority, in a session of its own, and never at the cost of the suite's own
priority."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import claims.evaluations as evaluations
import pytest
from claims.evaluations import SETTINGS, ClaimsInBackground, lower_priority

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)"]


def autogroup_nice(pid: int | str) -> int | None:
    """The nice value of the process's autogroup, from ``/autogroup-42 nice 0``; None without
    autogroups: no such file, or (as in some sandboxed kernels, CI's among them) an empty one."""
    try:
        found = re.search(r"\bnice (-?\d+)", Path(f"/proc/{pid}/autogroup").read_text())
    except OSError:
        return None
    return int(found.group(1)) if found else None


@pytest.fixture
def sleeper(request):
    started = subprocess.Popen(SLEEPER, start_new_session=request.param)
    yield started
    started.kill()
    started.wait()


@pytest.mark.parametrize("sleeper", [True], indirect=True)
def test_an_evaluation_in_its_own_session_gets_the_lowest_priority(sleeper):
    ours = autogroup_nice("self")
    lower_priority(sleeper.pid)
    assert os.getpriority(os.PRIO_PROCESS, sleeper.pid) == 19
    if ours is not None:  # autogroups: nice alone would only rank it within its own session
        assert autogroup_nice(sleeper.pid) == 19
        assert autogroup_nice("self") == ours


@pytest.mark.parametrize("sleeper", [False], indirect=True)
def test_a_process_in_the_suites_session_never_lowers_the_suite(sleeper):
    ours = autogroup_nice("self")
    lower_priority(sleeper.pid)
    assert os.getpriority(os.PRIO_PROCESS, sleeper.pid) == 19
    assert autogroup_nice("self") == ours  # the autogroup is the whole session's: left alone


def test_the_settings_have_distinct_ids():
    ids = [setting.id for setting in SETTINGS]
    assert len(ids) == len(set(ids)) == 6


def test_an_evaluation_this_cpu_cannot_run_is_not_started(monkeypatch):
    """Its test skips (this CPU has no AVX2 kernels); minutes of CPU in the background for
    nothing otherwise."""
    monkeypatch.setattr(evaluations, "cpu_has", lambda kernels: kernels != "avx2")
    avx2 = [s for s in SETTINGS if s.kernels == "avx2"]
    plugin = ClaimsInBackground()
    try:
        plugin.start([f"tests/claims/test_claims_everywhere.py::test_every_claim_holds[{s.id}]" for s in avx2])
        assert plugin.background is not None and plugin.background.pending == []
        assert list(plugin.folder.iterdir()) == []  # nothing planned: a test would run its own
    finally:
        plugin.pytest_unconfigure()
