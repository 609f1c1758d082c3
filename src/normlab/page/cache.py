"""The on-disk view cache the book build writes and a live kernel reads.

A static build renders every variant of a demo; keeping the encoded views on disk lets a
reader's kernel show the same states at once instead of recomputing them.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from ..studies.runcache import cache_folder, source_digest, stable_repr
from .views import View

CACHE_ENV = "NORMLAB_DEMO_CACHE"  # a directory, or "off"


def code_version() -> str:
    """normlab's source digest (studies.runcache) and the ipywidgets version: any change to
    either gives new cache keys, so a stale view is never read."""
    return hashlib.sha256(f"{source_digest()} {ipywidgets_version()}".encode()).hexdigest()[:16]


def ipywidgets_version() -> str:
    return widgets.__version__


class ViewCache:
    """Encoded views on disk, one file per state, keyed by :func:`code_version`, the demo's
    ``key`` (its name and every setting its numbers depend on) and the control values.

    The directory is ``$NORMLAB_DEMO_CACHE`` (``off`` disables the cache), else
    ``$XDG_CACHE_HOME/normlab/demos`` or ``~/.cache/normlab/demos``. Files are written
    to a temporary name and renamed, so a reader never sees half a file; a file that
    cannot be read is treated as missing.
    """

    def __init__(self, key: Any, directory: Path | None = None) -> None:
        self.key = hashlib.sha256(stable_repr(key).encode()).hexdigest()[:16]
        self.directory = directory

    @staticmethod
    def root() -> Path | None:
        return cache_folder(CACHE_ENV, "demos")

    def path(self, values: Mapping[str, Any]) -> Path | None:
        root = self.directory or self.root()
        if root is None:
            return None
        state = hashlib.sha256(stable_repr(dict(values)).encode()).hexdigest()[:24]
        return root / code_version() / self.key / f"{state}.json"

    def get(self, values: Mapping[str, Any]) -> View | None:
        path = self.path(values)
        if path is None or not path.is_file():
            return None
        try:
            return View.from_json(path.read_text(encoding="utf-8"))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def put(self, values: Mapping[str, Any], view: View) -> None:
        path = self.path(values)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tempfile.NamedTemporaryFile(
                "w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8"
            ) as tmp:
                tmp.write(view.to_json())
            os.replace(tmp.name, path)
        except OSError:
            pass  # a read-only or full disk only costs a recomputation
