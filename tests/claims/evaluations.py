"""The evaluations of the book's claims on other kernels and seeds, and where they run.

An evaluation is ``python -m normlab.studies.claims --json <names>`` in a new process with
one kernel set and one seed base (``SETTINGS``): minutes of single-threaded CPU each, six
in all. Run as ordinary tests, they held both xdist workers for the first six minutes of
``make test`` while every other test waited, and the other tests then left the cores idle
whenever they waited on a browser, a kernel or a broker.

So they run in the background. The process that runs the session (xdist's controller, or
pytest itself without xdist) starts the evaluations of the selected tests as soon as the
tests are collected (``ClaimsInBackground``): longest first, at most one per core at a
time, each in a session of its own at the lowest CPU priority. Its nice value is 19, and
so is its autogroup's: with the kernel's autogroups (``/proc/sys/kernel/sched_autogroup_enabled``),
nice only ranks processes within one session, and the grading kernels, JupyterLab and
the browsers each run in sessions of their own. The evaluations thus use what the other
tests leave idle and slow none of them. The tests of test_claims_everywhere.py come last
(tests/conftest.py) and wait for their evaluation's report (``Reports``). A test whose
evaluation was not started in the background (a plugin left out) runs it itself.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from normlab.studies.claims import CLAIMS

ROOT = Path(__file__).parents[2]
PLUGIN = "normlab-claims-in-background"
FOLDER_KEY = "normlab_claims_folder"  # in xdist's workerinput: where the reports are written
WAIT_AT_MOST = 3600  # seconds a test waits for its report (CI stops a run at 90 minutes)


def part_of(claim) -> str:
    """Which evaluation a claim belongs to, by the runs its measurement reads."""
    if "at initialisation" in claim.ensemble:
        return "at-init"
    if "reverse-task" in claim.ensemble:
        return "reverse-task"
    return "language-model"


# Each setting is evaluated in three parts, a process each, by the kind of ensemble the
# claims read (measurements at initialisation, the reverse task's training runs, the
# language model's): no part reads what another part computes, so splitting costs nothing.
# The costliest first (cold, default kernels: about 190 s, 100 s and 70 s of one core).
PARTS = ("language-model", "reverse-task", "at-init")
CLAIMS_OF = {part: tuple(name for name, c in CLAIMS.items() if part_of(c) == part) for part in PARTS}
KERNELS_AND_SEEDS = {"default-kernels": ("default", 0), "avx2-kernels-seed-base-1000": ("avx2", 1000)}


@dataclass(frozen=True)
class Setting:
    """One evaluation: the claims of ``part`` under ``kernels`` (None: this CPU's own) and
    ``seed_base``."""

    name: str
    kernels: str | None
    seed_base: int
    part: str

    @property
    def id(self) -> str:
        return f"{self.name}-{self.part}"

    @property
    def names(self) -> tuple[str, ...]:
        return CLAIMS_OF[self.part]


SETTINGS = [
    Setting(name, kernels, seed_base, part)
    for part in PARTS
    for name, (kernels, seed_base) in KERNELS_AND_SEEDS.items()
]


def process(kernels: str | None, seed_base: int, names: tuple[str, ...] = ()) -> tuple[list[str], dict[str, str]]:
    """The command and environment that evaluate the claims ``names`` (default: every claim)."""
    env = {**os.environ, "NORMLAB_SEED_BASE": str(seed_base), "OMP_NUM_THREADS": "1"}
    env.pop("ATEN_CPU_CAPABILITY", None)
    if kernels:
        env["ATEN_CPU_CAPABILITY"] = kernels
    return [sys.executable, "-m", "normlab.studies.claims", "--json", *names], env


def parse(stdout: str, stderr: str, returncode: int | None) -> dict:
    if not stdout.strip():
        pytest.fail(f"the claims did not run (exit {returncode}):\n{stderr[-3000:]}")
    return json.loads(stdout)


def evaluate(kernels: str | None, seed_base: int, names: tuple[str, ...] = ()) -> dict:
    """The report of the claims ``names``, evaluated here and now (in the foreground)."""
    command, env = process(kernels, seed_base, names)
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    return parse(done.stdout, done.stderr, done.returncode)


# --- in the background --------------------------------------------------------------------


def cpu_has(kernels: str | None) -> bool:
    """Whether this CPU has what PyTorch's ``kernels`` need (``avx2``: AVX2 and FMA), read
    from /proc/cpuinfo so the session's process need not import torch. It only spares the
    background an evaluation whose test would skip: the test asks PyTorch itself, and runs
    an evaluation that was not started in the background on its own."""
    if kernels != "avx2":
        return True
    try:
        flags = set(Path("/proc/cpuinfo").read_text().split())
    except OSError:
        return True
    return {"avx2", "fma"} <= flags


def lower_priority(pid: int) -> None:
    """Nice 19 for the process ``pid`` and, as it leads a session of its own, for its autogroup."""
    os.setpriority(os.PRIO_PROCESS, pid, 19)
    if os.getsid(pid) != pid:  # the autogroup is the whole session's: never renice the suite's own
        return
    try:
        Path(f"/proc/{pid}/autogroup").write_text("19")
    except OSError:  # no autogroups here (then nice alone ranks it), or a read-only /proc
        pass


class Background(threading.Thread):
    """Runs ``settings`` in order, at most ``slots`` at a time, each writing its report to
    ``<folder>/<id>.json`` (stderr to ``<id>.err``); ``<id>.exit`` (its exit status) is
    written last, when the report is whole."""

    def __init__(self, folder: Path, settings: list[Setting], slots: int) -> None:
        super().__init__(name="claims-in-background", daemon=True)
        self.folder, self.pending, self.slots = folder, list(settings), slots
        self.stopping = threading.Event()

    def run(self) -> None:
        running: dict[str, subprocess.Popen] = {}
        try:
            while (self.pending or running) and not self.stopping.is_set():
                while self.pending and len(running) < self.slots:
                    setting = self.pending.pop(0)
                    running[setting.id] = self.launch(setting)
                for key, started in list(running.items()):
                    if started.poll() is not None:
                        done = self.folder / f"{key}.exit.tmp"
                        done.write_text(str(started.returncode))
                        done.rename(self.folder / f"{key}.exit")
                        del running[key]
                self.stopping.wait(0.5)
        finally:  # the session is ending early (Ctrl-C, a crash): stop what still runs
            for started in running.values():
                if started.poll() is None:
                    os.killpg(started.pid, signal.SIGKILL)
                    started.wait()

    def launch(self, setting: Setting) -> subprocess.Popen:
        command, env = process(setting.kernels, setting.seed_base, setting.names)
        with (
            open(self.folder / f"{setting.id}.json", "w") as out,
            open(self.folder / f"{setting.id}.err", "w") as err,
        ):
            started = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=err, start_new_session=True)
        lower_priority(started.pid)
        return started

    def stop(self) -> None:
        self.stopping.set()
        if self.is_alive():
            self.join()


class ClaimsInBackground:
    """The pytest plugin, in the process that runs the session (tests/conftest.py registers
    it): starts the selected tests' evaluations once they are collected, tells xdist's
    workers where the reports go, and stops what still runs when the session ends."""

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="normlab-claims-"))
        self.background: Background | None = None

    def start(self, nodeids: list[str]) -> None:
        if self.background is not None:  # every xdist worker reports the same collection
            return
        chosen = [
            s
            for s in SETTINGS
            if cpu_has(s.kernels) and any(n.endswith(f"::test_every_claim_holds[{s.id}]") for n in nodeids)
        ]
        for setting in chosen:  # before any test runs: its test will wait for the report
            (self.folder / f"{setting.id}.planned").touch()
        self.background = Background(self.folder, chosen, slots=len(os.sched_getaffinity(0)))
        self.background.start()

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node) -> None:
        node.workerinput[FOLDER_KEY] = str(self.folder)

    @pytest.hookimpl(optionalhook=True)
    def pytest_xdist_node_collection_finished(self, node, ids) -> None:
        self.start(ids)

    @pytest.hookimpl(trylast=True)  # after -k and -m have deselected
    def pytest_collection_modifyitems(self, config, items) -> None:
        """Without xdist (xdist's controller collects nothing, so this is not called there)."""
        if not config.option.collectonly:
            self.start([item.nodeid for item in items])

    def pytest_unconfigure(self) -> None:
        if self.background is not None:
            self.background.stop()
        shutil.rmtree(self.folder, ignore_errors=True)


class Reports:
    """The reports, as the test that needs one asks for it."""

    def __init__(self, config: pytest.Config) -> None:
        workerinput = getattr(config, "workerinput", None)
        plugin = config.pluginmanager.get_plugin(PLUGIN)
        folder = workerinput.get(FOLDER_KEY) if workerinput else plugin and plugin.folder
        self.folder = Path(folder) if folder else None

    def of(self, setting: Setting) -> dict:
        if self.folder is None or not (self.folder / f"{setting.id}.planned").exists():
            return evaluate(setting.kernels, setting.seed_base, setting.names)
        done, waited = self.folder / f"{setting.id}.exit", time.monotonic()
        while not done.exists():
            if time.monotonic() - waited > WAIT_AT_MOST:
                pytest.fail(f"the claims evaluation {setting.id} ran for more than {WAIT_AT_MOST} s")
            time.sleep(1)
        out, err = (self.folder / f"{setting.id}{suffix}" for suffix in (".json", ".err"))
        return parse(out.read_text(), err.read_text(), int(done.read_text()))
