"""normlab and Hugging Face ``transformers``: convert a layer, run it as its model would, build tiny ones.

    from normlab.hf import from_hf, run_hf_layer, tiny_hf_layer
    layer = tiny_hf_layer("LlamaDecoderLayer")
    block = from_hf(layer)            # a PreNormBlock with the layer's weights
    run_hf_layer(layer, x) ≈ block(x)

A layer above ``normlab.nn`` (which is torch only): ``convert`` maps layers and models to
normlab blocks and stacks, ``run`` calls a layer with the mask and positions its model
would build, ``fixtures`` builds tiny randomised layers and models (nothing downloaded).
"""

from .convert import FROM_HF, from_hf, from_hf_model
from .fixtures import HF_LAYERS, REFUSED_LAYERS, TINY, randomise_, tiny_hf_layer, tiny_hf_model
from .run import CAUSAL, hf_attention_mask, run_hf_layer

__all__ = [
    "CAUSAL",
    "FROM_HF",
    "HF_LAYERS",
    "REFUSED_LAYERS",
    "TINY",
    "from_hf",
    "from_hf_model",
    "hf_attention_mask",
    "randomise_",
    "run_hf_layer",
    "tiny_hf_layer",
    "tiny_hf_model",
]
