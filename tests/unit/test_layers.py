"""No module of normlab imports a layer above its own, read from the import graph.

Every module under ``src/normlab`` is parsed (not imported); every ``import`` and
``from ... import`` anywhere in it, including inside functions, is resolved to the
normlab module it names (relative imports, ``from normlab import Block`` through the lazy
public map in ``normlab/__init__.py``, ``from . import schedules`` as a submodule).
A module may import its own layer and the layers below it, never one above.
"""

from __future__ import annotations

import ast
from fnmatch import fnmatch
from pathlib import Path

import normlab

SRC = Path(normlab.__file__).parent

# Low to high. A module belongs to the first layer with a pattern that matches its name.
LAYERS: list[tuple[str, list[str]]] = [
    # the neural core: torch only (tests/unit/test_nn_layer.py checks the third-party side)
    ("nn", ["normlab.nn", "normlab.nn.*"]),
    # Hugging Face transformers layers as normlab blocks (transformers imported lazily)
    ("hf", ["normlab.hf", "normlab.hf.*"]),
    # what the book computes and measures with the core
    ("lab", ["normlab.studies", "normlab.studies.*"]),
    # what a chapter cell puts on a page: the demos' runtime (Control, Picture,
    # table_html), below the demos that draw with it; the book's build tools use it in turn
    ("page", ["normlab.page", "normlab.page.*"]),
    # what a reader interacts with on a page
    (
        "quiz, demos, checks",
        [
            "normlab.quiz",
            "normlab.quiz.*",
            "normlab.demos",
            "normlab.demos.*",
            "normlab.checks",
            "normlab.checks.*",
        ],
    ),
    # building and serving the book: the Sphinx extension, web assets, notebooks for
    # students, JupyterLab's chapter reader, the chapters' drawings
    ("book", ["normlab.book", "normlab.book.*"]),
]
# The package root only names its public modules as strings (the lazy map).
EXEMPT = {"normlab"}

# Known imports from a layer above, each needing a real redesign rather than a new
# import path. Listed so the test stays green and says what is left; remove an entry when
# it is fixed (the test fails on entries that no longer occur).
KNOWN_VIOLATIONS: set[tuple[str, str]] = set()


def module_name(path: Path) -> str:
    parts = ("normlab",) + path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    for rank, (_, patterns) in enumerate(LAYERS):
        if any(fnmatch(module, pattern) for pattern in patterns):
            return rank
    return None


def existing(name: str) -> str | None:
    """The normlab module ``name`` or, failing that, its closest existing parent module."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def imported_modules(module: str, path: Path):
    """(line, target) for every normlab module that ``module`` imports; target None when
    the import names no module of normlab (a broken import)."""
    is_package = path.name == "__init__.py"
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "normlab":
                    yield node.lineno, alias.name if alias.name in MODULES else None
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "normlab":
                continue
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                if submodule in MODULES:  # from . import schedules
                    yield node.lineno, submodule
                elif source == "normlab" and alias.name in normlab._MODULE_OF:  # from normlab import Block
                    yield node.lineno, f"normlab.{normlab._MODULE_OF[alias.name]}"
                else:
                    yield node.lineno, source if source in MODULES else None


def graph():
    return {module: list(imported_modules(module, path)) for module, path in MODULES.items()}


def test_every_module_has_a_layer():
    unplaced = [m for m in MODULES if m not in EXEMPT and layer_of(m) is None]
    assert not unplaced, f"add these modules to LAYERS in {__file__}: {unplaced}"


def test_the_graph_is_read_from_every_kind_of_import():
    """The resolver itself: relative, function-level and public-map imports are all seen."""
    edges = graph()
    # from . import schedules
    assert any(t == "normlab.studies.schedules" for _, t in edges["normlab.studies.training"])
    # from normlab import Block, inside a function
    assert any(t == "normlab.nn.blocks" for _, t in edges["normlab.quiz.keys"])
    assert any(t == "normlab.quiz" for _, t in edges["normlab.book.quiz_directive"])  # from ..quiz import ...
    assert any(t == "normlab.nn.blocks" for _, t in edges["normlab.checks.ordering"])  # from ..nn.blocks
    assert any(t == "normlab.studies.experiments" for _, t in edges["normlab.quiz.keys"])  # inside a function


def test_no_module_imports_a_layer_above_its_own():
    wrong, seen_known = [], set()
    for module, edges in graph().items():
        if module in EXEMPT:
            continue
        for line, target in edges:
            if target is None or target in EXEMPT or layer_of(target) is None:
                continue
            if layer_of(target) > layer_of(module):
                if (module, target) in KNOWN_VIOLATIONS:
                    seen_known.add((module, target))
                    continue
                wrong.append(
                    f"{MODULES[module].relative_to(SRC)}:{line} ({LAYERS[layer_of(module)][0]}) "
                    f"imports {target} ({LAYERS[layer_of(target)][0]})"
                )
    assert not wrong, "imports from a layer above:\n" + "\n".join(wrong)
    assert seen_known == KNOWN_VIOLATIONS, f"fixed, remove from KNOWN_VIOLATIONS: {KNOWN_VIOLATIONS - seen_known}"


def broken_imports():
    return sorted(
        {
            f"{MODULES[module].relative_to(SRC)}:{line}"
            for module, edges in graph().items()
            for line, target in edges
            if target is None
        }
    )


def test_every_normlab_import_names_a_module():
    assert not broken_imports(), broken_imports()
