import torch

from normlab import PostNormBlock, PreNormBlock, format_trace, trace_shapes

B, S, D, H, FF = 2, 10, 64, 4, 256
BSD, BHSd, BHSS = (B, S, D), (B, H, S, D // H), (B, H, S, S)

ATTENTION_STEPS = [
    ("attn.q_proj", BSD, BSD),
    ("attn.split_heads", BSD, BHSd),
    ("attn.k_proj", BSD, BSD),
    ("attn.split_heads", BSD, BHSd),
    ("attn.v_proj", BSD, BSD),
    ("attn.split_heads", BSD, BHSd),
    ("attn.scores", BHSd, BHSS),
    ("attn.softmax", BHSS, BHSS),
    ("attn.dropout", BHSS, BHSS),
    ("attn.merge_heads", BHSd, BSD),
    ("attn.out_proj", BSD, BSD),
    ("dropout1", BSD, BSD),
]
FFN_STEPS = [
    ("ffn.linear1", BSD, (B, S, FF)),
    ("ffn.activation", (B, S, FF), (B, S, FF)),
    ("ffn.dropout", (B, S, FF), (B, S, FF)),
    ("ffn.linear2", (B, S, FF), BSD),
    ("dropout2", BSD, BSD),
]


def steps(block):
    return [(s.name, s.input_shape, s.output_shape) for s in trace_shapes(block, torch.randn(B, S, D))]


def test_pre_norm_trace_lists_every_step_in_order():
    expected = [("norm1", BSD, BSD)] + ATTENTION_STEPS + [("norm2", BSD, BSD)] + FFN_STEPS
    assert steps(PreNormBlock(D, H, FF)) == expected


def test_post_norm_trace_normalises_after_each_sub_layer():
    expected = ATTENTION_STEPS + [("norm1", BSD, BSD)] + FFN_STEPS + [("norm2", BSD, BSD)]
    assert steps(PostNormBlock(D, H, FF)) == expected


def test_trace_leaves_no_hooks_and_formats():
    block = PreNormBlock(D, H, FF)
    text = format_trace(trace_shapes(block, torch.randn(B, S, D)))
    assert "attn.scores" in text and str(BHSS) in text
    assert all(not m._forward_hooks for m in block.modules())
