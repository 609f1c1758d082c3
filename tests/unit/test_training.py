"""normlab.studies.training and .seeds: seeds trained together are the runs each seed gives
alone, and every seed the book uses moves with NORMLAB_SEED_BASE."""

import functools
from dataclasses import replace

import numpy as np
import pytest
import torch

from normlab.studies import seeds
from normlab.studies.experiments import TaskConfig, reverse_task_batch, reverse_task_model
from normlab.studies.training import fit, task_loss

TASK = replace(TaskConfig(), n_layers=2, steps=12)


def models_and_streams(seed_list, placement="pre"):
    models = []
    for seed in seed_list:
        seeds.seed_everything(seed)
        models.append(reverse_task_model(placement, TASK))
    streams = [functools.partial(reverse_task_batch, TASK, seeds.generator(30_000, s)) for s in seed_list]
    return models, streams


def train(seed_list, lr=0.01, optimiser="adam", placement="pre"):
    models, streams = models_and_streams(seed_list, placement)
    return models, fit(models, streams, task_loss, optimiser, lambda step: lr, TASK.steps, profile_every=4)


@pytest.mark.parametrize("optimiser", ["adam", "radam"])
def test_a_seed_trained_with_others_matches_its_run_alone(optimiser):
    together_models, together = train((0, 1, 2), optimiser=optimiser)
    alone_models, alone = train((1,), optimiser=optimiser)
    # the same losses, gradient norms and profiles to float tolerance: batched kernels round differently
    np.testing.assert_allclose(together[1]["loss"], alone[0]["loss"], rtol=1e-4)
    np.testing.assert_allclose(together[1]["grad_norm"], alone[0]["grad_norm"], rtol=1e-3)
    np.testing.assert_allclose(together[1]["profiles"][8], alone[0]["profiles"][8], rtol=1e-3)
    for a, b in zip(together_models[1].parameters(), alone_models[0].parameters()):  # weights copied back
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(together[0]["loss"], together[1]["loss"])


def test_one_seed_in_the_loop_matches_a_plain_training_loop():
    """The batched loop against the textbook loop (model(x), loss.backward(), Adam)."""
    _, (record,) = train((3,))
    (model,), (stream,) = models_and_streams((3,))
    optimiser = torch.optim.Adam(model.parameters(), lr=0.01, betas=(0.9, 0.98), eps=1e-9)
    losses = []
    for _ in range(TASK.steps):
        tokens, targets = stream()
        loss = task_loss(model(tokens), targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    np.testing.assert_allclose(record["loss"], losses, rtol=1e-4)


def test_a_diverging_seed_stops_alone():
    _, records = train((0, 1), lr=0.01)
    models, streams = models_and_streams((0, 1))
    with torch.no_grad():  # seed 0 starts with a non-finite weight: its loss is NaN from step 0
        models[0].blocks[0].ffn.linear2.weight[0, 0] = float("nan")
    broken = fit(models, streams, task_loss, "adam", lambda step: 0.01, TASK.steps)
    assert broken[0]["diverged"] and len(broken[0]["loss"]) == 0
    assert not broken[1]["diverged"]
    np.testing.assert_allclose(broken[1]["loss"], records[1]["loss"], rtol=1e-4)


def test_the_seed_base_shifts_every_seed(monkeypatch):
    first = seeds.generator(30_000, 2).initial_seed()
    seeds.seed_everything(2)
    drawn = torch.rand(3)
    monkeypatch.setenv(seeds.SEED_BASE_VARIABLE, "1000")
    assert seeds.seed_base() == 1000
    assert seeds.generator(30_000, 2).initial_seed() == first + 1000
    seeds.seed_everything(2)
    assert not torch.equal(torch.rand(3), drawn)
    seeds.seed_everything(1002 - 1000)  # base 1000 + seed 2 = seed 1002 under base 0
    shifted = torch.rand(3)
    monkeypatch.setenv(seeds.SEED_BASE_VARIABLE, "0")
    seeds.seed_everything(1002)
    assert torch.equal(torch.rand(3), shifted)


@pytest.mark.parametrize("value", ["ten", "-5", "1.5"])
def test_a_bad_seed_base_says_what_was_expected(monkeypatch, value):
    monkeypatch.setenv(seeds.SEED_BASE_VARIABLE, value)
    with pytest.raises(ValueError, match="NORMLAB_SEED_BASE.*expected a non-negative integer"):
        seeds.seed_base()
