"""Why Transformers normalise each token (LayerNorm) and not each feature over the batch
(BatchNorm), measured on normlab's blocks.

LayerNorm (Ba et al. 2016) takes its mean and variance over one token's d_model features.
BatchNorm takes them, per feature, over the mini-batch; on a ``(batch, seq, d_model)``
tensor that means over every token of every sequence, as ``nn.BatchNorm1d`` applied to the
``batch * seq`` tokens (:class:`TokenBatchNorm`). In training mode those statistics couple
tokens that attention's masks keep apart. Each measurement returns the largest change of
some outputs, relative to their largest absolute value, when only inputs that those outputs
must not depend on are changed (0 when they do not depend on them):

    batch_dependence(norm, seed)   one sequence's outputs, when the *other* sequences of
                                   the batch are replaced
    padding_leakage(norm, seed)    the real tokens' outputs, when the same batch is padded
                                   to twice its length (padded positions zero and masked)
    causal_leakage(norm, seed)     a causal block's outputs at the positions before t, in
                                   every sequence, when sequence 0's tokens from t on change
    leakage(seeds, train)          all three for both norms, one list of values per seed

``norm`` is "layer" (normlab's pre-norm block as it is) or "batch" (the same block, its two
norms replaced by TokenBatchNorm). ``train=False`` puts the block in eval mode, where
BatchNorm uses its running statistics instead of the batch's and the dependence is gone
(the running statistics of a fresh block are those it starts with: mean 0, variance 1).
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import nn

from ..nn.blocks import Block
from .seeds import generator, seed_everything

NORMS = ("layer", "batch")
D_MODEL, N_HEADS, D_FF, BATCH, SEQ = 32, 4, 64, 4, 8
LENGTHS = tuple(SEQ - 2 * i for i in range(BATCH))  # real tokens per sequence in padding_leakage


class TokenBatchNorm(nn.Module):
    """BatchNorm over tokens: each feature normalised with the mean and variance of all
    ``batch * seq`` tokens of the batch (training mode) or with running estimates (eval)."""

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(d_model, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def block_with(norm: str, seed: int, causal: bool = False, train: bool = True) -> Block:
    """A seeded pre-norm block (d_model 32, 4 heads, d_ff 64) with LayerNorm or BatchNorm."""
    if norm not in NORMS:
        raise ValueError(f"unknown norm {norm!r}: expected one of {NORMS}")
    seed_everything(seed)
    block = Block(D_MODEL, N_HEADS, D_FF, causal=causal, placement="pre")
    if norm == "batch":
        block.norm1, block.norm2 = TokenBatchNorm(D_MODEL), TokenBatchNorm(D_MODEL)
    return block.train(train)


def _inputs(seed: int, batch: int = BATCH, seq: int = SEQ) -> torch.Tensor:
    return torch.randn(batch, seq, D_MODEL, generator=generator(1000, seed))


def _relative_change(before: torch.Tensor, after: torch.Tensor) -> float:
    return float((after - before).abs().max() / before.abs().max())


@torch.no_grad()
def batch_dependence(norm: str, seed: int = 0, train: bool = True) -> float:
    """Relative change of sequence 0's outputs when sequences 1.. of its batch are replaced."""
    block = block_with(norm, seed, train=train)
    x = _inputs(seed)
    other = x.clone()
    other[1:] = _inputs(seed + 500)[1:]
    return _relative_change(block(x)[0], block(other)[0])


@torch.no_grad()
def padding_leakage(norm: str, seed: int = 0, train: bool = True) -> float:
    """Relative change of the real tokens' outputs when the batch is padded from SEQ to
    2 * SEQ positions; each sequence has its own number of real tokens, padded positions
    hold zeros and are masked (``key_padding_mask`` True)."""
    block = block_with(norm, seed, train=train)
    lengths = torch.tensor(LENGTHS)
    x = _inputs(seed)
    outputs = []
    for width in (SEQ, 2 * SEQ):
        positions = torch.arange(width)
        mask = positions[None, :] >= lengths[:, None]  # (batch, width), True = padding
        padded = torch.zeros(BATCH, width, D_MODEL)
        padded[:, :SEQ] = x
        padded[mask] = 0.0
        y = block(padded, key_padding_mask=mask)
        outputs.append(y[:, :SEQ][~mask[:, :SEQ]])  # the real tokens, in order
    return _relative_change(*outputs)


@torch.no_grad()
def causal_leakage(norm: str, seed: int = 0, train: bool = True, t: int = SEQ // 2) -> float:
    """Relative change of a causal block's outputs at positions < t, in every sequence of
    the batch, when only sequence 0's tokens at positions >= t (its future) change."""
    block = block_with(norm, seed, causal=True, train=train)
    x = _inputs(seed)
    future = x.clone()
    future[0, t:] = _inputs(seed + 500)[0, t:]
    return _relative_change(block(x)[:, :t], block(future)[:, :t])


MEASURE = {"batch_dependence": batch_dependence, "padding_leakage": padding_leakage, "causal_leakage": causal_leakage}


def leakage(seeds: Iterable[int], train: bool = True) -> dict[tuple[str, str], list[float]]:
    """{(measurement, norm): [value per seed]} for the three measurements and both norms."""
    return {(m, n): [MEASURE[m](n, s, train=train) for s in seeds] for m in MEASURE for n in NORMS}
