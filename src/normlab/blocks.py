"""One Transformer block, six ways to wire its residual connections and norms.

Every block has the same two sub-layers, ``F`` = self-attention then feed-forward, and
maps ``(batch, seq, d_model) -> (batch, seq, d_model)``. What differs is where the norm
sits relative to the residual add (facts.md section 1):

    post      y = LN(x + F(x))                 Vaswani et al. 2017, BERT, GPT-1
    pre       y = x + F(LN(x))                 Xiong et al. 2020, GPT-2, LLaMA
    sandwich  y = x + LN(F(LN(x)))             CogView, Gemma 2/3
    res-post  y = x + LN(F(x))                 Swin V2, OLMo 2 (the course text's "pre-norm")
    deepnorm  y = LN(alpha * x + F(x))         DeepNet (Wang et al. 2022)
    parallel  y = x + Attn(LN(x)) + FFN(LN(x)) GPT-J, PaLM

Each wiring is a subclass whose ``forward`` reads like its formula. ``Block(...,
placement="pre")`` returns the subclass for a placement chosen by name.
Dropout sits where ``nn.TransformerEncoderLayer`` puts it: inside the FFN, on the
attention weights, and on each sub-layer's output before the residual add.
"""

from __future__ import annotations

import torch
from torch import nn

from .attention import MultiHeadSelfAttention
from .feedforward import FeedForward
from .norms import make_norm
from .shapes import expect_shape

PLACEMENTS = ("post", "pre", "sandwich", "res-post", "deepnorm", "parallel")


class Block(nn.Module):
    """The sub-layers shared by every placement; subclasses wire them.

    Args: d_model (features per token), n_heads, d_ff (hidden width of the FFN),
    dropout, norm ("layer" | "rms" | "scale"), activation ("relu" | "gelu"), causal,
    n_layers (depth of the stack the block sits in; only DeepNorm's alpha/beta use it).
    """

    placement: str = ""

    def __new__(cls, *args, placement: str | None = None, **kwargs):
        # Block(..., placement="post") builds a PostNormBlock, and so on.
        if cls is Block:
            if placement not in BLOCKS:
                raise ValueError(f"unknown placement {placement!r}: expected one of {PLACEMENTS}")
            cls = BLOCKS[placement]
        return super().__new__(cls)

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float = 0.0,
                 norm: str = "layer", activation: str = "relu", causal: bool = False,
                 n_layers: int = 1, placement: str | None = None):
        super().__init__()
        if placement is not None and placement != self.placement:
            raise ValueError(f"{type(self).__name__} has placement {self.placement!r}, not {placement!r}")
        self.d_model, self.norm_name, self.n_layers = d_model, norm, n_layers
        self.attn = MultiHeadSelfAttention(d_model, n_heads, dropout, causal)
        self.ffn = FeedForward(d_model, d_ff, dropout, activation)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.norm1 = make_norm(norm, d_model)
        self.norm2 = make_norm(norm, d_model)

    # The two sub-layer functions F, as in torch's TransformerEncoderLayer.
    def _sa_block(self, x: torch.Tensor, key_padding_mask: torch.Tensor | None) -> torch.Tensor:
        return self.dropout1(self.attn(x, key_padding_mask=key_padding_mask))

    def _ff_block(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.ffn(x))

    def _check(self, x: torch.Tensor) -> None:
        expect_shape(x, "block input", "batch", "seq", ("d_model", self.d_model))

    def extra_repr(self) -> str:
        return f"placement={self.placement!r}"

    @classmethod
    def from_torch(cls, layer: nn.TransformerEncoderLayer) -> Block:
        """A block carrying the weights of ``layer`` (batch_first or not).

        The block is always batch-first: feed it ``(batch, seq, d_model)``.
        """
        return _from_torch(cls, layer)


class PostNormBlock(Block):
    """y = LN(x + F(x)): the norm sits on the residual stream itself."""

    placement = "post"

    def forward(self, x, key_padding_mask=None):
        self._check(x)
        x = self.norm1(x + self._sa_block(x, key_padding_mask))
        x = self.norm2(x + self._ff_block(x))
        return x


class PreNormBlock(Block):
    """y = x + F(LN(x)): the identity path is never normalised."""

    placement = "pre"

    def forward(self, x, key_padding_mask=None):
        self._check(x)
        x = x + self._sa_block(self.norm1(x), key_padding_mask)
        x = x + self._ff_block(self.norm2(x))
        return x


class SandwichBlock(Block):
    """y = x + LN(F(LN(x))): pre-norm plus a norm on each branch's output."""

    placement = "sandwich"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.norm3 = make_norm(self.norm_name, self.d_model)   # after attention
        self.norm4 = make_norm(self.norm_name, self.d_model)   # after the FFN

    def forward(self, x, key_padding_mask=None):
        self._check(x)
        x = x + self.norm3(self._sa_block(self.norm1(x), key_padding_mask))
        x = x + self.norm4(self._ff_block(self.norm2(x)))
        return x


class ResPostNormBlock(Block):
    """y = x + LN(F(x)): the norm on the branch's output (Swin V2; the course text's form)."""

    placement = "res-post"

    def forward(self, x, key_padding_mask=None):
        self._check(x)
        x = x + self.norm1(self._sa_block(x, key_padding_mask))
        x = x + self.norm2(self._ff_block(x))
        return x


class DeepNormBlock(Block):
    """y = LN(alpha * x + F(x)), with F's value/output/FFN weights scaled by beta at init.

    For an encoder-only stack of N blocks: alpha = (2N)^(1/4), beta = (8N)^(-1/4)
    (Wang et al. 2022; facts.md section 3).
    """

    placement = "deepnorm"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.alpha = (2 * self.n_layers) ** 0.25
        self.beta = (8 * self.n_layers) ** -0.25
        # torchscale's init: Xavier-normal, gain beta on the value/output/FFN weights.
        for proj, gain in ((self.attn.q_proj, 1.0), (self.attn.k_proj, 1.0),
                           (self.attn.v_proj, self.beta), (self.attn.out_proj, self.beta),
                           (self.ffn.linear1, self.beta), (self.ffn.linear2, self.beta)):
            nn.init.xavier_normal_(proj.weight, gain=gain)

    def forward(self, x, key_padding_mask=None):
        self._check(x)
        x = self.norm1(self.alpha * x + self._sa_block(x, key_padding_mask))
        x = self.norm2(self.alpha * x + self._ff_block(x))
        return x

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha:.4g}, beta={self.beta:.4g}"


class ParallelBlock(Block):
    """y = x + Attn(LN(x)) + FFN(LN(x)): both sub-layers read the same normalised input."""

    placement = "parallel"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        del self.norm2   # one norm feeds both branches (GPT-J, PaLM)

    def forward(self, x, key_padding_mask=None):
        self._check(x)
        h = self.norm1(x)
        return x + self._sa_block(h, key_padding_mask) + self._ff_block(h)


BLOCKS: dict[str, type[Block]] = {
    cls.placement: cls for cls in (PostNormBlock, PreNormBlock, SandwichBlock,
                                   ResPostNormBlock, DeepNormBlock, ParallelBlock)
}


def _from_torch(cls: type[Block], layer: nn.TransformerEncoderLayer) -> Block:
    wanted = {PreNormBlock: True, PostNormBlock: False}
    if cls not in wanted:
        raise TypeError("from_torch builds PreNormBlock or PostNormBlock: "
                        "nn.TransformerEncoderLayer has only these two placements")
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
    block = cls(attn.embed_dim, attn.num_heads, layer.linear1.out_features,
                dropout=layer.dropout.p, activation=activation)
    with torch.no_grad():
        # torch packs W_Q, W_K, W_V into one (3 * d_model, d_model) matrix
        for proj, w, b in zip((block.attn.q_proj, block.attn.k_proj, block.attn.v_proj),
                              attn.in_proj_weight.chunk(3), attn.in_proj_bias.chunk(3)):
            proj.weight.copy_(w)
            proj.bias.copy_(b)
        for mine, theirs in ((block.attn.out_proj, attn.out_proj), (block.ffn.linear1, layer.linear1),
                             (block.ffn.linear2, layer.linear2), (block.norm1, layer.norm1),
                             (block.norm2, layer.norm2)):
            mine.load_state_dict(theirs.state_dict())
    block.norm1.eps, block.norm2.eps = layer.norm1.eps, layer.norm2.eps
    return block
