"""Every seed the book uses, from one place, shifted by ``NORMLAB_SEED_BASE``.

A measured claim is a statement about a distribution over seeds, so the book must hold
whatever seeds it happens to draw. ``NORMLAB_SEED_BASE=1000 make book`` rebuilds it with
every model, data stream and demo drawn from other seeds (book/AUTHORING.md says how an
author uses this to check a new claim); the default, 0, gives the seeds the book has
always used.

    seed_everything(seed)          Python, NumPy and torch's global generator
    generator(stream, seed)        a private torch.Generator for one data stream
    ENSEMBLE                       the seeds of a training ensemble (8, batched: studies.ensemble)

``stream`` keeps a run's data apart from its initialisation (the reverse task's batches
use stream 30_000, its held-out batch 40_000, ...), so two streams of one seed never
share random numbers. The base is read when a seed is drawn; a process that changes the
environment variable must also clear the studies' caches (tests run a new process).
"""

from __future__ import annotations

import os
import random

import numpy as np
import torch

SEED_BASE_VARIABLE = "NORMLAB_SEED_BASE"
ENSEMBLE = tuple(range(8))  # training claims: 8 seeds, trained together (studies.ensemble)


def seed_base() -> int:
    """The shift added to every seed: ``$NORMLAB_SEED_BASE``, 0 when unset."""
    text = os.environ.get(SEED_BASE_VARIABLE, "").strip()
    if not text:
        return 0
    try:
        base = int(text)
    except ValueError:
        raise ValueError(
            f"{SEED_BASE_VARIABLE}={text!r} is not a whole number: expected a non-negative integer such as 1000"
        ) from None
    if base < 0:
        raise ValueError(f"{SEED_BASE_VARIABLE}={base} is negative: expected a non-negative integer such as 1000")
    return base


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (with the seed base added) so a run repeats exactly
    on the same machine; another CPU can round differently (book/claims.md)."""
    seed = seed_base() + seed
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def generator(stream: int, seed: int = 0) -> torch.Generator:
    """A torch.Generator for one data stream of one seed: ``stream + base + seed``."""
    return torch.Generator().manual_seed(stream + seed_base() + seed)
