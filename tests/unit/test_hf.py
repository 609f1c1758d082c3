"""from_hf: each transformers layer, and three whole models, against the normlab block
built from its weights (float32, eval mode, every parameter re-randomised)."""

import pytest
import torch

from normlab import PLACEMENTS, from_hf, from_hf_model
from normlab.hf import HF_LAYERS, run_hf_layer, tiny_hf_layer, tiny_hf_model

pytest.importorskip("transformers")

BATCH, SEQ, D_MODEL = 2, 7, 32
EXPECTED_PLACEMENT = {
    "GPT2Block": "pre",
    "BertLayer": "post",
    "OPTDecoderLayer": "pre",
    "OPTDecoderLayer (350m)": "post",
    "LlamaDecoderLayer": "pre",
    "MistralDecoderLayer": "pre",
    "Gemma2DecoderLayer": "sandwich",
    "Gemma3DecoderLayer": "sandwich",
    "Olmo2DecoderLayer": "res-post",
    "GPTJBlock": "parallel",
    "GPTNeoXLayer": "parallel",
}


def inputs():
    x = torch.randn(BATCH, SEQ, D_MODEL, generator=torch.Generator().manual_seed(1))
    padding = torch.zeros(BATCH, SEQ, dtype=torch.bool)
    padding[1, :3] = True  # left padding (BERT reads it as padding all the same)
    return x, padding


@pytest.fixture(scope="module", params=list(HF_LAYERS))
def pair(request):
    layer = tiny_hf_layer(request.param)
    return request.param, layer, from_hf(layer).eval()


def test_every_listed_class_is_covered():
    assert set(EXPECTED_PLACEMENT) == set(HF_LAYERS)


def test_block_has_the_models_placement(pair):
    name, _, block = pair
    assert block.placement == EXPECTED_PLACEMENT[name]


@pytest.mark.parametrize("padded", [False, True], ids=["no-padding", "padding"])
def test_block_matches_the_hf_layer(pair, padded):
    _, layer, block = pair
    x, padding = inputs()
    mask = padding if padded else None
    with torch.no_grad():
        theirs, mine = run_hf_layer(layer, x, mask), block(x, mask)
    real = ~padding if padded else torch.ones_like(padding)
    assert torch.isfinite(mine).all()
    assert (theirs - mine)[real].abs().max().item() <= 1e-5


def test_other_placements_with_the_same_weights_differ(pair):
    """Discrimination: the match is not luck; rewiring the same weights breaks it."""
    _, layer, block = pair
    x, _ = inputs()
    with torch.no_grad():
        theirs = run_hf_layer(layer, x)
        for placement in PLACEMENTS:
            if placement != block.placement:
                assert (block.rewired(placement).eval()(x) - theirs).abs().max().item() > 1e-3, placement


@pytest.mark.parametrize("kind", ["gpt2", "llama", "bert"])
def test_whole_model_logits_match(kind):
    model = tiny_hf_model(kind)
    stack = from_hf_model(model).eval()
    ids = torch.randint(1, model.config.vocab_size, (BATCH, 9), generator=torch.Generator().manual_seed(2))
    attention_mask = torch.ones(BATCH, 9, dtype=torch.long)
    attention_mask[1, :4] = 0
    with torch.no_grad():
        for mask in (None, attention_mask):
            theirs = model(input_ids=ids, attention_mask=mask).logits
            mine = stack(ids, None if mask is None else mask == 0)
            real = torch.ones(BATCH, 9, dtype=torch.bool) if mask is None else mask.bool()
            assert (theirs - mine)[real].abs().max().item() <= 1e-5


def test_refuses_logit_soft_capping_by_name():
    from normlab import hf

    layer = tiny_hf_layer("Gemma2DecoderLayer")
    layer.self_attn.config.attn_logit_softcapping = 50.0
    with pytest.raises(NotImplementedError, match="attention logit soft-capping"):
        hf.from_hf(layer)


def test_refuses_alibi_and_t5_relative_bias_by_name():
    with pytest.raises(NotImplementedError, match="BloomBlock: it uses ALiBi"):
        from_hf(tiny_hf_layer("BloomBlock"))
    with pytest.raises(NotImplementedError, match="T5's relative position bias"):
        from_hf(tiny_hf_layer("T5Block"))


def test_refuses_an_unknown_layer_naming_the_known_ones():
    with pytest.raises(NotImplementedError, match="from_hf knows GPT2Block, BertLayer.*got Linear"):
        from_hf(torch.nn.Linear(2, 2))
