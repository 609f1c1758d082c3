"""One Transformer block, six ways to wire its residual connections and norms.

Every block has the same two sub-layers, ``F`` = self-attention then feed-forward, and
maps ``(batch, seq, d_model) -> (batch, seq, d_model)``. What differs is where the norm
sits relative to the residual add:

    post      y = LN(x + F(x))                 Vaswani et al. 2017 section 3.1, BERT, GPT-1
    pre       y = x + F(LN(x))                 Xiong et al. 2020, GPT-2 section 2.3, LLaMA
    sandwich  y = x + LN(F(LN(x)))             CogView (Ding et al. 2021), Gemma 2/3
    res-post  y = x + LN(F(x))                 Swin V2 (Liu et al. 2022), OLMo 2
    deepnorm  y = LN(alpha * x + F(x))         DeepNet (Wang et al. 2022)
    parallel  y = x + Attn(LN(x)) + FFN(LN(x)) GPT-J, PaLM (Chowdhery et al. 2022 section 2)

**A placement is one class.** Each subclass's ``forward`` reads like its formula, and its
class attributes say everything the rest of normlab needs to know about it: ``formula``,
``wiring`` (the order of the operations on one sub-layer), ``final_norm`` (does a stack of
these blocks end with one more norm), ``stream_at`` (where its residual stream is
measured), ``sublayer`` (one sub-layer as a function of ``(x, f, norm)``), ``prescribes_init``
(its initialisation is part of it) and ``models``. How a figure draws a placement is the
demos' business (``normlab.demos.figures.PLACEMENT_STYLE``, keyed by placement name).
Defining a subclass with a new ``placement`` registers it in ``BLOCKS``.

``Block(..., placement="pre")`` returns the subclass for a placement chosen by name.
A block is configured by one ``BlockConfig``; ``PreNormBlock(d_model=64, n_heads=4,
d_ff=256)`` builds that config from its arguments.
Dropout sits where ``nn.TransformerEncoderLayer`` puts it: inside the FFN, on the
attention weights, and on each sub-layer's output before the residual add.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from .attention import MultiHeadSelfAttention
from .feedforward import FeedForward, GatedFeedForward
from .norms import make_norm
from .shapes import expect_shape


@dataclass(frozen=True)
class BlockConfig:
    """Everything a block is built from (the stack builds each of its blocks from one).

    d_model (features per token), n_heads, d_ff (hidden width of the FFN), dropout,
    norm ("layer" | "rms" | "scale"), activation ("relu" | "gelu" | "gelu_tanh" |
    "silu" ...), causal, n_layers (depth of the stack the block sits in; only DeepNorm's
    alpha/beta use it). The rest describe real models and are off by default:
    eps (the norms' epsilon; None = the norm's default), unit_offset (RMSNorm gain 1 + w,
    Gemma), gated (FFN = down(act(gate(x)) * up(x))), n_kv_heads (GQA/MQA), head_dim,
    qkv_bias / out_bias / ffn_bias, rope_base (RoPE on q and k) with rotary_dim and
    rope_interleaved, qk_norm (None | "head" | "all"), attn_scale (None = 1/sqrt(head_dim)),
    shared_norm (parallel blocks: one norm for both branches, or two).
    """

    d_model: int
    n_heads: int
    d_ff: int
    dropout: float = 0.0
    norm: str = "layer"
    activation: str = "relu"
    causal: bool = False
    n_layers: int = 1
    eps: float | None = None
    unit_offset: bool = False
    gated: bool = False
    n_kv_heads: int | None = None
    head_dim: int | None = None
    qkv_bias: bool = True
    out_bias: bool = True
    ffn_bias: bool = True
    rope_base: float | None = None
    rotary_dim: int | None = None
    rope_interleaved: bool = False
    qk_norm: str | None = None
    attn_scale: float | None = None
    shared_norm: bool = True

    def make_norm(self, d: int | None = None) -> nn.Module:
        return make_norm(self.norm, self.d_model if d is None else d, self.eps, self.unit_offset)

    def make_attention(self) -> MultiHeadSelfAttention:
        return MultiHeadSelfAttention(
            self.d_model,
            self.n_heads,
            self.dropout,
            self.causal,
            n_kv_heads=self.n_kv_heads,
            head_dim=self.head_dim,
            qkv_bias=self.qkv_bias,
            out_bias=self.out_bias,
            rope_base=self.rope_base,
            rotary_dim=self.rotary_dim,
            rope_interleaved=self.rope_interleaved,
            qk_norm=self.qk_norm,
            norm=self.norm,
            eps=self.eps,
            unit_offset=self.unit_offset,
            scale=self.attn_scale,
        )

    def make_ffn(self) -> nn.Module:
        ffn = GatedFeedForward if self.gated else FeedForward
        return ffn(self.d_model, self.d_ff, self.dropout, self.activation, bias=self.ffn_bias)


@dataclass(frozen=True)
class Wiring:
    """One sub-layer of a placement, in the order its operations run."""

    branch: tuple[str, ...]  # boxes on the branch, in order ("LN", "F", ...)
    after_add: tuple[str, ...] = ()  # boxes on the stream after the add
    identity_scale: str = ""  # a factor on the identity path, if any

    @property
    def identity_is_clean(self) -> bool:
        """True when nothing normalises or rescales the path x -> y that skips F."""
        return not self.after_add and not self.identity_scale


BLOCKS: dict[str, type[Block]] = {}


class Block(nn.Module):
    """The sub-layers shared by every placement; subclasses wire them.

    ``Block(config)`` or ``Block(d_model, n_heads, d_ff, dropout=..., norm=...,
    activation=..., causal=..., n_layers=..., **more BlockConfig fields)``.
    """

    # Sub-modules are read by name across normlab, by learners and by from_hf. The FFN is a
    # FeedForward or a GatedFeedForward (config.gated), a norm any of NORMS, and studies put
    # wrappers in their place (NormedOutput, ...), so they are typed by what readers may do.
    attn: Any
    ffn: Any
    norm1: Any
    norm2: Any

    placement: str = ""
    formula: str = ""
    wiring: Wiring = Wiring(())
    final_norm: bool = True  # a stack of these blocks ends with one more norm
    stream_at: str = "output"  # "output" | "last norm input": where the residual stream is measured
    sublayer: Callable | None = None  # staticmethod (x, f, norm) -> y for one sub-layer
    models: tuple[str, ...] = ()
    # the placement's own initialisation is part of it (DeepNorm's beta): a study that
    # re-initialises the weights of its blocks leaves such a block alone
    prescribes_init: bool = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # the first class to name a placement owns it; a subclass that reuses the name
        # (a variant in a case study, a learner's copy) does not replace it
        if cls.__dict__.get("placement") and cls.placement not in BLOCKS:
            BLOCKS[cls.placement] = cls

    def __new__(cls, *args: Any, placement: str | None = None, **kwargs: Any) -> Block:
        # Block(..., placement="post") builds a PostNormBlock, and so on.
        if cls is Block:
            if placement not in BLOCKS:
                raise ValueError(f"unknown placement {placement!r}: expected one of {tuple(BLOCKS)}")
            cls = BLOCKS[placement]
        return super().__new__(cls)

    def __init__(self, *args: Any, placement: str | None = None, **kwargs: Any) -> None:
        super().__init__()
        if placement is not None and placement != self.placement:
            raise ValueError(f"{type(self).__name__} has placement {self.placement!r}, not {placement!r}")
        if args and isinstance(args[0], BlockConfig):
            config = dataclasses.replace(args[0], **kwargs)
        else:
            config = BlockConfig(*args, **kwargs)
        self.config = config
        self.d_model, self.norm_name, self.n_layers = config.d_model, config.norm, config.n_layers
        self.attn = config.make_attention()
        self.ffn = config.make_ffn()
        self.dropout1 = nn.Dropout(config.dropout)
        self.dropout2 = nn.Dropout(config.dropout)
        self.norm1 = config.make_norm()
        self.norm2 = config.make_norm()
        self._add_modules()
        self.init_weights()

    def _add_modules(self) -> None:
        """Where a placement adds (or removes) modules of its own."""

    def init_weights(self) -> None:
        """The one place a block's initialisation is decided. By default: PyTorch's for the
        FFN, Xavier-uniform Q/K/V with zero biases for attention (as nn.MultiheadAttention),
        norms with gain 1 and bias 0 (set when the modules are built). DeepNorm overrides it."""

    # The two sub-layer functions F, as in torch's TransformerEncoderLayer.
    def _sa_block(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.attn(x, key_padding_mask=key_padding_mask))

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.ffn(x))

    def _check(self, x: torch.Tensor) -> None:
        expect_shape(x, "block input", "batch", "seq", ("d_model", self.d_model))

    def extra_repr(self) -> str:
        return f"placement={self.placement!r}"

    def rewired(self, placement: str) -> Block:
        """A block of another placement carrying this block's weights (same config); the
        norms only the other placement has keep their initial gains."""
        other = Block(self.config, placement=placement)
        theirs = other.state_dict()
        shared = {k: v for k, v in self.state_dict().items() if k in theirs and theirs[k].shape == v.shape}
        other.load_state_dict(shared, strict=False)
        return other.train(self.training)

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> Block:
        """A block carrying the weights of ``layer`` (batch_first or not).

        The block is always batch-first: feed it ``(batch, seq, d_model)``.
        """
        return _from_torch(cls, layer)


class PostNormBlock(Block):
    """y = LN(x + F(x)): the norm sits on the residual stream itself."""

    placement = "post"
    formula = "y = LN(x + F(x))"
    wiring = Wiring(("F",), ("LN",))
    final_norm = False  # each block already ends with a norm (BERT has no final LN)
    stream_at = "last norm input"
    sublayer = staticmethod(lambda x, f, norm: norm(x + f(x)))
    models = ("Transformer 2017", "BERT", "GPT-1")

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        self._check(x)
        x = self.norm1(x + self._sa_block(x, key_padding_mask))
        x = self.norm2(x + self._ff_block(x))
        return x


class PreNormBlock(Block):
    """y = x + F(LN(x)): the identity path is never normalised."""

    placement = "pre"
    formula = "y = x + F(LN(x))"
    wiring = Wiring(("LN", "F"))
    sublayer = staticmethod(lambda x, f, norm: x + f(norm(x)))
    models = ("GPT-2/3", "T5", "LLaMA")

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        self._check(x)
        x = x + self._sa_block(self.norm1(x), key_padding_mask)
        x = x + self._ff_block(self.norm2(x))
        return x


class SandwichBlock(Block):
    """y = x + LN(F(LN(x))): pre-norm plus a norm on each branch's output."""

    placement = "sandwich"
    formula = "y = x + LN(F(LN(x)))"
    wiring = Wiring(("LN", "F", "LN"))
    sublayer = staticmethod(lambda x, f, norm: x + norm(f(norm(x))))
    models = ("CogView", "Gemma 2/3")

    def _add_modules(self) -> None:
        self.norm3 = self.config.make_norm()  # after attention
        self.norm4 = self.config.make_norm()  # after the FFN

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        self._check(x)
        x = x + self.norm3(self._sa_block(self.norm1(x), key_padding_mask))
        x = x + self.norm4(self._ff_block(self.norm2(x)))
        return x


class ResPostNormBlock(Block):
    """y = x + LN(F(x)): the norm on the branch's output (Swin V2; the course text's form)."""

    placement = "res-post"
    formula = "y = x + LN(F(x))"
    wiring = Wiring(("F", "LN"))
    sublayer = staticmethod(lambda x, f, norm: x + norm(f(x)))
    models = ("Swin V2", "OLMo 2")

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        self._check(x)
        x = x + self.norm1(self._sa_block(x, key_padding_mask))
        x = x + self.norm2(self._ff_block(x))
        return x


class DeepNormBlock(Block):
    """y = LN(alpha * x + F(x)), with F's value/output/FFN weights scaled by beta at init.

    For an encoder-only stack of N blocks: alpha = (2N)^(1/4), beta = (8N)^(-1/4)
    (Wang et al. 2022, DeepNet: its table of alpha and beta per architecture).
    """

    placement = "deepnorm"
    formula = "y = LN(α·x + F(x)),  F's weights ×β at init"
    wiring = Wiring(("F",), ("LN",), identity_scale="×α")
    final_norm = False
    stream_at = "last norm input"
    prescribes_init = True
    models = ("DeepNet (Wang et al. 2022)",)

    def init_weights(self) -> None:
        self.alpha = (2 * self.n_layers) ** 0.25
        self.beta = (8 * self.n_layers) ** -0.25
        # The DeepNet paper's init (its Figure 2 pseudocode): Xavier-normal, gain beta on the
        # value/output/FFN weights. torchscale's code differs: it keeps its default init and
        # multiplies those weights by beta afterwards (book/references/facts.md, section 9).
        ffn = self.ffn
        ffn_weights = (ffn.gate_proj, ffn.up_proj, ffn.down_proj) if self.config.gated else (ffn.linear1, ffn.linear2)
        for proj, gain in (
            (self.attn.q_proj, 1.0),
            (self.attn.k_proj, 1.0),
            (self.attn.v_proj, self.beta),
            (self.attn.out_proj, self.beta),
            *((w, self.beta) for w in ffn_weights),
        ):
            nn.init.xavier_normal_(proj.weight, gain=gain)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        self._check(x)
        x = self.norm1(self.alpha * x + self._sa_block(x, key_padding_mask))
        x = self.norm2(self.alpha * x + self._ff_block(x))
        return x

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha:.4g}, beta={self.beta:.4g}"


class ParallelBlock(Block):
    """y = x + Attn(LN(x)) + FFN(LN(x)): both sub-layers read the same normalised input.

    With ``shared_norm=False`` each branch has its own norm, y = x + Attn(LN1(x)) +
    FFN(LN2(x)) (GPT-NeoX, Falcon-40B).
    """

    placement = "parallel"
    formula = "y = x + Attn(LN(x)) + FFN(LN(x))"
    wiring = Wiring(("LN", "Attn + FFN"))
    models = ("GPT-J", "PaLM")

    def _add_modules(self) -> None:
        if self.config.shared_norm:
            del self.norm2  # one norm feeds both branches (GPT-J, PaLM)

    def forward(self, x: Tensor, key_padding_mask: Tensor | None = None) -> Tensor:
        self._check(x)
        h = self.norm1(x)
        h_ffn = h if self.config.shared_norm else self.norm2(x)
        return x + self._sa_block(h, key_padding_mask) + self._ff_block(h_ffn)


PLACEMENTS = tuple(BLOCKS)


def _from_torch(cls: type[Block], layer: nn.TransformerEncoderLayer) -> Block:
    wanted = {PreNormBlock: True, PostNormBlock: False}
    if cls not in wanted:
        raise TypeError(
            "from_torch builds PreNormBlock or PostNormBlock: nn.TransformerEncoderLayer has only these two placements"
        )
    if layer.norm_first != wanted[cls]:
        other = "PreNormBlock" if layer.norm_first else "PostNormBlock"
        raise ValueError(
            f"{cls.__name__}.from_torch needs a layer with norm_first={wanted[cls]}, "
            f"got norm_first={layer.norm_first}: use {other}.from_torch for this layer"
        )
    attn = layer.self_attn
    if attn.in_proj_weight is None or attn.in_proj_bias is None or layer.linear1.bias is None:
        raise ValueError("from_torch needs a layer built with bias=True and equal q/k/v dimensions")
    activation = {1: "relu", 2: "gelu"}.get(layer.activation_relu_or_gelu)
    if activation is None:
        raise ValueError(f"from_torch supports relu or gelu activations, got {layer.activation!r}")
    block = cls(
        attn.embed_dim,
        attn.num_heads,
        layer.linear1.out_features,
        dropout=layer.dropout.p,
        activation=activation,
        eps=layer.norm1.eps,
    )
    with torch.no_grad():
        # torch packs W_Q, W_K, W_V into one (3 * d_model, d_model) matrix
        for proj, w, b in zip(
            (block.attn.q_proj, block.attn.k_proj, block.attn.v_proj),
            attn.in_proj_weight.chunk(3),
            attn.in_proj_bias.chunk(3),
        ):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        for mine, theirs in (
            (block.attn.out_proj, attn.out_proj),
            (block.ffn.linear1, layer.linear1),
            (block.ffn.linear2, layer.linear2),
            (block.norm1, layer.norm1),
            (block.norm2, layer.norm2),
        ):
            mine.load_state_dict(theirs.state_dict())
    block.norm1.eps, block.norm2.eps = layer.norm1.eps, layer.norm2.eps
    return block
