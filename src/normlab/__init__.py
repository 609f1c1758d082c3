"""normlab: how a Transformer block is wired, in small readable PyTorch modules.

    from normlab import PreNormBlock, PostNormBlock, trace_shapes
    block = PreNormBlock(d_model=64, n_heads=4, d_ff=256)   # y = x + F(LN(x))

The public names below are imported on first use (PEP 562), so tools that need no
torch, such as ``python -m normlab.book.build`` or ``python -m normlab.book.assets``, start fast.
"""

from importlib import import_module
from importlib.util import find_spec
from typing import Any

_PUBLIC = {
    "studies.analysis": ["activation_norms_by_layer", "grad_norms_by_layer"],
    "studies.seeds": ["seed_everything"],
    "nn.attention": ["MultiHeadSelfAttention", "RotaryEmbedding"],
    "nn.blocks": [
        "BLOCKS",
        "PLACEMENTS",
        "Block",
        "PostNormBlock",
        "PreNormBlock",
        "SandwichBlock",
        "ResPostNormBlock",
        "DeepNormBlock",
        "ParallelBlock",
        "BlockConfig",
    ],
    "nn.feedforward": ["FeedForward", "GatedFeedForward"],
    "hf": ["from_hf", "from_hf_model"],
    "nn.describe": ["describe_block"],
    "nn.norms": ["NORMS", "RMSNorm", "ScaleNorm", "make_norm"],
    "nn.shapes": ["ShapeError"],
    "nn.stack": ["TransformerStack"],
    "nn.trace": ["TraceStep", "format_trace", "trace_shapes"],
}
_MODULE_OF = {name: module for module, names in _PUBLIC.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        if find_spec(f"{__name__}.{name}") is not None:  # a submodule: `normlab.quiz.show(...)`
            return import_module(f".{name}", __name__)
        raise AttributeError(f"module 'normlab' has no attribute {name!r}")
    value = getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
