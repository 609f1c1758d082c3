"""Training runs kept on disk, so that the chapters, the demos and the tests that need one
ensemble train it once, whichever process asks first.

    @on_disk
    def train_task(...): ...            returns what the function returns, from disk when it can

torch is imported on first use: the page layer reads ``source_digest`` and ``stable_repr``
without it. A run is filed under the digest of the source it can depend on (normlab.nn and
normlab.studies, less the claims registry) and of the versions of torch and numpy (any
change gives new keys, so a stale run is never read), the function, its
arguments, the seed base (normlab.studies.seeds) and the CPU kernel set PyTorch runs with
(``ATEN_CPU_CAPABILITY``: a run on other kernels rounds differently, so it is another run).
The folder is ``$NORMLAB_RUN_CACHE`` (``off`` disables it), else
``$XDG_CACHE_HOME/normlab/runs`` or ``~/.cache/normlab/runs``. Files are written to a
temporary name and renamed, so a reader never sees half a file; one that cannot be read
is recomputed.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")

RUN_CACHE_VARIABLE = "NORMLAB_RUN_CACHE"


# What a training run can depend on: the neural core and the studies, but not the registry
# of claims (which only reads runs), so rewording a claim does not retrain the book's ensembles.
RUN_SOURCES = ("nn", "studies")
NOT_RUN_SOURCES = ("studies/claims.py",)


@functools.lru_cache(maxsize=4)
def source_digest(folders: tuple[str, ...] = (), skip: tuple[str, ...] = ()) -> str:
    """A digest of normlab's source (all of it, or only ``folders`` of it, less ``skip``)
    and the versions of the libraries that compute and draw."""
    import matplotlib
    import numpy
    import torch

    digest = hashlib.sha256()
    root = Path(__file__).resolve().parents[1]  # the normlab package
    paths = [p for folder in folders for p in (root / folder).rglob("*.py")] if folders else root.rglob("*.py")
    for path in sorted(p for p in paths if str(p.relative_to(root)) not in skip):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    digest.update(" ".join([matplotlib.__version__, numpy.__version__, torch.__version__]).encode())
    return digest.hexdigest()[:16]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def stable_repr(value: Any) -> str:
    """A repr that is the same in every process (no memory addresses, sorted mappings)."""
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: repr(kv[0]))
        return "{" + ", ".join(f"{stable_repr(k)}: {stable_repr(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return type(value).__name__ + "(" + ", ".join(stable_repr(v) for v in value) + ")"
    if isinstance(value, set | frozenset):
        return "set(" + ", ".join(sorted(stable_repr(v) for v in value)) + ")"
    if callable(value) and hasattr(value, "__qualname__"):
        return f"{getattr(value, '__module__', '?')}.{value.__qualname__}"
    return _ADDRESS.sub("", repr(value))


def cache_folder(variable: str, name: str) -> Path | None:
    """normlab's cache folder ``name``: ``$variable`` if set (``off``: no cache), else
    ``$XDG_CACHE_HOME/normlab/<name>`` or ``~/.cache/normlab/<name>``."""
    setting = os.environ.get(variable)
    if setting == "off":
        return None
    if setting:
        return Path(setting)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "normlab" / name


def cache_root() -> Path | None:
    return cache_folder(RUN_CACHE_VARIABLE, "runs")


def run_path(fn: Callable[..., Any], args: tuple, kwargs: dict) -> Path | None:
    import torch

    from .seeds import seed_base

    root = cache_root()
    if root is None:
        return None
    what = stable_repr((args, kwargs, seed_base(), torch.backends.cpu.get_cpu_capability()))
    key = hashlib.sha256(what.encode()).hexdigest()[:24]
    code = source_digest(RUN_SOURCES, NOT_RUN_SOURCES)
    return root / code / f"{fn.__module__}.{fn.__qualname__}" / f"{key}.pt"


def on_disk(fn: Callable[P, R]) -> Callable[P, R]:
    """Keep ``fn``'s results on disk (see the module's docstring); ``fn`` must be a pure
    function of its arguments, the seed base and the kernel set, with a result torch.save can write."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import torch

        path = run_path(fn, args, kwargs)
        if path is not None and path.is_file():
            try:
                return torch.load(path, weights_only=False)
            except Exception:  # noqa: BLE001 - a damaged or foreign file only costs a recomputation
                pass
        result = fn(*args, **kwargs)
        if path is not None:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
                    torch.save(result, tmp)
                os.replace(tmp.name, path)
            except OSError:
                pass  # a read-only or full disk only costs a recomputation
        return result

    return wrapper
