"""A tiny character-level language model trained on a corpus every machine has: the
source files of Python's own standard library (read from this interpreter's ``Lib``
folder, so nothing is downloaded; the text differs a little between Python versions).

    stdlib_corpus()                   the files' bytes as ASCII token ids (vocab 128)
    LMConfig                          model and training sizes (kept tiny: CPU, seconds)
    train_lm(placement, n_layers)     8 seeded training runs (trained together): loss curves,
                                      validation losses, per-block gradient profiles, models
    layer_cosine_similarity(model)    cos(x_{l-1}, x_l) per block on validation text
    drop_layer_loss_change(model)     validation loss with block l skipped, minus the full loss
"""

from __future__ import annotations

import functools
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..nn.stack import TransformerStack
from .analysis import block_io
from .experiments import single_threaded
from .runcache import on_disk
from .seeds import ENSEMBLE, generator, seed_everything
from .training import fit, lr_function

# Small, stable modules present in every CPython 3 install (pure Python, mostly prose-like
# code and docstrings).
CORPUS_FILES = (
    "textwrap.py",
    "string.py",
    "bisect.py",
    "heapq.py",
    "fnmatch.py",
    "glob.py",
    "shlex.py",
    "colorsys.py",
    "calendar.py",
    "difflib.py",
)
VOCAB = 128  # ASCII; anything else becomes "?"


@functools.lru_cache(maxsize=1)
def stdlib_corpus(files: tuple[str, ...] = CORPUS_FILES) -> torch.Tensor:
    """The concatenated source of ``files`` from this Python's standard library, as a
    1-D int64 tensor of ASCII codes (non-ASCII bytes replaced by ``?``)."""
    lib = Path(sysconfig.get_paths()["stdlib"])
    missing = [name for name in files if not (lib / name).is_file()]
    if missing:
        raise FileNotFoundError(f"standard-library files {missing} not found in {lib}")
    data = b"\n".join((lib / name).read_bytes() for name in files)
    codes = np.frombuffer(data, dtype=np.uint8).astype(np.int64)
    codes[codes >= VOCAB] = ord("?")
    return torch.from_numpy(codes.copy())


@dataclass(frozen=True)
class LMConfig:
    d_model: int = 32
    n_heads: int = 2
    d_ff: int = 64
    seq: int = 32
    batch: int = 8
    steps: int = 200
    peak_lr: float = 3e-3
    warmup: int = 20
    schedule: str = "cosine"  # warm-up + cosine decay, as LLMs train
    profile_every: int = 50
    val_fraction: float = 0.1


def split(corpus: torch.Tensor, val_fraction: float) -> tuple[torch.Tensor, torch.Tensor]:
    """First (1 - f) of the text for training, the last f for validation."""
    cut = int(len(corpus) * (1 - val_fraction))
    return corpus[:cut], corpus[cut:]


def random_windows(
    text: torch.Tensor, batch: int, seq: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(inputs, targets), each (batch, seq): random windows and the same shifted by one."""
    starts = torch.randint(0, len(text) - seq - 1, (batch,), generator=generator)
    windows = torch.stack([text[s : s + seq + 1] for s in starts.tolist()])
    return windows[:, :-1], windows[:, 1:]


def validation_batch(config: LMConfig, n: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed set of ``n`` validation windows (the same for every run)."""
    _, val = split(stdlib_corpus(), config.val_fraction)
    return random_windows(val, n, config.seq, generator(50_000))


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return nn.functional.cross_entropy(logits.flatten(0, 1), targets.flatten())


def train_lm(
    placement: str,
    n_layers: int,
    config: LMConfig = LMConfig(),
    seeds: tuple[int, ...] = ENSEMBLE,
    modify: Callable[[TransformerStack], Any] | None = None,
) -> tuple[dict, ...]:
    """Train a causal character LM of ``n_layers`` blocks once per seed (the seeds together:
    normlab.studies.training.fit). Returns one record per seed: ``fit``'s record plus
    "val_loss" (on validation_batch) and "model" (the trained TransformerStack).

    ``modify``, if given, rewrites each freshly built (seeded) model in place before training,
    e.g. ``depthfixes.mix_ln``; pass a module-level function, so the runs stay cached.
    Runs are cached whether their arguments are given by position or by name.
    """
    return _train_lm(placement, n_layers, config, tuple(seeds), modify)


@functools.lru_cache(maxsize=32)
@on_disk
@single_threaded
def _train_lm(
    placement: str,
    n_layers: int,
    config: LMConfig,
    seeds: tuple[int, ...],
    modify: Callable[[TransformerStack], Any] | None,
) -> tuple[dict, ...]:
    models = []
    for seed in seeds:
        seed_everything(seed)
        model = TransformerStack(
            n_layers,
            config.d_model,
            config.n_heads,
            config.d_ff,
            placement=placement,
            causal=True,
            vocab_size=VOCAB,
            max_seq_len=config.seq,
        )
        if modify is not None:
            modify(model)
        models.append(model)
    train, _ = split(stdlib_corpus(), config.val_fraction)
    streams = [generator(60_000, seed) for seed in seeds]
    records = fit(
        models,
        [functools.partial(random_windows, train, config.batch, config.seq, stream) for stream in streams],
        lm_loss,
        "adam",
        lr_function(config.schedule, config.peak_lr, config.warmup, config.steps),
        config.steps,
        profile_every=config.profile_every,
    )
    inputs, targets = validation_batch(config)
    with torch.no_grad():
        for model, record in zip(models, records):
            record["val_loss"] = float("nan") if record["diverged"] else lm_loss(model(inputs), targets).item()
            record["model"] = model
    return tuple(records)


train_lm.__wrapped__ = _train_lm.__wrapped__.__wrapped__  # type: ignore[attr-defined]  # the runs without either cache (tests recompute with it)


def layer_cosine_similarity(model: TransformerStack, inputs: torch.Tensor) -> np.ndarray:
    """Per block: mean over tokens of cos(block input, block output); near 1 = the block
    barely turns the stream (Gromov et al. 2024 prune such layers)."""
    return np.array([nn.functional.cosine_similarity(a, b, dim=-1).mean().item() for a, b in block_io(model, inputs)])


def drop_layer_loss_change(model: TransformerStack, inputs: torch.Tensor, targets: torch.Tensor) -> np.ndarray:
    """Per block l: validation loss with block l replaced by the identity, minus the full
    model's loss (0 = the block could be removed for free)."""
    with torch.no_grad():
        full = lm_loss(model(inputs), targets).item()
        changes = []
        for i in range(len(model.blocks)):
            kept = model.blocks
            model.blocks = nn.ModuleList(b for j, b in enumerate(kept) if j != i)
            try:
                changes.append(lm_loss(model(inputs), targets).item() - full)
            finally:
                model.blocks = kept
    return np.array(changes)


def unigram_loss(config: LMConfig = LMConfig()) -> float:
    """Validation cross-entropy (nats) of the best context-free model: each character's
    training-set frequency. A language model that has learned anything beats it."""
    train, _ = split(stdlib_corpus(), config.val_fraction)
    counts = torch.bincount(train, minlength=VOCAB).double() + 1.0  # add-one smoothing
    log_p = (counts / counts.sum()).log()
    _, targets = validation_batch(config)
    return float(-log_p[targets].mean())


def targets_per_step(batch: int, seq: int) -> int:
    """Next-character predictions in one training step: one per position of each window."""
    _, targets = random_windows(stdlib_corpus(), batch, seq, generator(0))
    return targets.numel()
