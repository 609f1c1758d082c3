"""``describe_block``: a block read like a model card (placement, norm, FFN, attention, positions).

It reads only the block's config, so it lives beside the blocks; chapter 6 puts it next to
the Hugging Face layers ``from_hf`` converted.
"""

from __future__ import annotations

from .blocks import Block

_NORM_NAMES = {"layer": "LayerNorm", "rms": "RMSNorm", "scale": "ScaleNorm"}
_ACT_NAMES = {"relu": "ReLU", "gelu": "GELU", "gelu_exact": "GELU", "gelu_tanh": "GELU (tanh)", "silu": "SiLU"}


def describe_block(block: Block) -> dict[str, str]:
    """What a block is made of, in the words a model card uses: placement, norm, FFN,
    attention and positions."""
    cfg = block.config
    norm = _NORM_NAMES[cfg.norm] + (" (1 + w)" if cfg.unit_offset else "")
    if cfg.eps is not None:
        norm += f", ε = {cfg.eps:g}"
    if block.placement == "parallel":
        placement = "parallel, " + ("one shared norm" if cfg.shared_norm else "two norms")
    else:
        placement = block.placement
    act = _ACT_NAMES[cfg.activation]
    ffn = (
        {"SiLU": "SwiGLU", "GELU (tanh)": "GeGLU (tanh)", "GELU": "GeGLU"}.get(act, f"gated {act}")
        if cfg.gated
        else act
    )
    kv = cfg.n_heads if cfg.n_kv_heads is None else cfg.n_kv_heads
    heads = (
        f"{cfg.n_heads} heads"
        if kv == cfg.n_heads
        else (
            f"MQA: {cfg.n_heads} query heads, 1 K/V head"
            if kv == 1
            else f"GQA: {cfg.n_heads} query heads, {kv} K/V heads"
        )
    )
    if cfg.qk_norm is not None:
        heads += ", QK-norm " + ("per head" if cfg.qk_norm == "head" else "over all heads")
    if cfg.rope_base is None:
        positions = "outside the block (learned embeddings)"
    else:
        head_dim = cfg.head_dim or cfg.d_model // cfg.n_heads
        share = "" if (cfg.rotary_dim or head_dim) == head_dim else f" on {cfg.rotary_dim} of {head_dim} features"
        positions = f"RoPE{share}" + (", neighbouring pairs" if cfg.rope_interleaved else "")
    return {
        "placement": placement,
        "norm": norm,
        "FFN": ffn,
        "attention": heads,
        "positions": positions,
        "biases": "yes" if (cfg.qkv_bias or cfg.ffn_bias) else "none",
    }
