"""The published effects, as far as our CPU-sized runs reproduce them (book/measurements.md).

Each test asserts a direction that theory guarantees or that the sweep on the
measurements page showed across seeds; no number is copied from one run. Seeds are
grouped and every group must agree.
"""

import numpy as np
import pytest

from normlab.studies.experiments import (
    GRADIENT_SETTING,
    PAPER_SETTING,
    Setting,
    last_layer_gradient_vs_depth,
    layer_gradients,
    lemma2_bounds,
    loglog_slope,
    mean_stream_sq_norms,
    output_change_vs_depth,
    profile_slope,
    stream_sq_norms,
)

SEED_GROUPS = [range(0, 2), range(2, 4), range(4, 6)]


# --- (3) Theorem 1, Fig. 3(c,d): the last block's W2 gradient against depth ------------------

DEPTHS = (6, 12, 24)


@pytest.mark.slow
@pytest.mark.parametrize("seeds", SEED_GROUPS, ids=str)
def test_pre_norm_last_layer_gradient_falls_with_depth_post_norm_does_not(seeds):
    pre = last_layer_gradient_vs_depth("pre", DEPTHS, Setting(), seeds)
    post = last_layer_gradient_vs_depth("post", DEPTHS, Setting(), seeds)
    pre_slope, post_slope = loglog_slope(DEPTHS, pre), loglog_slope(DEPTHS, post)
    assert pre_slope < -0.1, f"pre-norm should fall with depth (Theorem 1), log-log slope {pre_slope:.2f}"
    assert post_slope > -0.15, f"post-norm should not fall with depth, log-log slope {post_slope:.2f}"
    assert post_slope > pre_slope + 0.2


# --- (4) Lemma 2 in the paper's setting ---------------------------------------------------

L = 12


def test_pre_norm_stream_lies_within_lemma2_bounds_and_grows():
    lower, upper, _ = lemma2_bounds(L, PAPER_SETTING.d_model)
    for seed in range(3):
        pre = stream_sq_norms("pre", L, PAPER_SETTING, seed)
        # Lemma 2 bounds the expectation; one seed averages 128 tokens, so allow 3 %
        assert np.all(pre >= 0.97 * lower), (seed, pre / lower)
        assert np.all(pre <= 1.03 * upper), (seed, pre / upper)
        assert np.all(np.diff(pre) > 0), f"seed {seed}: the stream should grow block after block"


def test_post_norm_sum_before_the_last_norm_stays_near_three_halves_d():
    d = PAPER_SETTING.d_model
    _, _, three_halves_d = lemma2_bounds(L, d)
    post = mean_stream_sq_norms("post", L, PAPER_SETTING, seeds=range(3))
    assert abs(post.mean() / three_halves_d - 1) < 0.1, post / d
    assert np.all(np.abs(post / three_halves_d - 1) < 0.3), post / d
    # no growth with depth: the last third is not above the first third by more than noise
    assert post[-4:].mean() < 1.15 * post[:4].mean()


def test_post_norm_block_output_itself_has_squared_norm_d():
    """Why Lemma 2's 3/2 d is measured before the norm: after it, ||x||^2 = d exactly."""
    import torch

    from normlab.studies.experiments import build_stack, make_batch

    stack = build_stack("post", 4, PAPER_SETTING, seed=0)
    x, _ = make_batch(PAPER_SETTING, seed=0)
    with torch.no_grad():
        out = stack(x)
    per_token = out.pow(2).sum(-1)
    assert torch.allclose(per_token, torch.full_like(per_token, PAPER_SETTING.d_model), rtol=1e-3)


# --- (2) Fig. 3(a,b): the per-layer profile -----------------------------------------------


@pytest.mark.parametrize("seed", range(4))
def test_post_norm_profile_leans_to_the_top_more_than_pre_norm(seed):
    post = layer_gradients("post", 12, GRADIENT_SETTING, seed)
    pre = layer_gradients("pre", 12, GRADIENT_SETTING, seed)
    assert profile_slope(post) > profile_slope(pre) + 0.3


def test_pre_norm_gradients_fall_with_layer_index_and_post_norm_rises_on_average():
    post = [profile_slope(layer_gradients("post", 12, GRADIENT_SETTING, s)) for s in range(4)]
    pre = [profile_slope(layer_gradients("pre", 12, GRADIENT_SETTING, s)) for s in range(4)]
    assert all(p < 0 for p in pre), pre  # differs from the paper's flat Fig. 3(b)
    assert np.mean(post) > 0, post  # Fig. 3(a)'s direction, on average over seeds


# --- (8) Liu et al. 2020: amplification ---------------------------------------------------

AMP_DEPTHS = (2, 8, 24)


@pytest.mark.parametrize("seed", range(3))
def test_post_norm_output_change_grows_about_linearly_and_faster_than_pre_norm(seed):
    post = output_change_vs_depth("post", AMP_DEPTHS, Setting(), 0.01, [seed])
    pre = output_change_vs_depth("pre", AMP_DEPTHS, Setting(), 0.01, [seed])
    post_slope, pre_slope = loglog_slope(AMP_DEPTHS, post), loglog_slope(AMP_DEPTHS, pre)
    assert post_slope > 0.8, f"post-norm output change should grow like N (O(N)), slope {post_slope:.2f}"
    assert post_slope > pre_slope + 0.3
    assert post[-1] > 2 * pre[-1]
