"""Synthetic students for the autograder tests and benchmark: submissions are built from
the RELEASED notebooks (what students really get) by filling in the answer cells."""
import json
import os

import nbformat

# Answers for the fixture assignment ps1 (tests/autograder/fixtures/ps1).
CORRECT = {
    "layer_norm": "def layer_norm(x, eps=1e-5):\n"
                  "    mean = x.mean(-1, keepdim=True)\n"
                  "    var = x.var(-1, unbiased=False, keepdim=True)\n"
                  "    return (x - mean) / torch.sqrt(var + eps)",
    "rms_norm": "def rms_norm(x, eps=1e-6):\n    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps)",
    "pre_norm_step": "def pre_norm_step(x, f, norm):\n    return x + f(norm(x))",
}
# Realistic mistakes: each passes the visible tests and fails the hidden one.
PARTIAL = {
    "layer_norm": "def layer_norm(x, eps=1e-5):\n"
                  "    return (x - x.mean(-1, keepdim=True)) / x.std(-1, keepdim=True)  # unbiased std",
    "rms_norm": "def rms_norm(x, eps=1e-6):\n    return x / (x.pow(2).mean(-1, keepdim=True).sqrt() + 1e-2)",
    "pre_norm_step": "def pre_norm_step(x, f, norm):\n    return x + f(norm(x)) + 0 * norm(x) if False else norm(x + f(x)) * 0 + x + f(norm(x))",
}
NOTEBOOK_OF = {"layer_norm": "layernorm", "rms_norm": "rmsnorm", "pre_norm_step": "prenorm"}
# Full marks per notebook in ps1: 1 (shape) + 2 (values, with hidden tests).
POINTS = {"layernorm": 3.0, "rmsnorm": 3.0, "prenorm": 3.0}


def fill(release_path, answers):
    """The released notebook with answer cells replaced by `answers[grade_id]`."""
    nb = nbformat.read(release_path, as_version=4)
    for cell in nb.cells:
        gid = cell.metadata.get("nbgrader", {}).get("grade_id")
        if gid in answers:
            cell.source = answers[gid]
    return nb


def write(nb_or_text, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(nb_or_text, (str, bytes)):
        mode = "wb" if isinstance(nb_or_text, bytes) else "w"
        with open(path, mode) as f:
            f.write(nb_or_text)
    else:
        nbformat.write(nb_or_text, path)


def submission(release_dir, notebook, answers=None, **overrides):
    """Notebook for `notebook` with CORRECT answers, `answers` overriding some of them."""
    chosen = {gid: src for gid, src in CORRECT.items() if NOTEBOOK_OF[gid] == notebook}
    chosen.update(answers or {})
    return fill(os.path.join(release_dir, notebook + ".ipynb"), chosen)


def invalid_json():
    return '{"cells": [ {"cell_type": "code", "source": "print(1)"'   # truncated upload


def as_json(nb):
    return json.dumps(nb)
