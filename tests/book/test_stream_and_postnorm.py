"""Issue 22, new topics 2 and 3: the chapters "The residual stream at scale" and "Post-norm is
not dead", their library code (normlab.studies.scale) and their claims.

The structural checks are every chapter's (``test_chapters``), run on the built book; the
rest needs no build: the B2T block against its formula, the measurements on small inputs,
the quiz banks against the pages, and the claims' registration.
"""

from __future__ import annotations

import re

import pytest
import test_chapters as base
import torch
import yaml

from normlab.nn.blocks import BLOCKS, PostNormBlock
from normlab.nn.stack import TransformerStack
from normlab.quiz import load_bank
from normlab.studies import claims, scale

CHAPTERS = [base.Chapter("stream-at-scale"), base.Chapter("post-norm-revisited")]
IDS = [c.name for c in CHAPTERS]
# The parts every chapter has are checked with the other new chapters (test_new_chapters.py).


def test_chapters_follow_the_small_language_model_in_the_table_of_contents():
    """Both pages measure chapter 11's models: a reader meets those first."""
    toc = yaml.safe_load((base.ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    at = files.index("book/11-small-language-model")
    assert files[at + 1 : at + 3] == ["book/stream-at-scale", "book/post-norm-revisited"]


# --- the B2T block ----------------------------------------------------------------------------


def _post_block(seed: int = 0) -> PostNormBlock:
    torch.manual_seed(seed)
    return PostNormBlock(16, 2, 32, causal=True)


def test_b2t_block_is_its_formula():
    post = _post_block()
    block = scale.B2TBlock(post.config)
    block.load_state_dict(post.state_dict())
    x = torch.randn(3, 5, 16, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        h = block.norm1(x + block.attn(x))
        expected = block.norm2(h + block.ffn(h) + x)
        assert torch.allclose(block(x), expected, atol=1e-6)
        # one connection more than post-norm: the outputs differ
        assert not torch.allclose(block(x), post(x), atol=1e-3)


def test_b2t_is_not_a_registered_placement():
    assert "b2t" not in BLOCKS and BLOCKS["post"] is PostNormBlock


def test_b2t_rewires_a_post_norm_stack_keeping_its_weights():
    torch.manual_seed(0)
    stack = TransformerStack(2, 16, 2, 32, placement="post", causal=True, vocab_size=128, max_seq_len=8)
    before = {k: v.clone() for k, v in stack.state_dict().items()}
    scale.b2t(stack)
    assert all(isinstance(b, scale.B2TBlock) for b in stack.blocks)
    after = stack.state_dict()
    assert before.keys() == after.keys() and all(torch.equal(before[k], after[k]) for k in before)
    with pytest.raises(ValueError, match="plain post-norm"):
        scale.b2t(stack)  # twice
    pre = TransformerStack(2, 16, 2, 32, placement="pre", causal=True, vocab_size=128, max_seq_len=8)
    with pytest.raises(ValueError, match="plain post-norm"):
        scale.b2t(pre)


# --- the measurements -------------------------------------------------------------------------


def test_stream_measures_shapes_and_uniform_share():
    torch.manual_seed(0)
    models = [TransformerStack(3, 16, 2, 32, placement="pre", causal=True, vocab_size=128, max_seq_len=32)]
    inputs = torch.randint(0, 128, (2, 32), generator=torch.Generator().manual_seed(2))
    m = scale.stream_measures(models, inputs)
    assert m["spike"].shape == m["rms"].shape == m["first"].shape == (1, 3)
    assert (m["spike"] >= 1).all()
    # uniform attention from queries 8..31 puts 1/(q+1) on position 0
    assert m["uniform"] == pytest.approx(sum(1 / (q + 1) for q in range(8, 32)) / 24)


def test_attention_maps_are_causal_and_rows_sum_to_one():
    torch.manual_seed(0)
    model = TransformerStack(2, 16, 2, 32, placement="pre", causal=True, vocab_size=128, max_seq_len=16)
    maps = scale.attention_maps(model, torch.randint(0, 128, (2, 16)))
    assert len(maps) == 2 and maps[0].shape == (2, 2, 16, 16)
    assert torch.allclose(maps[0].sum(-1), torch.ones(2, 2, 16))
    assert maps[0][..., 0, 1:].abs().max() == 0  # the first query sees only itself


def test_int8_errors_with_and_without_an_outlier():
    x = torch.randn(4, 32, 16, generator=torch.Generator().manual_seed(3))
    clean = scale.int8_errors(x)
    assert all(e < 0.02 for e in clean.values())
    planted = scale.with_outlier(x, 10_000)
    assert planted[:, 0, 0].abs().min() == pytest.approx(10_000 * x.abs().median().item())
    broken = scale.int8_errors(planted)
    assert broken["per tensor"] == pytest.approx(1.0)  # every ordinary value rounds to 0
    # per token: only the 4 planted tokens of 128 lose their values (about sqrt(1/32) of the norm)
    assert 0.1 < broken["per token"] < 0.3
    assert broken["per token, feature kept"] == pytest.approx(clean["per token, feature kept"])


def test_precision_table_is_torch_finfo():
    table = scale.precision_table()
    assert table["float16"]["max"] == 65504.0 and table["float16"]["mantissa bits"] == 10
    assert table["bfloat16"]["mantissa bits"] == 7 and table["float32"]["mantissa bits"] == 23
    assert table["bfloat16"]["max"] == pytest.approx(float(torch.finfo(torch.bfloat16).max))
    assert scale.square_overflows(torch.float16) == pytest.approx(255.9, abs=0.1)
    assert torch.isinf(torch.tensor(256.0, dtype=torch.float16) ** 2)


def test_cast_error_reflects_the_mantissa_widths():
    x = torch.randn(4096, generator=torch.Generator().manual_seed(4))
    ratio = scale.cast_error(x, torch.bfloat16) / scale.cast_error(x, torch.float16)
    assert 4 < ratio < 16


# --- quizzes and claims -----------------------------------------------------------------------


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_question_of_the_bank_is_asked_on_the_page(chapter):
    asked = base.quiz_ids_in_source(chapter)
    bank = [q.id for q in load_bank(chapter.bank)]
    assert sorted(asked) == sorted(bank) and 2 <= len(bank) <= 4
    assert all(qid.startswith(chapter.name) for qid in bank)


NEW_CLAIMS = {
    "book/stream-at-scale.md": (
        "stream_pre_norm_stream_grows",
        "stream_no_massive_activations",
        "stream_no_attention_sink",
        "stream_outlier_breaks_int8",
        "stream_bf16_rounds_coarser",
    ),
    "book/post-norm-revisited.md": ("postnorm_shallow_not_better", "postnorm_b2t_at_depth"),
}


@pytest.mark.parametrize("page", sorted(NEW_CLAIMS))
def test_each_claim_is_registered_checked_on_its_page_under_its_section(page):
    source = (base.ROOT / page).read_text(encoding="utf-8")
    labels = re.findall(r"^\((\S+)\)=$", source, re.M)
    for name in NEW_CLAIMS[page]:
        found = claims.CLAIMS[name]
        assert found.page == page and found.section in labels, name
        assert f'claims.check("{name}")' in source, f"{name} is not checked on {page}"


def test_the_new_claims_stand_together_in_the_registry():
    names = list(claims.CLAIMS)
    ours = [n for n in names if n.startswith(("stream_", "postnorm_"))]
    assert sorted(ours) == sorted(n for group in NEW_CLAIMS.values() for n in group)
    first = names.index(ours[0])
    assert names[first : first + len(ours)] == ours
