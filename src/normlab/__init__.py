"""normlab: how a Transformer block is wired, in small readable PyTorch modules.

    from normlab import PreNormBlock, PostNormBlock, trace_shapes
    block = PreNormBlock(d_model=64, n_heads=4, d_ff=256)   # y = x + F(LN(x))
"""

from .analysis import activation_norms_by_layer, grad_norms_by_layer, seed_everything
from .attention import MultiHeadSelfAttention
from .blocks import (BLOCKS, PLACEMENTS, Block, DeepNormBlock, ParallelBlock, PostNormBlock,
                     PreNormBlock, ResPostNormBlock, SandwichBlock)
from .feedforward import FeedForward
from .norms import NORMS, RMSNorm, ScaleNorm, make_norm
from .shapes import ShapeError
from .stack import TransformerStack
from .trace import TraceStep, format_trace, trace_shapes

__all__ = [
    "activation_norms_by_layer", "grad_norms_by_layer", "seed_everything",
    "MultiHeadSelfAttention", "FeedForward",
    "BLOCKS", "PLACEMENTS", "Block", "PostNormBlock", "PreNormBlock", "SandwichBlock",
    "ResPostNormBlock", "DeepNormBlock", "ParallelBlock",
    "NORMS", "RMSNorm", "ScaleNorm", "make_norm",
    "ShapeError", "TransformerStack", "TraceStep", "format_trace", "trace_shapes",
]
