"""Chapter 7's case studies: each buggy variant really shows its symptom, and each fix
removes it. The checks are the ones the chapter runs (normlab.studies.casestudies)."""

import pytest
import torch

from normlab import PLACEMENTS, Block, PostNormBlock, PreNormBlock
from normlab.demos import case_studies
from normlab.quiz import keys
from normlab.studies import casestudies as cs

NORM_ON_STREAM = {"post", "deepnorm"}  # the norm sits on the identity path (Wang et al. 2022 for DeepNorm)


# --- case 1: the "minor" refactor -----------------------------------------------------------


def test_refactor_diff_shows_the_norm_moving_onto_the_stream():
    diff = cs.refactor_diff()
    assert "-    x = x + self._sa_block(self.norm1(x), key_padding_mask)" in diff
    assert "+    x = self.norm1(x + self._sa_block(x, key_padding_mask))" in diff


@pytest.mark.parametrize("placement", PLACEMENTS)
def test_identity_path_check_separates_norm_on_the_stream_from_norm_in_the_branch(placement):
    block = Block(cs.D_MODEL, cs.N_HEADS, cs.D_FF, placement=placement)
    assert cs.identity_path_is_clean(block) == (placement not in NORM_ON_STREAM)


@pytest.mark.slow
def test_refactored_block_loses_theorem_1s_depth_scaling_and_the_fix_restores_it():
    fixed = cs.last_w2_gradient_by_depth(PreNormBlock, depths=(2, 32))
    buggy = cs.last_w2_gradient_by_depth(PostNormBlock, depths=(2, 32))
    assert fixed[1] < 0.7 * fixed[0]  # pre-norm: the last layer's gradient falls with depth
    assert buggy[1] > 0.9 * buggy[0]  # post-norm: it does not
    assert buggy[1] > 2 * fixed[1]  # so at depth 32 the refactored block gets much more


# --- case 2: a norm over the sequence breaks causality --------------------------------------


def test_sequence_norm_leaks_future_tokens_and_a_per_token_norm_does_not():
    assert cs.future_leak(cs.sequence_norm_block()) > 1e-2
    torch.manual_seed(0)
    assert cs.future_leak(PreNormBlock(cs.D_MODEL, cs.N_HEADS, cs.D_FF, causal=True)) == 0.0


def test_sequence_norm_keeps_every_shape_so_shape_tests_cannot_catch_it():
    x = cs.small_batch()
    buggy, fixed = cs.sequence_norm_block(), PreNormBlock(cs.D_MODEL, cs.N_HEADS, cs.D_FF, causal=True)
    assert [s.output_shape for s in cs.trace_shapes(buggy, x)] == [s.output_shape for s in cs.trace_shapes(fixed, x)]


# --- case 3: migration ------------------------------------------------------------------


def test_legacy_post_norm_encoder_equals_its_normlab_port():
    legacy, x = cs.legacy_encoder(n_layers=3), cs.small_batch()
    torch.testing.assert_close(cs.run_torch(legacy, x), cs.to_normlab(legacy)(x), atol=1e-5, rtol=1e-5)


def test_migration_without_final_norm_differs_from_the_reference_and_the_fix_matches():
    legacy, x = cs.legacy_encoder(n_layers=4), cs.small_batch()
    fixed = cs.migrate_to_pre_norm(legacy)
    buggy = cs.migrate_to_pre_norm(legacy, final_norm=False)
    reference = cs.to_normlab(fixed)
    torch.testing.assert_close(cs.run_torch(fixed, x), reference(x), atol=1e-5, rtol=1e-5)
    assert (cs.run_torch(buggy, x) - reference(x)).abs().max() > 0.1
    # the symptom: the output is no longer normalised; its per-token norm exceeds sqrt(d)
    d = cs.D_MODEL
    assert cs.run_torch(fixed, x).norm(dim=-1).mean() == pytest.approx(d**0.5, rel=1e-3)
    assert cs.run_torch(buggy, x).norm(dim=-1).mean() > 1.2 * d**0.5


def test_migration_keeps_every_layers_weights():
    legacy = cs.legacy_encoder(n_layers=2)
    migrated = cs.migrate_to_pre_norm(legacy)
    for old, new in zip(legacy.layers, migrated.layers):
        assert new.norm_first and not old.norm_first
        torch.testing.assert_close(new.linear2.weight, old.linear2.weight)


# --- case 4: the norm computed once ------------------------------------------------------


def test_norm_once_block_changes_the_output_of_the_same_checkpoint():
    torch.manual_seed(0)
    reference = PreNormBlock(cs.D_MODEL, cs.N_HEADS, cs.D_FF)
    optimised = cs.NormOnceBlock(cs.D_MODEL, cs.N_HEADS, cs.D_FF)
    optimised.load_state_dict(reference.state_dict())  # loads without a complaint
    x = cs.small_batch()
    with torch.no_grad():
        assert (optimised(x) - reference(x)).abs().max() > 1e-2


def test_norm_once_block_leaves_norm2_unused_and_drops_it_from_the_trace():
    optimised = cs.NormOnceBlock(cs.D_MODEL, cs.N_HEADS, cs.D_FF)
    assert cs.unused_parameters(optimised) == ["norm2.weight", "norm2.bias"]
    assert cs.unused_parameters(PreNormBlock(cs.D_MODEL, cs.N_HEADS, cs.D_FF)) == []
    assert cs.wiring_signature(optimised) != cs.wiring_signature(PreNormBlock(cs.D_MODEL, cs.N_HEADS, cs.D_FF))
    # it is wired exactly like a parallel block
    assert cs.wiring_signature(optimised) == cs.wiring_signature(
        Block(cs.D_MODEL, cs.N_HEADS, cs.D_FF, placement="parallel")
    )


# --- case 5: the block spec ----------------------------------------------------------------

SPEC = cs.BlockSpec(d_model=32, n_heads=4, d_ff=64, placement="pre", norm="rms", causal=True)


def make(placement, norm="rms", causal=True):
    return Block(SPEC.d_model, SPEC.n_heads, SPEC.d_ff, norm=norm, causal=causal, placement=placement)


def test_spec_accepts_the_block_it_describes():
    assert all(cs.check_block(make("pre"), SPEC).values())


@pytest.mark.parametrize(
    "candidate,failing",
    [
        (lambda: make("post"), {"wiring", "identity path"}),
        (lambda: make("res-post"), {"wiring"}),  # clean identity path, norm in the wrong place
        (lambda: make("sandwich"), {"wiring"}),
        (lambda: make("pre", norm="layer"), {"norm type"}),
        (lambda: make("pre", causal=False), {"causal"}),
        (lambda: cs.NormOnceBlock(SPEC.d_model, SPEC.n_heads, SPEC.d_ff, norm="rms", causal=True), {"wiring"}),
        (lambda: Block(SPEC.d_model, SPEC.n_heads, 128, norm="rms", causal=True, placement="pre"), {"shapes"}),
    ],
    ids=["post", "res-post", "sandwich", "layernorm", "not-causal", "norm-once", "wrong-d_ff"],
)
def test_spec_rejects_each_wrong_block_for_the_right_reason(candidate, failing):
    result = cs.check_block(candidate(), SPEC)
    assert {name for name, ok in result.items() if not ok} == failing


def test_spec_shapes_follow_the_spec():
    shapes = SPEC.expected_shapes(batch=2, seq=5)
    assert shapes["attn.split_heads (per head)"] == (2, 4, 5, 8)
    assert shapes["attn.softmax (weights)"] == (2, 4, 5, 5)


# --- computed quiz answers --------------------------------------------------------------


def test_quiz_answer_sources():
    assert keys.stack_norm_count(12) == 25  # 2 per block + the final norm
    assert keys.stack_norm_count(12, placement="post") == 24
    assert keys.stack_output_shape(2, 10, 64, 4, 256, 3) == (2, 10, 64)
    assert keys.deepnorm_constants(12) == pytest.approx((2 * 12) ** 0.25, abs=1e-3)
    assert keys.deepnorm_constants(12, "beta") == pytest.approx((8 * 12) ** -0.25, abs=1e-3)
    assert keys.lemma2_bound(6, 512) == (1 + 3 * 6 / 2) * 512
    assert keys.lemma2_bound(6, 512, "lower") == (1 + 6 / 2) * 512


# --- the chapter's demo ----------------------------------------------------------------


@pytest.mark.parametrize("tool", case_studies.TOOLS)
def test_demo_views_show_each_cases_symptom(tool):
    view = case_studies.render("case 4: norm computed once", tool)
    if tool == "wiring checks":
        assert "norm2.weight, norm2.bias" in view
        assert "(must be 0)</td><td>0</td>" in view
        assert "identity path clean</td><td>True" in view
    elif tool == "trace_shapes":
        assert "norm2" not in view and "norm1" in view
    else:
        assert view.figure.axes[0].patches  # a bar per block


def test_demo_builds_static_and_live():
    static = case_studies.demo(live=False)
    assert static.variants == len(case_studies.BLOCKS) * len(case_studies.TOOLS)
    assert case_studies.demo(live=True).mode == "live"
