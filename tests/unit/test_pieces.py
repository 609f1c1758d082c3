"""The pieces real models need, each against an independent statement of what it computes."""

import math

import pytest
import torch
import torch.nn.functional as F

from normlab import Block, BlockConfig, GatedFeedForward, MultiHeadSelfAttention, RotaryEmbedding, TransformerStack
from normlab.nn.feedforward import make_activation
from normlab.nn.norms import make_norm


def test_fully_masked_rows_do_not_poison_a_causal_stack():
    """Left padding + causal: a pad row sees no key at all. Its output must stay finite and
    the real tokens must equal those of the unpadded sequence (issue 13)."""
    torch.manual_seed(0)
    stack = TransformerStack(2, 16, 4, 32, placement="pre", causal=True).eval()
    real = torch.randn(1, 5, 16)
    padded = torch.cat([torch.randn(1, 3, 16), real], dim=1)  # 3 pad tokens on the left
    padding = torch.tensor([[True] * 3 + [False] * 5])
    with torch.no_grad():
        out = stack(padded, padding)
        alone = stack(real)
    assert torch.isfinite(out).all()
    assert torch.allclose(out[:, 3:], alone, atol=1e-6)


@pytest.mark.parametrize(
    "name,reference",
    [
        ("gelu", lambda x: F.gelu(x)),
        ("gelu_exact", lambda x: F.gelu(x)),
        ("gelu_tanh", lambda x: F.gelu(x, approximate="tanh")),
        ("silu", F.silu),
    ],
)
def test_activations_match_torch(name, reference):
    x = torch.linspace(-6, 6, 1001)
    assert torch.allclose(make_activation(name)(x), reference(x), atol=1e-6)


def test_tanh_gelu_is_not_exact_gelu():
    # GPT-2 matches only with the approximation: the two differ visibly
    x = torch.linspace(-6, 6, 1001)
    assert (make_activation("gelu_tanh")(x) - F.gelu(x)).abs().max() > 1e-4


def test_swiglu_matches_its_formula():
    torch.manual_seed(0)
    ffn = GatedFeedForward(8, 12, activation="silu")
    x = torch.randn(2, 3, 8)
    expected = F.linear(
        F.silu(F.linear(x, ffn.gate_proj.weight)) * F.linear(x, ffn.up_proj.weight), ffn.down_proj.weight
    )
    assert torch.allclose(ffn(x), expected, atol=1e-6)


def test_rope_scores_depend_only_on_the_offset():
    rope = RotaryEmbedding(8, base=100.0)
    q = torch.randn(1, 1, 1, 8).expand(1, 1, 20, 8)  # the same query and key at every position
    k = torch.randn(1, 1, 1, 8).expand(1, 1, 20, 8)
    q_rot, k_rot = rope(q, k)
    scores = (q_rot @ k_rot.transpose(-2, -1))[0, 0]  # (20, 20)
    for offset in (0, 1, 5, -3):
        diagonal = torch.diagonal(scores, offset=offset)
        assert torch.allclose(diagonal, diagonal[0].expand_as(diagonal), atol=1e-5), offset
    assert not torch.allclose(torch.diagonal(scores, 0)[0], torch.diagonal(scores, 1)[0])  # it does see the offset


def test_rope_keeps_norms_and_its_base_matters():
    q = torch.randn(1, 2, 6, 8)
    q_rot, _ = RotaryEmbedding(8, base=10000.0)(q, q)
    assert torch.allclose(q_rot.norm(dim=-1), q.norm(dim=-1), atol=1e-5)  # a rotation
    other, _ = RotaryEmbedding(8, base=10.0)(q, q)
    assert not torch.allclose(q_rot, other)


def test_gqa_equals_full_attention_with_repeated_kv():
    torch.manual_seed(0)
    gqa = MultiHeadSelfAttention(16, 4, n_kv_heads=2, causal=True)
    full = MultiHeadSelfAttention(16, 4, causal=True)
    with torch.no_grad():
        full.q_proj.load_state_dict(gqa.q_proj.state_dict())
        full.out_proj.load_state_dict(gqa.out_proj.state_dict())
        for mine, theirs in ((full.k_proj, gqa.k_proj), (full.v_proj, gqa.v_proj)):
            # K/V head h serves query heads 2h and 2h + 1: repeat its rows in that order
            w = theirs.weight.view(2, 4, 16).repeat_interleave(2, dim=0).reshape(16, 16)
            b = theirs.bias.view(2, 4).repeat_interleave(2, dim=0).reshape(16)
            mine.weight.copy_(w)
            mine.bias.copy_(b)
    x = torch.randn(2, 5, 16)
    assert torch.allclose(gqa(x), full(x), atol=1e-6)
    assert sum(p.numel() for p in gqa.parameters()) < sum(p.numel() for p in full.parameters())


def test_multi_query_and_decoupled_head_dim_shapes():
    attn = MultiHeadSelfAttention(16, 4, n_kv_heads=1, head_dim=8, qkv_bias=False, out_bias=False)
    assert attn.q_proj.weight.shape == (32, 16) and attn.k_proj.weight.shape == (8, 16)
    assert attn.q_proj.bias is None and attn.out_proj.bias is None
    assert attn(torch.randn(2, 3, 16)).shape == (2, 3, 16)


def test_rms_unit_offset_gain_and_eps_reach_every_norm():
    norm = make_norm("rms", 4, eps=1e-3, unit_offset=True)
    x = torch.tensor([[1.0, -2.0, 3.0, 0.5]])
    assert torch.allclose(norm(x), x / torch.sqrt(x.pow(2).mean() + 1e-3))  # w = 0: gain 1
    block = Block(BlockConfig(8, 2, 16, norm="layer", eps=1e-12), placement="sandwich")
    assert {m.eps for name, m in block.named_modules() if name.startswith("norm")} == {1e-12}
    with pytest.raises(ValueError, match="unit_offset=True .* 'rms' norm only"):
        make_norm("layer", 4, unit_offset=True)


def test_qk_norm_normalises_each_head():
    attn = MultiHeadSelfAttention(16, 4, qk_norm="head")
    captured = []
    attn.scores.register_forward_hook(lambda m, args, out: captured.append(args))
    attn(torch.randn(2, 3, 16) * 50)
    q, k = captured[0]
    # RMSNorm with unit gain: every head's q and k have RMS 1, whatever the input's size
    assert torch.allclose(q.pow(2).mean(-1), torch.ones(()), atol=1e-3)
    assert torch.allclose(k.pow(2).mean(-1), torch.ones(()), atol=1e-3)


def test_parallel_block_with_two_norms():
    torch.manual_seed(0)
    shared = Block(8, 2, 16, placement="parallel")
    two = Block(8, 2, 16, placement="parallel", shared_norm=False)
    assert not hasattr(shared, "norm2") and hasattr(two, "norm2")
    two.load_state_dict({**shared.state_dict(), "norm2.weight": torch.full((8,), 2.0), "norm2.bias": torch.zeros(8)})
    x = torch.randn(2, 3, 8)
    expected = x + shared.attn(shared.norm1(x)) + shared.ffn(two.norm2(x))
    assert torch.allclose(two(x), expected, atol=1e-6)


def test_embedding_norm_in_the_stack():
    stack = TransformerStack(1, 8, 2, 16, placement="post", vocab_size=10, embed_norm=True)
    tokens = torch.tensor([[1, 2, 3]])
    embedded = stack.token_embedding(tokens) + stack.position_embedding(torch.arange(3))
    captured = []
    stack.blocks[0].register_forward_pre_hook(lambda m, args: captured.append(args[0]))
    stack(tokens)
    assert torch.allclose(captured[0], stack.embed_norm(embedded))
    assert math.isclose(captured[0].var(-1, unbiased=False).mean().item(), 1.0, rel_tol=1e-3)


def test_block_config_builds_the_same_block_as_arguments():
    torch.manual_seed(0)
    a = Block(16, 4, 32, norm="rms", causal=True, placement="pre")
    torch.manual_seed(0)
    b = Block(BlockConfig(16, 4, 32, norm="rms", causal=True), placement="pre")
    assert a.config == b.config
    assert all(torch.equal(p, q) for p, q in zip(a.state_dict().values(), b.state_dict().values()))
