"""``from_hf``: the normlab block that computes what a Hugging Face ``transformers`` layer computes.

    from normlab import from_hf
    block = from_hf(llama_layer)      # a PreNormBlock: RMSNorm, SwiGLU, RoPE, GQA
    block = from_hf(olmo2_layer)      # a ResPostNormBlock with QK-norm

One mapping function per model family reads the layer's config and copies its weights
into a normlab block, so both give the same outputs (float32, eval mode: within 1e-5,
checked in tests/unit/test_hf.py and in chapter 6). What normlab cannot represent is
refused with a ``NotImplementedError`` that names the feature. The layer is only read
through its attributes: this module never imports ``transformers``.
"""

from __future__ import annotations

from typing import Any, NoReturn

import torch
from torch import nn

from ..nn.blocks import Block
from ..nn.feedforward import make_activation
from ..nn.stack import TransformerStack

# A transformers layer or model, read through its attributes. transformers is never
# imported here (nor at type-checking time), so its classes are not spelled out.
HFModule = Any

_ACTIVATIONS = {
    "relu": "relu",
    "gelu": "gelu",
    "gelu_new": "gelu_tanh",
    "gelu_pytorch_tanh": "gelu_tanh",
    "silu": "silu",
    "swish": "silu",
}

# layers whose central feature normlab does not have, and that feature
_UNREPRESENTABLE = {
    "BloomBlock": "ALiBi (attention biases linear in the distance, instead of position embeddings)",
    "MptBlock": "ALiBi (attention biases linear in the distance, instead of position embeddings)",
    "T5Block": "T5's relative position bias (a learned bias per distance bucket added to the scores)",
    "T5LayerSelfAttention": "T5's relative position bias (a learned bias per distance bucket added to the scores)",
    "Gemma3nTextDecoderLayer": "Gemma 3n's AltUp and per-layer embeddings",
}


def _refuse(layer: HFModule, feature: str) -> NoReturn:
    raise NotImplementedError(
        f"from_hf cannot represent {type(layer).__name__}: it uses {feature}, which normlab's blocks do not have"
    )


def _activation(layer: HFModule, name: str) -> str:
    if not isinstance(name, str) or name not in _ACTIVATIONS:
        _refuse(layer, f"the activation {name!r} (normlab has {sorted(set(_ACTIVATIONS.values()))})")
    return _ACTIVATIONS[name]


def _rope(layer: HFModule, params: dict) -> float:
    """The RoPE base from a config's rope_parameters; refuses scaled variants."""
    kind = params.get("rope_type", "default")
    if kind != "default":
        _refuse(layer, f"scaled RoPE (rope_type={kind!r})")
    return float(params["rope_theta"])


def _copy(dst: nn.Linear, weight: torch.Tensor, bias: torch.Tensor | None = None) -> None:
    dst.weight.copy_(weight)
    if dst.bias is not None:
        assert bias is not None, "the layer has a bias where the block has one"
        dst.bias.copy_(bias)


def _copy_linear(dst: nn.Linear, src: nn.Linear) -> None:
    _copy(dst, src.weight, src.bias)


def _copy_conv1d(dst: nn.Linear, src: HFModule) -> None:
    """GPT-2's Conv1D stores the weight as (in, out): nn.Linear's transposed."""
    _copy(dst, src.weight.t(), src.bias)


def _copy_norm(dst: Any, src: HFModule) -> None:
    """Gain (and bias, where ``dst`` has one) of a normlab norm from the layer's norm."""
    dst.weight.copy_(src.weight)
    if getattr(dst, "bias", None) is not None:
        dst.bias.copy_(src.bias)


def _eps(norm: nn.Module) -> float:
    for name in ("eps", "variance_epsilon"):
        if hasattr(norm, name):
            return float(getattr(norm, name))
    raise AttributeError(f"cannot read the epsilon of {type(norm).__name__}")


def _bias(linear: nn.Linear) -> bool:
    return linear.bias is not None


# --------------------------------------------------------------------------- one mapping per family


def _gpt2(layer: HFModule) -> Block:
    attn, mlp, cfg = layer.attn, layer.mlp, layer.attn.config
    if getattr(attn, "is_cross_attention", False) or hasattr(layer, "crossattention"):
        _refuse(layer, "cross-attention")
    if cfg.scale_attn_by_inverse_layer_idx:
        _refuse(layer, "scores scaled by 1 / (layer index + 1)")
    d = attn.embed_dim
    block = Block(
        d,
        attn.num_heads,
        mlp.c_fc.nf,
        placement="pre",
        activation=_activation(layer, cfg.activation_function),
        causal=True,
        eps=layer.ln_1.eps,
        dropout=cfg.resid_pdrop,
        attn_scale=None if cfg.scale_attn_weights else 1.0,
    )
    with torch.no_grad():
        # c_attn packs W_Q, W_K, W_V side by side: a (d, 3d) Conv1D weight
        for proj, w, b in zip(
            (block.attn.q_proj, block.attn.k_proj, block.attn.v_proj),
            attn.c_attn.weight.t().chunk(3),
            attn.c_attn.bias.chunk(3),
        ):
            _copy(proj, w, b)
        _copy_conv1d(block.attn.out_proj, attn.c_proj)
        _copy_conv1d(block.ffn.linear1, mlp.c_fc)
        _copy_conv1d(block.ffn.linear2, mlp.c_proj)
        _copy_norm(block.norm1, layer.ln_1)
        _copy_norm(block.norm2, layer.ln_2)
    return block


def _bert(layer: HFModule) -> Block:
    self_attn, cfg = layer.attention.self, layer.attention.self.config
    if layer.is_decoder or getattr(layer, "add_cross_attention", False):
        _refuse(layer, "a decoder with cross-attention")
    if getattr(cfg, "position_embedding_type", "absolute") != "absolute":
        _refuse(layer, f"relative position embeddings ({cfg.position_embedding_type!r})")
    block = Block(
        cfg.hidden_size,
        cfg.num_attention_heads,
        cfg.intermediate_size,
        placement="post",
        activation=_activation(layer, cfg.hidden_act),
        eps=layer.output.LayerNorm.eps,
        dropout=cfg.hidden_dropout_prob,
    )
    with torch.no_grad():
        _copy_linear(block.attn.q_proj, self_attn.query)
        _copy_linear(block.attn.k_proj, self_attn.key)
        _copy_linear(block.attn.v_proj, self_attn.value)
        _copy_linear(block.attn.out_proj, layer.attention.output.dense)
        _copy_norm(block.norm1, layer.attention.output.LayerNorm)
        _copy_linear(block.ffn.linear1, layer.intermediate.dense)
        _copy_linear(block.ffn.linear2, layer.output.dense)
        _copy_norm(block.norm2, layer.output.LayerNorm)
    return block


def _opt(layer: HFModule) -> Block:
    attn, cfg = layer.self_attn, layer.self_attn.config
    if not cfg.layer_norm_elementwise_affine:
        _refuse(layer, "LayerNorm without a learned gain and bias")
    block = Block(
        attn.embed_dim,
        attn.num_heads,
        layer.fc1.out_features,
        placement="pre" if layer.do_layer_norm_before else "post",
        activation=_activation(layer, cfg.activation_function),
        causal=True,
        eps=layer.self_attn_layer_norm.eps,
        qkv_bias=_bias(attn.q_proj),
        out_bias=_bias(attn.out_proj),
        ffn_bias=_bias(layer.fc1),
        dropout=cfg.dropout,
    )
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            _copy_linear(getattr(block.attn, name), getattr(attn, name))
        _copy_linear(block.ffn.linear1, layer.fc1)
        _copy_linear(block.ffn.linear2, layer.fc2)
        _copy_norm(block.norm1, layer.self_attn_layer_norm)
        _copy_norm(block.norm2, layer.final_layer_norm)
    return block


def _gated_decoder(
    layer: HFModule,
    placement: str,
    norms: dict[str, str],
    *,
    unit_offset: bool = False,
    qk_norm: str | None = None,
    rope_params: dict[str, Any] | None = None,
    attn_scale: float | None = None,
    activation_name: str | None = None,
) -> Block:
    """LLaMA's family: separate q/k/v/o projections, a gated MLP, RMSNorms, RoPE."""
    attn, mlp, cfg = layer.self_attn, layer.mlp, layer.self_attn.config
    first_norm = getattr(layer, next(iter(norms.values())))
    rope_params = cfg.rope_parameters if rope_params is None else rope_params
    partial = rope_params.get("partial_rotary_factor", 1.0)
    block = Block(
        cfg.hidden_size,
        cfg.num_attention_heads,
        mlp.gate_proj.out_features,
        placement=placement,
        norm="rms",
        eps=_eps(first_norm),
        unit_offset=unit_offset,
        gated=True,
        activation=_activation(layer, activation_name or cfg.hidden_act),
        causal=True,
        n_kv_heads=cfg.num_key_value_heads,
        head_dim=attn.head_dim,
        qkv_bias=_bias(attn.q_proj),
        out_bias=_bias(attn.o_proj),
        ffn_bias=_bias(mlp.gate_proj),
        rope_base=_rope(layer, rope_params),
        rotary_dim=int(attn.head_dim * partial),
        qk_norm=qk_norm,
        attn_scale=attn_scale,
    )
    with torch.no_grad():
        for mine, theirs in (("q_proj", "q_proj"), ("k_proj", "k_proj"), ("v_proj", "v_proj"), ("out_proj", "o_proj")):
            _copy_linear(getattr(block.attn, mine), getattr(attn, theirs))
        for name in ("gate_proj", "up_proj", "down_proj"):
            _copy_linear(getattr(block.ffn, name), getattr(mlp, name))
        for mine, theirs in norms.items():
            _copy_norm(getattr(block, mine), getattr(layer, theirs))
        if qk_norm is not None:
            _copy_norm(block.attn.q_norm, attn.q_norm)
            _copy_norm(block.attn.k_norm, attn.k_norm)
    return block


def _llama(layer: HFModule) -> Block:
    return _gated_decoder(layer, "pre", {"norm1": "input_layernorm", "norm2": "post_attention_layernorm"})


# Gemma 2 and 3: our sandwich norms <- transformers' names (norm3/norm4 on the branch outputs)
GEMMA_SANDWICH_NORMS = {
    "norm1": "input_layernorm",
    "norm3": "post_attention_layernorm",
    "norm2": "pre_feedforward_layernorm",
    "norm4": "post_feedforward_layernorm",
}


def _gemma2(layer: HFModule) -> Block:
    cfg = layer.self_attn.config
    if cfg.attn_logit_softcapping is not None:
        _refuse(
            layer,
            f"attention logit soft-capping (attn_logit_softcapping={cfg.attn_logit_softcapping}); "
            "build the config with attn_logit_softcapping=None",
        )
    return _gated_decoder(
        layer,
        "sandwich",
        GEMMA_SANDWICH_NORMS,
        unit_offset=True,
        attn_scale=cfg.query_pre_attn_scalar**-0.5,
        activation_name=cfg.hidden_activation,
    )


def _gemma3(layer: HFModule) -> Block:
    attn = layer.self_attn
    cfg = attn.config
    if getattr(cfg, "attn_logit_softcapping", None) is not None:
        _refuse(layer, f"attention logit soft-capping (attn_logit_softcapping={cfg.attn_logit_softcapping})")
    # sliding-window layers rotate with the local base, global layers with the global one
    return _gated_decoder(
        layer,
        "sandwich",
        GEMMA_SANDWICH_NORMS,
        unit_offset=True,
        qk_norm="head",
        rope_params=cfg.rope_parameters[attn.layer_type],
        attn_scale=cfg.query_pre_attn_scalar**-0.5,
        activation_name=cfg.hidden_activation,
    )


def _olmo2(layer: HFModule) -> Block:
    return _gated_decoder(
        layer, "res-post", {"norm1": "post_attention_layernorm", "norm2": "post_feedforward_layernorm"}, qk_norm="all"
    )


def _gptj(layer: HFModule) -> Block:
    attn, mlp, cfg = layer.attn, layer.mlp, layer.attn.config
    head_dim = attn.head_dim
    block = Block(
        attn.embed_dim,
        attn.num_attention_heads,
        mlp.fc_in.out_features,
        placement="parallel",
        activation=_activation(layer, cfg.activation_function),
        causal=True,
        eps=layer.ln_1.eps,
        qkv_bias=False,
        out_bias=False,
        rope_base=10000.0,  # GPT-J's base is fixed in its code
        rotary_dim=attn.rotary_dim or head_dim,
        rope_interleaved=True,
        dropout=cfg.resid_pdrop,
    )
    with torch.no_grad():
        for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
            _copy_linear(getattr(block.attn, name), getattr(attn, name))
        _copy_linear(block.ffn.linear1, mlp.fc_in)
        _copy_linear(block.ffn.linear2, mlp.fc_out)
        _copy_norm(block.norm1, layer.ln_1)
    return block


def _gpt_neox(layer: HFModule) -> Block:
    attn, mlp, cfg = layer.attention, layer.mlp, layer.attention.config
    d, heads, head_dim = cfg.hidden_size, cfg.num_attention_heads, attn.head_size
    parallel = layer.use_parallel_residual
    block = Block(
        d,
        heads,
        mlp.dense_h_to_4h.out_features,
        placement="parallel" if parallel else "pre",
        shared_norm=False,
        activation=_activation(layer, cfg.hidden_act),
        causal=True,
        eps=layer.input_layernorm.eps,
        qkv_bias=_bias(attn.query_key_value),
        out_bias=_bias(attn.dense),
        rope_base=_rope(layer, cfg.rope_parameters),
        rotary_dim=attn.rotary_ndims,
        dropout=cfg.hidden_dropout,
    )
    with torch.no_grad():
        # query_key_value is packed per head: rows (head, [q | k | v], head_dim)
        w = attn.query_key_value.weight.view(heads, 3, head_dim, d)
        b = attn.query_key_value.bias.view(heads, 3, head_dim) if attn.query_key_value.bias is not None else None
        for i, proj in enumerate((block.attn.q_proj, block.attn.k_proj, block.attn.v_proj)):
            _copy(proj, w[:, i].reshape(heads * head_dim, d), None if b is None else b[:, i].reshape(-1))
        _copy_linear(block.attn.out_proj, attn.dense)
        _copy_linear(block.ffn.linear1, mlp.dense_h_to_4h)
        _copy_linear(block.ffn.linear2, mlp.dense_4h_to_h)
        _copy_norm(block.norm1, layer.input_layernorm)
        _copy_norm(block.norm2, layer.post_attention_layernorm)
    return block


FROM_HF = {
    "GPT2Block": _gpt2,
    "BertLayer": _bert,
    "OPTDecoderLayer": _opt,
    "LlamaDecoderLayer": _llama,
    "MistralDecoderLayer": _llama,
    "Gemma2DecoderLayer": _gemma2,
    "Gemma3DecoderLayer": _gemma3,
    "Olmo2DecoderLayer": _olmo2,
    "GPTJBlock": _gptj,
    "GPTNeoXLayer": _gpt_neox,
}


def from_hf(layer: nn.Module) -> Block:
    """The normlab block computing what the ``transformers`` layer ``layer`` computes, with
    its weights copied (the block is in the same train/eval mode).

    Knows the layer classes in ``FROM_HF``; refuses others, and features normlab does not
    have, with a ``NotImplementedError`` that names them.
    """
    name = type(layer).__name__
    if name in _UNREPRESENTABLE:
        _refuse(layer, _UNREPRESENTABLE[name])
    if name not in FROM_HF:
        raise NotImplementedError(f"from_hf knows {', '.join(FROM_HF)}; got {name}")
    return FROM_HF[name](layer).train(layer.training)


# --------------------------------------------------------------------------- whole models


def from_hf_model(model: nn.Module) -> TransformerStack:
    """A ``TransformerStack`` with the embeddings, blocks, final norm and LM head of
    ``GPT2LMHeadModel``, ``LlamaForCausalLM`` or ``BertForMaskedLM``: token ids (batch,
    seq) -> the same logits (batch, seq, vocab)."""
    name = type(model).__name__
    builders = {"GPT2LMHeadModel": _gpt2_model, "LlamaForCausalLM": _llama_model, "BertForMaskedLM": _bert_model}
    if name not in builders:
        raise NotImplementedError(f"from_hf_model knows {', '.join(builders)}; got {name}")
    return builders[name](model).train(model.training)


def _stack_like(blocks: list[Block], vocab_size: int, max_seq_len: int, **options: Any) -> TransformerStack:
    cfg = blocks[0].config
    fields = {
        f: getattr(cfg, f) for f in cfg.__dataclass_fields__ if f not in ("d_model", "n_heads", "d_ff", "n_layers")
    }
    fields.update(options)
    stack = TransformerStack(
        len(blocks),
        cfg.d_model,
        cfg.n_heads,
        cfg.d_ff,
        placement=blocks[0].placement,
        vocab_size=vocab_size,
        max_seq_len=max_seq_len,
        **fields,
    )
    stack.blocks = nn.ModuleList(blocks)
    return stack


def _gpt2_model(model: HFModule) -> TransformerStack:
    body, cfg = model.transformer, model.config
    stack = _stack_like([from_hf(layer) for layer in body.h], cfg.vocab_size, cfg.n_positions, lm_head_bias=False)
    with torch.no_grad():
        stack.token_embedding.weight.copy_(body.wte.weight)
        stack.position_embedding.weight.copy_(body.wpe.weight)
        _copy_norm(stack.final_norm, body.ln_f)
        stack.lm_head.weight.copy_(model.lm_head.weight)
    return stack


def _llama_model(model: HFModule) -> TransformerStack:
    body, cfg = model.model, model.config
    stack = _stack_like(
        [from_hf(layer) for layer in body.layers],
        cfg.vocab_size,
        cfg.max_position_embeddings,
        learned_positions=False,
        lm_head_bias=model.lm_head.bias is not None,
    )
    with torch.no_grad():
        stack.token_embedding.weight.copy_(body.embed_tokens.weight)
        _copy_norm(stack.final_norm, body.norm)
        _copy_linear(stack.lm_head, model.lm_head)
    return stack


def _bert_model(model: HFModule) -> TransformerStack:
    body, cfg = model.bert, model.config
    emb = body.embeddings
    stack = _stack_like(
        [from_hf(layer) for layer in body.encoder.layer], cfg.vocab_size, cfg.max_position_embeddings, embed_norm=True
    )
    head = model.cls.predictions
    with torch.no_grad():
        stack.token_embedding.weight.copy_(emb.word_embeddings.weight)
        # every token has token type 0 here, so its embedding is one more constant per position
        stack.position_embedding.weight.copy_(emb.position_embeddings.weight + emb.token_type_embeddings.weight[0])
        _copy_norm(stack.embed_norm, emb.LayerNorm)
        # BERT's MLM head: dense -> activation -> LayerNorm -> vocabulary
        transform = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        _copy_linear(transform, head.transform.dense)
        norm = nn.LayerNorm(cfg.hidden_size, eps=head.transform.LayerNorm.eps)
        _copy_norm(norm, head.transform.LayerNorm)
        decoder = nn.Linear(cfg.hidden_size, cfg.vocab_size)
        _copy(decoder, head.decoder.weight, head.decoder.bias if head.decoder.bias is not None else head.bias)

    stack.lm_head = nn.Sequential(transform, make_activation(_activation(model, cfg.hidden_act)), norm, decoder)
    return stack
