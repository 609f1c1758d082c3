"""The server side of `make lab`, through JupyterLab's REST API (no browser)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import yaml

from normlab.book.contents import SOURCE_KEY


def test_a_chapter_is_served_as_a_notebook_with_readable_markdown(lab):
    model = lab.api("api/contents/book/04-post-norm.md?type=notebook&content=1")
    assert model["type"] == "notebook"
    cells = model["content"]["cells"]
    assert sum(c["cell_type"] == "code" for c in cells) >= 3
    markdown = "\n".join(c["source"] for c in cells if c["cell_type"] == "markdown")
    assert "{cite}" not in markdown and "{doc}" not in markdown and "{glue:text}" not in markdown
    assert "```{admonition}" not in markdown and "```{literalinclude}" not in markdown
    assert "[Vaswani et al. 2017](bibliography.md)" in markdown
    assert "> **Learning objectives**" in markdown
    assert "x = self.norm1(x + self._sa_block(x, key_padding_mask))" in markdown  # the included forward itself
    assert any(SOURCE_KEY in c["metadata"] for c in cells)  # restored on save


def test_markdown_opens_with_jupytext_by_default(lab):
    settings = lab.api("lab/api/settings/@jupyterlab/docmanager-extension:plugin")
    defaults = settings["schema"]["properties"]["defaultViewers"]["default"]  # the project's override
    assert defaults["markdown"] == "Jupytext Notebook"


def page_config(lab) -> dict:
    html = urllib.request.urlopen(f"{lab.url}/lab", timeout=30).read().decode()
    data = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', html, re.S)
    return json.loads(data.group(1))


def status(lab, path: str) -> int:
    try:
        with urllib.request.urlopen(f"{lab.url}/{path}", timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def test_a_student_gets_validate_but_no_formgrader_nor_exchange_lists(lab):
    disabled = set(page_config(lab)["disabledExtensions"])
    for plugin in ("formgrader", "assignment-list", "course-list", "create-assignment", "menu"):
        assert f"@jupyter/nbgrader:{plugin}" in disabled, plugin
    assert "@jupyter/nbgrader:validate-assignment" not in disabled
    assert status(lab, "formgrader") == 404  # the instructor's server extensions are off
    assert status(lab, "courses") == 404


def test_saving_an_opened_chapter_writes_its_myst_back(lab):
    path = "book/04-post-norm.md"
    before = (lab.root / path).read_text()
    model = lab.api(f"api/contents/{path}?type=notebook&content=1")
    body = json.dumps({"type": "notebook", "format": "json", "content": model["content"]}).encode()
    request = urllib.request.Request(
        f"{lab.url}/api/contents/{path}", data=body, method="PUT", headers={"Content-Type": "application/json"}
    )
    urllib.request.urlopen(request, timeout=30).close()
    after = (lab.root / path).read_text()
    header_before, body_before = before.split("\n---\n", 1)
    header_after, body_after = after.split("\n---\n", 1)
    assert body_after == body_before  # every cell, byte for byte
    # the same header (jupytext writes its keys sorted), with myst-nb's file_format kept
    assert yaml.safe_load(header_after.lstrip("-")) == yaml.safe_load(header_before.lstrip("-"))


INSTRUCTOR_CONFIG = """
import json
from jupyterlab_server.config import get_static_page_config
from jupyter_server.serverapp import ServerApp
app = ServerApp()
app.load_config_file()
print(json.dumps({"disabled": get_static_page_config(level="all").get("disabledExtensions", {}),
                  "extensions": dict(app.config.ServerApp.jpserver_extensions),
                  "root": app.config.ServerApp.root_dir,
                  "exchange": app.config.Exchange.root}))
"""


def test_make_formgrader_config_gives_the_instructor_the_formgrader_on_the_course(tmp_path):
    """What `make formgrader` loads (jupyter/instructor/ in front of jupyter/, in course/)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    env = dict(
        os.environ,
        JUPYTER_CONFIG_PATH=f"{root / 'jupyter' / 'instructor'}{os.pathsep}{root / 'jupyter'}",
        JUPYTER_CONFIG_DIR=str(tmp_path / "home"),
        NORMLAB_COURSE=str(tmp_path),
    )
    out = subprocess.run(
        [sys.executable, "-c", INSTRUCTOR_CONFIG], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
    ).stdout
    config = json.loads(out.strip().splitlines()[-1])
    assert not any(config["disabled"].values())  # the nbgrader menu and Formgrader
    assert config["extensions"]["nbgrader.server_extensions.formgrader"] is True
    assert config["root"] == str(tmp_path) and config["exchange"] == str(tmp_path / "exchange")
