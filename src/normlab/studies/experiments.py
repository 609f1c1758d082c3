"""Seeded measurements behind the demos and the "paper vs our measurement" page.

Every function builds its own models and inputs from a seed, so the same call gives the
same numbers on every machine. The published effects and where they come from
(the papers are in book/references.bib):

- per-layer FFN gradient norms at initialisation   Xiong et al. 2020, Fig. 3(a,b)
- last block's W2 gradient against depth           Xiong et al. 2020, Theorem 1, Fig. 3(c,d)
- mean squared residual-stream norm per layer      Xiong et al. 2020, Lemma 2
- the reverse task trained with and without warm-up (studies.training.train_task)
                                                   Xiong et al. 2020, IWSLT14 warm-up runs
- output change under a parameter perturbation     Liu et al. 2020 (amplification)
- cost of self-attention against a recurrent layer Vaswani et al. 2017, Table 1

A :class:`Setting` names everything about the inputs, the initialisation and the loss
that the published effects turned out to depend on (see ``book/measurements.md``).
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ParamSpec, TypeVar

import numpy as np
import torch
from numpy.typing import ArrayLike
from torch import Tensor, nn

from ..nn.blocks import BLOCKS
from ..nn.stack import TransformerStack
from .analysis import grad_norms_by_layer, last_block_gradient_by_depth
from .seeds import generator, seed_everything

P = ParamSpec("P")
R = TypeVar("R")


@contextmanager
def one_thread() -> Iterator[None]:
    """Run torch on one thread inside the block, then restore the previous count.

    These models are tiny: with several threads most of the time goes to waking threads,
    and on a busy 2-core machine a run can take ten times longer (measured: 0.08 s on one
    thread against 0.5-4.8 s on two for a 24-block gradient).
    """
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


def single_threaded(fn: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with one_thread():
            return fn(*args, **kwargs)

    return wrapper


@dataclass(frozen=True)
class Setting:
    """Inputs, initialisation and loss of a measurement at initialisation.

    token_correlation: share rho of each token's variance that is common to its whole
        sequence, x_i = sqrt(rho) * shared + sqrt(1 - rho) * own_i (rho = 0: independent
        Gaussian tokens, as in Xiong et al.'s analysis; > 0 is a crude stand-in for the
        tokens of a real sentence, which are not independent).
    init: "xavier" (Xavier-normal weights, zero biases: Xiong et al.'s analysis) or
        "torch" (the library's defaults, those of nn.MultiheadAttention / nn.Linear).
    uniform_attention: W^Q = W^K = 0, so every query attends equally to every key
        (Xiong et al.'s analysis setting).
    loss: "ce" = per-token cross-entropy through a fixed random linear head with random
        targets; "pooled" = one cross-entropy per sequence on the mean over positions.
    """

    d_model: int = 64
    n_heads: int = 4
    d_ff: int = 256
    batch: int = 8
    seq: int = 16
    token_correlation: float = 0.0
    init: str = "xavier"
    uniform_attention: bool = False
    loss: str = "ce"
    causal: bool = False
    n_classes: int = 32

    def __post_init__(self) -> None:
        if not 0.0 <= self.token_correlation <= 1.0:
            raise ValueError(f"token_correlation must be in [0, 1], got {self.token_correlation}")
        if self.init not in ("xavier", "torch"):
            raise ValueError(f"init must be 'xavier' or 'torch', got {self.init!r}")
        if self.loss not in ("ce", "pooled"):
            raise ValueError(f"loss must be 'ce' or 'pooled', got {self.loss!r}")


# Xiong et al.'s analysis setting (Lemma 2, Theorem 1): one head, every weight d x d,
# W^Q = W^K = 0, Xavier-Gaussian init, gamma = 1, beta = 0, Gaussian inputs.
PAPER_SETTING = Setting(
    d_model=64, n_heads=1, d_ff=64, batch=8, seq=16, token_correlation=0.0, init="xavier", uniform_attention=True
)

# Where our sweep found Fig. 3(a)'s rising post-norm profile (book/measurements.md):
# tokens that share most of their variance within a sequence, Xavier init, 12 blocks
# (the paper's 6 + 6), per-token cross-entropy.
GRADIENT_SETTING = Setting(token_correlation=0.9, init="xavier", seq=32)


def build_stack(placement: str, n_layers: int, setting: Setting = Setting(), seed: int = 0) -> TransformerStack:
    """A seeded stack of ``n_layers`` blocks, initialised as ``setting`` says."""
    seed_everything(seed)
    stack = TransformerStack(
        n_layers, setting.d_model, setting.n_heads, setting.d_ff, placement=placement, causal=setting.causal
    )
    for block in stack.blocks:
        linears = (
            block.attn.q_proj,
            block.attn.k_proj,
            block.attn.v_proj,
            block.attn.out_proj,
            block.ffn.linear1,
            block.ffn.linear2,
        )
        if setting.init == "xavier" and not block.prescribes_init:  # e.g. DeepNorm's beta
            for linear in linears:
                nn.init.xavier_normal_(linear.weight)
                nn.init.zeros_(linear.bias)
        if setting.uniform_attention:
            nn.init.zeros_(block.attn.q_proj.weight)
            nn.init.zeros_(block.attn.k_proj.weight)
    return stack


def make_batch(setting: Setting = Setting(), seed: int = 0) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
    """Seeded inputs ``x`` (batch, seq, d_model) with E||x_i||^2 = d_model, and a loss.

    The loss maps the stack's output (batch, seq, d_model) to a scalar (see Setting.loss).
    """
    g = generator(10_000, seed)
    s = setting
    shared = torch.randn(s.batch, 1, s.d_model, generator=g)
    own = torch.randn(s.batch, s.seq, s.d_model, generator=g)
    rho = s.token_correlation
    x = math.sqrt(rho) * shared + math.sqrt(1 - rho) * own
    head = torch.randn(s.d_model, s.n_classes, generator=g) / math.sqrt(s.d_model)
    if s.loss == "ce":
        targets = torch.randint(0, s.n_classes, (s.batch * s.seq,), generator=g)

        def loss_fn(out: Tensor) -> Tensor:
            return nn.functional.cross_entropy((out @ head).flatten(0, 1), targets)
    else:
        targets = torch.randint(0, s.n_classes, (s.batch,), generator=g)

        def loss_fn(out: Tensor) -> Tensor:
            return nn.functional.cross_entropy(out.mean(dim=1) @ head, targets)

    return x, loss_fn


# --- Fig. 3(a,b): per-layer gradients, and Fig. 3(c,d) / Theorem 1: depth scaling ----------


@single_threaded
def layer_gradients(
    placement: str, n_layers: int, setting: Setting = Setting(), seed: int = 0, param: str = "ffn.linear2.weight"
) -> np.ndarray:
    """||dLoss/dW2|| of every block's FFN (one value per block, bottom first), at init."""
    stack = build_stack(placement, n_layers, setting, seed)
    x, loss_fn = make_batch(setting, seed)
    return np.array(grad_norms_by_layer(stack, x, loss_fn, params=param))


def mean_layer_gradients(
    placement: str, n_layers: int, setting: Setting = Setting(), seeds: Iterable[int] = range(3)
) -> np.ndarray:
    """:func:`layer_gradients` averaged over seeds (Xiong et al. average 10)."""
    return np.mean([layer_gradients(placement, n_layers, setting, s) for s in seeds], axis=0)


def profile_slope(grads: ArrayLike) -> float:
    """Least-squares slope of log(gradient) against relative layer position in [0, 1].

    > 0: upper layers get larger gradients (Fig. 3a, post-norm); about 0: flat.
    exp(slope) is the top-to-bottom ratio of the fitted line.
    """
    grads = np.asarray(grads, dtype=float)
    position = np.linspace(0.0, 1.0, len(grads))
    return float(np.polyfit(position, np.log(grads), 1)[0])


@single_threaded
def last_layer_gradient_vs_depth(
    placement: str, depths: Sequence[int], setting: Setting = Setting(), seeds: Iterable[int] = range(3)
) -> np.ndarray:
    """||dLoss/dW2|| of the last block at init, for each depth, averaged over seeds."""

    def stack(depth: int, seed: int) -> TransformerStack:
        return build_stack(placement, depth, setting, seed)

    return last_block_gradient_by_depth(stack, lambda seed: make_batch(setting, seed), depths, seeds)


def loglog_slope(depths: ArrayLike, values: ArrayLike) -> float:
    """Slope of log(values) against log(depths): -0.5 is Theorem 1's 1/sqrt(L) for pre-norm."""
    return float(np.polyfit(np.log(np.asarray(depths, float)), np.log(np.asarray(values, float)), 1)[0])


# --- Lemma 2: the residual stream ------------------------------------------------------


def lemma2_bounds(n_layers: int, d_model: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Lemma 2 for l = 1..n_layers: pre-norm's (lower, upper) = ((1 + l/2) d, (1 + 3l/2) d),
    and post-norm's 3/2 d."""
    layer = np.arange(1, n_layers + 1)
    return (1 + layer / 2) * d_model, (1 + 3 * layer / 2) * d_model, 1.5 * d_model


@single_threaded
def stream_sq_norms(placement: str, n_layers: int, setting: Setting = PAPER_SETTING, seed: int = 0) -> np.ndarray:
    """Mean over tokens of ||x_l||^2 for l = 1..n_layers, measured where Lemma 2 puts x_l.

    pre-norm (and sandwich, res-post, parallel): x_l is the residual stream after block l,
    before any final norm.
    post-norm (and deepnorm): x_l is the *un-normalised* sum x + FFN(x) that enters the
    block's last norm (Xiong et al.'s x^{post,5}_l). The block's output LN(...) has
    ||.||^2 = d exactly, so measuring there would show nothing.
    """
    stack = build_stack(placement, n_layers, setting, seed)
    x, _ = make_batch(setting, seed)
    captured: list[torch.Tensor] = []
    if BLOCKS[placement].stream_at == "last norm input":
        # the input of each block's last norm: a forward *pre*-hook sees it
        handles = [b.norm2.register_forward_pre_hook(lambda mod, args: captured.append(args[0])) for b in stack.blocks]
    else:
        handles = [b.register_forward_hook(lambda mod, args, out: captured.append(out)) for b in stack.blocks]
    try:
        with torch.no_grad():
            stack(x)
    finally:
        for handle in handles:
            handle.remove()
    return np.array([t.pow(2).sum(dim=-1).mean().item() for t in captured])


def mean_stream_sq_norms(
    placement: str, n_layers: int, setting: Setting = PAPER_SETTING, seeds: Iterable[int] = range(3)
) -> np.ndarray:
    return np.mean([stream_sq_norms(placement, n_layers, setting, s) for s in seeds], axis=0)


# --- Liu et al. 2020: amplification -------------------------------------------------------


@single_threaded
def output_change(
    placement: str, n_layers: int, setting: Setting = Setting(), scale: float = 0.01, seed: int = 0
) -> float:
    """E||f(x, w) - f(x, w + delta)||^2 / E||f(x, w)||^2 at initialisation.

    delta perturbs every weight matrix of every block by independent Gaussian noise with
    standard deviation ``scale`` times that matrix's own standard deviation (a small
    random update of the same relative size in every layer).
    """
    stack = build_stack(placement, n_layers, setting, seed)
    x, _ = make_batch(setting, seed)
    return perturbed_output_change(stack, x, scale, seed)


def perturbed_output_change(stack: TransformerStack, x: torch.Tensor, scale: float = 0.01, seed: int = 0) -> float:
    """:func:`output_change` of a given ``stack`` on inputs ``x`` (changes its weights).

    Shared with normlab.studies.deepstacks, which measures stacks with other initialisations.
    """
    with torch.no_grad():
        before = stack(x)
        g = generator(20_000, seed)
        for p in stack.blocks.parameters():
            if p.dim() >= 2:
                p.add_(scale * p.std() * torch.randn(p.shape, generator=g))
        after = stack(x)
    return float((after - before).pow(2).sum(-1).mean() / before.pow(2).sum(-1).mean())


def output_change_vs_depth(
    placement: str,
    depths: Sequence[int],
    setting: Setting = Setting(),
    scale: float = 0.01,
    seeds: Iterable[int] = range(3),
) -> np.ndarray:
    return np.array([np.mean([output_change(placement, n, setting, scale, s) for s in seeds]) for n in depths])


# --- Warm-up: training a small model on a synthetic task -----------------------------------


@dataclass(frozen=True)
class TaskConfig:
    """Reverse a random token sequence: position i must output token seq - 1 - i.

    An encoder-only stack with bidirectional attention must move every token across the
    sequence, so attention has to learn to route; a linear readout cannot do it alone.
    """

    vocab: int = 16
    seq: int = 8
    batch: int = 32
    d_model: int = 32
    n_heads: int = 2
    d_ff: int = 64
    n_layers: int = 8
    steps: int = 100


def reverse_task_model(placement: str, task: TaskConfig) -> TransformerStack:
    """The reverse task's model, initialised from torch's current seed: token ids
    (batch, seq) -> logits (batch, seq, vocab)."""
    return TransformerStack(
        task.n_layers,
        task.d_model,
        task.n_heads,
        task.d_ff,
        placement=placement,
        vocab_size=task.vocab,
        max_seq_len=task.seq,
    )


def reverse_task_batch(task: TaskConfig, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    tokens = torch.randint(0, task.vocab, (task.batch, task.seq), generator=generator)
    return tokens, tokens.flip(1)


# --- Vaswani et al. 2017, Table 1: attention against a recurrent layer -------------


def attention_flops(seq: int, d_model: int) -> float:
    """Multiply-adds of one self-attention layer: 4 n d^2 (Q, K, V, O) + 2 n^2 d (scores, mix)."""
    return 4 * seq * d_model**2 + 2 * seq**2 * d_model


def rnn_flops(seq: int, d_model: int) -> float:
    """Multiply-adds of one Elman RNN layer: 2 n d^2 (input and state matrices)."""
    return 2 * seq * d_model**2


def attention_memory_bytes(seq: int, n_heads: int, batch: int = 1) -> int:
    """float32 bytes of the score matrix (batch, heads, seq, seq): grows like n^2."""
    return 4 * batch * n_heads * seq * seq


def rnn_state_bytes(d_model: int, batch: int = 1) -> int:
    """float32 bytes of the recurrent state (batch, d_model): independent of n."""
    return 4 * batch * d_model


def time_forward(module: nn.Module, x: torch.Tensor, repeats: int = 5) -> float:
    """Median wall-clock seconds of ``module(x)`` (no grad), after one warm-up call."""
    with torch.no_grad():
        module(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            module(x)
            times.append(time.perf_counter() - start)
    return float(np.median(times))


class RecurrentLayer(nn.Module):
    """nn.RNN (tanh, one layer) over (batch, seq, d_model), returning (batch, seq, d_model)."""

    def __init__(self, d_model: int) -> None:
        super().__init__()
        self.rnn = nn.RNN(d_model, d_model, batch_first=True)

    def forward(self, x: Tensor) -> Tensor:
        return self.rnn(x)[0]


@single_threaded
def measure_attention_vs_rnn(
    seq_lens: Iterable[int], d_model: int = 64, n_heads: int = 4, batch: int = 1, repeats: int = 5, seed: int = 0
) -> dict:
    """Measured forward times (seconds) of one self-attention layer and one RNN layer."""
    from ..nn.attention import MultiHeadSelfAttention

    seed_everything(seed)
    attention, rnn = MultiHeadSelfAttention(d_model, n_heads), RecurrentLayer(d_model)
    out: dict[str, list[Any]] = {"seq": list(seq_lens), "attention_s": [], "rnn_s": []}
    for n in seq_lens:
        x = torch.randn(batch, n, d_model)
        out["attention_s"].append(time_forward(attention, x, repeats))
        out["rnn_s"].append(time_forward(rnn, x, repeats))
    return out
