"""Tiny Hugging Face layers and models, for the tests and chapter 6.

Built from small configs written here, every parameter re-drawn at random, so a wrong
weight mapping cannot hide behind unit gains and zero biases. Nothing is downloaded
(``HF_HUB_OFFLINE=1``); ``transformers`` is imported only inside these functions, so
``import normlab.hf`` never needs it.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType
from typing import Any

import torch
from torch import nn

TINY = {
    "d_model": 32,
    "n_heads": 4,
    "n_kv_heads": 2,
    "head_dim": 16,
    "d_ff": 64,
    "n_layers": 2,
    "vocab": 64,
    "positions": 64,
}


def _offline_transformers() -> ModuleType:
    """transformers, imported with the hub switched off: these helpers never download."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import transformers

    return transformers


def _tiny_config(kind: str, **overrides: Any) -> Any:
    tf = _offline_transformers()

    t = TINY
    decoder = dict(
        hidden_size=t["d_model"],
        num_attention_heads=t["n_heads"],
        intermediate_size=t["d_ff"],
        num_hidden_layers=t["n_layers"],
        vocab_size=t["vocab"],
        max_position_embeddings=t["positions"],
    )
    gqa = dict(decoder, num_key_value_heads=t["n_kv_heads"])
    gemma = dict(gqa, head_dim=t["head_dim"], query_pre_attn_scalar=t["head_dim"])  # head_dim != d_model / heads
    configs = {
        "gpt2": lambda: tf.GPT2Config(
            n_embd=t["d_model"],
            n_head=t["n_heads"],
            n_inner=t["d_ff"],
            n_layer=t["n_layers"],
            vocab_size=t["vocab"],
            n_positions=t["positions"],
            bos_token_id=0,
            eos_token_id=0,
        ),
        "bert": lambda: tf.BertConfig(**decoder),
        "opt": lambda: tf.OPTConfig(
            hidden_size=t["d_model"],
            num_attention_heads=t["n_heads"],
            ffn_dim=t["d_ff"],
            num_hidden_layers=t["n_layers"],
            vocab_size=t["vocab"],
            max_position_embeddings=t["positions"],
            word_embed_proj_dim=t["d_model"],
        ),
        "llama": lambda: tf.LlamaConfig(**gqa),
        "mistral": lambda: tf.MistralConfig(**gqa, sliding_window=None),
        "gemma2": lambda: tf.Gemma2Config(**gemma, attn_logit_softcapping=None, final_logit_softcapping=None),
        "gemma3": lambda: tf.Gemma3TextConfig(**gemma),
        "olmo2": lambda: tf.Olmo2Config(**gqa, eos_token_id=0),
        "gptj": lambda: tf.GPTJConfig(
            n_embd=t["d_model"],
            n_head=t["n_heads"],
            n_inner=t["d_ff"],
            rotary_dim=4,
            n_layer=t["n_layers"],
            vocab_size=t["vocab"],
            n_positions=t["positions"],
            bos_token_id=0,
            eos_token_id=0,
        ),
        "gpt_neox": lambda: tf.GPTNeoXConfig(**decoder, rotary_pct=0.5, bos_token_id=0, eos_token_id=0),
        # two that from_hf refuses, to show the refusal
        "t5": lambda: tf.T5Config(
            d_model=t["d_model"],
            d_kv=t["d_model"] // t["n_heads"],
            d_ff=t["d_ff"],
            num_heads=t["n_heads"],
            num_layers=t["n_layers"],
            vocab_size=t["vocab"],
        ),
        "bloom": lambda: tf.BloomConfig(
            hidden_size=t["d_model"], n_head=t["n_heads"], n_layer=t["n_layers"], vocab_size=t["vocab"]
        ),
    }
    config = configs[kind]()
    for key, value in overrides.items():
        setattr(config, key, value)
    config._attn_implementation = "eager"  # the plain softmax(QK^T)V path, for exact comparisons
    return config


# kind -> (module, layer class); OPT twice: most sizes are pre-norm, OPT-350m post-norm
HF_LAYERS = {
    "GPT2Block": ("gpt2", "GPT2Block", {}),
    "BertLayer": ("bert", "BertLayer", {}),
    "OPTDecoderLayer": ("opt", "OPTDecoderLayer", {}),
    "OPTDecoderLayer (350m)": ("opt", "OPTDecoderLayer", {"do_layer_norm_before": False}),
    "LlamaDecoderLayer": ("llama", "LlamaDecoderLayer", {}),
    "MistralDecoderLayer": ("mistral", "MistralDecoderLayer", {}),
    "Gemma2DecoderLayer": ("gemma2", "Gemma2DecoderLayer", {}),
    "Gemma3DecoderLayer": ("gemma3", "Gemma3DecoderLayer", {}),
    "Olmo2DecoderLayer": ("olmo2", "Olmo2DecoderLayer", {}),
    "GPTJBlock": ("gptj", "GPTJBlock", {}),
    "GPTNeoXLayer": ("gpt_neox", "GPTNeoXLayer", {}),
}
# layers from_hf refuses (with the feature it cannot represent); tiny_hf_layer builds them too
REFUSED_LAYERS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "T5Block": ("t5", "T5Block", {}),
    "BloomBlock": ("bloom", "BloomBlock", {}),
}


def randomise_(module: nn.Module, seed: int = 0) -> nn.Module:
    """Re-draw every parameter (matrices ~ N(0, 0.2^2), norm gains ~ U(0.5, 1.5), biases and
    other vectors ~ N(0, 0.1^2)), so a wrong mapping cannot hide behind initial values such
    as unit gains and zero biases."""
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if p.dim() >= 2:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.2)
            elif "norm" in name.lower() and name.endswith("weight"):
                p.copy_(torch.rand(p.shape, generator=generator) + 0.5)
            else:
                p.copy_(torch.randn(p.shape, generator=generator) * 0.1)
    return module


def tiny_hf_layer(name: str, seed: int = 0) -> nn.Module:
    """The transformers layer ``name`` (a key of ``HF_LAYERS`` or ``REFUSED_LAYERS``) from a tiny config, every
    parameter re-randomised, in eval mode."""
    _offline_transformers()
    kind, cls_name, overrides = {**HF_LAYERS, **REFUSED_LAYERS}[name]
    module = importlib.import_module(f"transformers.models.{kind}.modeling_{kind}")
    config = _tiny_config(kind, **overrides)
    torch.manual_seed(seed)
    cls = getattr(module, cls_name)
    if cls_name == "BertLayer":
        layer = cls(config)
    elif cls_name == "T5Block":
        layer = cls(config, has_relative_attention_bias=True)
    else:
        layer = cls(config, layer_idx=0)
    return randomise_(layer, seed).eval()


def tiny_hf_model(kind: str, seed: int = 0) -> nn.Module:
    """``GPT2LMHeadModel``, ``LlamaForCausalLM`` or ``BertForMaskedLM`` (kind "gpt2" | "llama" |
    "bert") from a tiny config, every parameter re-randomised, in eval mode."""
    tf = _offline_transformers()
    cls = {"gpt2": tf.GPT2LMHeadModel, "llama": tf.LlamaForCausalLM, "bert": tf.BertForMaskedLM}[kind]
    torch.manual_seed(seed)
    model = cls(_tiny_config(kind))
    randomise_(model, seed)
    if getattr(model.config, "tie_word_embeddings", False):
        model.tie_weights()
    return model.eval()
