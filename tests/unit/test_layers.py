"""What import-linter cannot check about normlab's layers, read from the import graph.

The layers themselves and the absence of import cycles are import-linter contracts
(pyproject.toml ``[tool.importlinter]``, run by ``make lint``). Three things stay here:

- every part of normlab sits in a layer of the ``normlab-layers`` contract (import-linter
  ignores a package that no layer names);
- ``from normlab import Block`` inside normlab goes through the lazy public map of
  ``normlab/__init__.py``, which import-linter sees as an import of the root package only:
  such an import, too, may name only the importer's layer or one below it;
- every normlab module an import names exists (import-linter skips a missing module).
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

import normlab

SRC = Path(normlab.__file__).parent
PYPROJECT = SRC.parents[1] / "pyproject.toml"


def layers() -> list[set[str]]:
    """The packages of each layer of the normlab-layers contract, low to high."""
    config = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]
    (contract,) = [c for c in config["contracts"] if c["id"] == "normlab-layers"]
    return [{p.strip() for p in layer.replace(":", "|").split("|")} for layer in reversed(contract["layers"])]


def module_name(path: Path) -> str:
    parts = ("normlab",) + path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(SRC.rglob("*.py"))}


def layer_of(module: str) -> int | None:
    for rank, packages in enumerate(layers()):
        if any(module == p or module.startswith(p + ".") for p in packages):
            return rank
    return None


def normlab_imports(module: str, path: Path) -> Iterator[tuple[int, str, list[str]]]:
    """(line, source module, imported names) of every normlab import in ``module``,
    relative ones resolved; the names are empty for ``import normlab.x``."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "normlab":
                    yield node.lineno, alias.name, []
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] == "normlab":
                yield node.lineno, source, [alias.name for alias in node.names]


def test_every_part_of_normlab_is_in_a_layer():
    unplaced = [m for m in MODULES if m != "normlab" and layer_of(m) is None]
    assert not unplaced, f"add these to the normlab-layers contract in pyproject.toml: {unplaced}"


def test_imports_through_the_public_map_go_no_higher_than_the_importer():
    wrong = []
    for module, path in MODULES.items():
        if module == "normlab":
            continue
        for line, source, names in normlab_imports(module, path):
            for name in names if source == "normlab" else []:
                if name not in normlab._MODULE_OF:
                    continue
                target = f"normlab.{normlab._MODULE_OF[name]}"
                if layer_of(target) > layer_of(module):
                    wrong.append(f"{path.relative_to(SRC)}:{line} imports {name} from {target}, a layer above")
    assert not wrong, "\n".join(wrong)


def test_the_public_map_is_seen():
    """The check above reads `from normlab import Block` inside a function (quiz.keys)."""
    names = {n for _, source, ns in normlab_imports("normlab.quiz.keys", MODULES["normlab.quiz.keys"]) for n in ns}
    assert "Block" in names


def test_every_normlab_import_names_a_module():
    broken = sorted(
        f"{path.relative_to(SRC)}:{line}"
        for module, path in MODULES.items()
        for line, source, names in normlab_imports(module, path)
        if source not in MODULES
    )
    assert not broken, broken
