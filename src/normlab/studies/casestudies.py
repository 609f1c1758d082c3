"""Chapter 7's case studies: the buggy blocks, their fixes, and the checks that tell them apart.

One section per case. Each buggy block is a real ``nn.Module`` a test can run, and each
check returns a plain value (a number, a list of names), so the chapter can show it and a
unit test can assert on it (``tests/unit/test_casestudies.py``).

1. A "minor" refactor moves the norm onto the residual stream     :func:`refactor_diff`,
   :func:`identity_path_is_clean`, :func:`last_w2_gradient_by_depth`
2. A norm that normalises over the sequence breaks causal attention :class:`SequenceNorm`,
   :func:`sequence_norm_block`, :func:`future_leak`
3. Migrating a post-norm ``nn.TransformerEncoder`` to pre-norm      :func:`legacy_encoder`,
   :func:`migrate_to_pre_norm`, :func:`to_normlab`, :func:`run_torch`
4. An "optimisation" computes the norm once per block              :class:`NormOnceBlock`,
   :func:`unused_parameters`, :func:`wiring_signature`
5. A block spec a library can test against                         :class:`BlockSpec`,
   :func:`check_block`

The helpers at the end (:func:`stack_of`, :func:`small_batch`) keep every case small
enough to run in a second on a laptop CPU.
"""

from __future__ import annotations

import copy
import difflib
import inspect
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from ..nn.blocks import Block, PostNormBlock, PreNormBlock
from ..nn.norms import make_norm
from ..nn.stack import TransformerStack
from ..nn.trace import trace_shapes
from .analysis import last_block_gradient_by_depth
from .seeds import generator, seed_everything

# Small sizes: big enough to show each symptom, small enough for a chapter cell.
D_MODEL, N_HEADS, D_FF, BATCH, SEQ = 32, 4, 64, 4, 8


# ---------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------


def small_batch(batch: int = BATCH, seq: int = SEQ, d_model: int = D_MODEL, seed: int = 0) -> torch.Tensor:
    """Seeded Gaussian input (batch, seq, d_model)."""
    return torch.randn(batch, seq, d_model, generator=generator(0, seed))


def stack_of(
    block_cls: type[Block],
    n_layers: int,
    d_model: int = D_MODEL,
    n_heads: int = N_HEADS,
    d_ff: int = D_FF,
    final_norm: bool = True,
    seed: int = 0,
    **block_kwargs: Any,
) -> TransformerStack:
    """A TransformerStack whose blocks are ``block_cls`` (a normlab Block or a buggy variant).

    ``final_norm`` keeps the stack's last LayerNorm (what a pre-norm stack needs), so a
    case that changes only the block leaves everything else as it was.
    """
    seed_everything(seed)
    stack = TransformerStack(n_layers, d_model, n_heads, d_ff, placement="pre", **block_kwargs)
    stack.blocks = nn.ModuleList(block_cls(d_model, n_heads, d_ff, **block_kwargs) for _ in range(n_layers))
    if not final_norm:
        stack.final_norm = None
    return stack


def _zero_branch_outputs(block: Block) -> nn.Module:
    """A copy of ``block`` whose attention and FFN return exactly zero."""
    block = copy.deepcopy(block)
    with torch.no_grad():
        for linear in (block.attn.out_proj, block.ffn.linear2):
            linear.weight.zero_()
            linear.bias.zero_()
    return block


# ---------------------------------------------------------------------------------------
# Case 1: a "minor" block change, and the instability it brings back
# ---------------------------------------------------------------------------------------


def refactor_diff() -> str:
    """The refactor as a reviewer saw it: PreNormBlock.forward -> PostNormBlock.forward.

    Read from the two classes' source, so the diff is exactly the code that runs.
    """
    before = textwrap.dedent(inspect.getsource(PreNormBlock.forward)).splitlines()
    after = textwrap.dedent(inspect.getsource(PostNormBlock.forward)).splitlines()
    return "\n".join(difflib.unified_diff(before, after, "block.py (before)", "block.py (after)", lineterm="", n=1))


def identity_path_is_clean(block: Block, x: torch.Tensor | None = None) -> bool:
    """True when a block whose sub-layers output zero returns its input unchanged.

    That holds exactly when no norm sits on the residual stream (pre-norm, sandwich,
    res-post, parallel) and fails when one does (post-norm, DeepNorm): the unit test that
    would have caught case 1's refactor.
    """
    x = small_batch(d_model=block.d_model) if x is None else x
    with torch.no_grad():
        return torch.allclose(_zero_branch_outputs(block).eval()(x), x, atol=1e-6)


def last_w2_gradient_by_depth(
    block_cls: type[Block], depths: Sequence[int] = (2, 8, 32), seeds: Sequence[int] = range(3), n_classes: int = 10
) -> list[float]:
    """||dLoss/dW2|| of the last block's FFN at initialisation, for each depth (mean over seeds).

    Loss: per-token cross-entropy through a fixed random linear head, random targets
    (as in Xiong et al.'s Fig. 3c,d setting, scaled down). Theorem 1: falls like
    1/sqrt(L) for pre-norm, does not fall for post-norm.
    """

    def batch(seed: int) -> tuple[Tensor, Callable[[Tensor], Tensor]]:
        g = generator(1000, seed)
        x = torch.randn(BATCH, SEQ, D_MODEL, generator=g)
        head = torch.randn(D_MODEL, n_classes, generator=g) / math.sqrt(D_MODEL)
        target = torch.randint(0, n_classes, (BATCH * SEQ,), generator=g)
        return x, lambda out: nn.functional.cross_entropy((out @ head).flatten(0, 1), target)

    def stack(depth: int, seed: int) -> TransformerStack:
        return stack_of(block_cls, depth, seed=seed)

    return last_block_gradient_by_depth(stack, batch, depths, seeds).tolist()


# ---------------------------------------------------------------------------------------
# Case 2: norm placement against the attention's contract (causality)
# ---------------------------------------------------------------------------------------


class SequenceNorm(nn.Module):
    """The bug: LayerNorm statistics over (seq, d_model) instead of over d_model alone.

    Shapes are unchanged, so every shape test passes; but each token's output now depends
    on the mean and variance of the *whole* sequence, future tokens included.
    """

    def __init__(self, d_model: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(d_model))
        self.bias = nn.Parameter(torch.zeros(d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (batch, seq, d_model)
        mean = x.mean(dim=(-2, -1), keepdim=True)  # (batch, 1, 1): whole sequence
        var = x.var(dim=(-2, -1), keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + self.eps) * self.weight + self.bias


def sequence_norm_block(
    d_model: int = D_MODEL, n_heads: int = N_HEADS, d_ff: int = D_FF, seed: int = 0
) -> PreNormBlock:
    """A causal pre-norm block whose two norms are :class:`SequenceNorm` (the bug)."""
    seed_everything(seed)
    block = PreNormBlock(d_model, n_heads, d_ff, causal=True)
    block.norm1, block.norm2 = SequenceNorm(d_model), SequenceNorm(d_model)
    return block


def future_leak(block: Block, x: torch.Tensor | None = None, position: int = 4) -> float:
    """Largest change of the outputs at positions < ``position`` when only the tokens at
    positions >= ``position`` change. A causal block must give exactly 0."""
    x = small_batch(d_model=block.d_model) if x is None else x
    changed = x.clone()
    changed[:, position:] += torch.randn(changed[:, position:].shape, generator=generator(7))
    block = block.eval()
    with torch.no_grad():
        return (block(changed)[:, :position] - block(x)[:, :position]).abs().max().item()


# ---------------------------------------------------------------------------------------
# Case 3: post-norm -> pre-norm migration of a torch.nn.TransformerEncoder
# ---------------------------------------------------------------------------------------


def _torch_layer(d_model: int, n_heads: int, d_ff: int, norm_first: bool) -> nn.TransformerEncoderLayer:
    # batch_first=False: (seq, batch, d_model), torch's default and the legacy code's layout
    return nn.TransformerEncoderLayer(d_model, n_heads, d_ff, dropout=0.0, norm_first=norm_first)


def legacy_encoder(
    n_layers: int = 6, d_model: int = D_MODEL, n_heads: int = N_HEADS, d_ff: int = D_FF, seed: int = 0
) -> nn.TransformerEncoder:
    """The model before the migration: post-norm torch layers, seq-first, no final norm."""
    seed_everything(seed)
    layer = _torch_layer(d_model, n_heads, d_ff, norm_first=False)
    return nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False).eval()


def migrate_to_pre_norm(legacy: nn.TransformerEncoder, final_norm: bool = True) -> nn.TransformerEncoder:
    """The same layers and weights, rewired as pre-norm (``norm_first=True``).

    ``final_norm=False`` is the bug: ``nn.TransformerEncoder(norm=None)`` adds no final
    norm, and a pre-norm stack needs one (post-norm's last block ended in a norm).
    """
    first = legacy.layers[0]
    d_model, n_heads = first.self_attn.embed_dim, first.self_attn.num_heads
    layer = _torch_layer(d_model, n_heads, first.linear1.out_features, norm_first=True)
    migrated = nn.TransformerEncoder(
        layer, len(legacy.layers), enable_nested_tensor=False, norm=nn.LayerNorm(d_model) if final_norm else None
    )
    for new, old in zip(migrated.layers, legacy.layers):
        new.load_state_dict(old.state_dict())
    return migrated.eval()


def run_torch(encoder: nn.TransformerEncoder, x: torch.Tensor) -> torch.Tensor:
    """Run a torch encoder on batch-first ``x`` (batch, seq, d_model), whatever its layout."""
    seq_first = not encoder.layers[0].self_attn.batch_first
    with torch.no_grad():
        out = encoder(x.transpose(0, 1) if seq_first else x)
    return out.transpose(0, 1) if seq_first else out


def to_normlab(encoder: nn.TransformerEncoder) -> TransformerStack:
    """The normlab stack the migration should equal: each layer through ``from_torch``,
    the pre-norm stack's final norm carrying the encoder's (fresh if it has none)."""
    first = encoder.layers[0]
    block_cls = PreNormBlock if first.norm_first else PostNormBlock
    d_model = first.self_attn.embed_dim
    stack = TransformerStack(
        len(encoder.layers),
        d_model,
        first.self_attn.num_heads,
        first.linear1.out_features,
        placement=block_cls.placement,
    )
    stack.blocks = nn.ModuleList(block_cls.from_torch(layer) for layer in encoder.layers)
    if stack.final_norm is not None and encoder.norm is not None:
        stack.final_norm.load_state_dict(encoder.norm.state_dict())
    return stack.eval()


# ---------------------------------------------------------------------------------------
# Case 4: the "optimisation" that computes the norm once
# ---------------------------------------------------------------------------------------


class NormOnceBlock(Block):
    """The "optimisation": normalise once and feed both sub-layers the same ``h``.

    It saves one LayerNorm per block, keeps every shape and loads the old checkpoint
    without complaint (norm2 is still there, just never used). But the FFN now reads
    ``LN(x)`` from *before* attention: this is a parallel block (GPT-J, PaLM), a
    different function from the sequential pre-norm block the checkpoint was trained as.
    """

    placement = "pre"  # what its author believed

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        self._check(x)
        h = self.norm1(x)  # computed once ...
        x = x + self._sa_block(h, key_padding_mask)
        x = x + self._ff_block(h)  # ... so the FFN reads a stale h
        return x


def unused_parameters(module: Block | TransformerStack, x: torch.Tensor | None = None) -> list[str]:
    """Names of the parameters that get no gradient from one forward and backward pass."""
    x = small_batch(d_model=module.d_model) if x is None else x
    module.zero_grad(set_to_none=True)
    module(x).pow(2).mean().backward()
    unused = [name for name, p in module.named_parameters() if p.grad is None]
    module.zero_grad(set_to_none=True)
    return unused


# The steps whose order shows how a block is wired: norms, and where each sub-layer
# starts and ends (trace names of normlab's blocks).
_WIRING_STEPS = {
    "attn.q_proj": "attn in",
    "attn.out_proj": "attn out",
    "ffn.linear1": "ffn in",
    "ffn.linear2": "ffn out",
}


def wiring_signature(block: Block, x: torch.Tensor | None = None) -> list[str]:
    """The block's norms and sub-layer ends in the order they run, read from a trace.

    Pre-norm gives ['norm', 'attn in', 'attn out', 'norm', 'ffn in', 'ffn out'].
    """
    x = small_batch(d_model=block.d_model) if x is None else x
    signature = []
    for step in trace_shapes(block, x):
        if step.name in _WIRING_STEPS:
            signature.append(_WIRING_STEPS[step.name])
        elif step.name.split(".")[-1].startswith("norm"):
            signature.append("norm")
    return signature


# ---------------------------------------------------------------------------------------
# Case 5: a block spec, and the check a library runs against it
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlockSpec:
    """What an internal library promises about its Transformer block.

    Shapes are stated for a (batch, seq, d_model) input; ``placement`` and ``norm`` name
    a normlab placement and norm (normlab.nn.blocks, normlab.nn.norms).
    """

    d_model: int = 64
    n_heads: int = 4
    d_ff: int = 256
    placement: str = "pre"
    norm: str = "rms"
    causal: bool = True

    def expected_shapes(self, batch: int, seq: int) -> dict[str, tuple[int, ...]]:
        """The shapes the spec promises at the steps a reviewer checks."""
        return {
            "block input / output": (batch, seq, self.d_model),
            "attn.split_heads (per head)": (batch, self.n_heads, seq, self.d_model // self.n_heads),
            "attn.softmax (weights)": (batch, self.n_heads, seq, seq),
            "ffn.linear1 (hidden)": (batch, seq, self.d_ff),
        }

    def reference_block(self) -> Block:
        return Block(
            self.d_model, self.n_heads, self.d_ff, norm=self.norm, causal=self.causal, placement=self.placement
        )


def check_block(block: Block, spec: BlockSpec, batch: int = 2, seq: int = 5) -> dict[str, bool]:
    """Check a block against ``spec``; returns {check name: passed}.

    shapes: output and traced intermediate shapes are those the spec promises;
    norm type: both norms are the spec's kind; wiring: the order of norms and sub-layers
    equals that of normlab's block of the spec's placement; identity path: as clean (or
    not) as the spec's placement; causal: no output depends on a later token.
    """
    x = small_batch(batch, seq, spec.d_model)
    reference = spec.reference_block()
    expected = spec.expected_shapes(batch, seq)
    traced = {s.name: s.output_shape for s in trace_shapes(block, x)}
    with torch.no_grad():
        out_shape = tuple(block.eval()(x).shape)
    shapes_ok = (
        out_shape == expected["block input / output"]
        and traced.get("attn.split_heads") == expected["attn.split_heads (per head)"]
        and traced.get("attn.softmax") == expected["attn.softmax (weights)"]
        and traced.get("ffn.linear1") == expected["ffn.linear1 (hidden)"]
    )
    norm_type = type(make_norm(spec.norm, spec.d_model))
    norms = [m for name, m in block.named_children() if name.startswith("norm")]
    return {
        "shapes": shapes_ok,
        "norm type": bool(norms) and all(isinstance(n, norm_type) for n in norms),
        "wiring": wiring_signature(block, x) == wiring_signature(reference, x),
        "identity path": identity_path_is_clean(block, x) == identity_path_is_clean(reference, x),
        "causal": (future_leak(block, x, position=seq // 2) == 0.0) == spec.causal,
    }
