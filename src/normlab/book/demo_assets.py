"""Sphinx extension: the demos' page script and style (``normlab/demos/static/``).

- ``normlab-demos.js`` names each demo slider's handle after its control and makes it
  announce the value shown, not its position (ipywidgets' handle has neither), and
  takes the editable look off slider readouts (they cannot be typed into);
- ``normlab-demos.css`` sizes demo and static figures (they fill the text column up to
  the size they were drawn for), reserves the height of a demo's largest view so the
  page does not jump when a control moves, and styles demo tables.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sphinx.application import Sphinx

if TYPE_CHECKING:
    from sphinx.config import Config

STATIC_DIR = Path(__file__).parents[1] / "demos" / "static"


def add_static_files(app: Sphinx, config: Config) -> None:
    config.html_static_path.append(str(STATIC_DIR))


def setup(app: Sphinx) -> dict:
    app.connect("config-inited", add_static_files)
    app.add_js_file("normlab-demos.js", defer="defer")
    app.add_css_file("normlab-demos.css")
    return {"parallel_read_safe": True, "parallel_write_safe": True}
