"""A real JupyterLab, configured as `make lab` configures it, driven by headless chromium.

One server per test session: loopback only, a free port, no token, a temporary HOME,
config, data and runtime folder, and a temporary copy of the repository as its root (so
that running and autosaving a chapter never touches the checkout). Stopped afterwards.
Needs `make setup` and `make chromium`. A failing test leaves a screenshot in
test-results/lab-<test name>.png.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _copy_repository(target: Path) -> None:
    """The repository's files (tracked or new, not ignored) under ``target``."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)


class Lab:
    def __init__(self, url: str, root: Path, env: dict[str, str]):
        self.url, self.root, self.env = url, root, env

    def api(self, path: str):
        with urllib.request.urlopen(f"{self.url}/{path.lstrip('/')}", timeout=30) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def lab():
    with tempfile.TemporaryDirectory(prefix="normlab-lab-") as tmp:
        tmp = Path(tmp)
        root, home = tmp / "repo", tmp / "home"
        root.mkdir()
        _copy_repository(root)
        env = dict(os.environ)
        env.update(
            {
                "HOME": str(home),
                "JUPYTER_CONFIG_DIR": str(home / ".jupyter"),
                "JUPYTER_DATA_DIR": str(home / "data"),
                "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
                "IPYTHONDIR": str(home / "ipython"),
                "MPLCONFIGDIR": str(home / "mpl"),
                # what `make lab` sets: the project's config folder (of this copy)
                "JUPYTER_CONFIG_PATH": str(root / "jupyter"),
                "PATH": str(BIN) + os.pathsep + env.get("PATH", ""),
                "PYTHONPATH": str(root / "src"),
                "HF_HUB_OFFLINE": "1",
            }
        )
        # Autosave off: a test run never rewrites the chapters (of the copy, even).
        settings = home / ".jupyter" / "lab" / "user-settings" / "@jupyterlab"
        for plugin, values in (
            ("docmanager-extension/plugin", {"autosave": False}),
            # every cell in the page, so the tests can read them all
            ("notebook-extension/tracker", {"windowingMode": "none"}),
            ("apputils-extension/notification", {"fetchNews": "false", "checkForUpdates": False}),
        ):
            (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
            (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
        log = open(tmp / "server.log", "w")
        server = subprocess.Popen(
            [
                str(BIN / "jupyter"),
                "lab",
                "--no-browser",
                "--ServerApp.ip=127.0.0.1",
                f"--ServerApp.port={_free_port()}",
                "--ServerApp.port_retries=50",
                "--IdentityProvider.token=",
                "--ServerApp.password=",
                "--ServerApp.disable_check_xsrf=True",
                f"--ServerApp.root_dir={root}",
            ]
            + (["--allow-root"] if os.geteuid() == 0 else []),
            cwd=root,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            url = _wait_for_server(server, home / "runtime", tmp / "server.log")
            yield Lab(url, root, env)
        finally:
            _stop(server)
            log.close()


def _stop(server: subprocess.Popen) -> None:
    """Stop the server and the kernels it started (its own process group)."""
    for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, None)):
        try:
            os.killpg(server.pid, sig)
        except ProcessLookupError:
            return
        try:
            server.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _wait_for_server(server: subprocess.Popen, runtime: Path, log: Path, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        for info in runtime.glob("jpserver-*.json"):
            data = json.loads(info.read_text() or "{}")
            if data.get("pid") == server.pid:
                url = data["url"].rstrip("/")
                try:
                    urllib.request.urlopen(f"{url}/api/status", timeout=5).close()
                    return url
                except OSError:
                    pass
        time.sleep(0.3)
    pytest.fail(f"JupyterLab did not start within {timeout} s:\n{log.read_text()[-3000:]}")


@pytest.fixture
def page(browser, screenshot_if_failed):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    screenshot_if_failed(page, prefix="lab-")
    context.close()
