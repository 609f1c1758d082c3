"""The residual stream at scale and post-norm revisited, measured on the character model
of book/11-small-language-model.md (normlab.studies.lm): what a tiny model shows of the
phenomena papers report in billion-parameter models, and one hybrid placement.

    B2TBlock                      post-norm with Takase et al.'s bottom-to-top connection
    b2t(model)                    a post-norm stack rewired to B2T (a ``train_lm`` modify)
    untrained_models(...)         the seeded models train_lm starts from, untrained
    stream_measures(models, x)    per block: largest |stream| / median |stream|, the stream's
                                  RMS, and the attention mass on the first position
    with_outlier(x, ratio)        x with one massive activation planted on the first token
    int8_errors(x, feature)       int8 absmax error on the ordinary values: one scale per
                                  tensor, per token, or per token with one feature kept in float
    absmax_int8_error(x)          relative error of int8 absmax quantisation, one scale per token
    cast_error(x, dtype)          relative error of rounding x to float16 or bfloat16
    precision_table()             torch.finfo of float32, float16 and bfloat16

The stream of a pre-norm stack is each block's output (never normalised); a post-norm
block's output is already normalised, so its "stream" here is that output too: what the
next block reads and what a quantised model would store.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..nn.blocks import PostNormBlock
from ..nn.stack import TransformerStack
from .analysis import block_io
from .lm import VOCAB, LMConfig
from .seeds import ENSEMBLE, seed_everything

SINK_QUERIES = 8  # attention to the first position is averaged over queries from this position on


class B2TBlock(PostNormBlock):
    """Post-norm plus the B2T connection (Takase et al. 2023; their code's encoder layer with
    ``--residual-bottom-to-top``): the block's input skips both sub-layers and joins the sum
    before the last norm,

        h = LN(x + Attn(x)),   y = LN(h + FFN(h) + x).

    The identity path x -> y now passes one norm per block instead of two. Their code also
    rescales the initial weights of deep stacks (``rescaling_init``); this block does not. It keeps
    post-norm's placement name (it is a post-norm block with one more connection), so it
    is not a seventh entry of ``BLOCKS``.
    """

    formula = "h = LN(x + Attn(x)),  y = LN(h + FFN(h) + x)"

    def forward(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None = None) -> torch.Tensor:
        self._check(x)
        h = self.norm1(x + self._sa_block(x, key_padding_mask))
        return self.norm2(h + self._ff_block(h) + x)


def b2t(model: TransformerStack) -> None:
    """Rewire a freshly built post-norm stack to B2T in place, every block keeping its
    weights (so B2T and post-norm start from the same initialisation)."""
    placements = {block.placement for block in model.blocks}
    if placements != {"post"} or any(isinstance(block, B2TBlock) for block in model.blocks):
        raise ValueError(f"b2t rewires a stack of plain post-norm blocks; got {sorted(placements)}")
    for i, block in enumerate(model.blocks):
        rewired = B2TBlock(block.config)
        rewired.load_state_dict(block.state_dict())
        model.blocks[i] = rewired.train(block.training)


def untrained_models(
    placement: str, n_layers: int, config: LMConfig, seeds: Sequence[int] = ENSEMBLE
) -> list[TransformerStack]:
    """The models ``train_lm(placement, n_layers, config, seeds)`` starts from (same seeds,
    same construction), untrained."""
    models = []
    for seed in seeds:
        seed_everything(seed)
        models.append(
            TransformerStack(
                n_layers, config.d_model, config.n_heads, config.d_ff, placement=placement, causal=True,
                vocab_size=VOCAB, max_seq_len=config.seq,
            ).eval()
        )  # fmt: skip
    return models


def attention_maps(model: TransformerStack, inputs: torch.Tensor) -> list[torch.Tensor]:
    """Each block's attention weights (batch, heads, seq, seq) from one forward pass."""
    maps: list[torch.Tensor] = []
    hooks = [b.attn.softmax.register_forward_hook(lambda m, a, out: maps.append(out)) for b in model.blocks]
    try:
        with torch.no_grad():
            model(inputs)
    finally:
        for hook in hooks:
            hook.remove()
    return maps


def stream_measures(models: Sequence[TransformerStack], inputs: torch.Tensor) -> dict[str, np.ndarray | float]:
    """Per model (rows) and block (columns), on ``inputs`` (batch, seq) token ids:

    "spike"        largest |h| over every token and feature of the block's output h,
                   divided by the median |h| (Sun et al. 2024 compare the top activation
                   with the median; theirs are thousands of times larger)
    "rms"          sqrt(mean h^2) of the block's output, over tokens and features
    "first"        attention mass on position 0, averaged over heads, windows and the
                   queries from SINK_QUERIES on
    "uniform"      the same average if every query attended uniformly to the positions it
                   can see (1 / (q + 1)): "first" / "uniform" > 1 means position 0 gets more
                   than its share
    """
    spike, rms, first = [], [], []
    seq = inputs.shape[1]
    uniform = float(np.mean([1 / (q + 1) for q in range(SINK_QUERIES, seq)]))
    for model in models:
        outputs = [out.abs() for _, out in block_io(model, inputs)]
        spike.append([float(h.max() / h.median()) for h in outputs])
        rms.append([float(h.pow(2).mean().sqrt()) for h in outputs])
        maps = attention_maps(model, inputs)
        first.append([float(w[:, :, SINK_QUERIES:, 0].mean()) for w in maps])
    return {"spike": np.array(spike), "rms": np.array(rms), "first": np.array(first), "uniform": uniform}


def top_stream(model: TransformerStack, inputs: torch.Tensor) -> torch.Tensor:
    """The output of the last block, before any final norm: (batch, seq, d_model)."""
    return block_io(model, inputs)[-1][1]


def absmax_int8_error(x: torch.Tensor) -> float:
    """||x - dequant(quant(x))|| / ||x|| for symmetric int8 absmax quantisation with one
    scale per token (per row of the last axis): q = round(127 x / max|x_row|)."""
    scale = x.abs().amax(dim=-1, keepdim=True).clamp_min(1e-12) / 127
    back = torch.round(x / scale).clamp(-127, 127) * scale
    return float((x - back).norm() / x.norm())


def with_outlier(x: torch.Tensor, ratio: float, feature: int = 0) -> torch.Tensor:
    """A copy of x (batch, seq, d) whose feature ``feature`` at the first position of every
    window is set to ``ratio`` times the median |x|: one massive activation per window, on
    one token and in one fixed feature (Sun et al. 2024: "very few activations", far larger
    than the rest)."""
    planted = x.clone()
    planted[:, 0, feature] = ratio * x.abs().median()
    return planted


def _absmax_round_trip(x: torch.Tensor, amax: torch.Tensor) -> torch.Tensor:
    scale = amax.clamp_min(1e-12) / 127
    return torch.round(x / scale).clamp(-127, 127) * scale


def int8_errors(x: torch.Tensor, feature: int = 0) -> dict[str, float]:
    """Relative error ||x - q(x)|| / ||x|| of symmetric int8 absmax quantisation, measured on
    the ordinary values (every feature but ``feature``), for three choices of scale:

    "per tensor"        one absmax for the whole tensor
    "per token"         one absmax per token (row), as LLM.int8()'s vector-wise quantisation
    "per token, feature kept"  the same with feature ``feature`` left out of the int8 part
                        (kept in float), as LLM.int8()'s mixed-precision decomposition does
                        with its outlier feature dimensions
    """
    keep = torch.ones(x.shape[-1], dtype=torch.bool)
    keep[feature] = False
    ordinary = x[..., keep]

    def error(back: torch.Tensor) -> float:
        return float((ordinary - back[..., keep]).norm() / ordinary.norm())

    return {
        "per tensor": error(_absmax_round_trip(x, x.abs().amax())),
        "per token": error(_absmax_round_trip(x, x.abs().amax(dim=-1, keepdim=True))),
        "per token, feature kept": error(_absmax_round_trip(x, ordinary.abs().amax(dim=-1, keepdim=True))),
    }


def cast_error(x: torch.Tensor, dtype: torch.dtype) -> float:
    """||x - float(x in dtype)|| / ||x||: the relative error of storing x in ``dtype``."""
    return float((x - x.to(dtype).float()).norm() / x.norm())


def precision_table() -> dict[str, dict[str, float]]:
    """torch.finfo of the three float types a training run meets: largest finite value,
    smallest normal value, machine epsilon (spacing just above 1) and mantissa bits."""
    table = {}
    for name, dtype in (("float32", torch.float32), ("float16", torch.float16), ("bfloat16", torch.bfloat16)):
        info = torch.finfo(dtype)
        table[name] = {"max": float(info.max), "tiny": float(info.tiny), "eps": float(info.eps),
                       "mantissa bits": int(round(-np.log2(info.eps)))}  # fmt: skip
    return table


def square_overflows(dtype: torch.dtype) -> float:
    """The smallest |x| whose square overflows ``dtype`` (RMSNorm's mean of squares)."""
    return float(torch.finfo(dtype).max) ** 0.5


__all__ = [
    "B2TBlock",
    "SINK_QUERIES",
    "absmax_int8_error",
    "attention_maps",
    "int8_errors",
    "b2t",
    "cast_error",
    "precision_table",
    "square_overflows",
    "stream_measures",
    "top_stream",
    "untrained_models",
    "with_outlier",
]
