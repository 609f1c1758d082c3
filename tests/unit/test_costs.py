"""normlab.studies.costs and the chapter helpers (silence_branches,
exercise_summary): the formulas the chapters print agree with what normlab's modules
actually compute and hold."""

from __future__ import annotations

import json

import pytest
import torch

from normlab import MultiHeadSelfAttention, PostNormBlock, PreNormBlock, seed_everything
from normlab.book.exercises import exercise_summary
from normlab.studies import costs
from normlab.studies.analysis import silence_branches
from normlab.studies.experiments import attention_flops


@pytest.mark.parametrize("seed", [0, 1])
def test_cached_decoding_gives_the_outputs_of_full_causal_attention(seed):
    seed_everything(seed)
    attention = MultiHeadSelfAttention(32, 4, causal=True)
    x = torch.randn(2, 9, 32)
    with torch.no_grad():
        full = attention(x)
        cache, steps = None, []
        for t in range(x.shape[1]):
            out, cache = costs.cached_attention_step(attention, x[:, t : t + 1], cache)
            steps.append(out)
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-5, atol=1e-5)
    assert tuple(cache["k"].shape) == (2, 4, 9, 8)


def test_kv_cache_formula_counts_what_the_cache_holds():
    attention, cache = MultiHeadSelfAttention(24, 3, causal=True), None
    with torch.no_grad():
        for _ in range(5):
            _, cache = costs.cached_attention_step(attention, torch.randn(2, 1, 24), cache)
    held = cache["k"].numel() + cache["v"].numel()  # one layer
    assert costs.kv_cache_numbers(n_layers=1, seq=5, d_model=24, batch=2) == held
    assert costs.kv_cache_mib(12, 1024, 768) == 36.0


def test_attention_score_memory_is_what_the_weights_take():
    with torch.no_grad():
        _, weights = MultiHeadSelfAttention(16, 2)(torch.randn(3, 40, 16), need_weights=True)
    assert costs.attention_score_mib(40, n_heads=2, batch=3) * 2**20 == weights.numel() * weights.element_size()


def test_crossover_is_where_the_quadratic_term_catches_up():
    d = 64
    n = costs.crossover_seq(d)
    assert attention_flops(n, d) == 2 * (4 * n * d**2)  # n^2 part == projections
    assert attention_flops(n - 1, d) < 2 * (4 * (n - 1) * d**2)


def test_decoding_with_a_cache_saves_work_and_the_saving_grows_with_length():
    d = 64
    assert costs.decode_step_flops(1, d, cached=True) == costs.decode_step_flops(1, d, cached=False)
    savings = [
        costs.decode_total_flops(n, d, cached=False) / costs.decode_total_flops(n, d, cached=True)
        for n in (16, 64, 256)
    ]
    assert savings == sorted(savings) and savings[0] > 1


def test_parallelism_and_path_length():
    assert costs.sequential_steps("attention", 1000) == 1 and costs.sequential_steps("rnn", 1000) == 1000
    assert costs.max_path_length("attention", 1000) == 1 and costs.max_path_length("rnn", 1000) == 999


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: costs.sequential_steps("lstm", 10), "kind must be one of"),
        (lambda: costs.kv_cache_mib(12, 0, 768), "seq must be a positive integer"),
        (lambda: costs.attention_score_mib(10.5), "seq must be a positive integer"),
    ],
)
def test_bad_input_says_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()


def test_silenced_branches_leave_only_the_wiring():
    x = torch.randn(2, 5, 16)
    with torch.no_grad():
        assert torch.equal(silence_branches(PreNormBlock(16, 2, 32))(x), x)
        assert not torch.equal(silence_branches(PostNormBlock(16, 2, 32))(x), x)  # LN(LN(x))


def test_exercise_summary_reads_nbgrader_points(tmp_path):
    def cell(**nbgrader):
        return {"cell_type": "code", "source": "", "metadata": {"nbgrader": nbgrader}, "outputs": []}

    notebook = tmp_path / "a.ipynb"
    notebook.write_text(
        json.dumps(
            {
                "cells": [
                    cell(solution=True, grade=False),  # an answer
                    cell(grade=True, solution=False, points=2),  # an autograded test
                    cell(grade=True, solution=False, points=3),
                    cell(grade=True, solution=True, points=4),  # a hand-graded answer
                    {"cell_type": "markdown", "source": "", "metadata": {}},
                ]
            }
        )
    )
    assert exercise_summary(notebook) == {"autograded": 5, "manual": 4, "tests": 2, "answers": 2}
