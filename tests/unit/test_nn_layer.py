"""normlab.nn is the bottom layer: it imports torch only (transformers is normlab.hf's), never
the rest of normlab (the lab, quizzes, demos, checks or the book's tooling)."""

import ast
import sys
from pathlib import Path

import normlab

NN = Path(normlab.__file__).parent / "nn"
ALLOWED_THIRD_PARTY = {"torch"}


def imports_of(path: Path):
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            yield from ((alias.name, 0) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            yield node.module or "", node.level


def test_nn_imports_nothing_above_it():
    wrong = []
    for path in sorted(NN.glob("*.py")):
        for module, level in imports_of(path):
            top = module.split(".")[0]
            if level == 0 and top not in sys.stdlib_module_names and top not in ALLOWED_THIRD_PARTY | {"__future__"}:
                wrong.append(f"{path.name}: import {module}")
            if level >= 2:  # from ..x: out of nn
                wrong.append(f"{path.name}: from {'.' * level}{module}")
    assert not wrong, wrong
    assert len(list(NN.glob("*.py"))) >= 8


def test_public_names_still_import_from_the_top_level():
    from normlab import Block, PreNormBlock, ShapeError, TransformerStack, make_norm, trace_shapes  # noqa: F401

    assert PreNormBlock.__module__ == "normlab.nn.blocks"
    assert all(
        getattr(normlab, name) is not None for name in normlab.__all__ if name not in ("from_hf", "from_hf_model")
    )
