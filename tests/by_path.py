"""A test folder's module, loaded from its file: the folders of tests/ are not packages, and
``book`` on the path is the book's own folder (pyproject's ``pythonpath``), not tests/book."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType


def load(path: Path, name: str) -> ModuleType:
    """The module in ``path``, registered as ``name`` (dataclasses look their module up there)."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
