"""What a reader may type into a numeric question: a number ("0.5", "49,984") or a shape
("(2, 8, 10, 10)", "torch.Size([2, 16, 1000])", "2 x 16 x 1000").

The accepted forms are specified once, as examples, in ``number_forms.json`` beside this
module; ``parseNumbers`` in ``static/normlab-quiz.js`` follows the same file, and the
tests run every example through both parsers.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

FORMS_FILE = Path(__file__).with_name("number_forms.json")
FORMAT_MESSAGE = "Expected a number such as 0.5 or 4,096, or a shape such as (2, 8, 10, 10)"

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_THOUSANDS = re.compile(r"^[+-]?\d{1,3}(,\d{3})+(\.\d+)?$")
_TORCH_SIZE = re.compile(r"^(torch\.)?Size\(\s*\[(.*)\]\s*\)$", re.DOTALL)
_TIMES = re.compile(r"(?<=[\d.])\s*[xX×]\s*(?=[\d.+-])")


def parse_numbers(text: str) -> tuple[float, ...]:
    """``"(2, 8, 10, 10)"`` -> (2.0, 8.0, 10.0, 10.0); ``"49,984"`` -> (49984.0,).

    Raises ValueError with the format message for anything else."""
    source = str(text).strip()
    if _THOUSANDS.match(source):
        return (float(source.replace(",", "")),)
    inner = source
    size = _TORCH_SIZE.match(inner)
    if size:
        inner = size.group(2)
    else:
        inner = re.sub(r"^[(\[]+|[)\]]+$", "", inner)
    inner = _TIMES.sub(",", inner.strip())
    parts = [p for p in re.split(r"[,\s]+", inner) if p]
    if not parts or not all(_NUMBER.match(p) for p in parts):
        raise ValueError(f"{FORMAT_MESSAGE}, got {text!r}.")
    return tuple(float(p) for p in parts)


def numbers_match(given: Sequence[float], expected: Sequence[float], tolerance: float) -> bool:
    return len(given) == len(expected) and all(
        math.isclose(g, e, rel_tol=0.0, abs_tol=tolerance) for g, e in zip(given, expected)
    )


def format_numbers(values: Sequence[float], as_shape: bool) -> str:
    text = ", ".join(str(int(v)) if float(v).is_integer() else repr(float(v)) for v in values)
    return f"({text})" if as_shape else text


def accepted_forms() -> list[dict]:
    """The specification's examples: ``{"text": ..., "numbers": [...] or None}``."""
    return json.loads(FORMS_FILE.read_text(encoding="utf-8"))["examples"]
