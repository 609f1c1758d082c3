"""normlab.studies.lm: the standard-library corpus, the tiny LM and the depth measurements."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from normlab import TransformerStack
from normlab.studies.lm import (
    LMConfig,
    drop_layer_loss_change,
    layer_cosine_similarity,
    random_windows,
    stdlib_corpus,
    targets_per_step,
    train_lm,
    unigram_loss,
    validation_batch,
)
from normlab.studies.training import loss_spikes

TINY = replace(LMConfig(), steps=30, profile_every=10)


def test_corpus_is_ascii_from_this_python():
    corpus = stdlib_corpus()
    assert corpus.dtype == torch.int64 and len(corpus) > 50_000 and int(corpus.max()) < 128
    assert "def " in bytes(corpus[:20_000].tolist()).decode("ascii")
    with pytest.raises(FileNotFoundError, match="not found"):
        stdlib_corpus(("no_such_module.py",))


def test_windows_are_shifted_by_one():
    text = torch.arange(100)
    inputs, targets = random_windows(text, 3, 5, torch.Generator().manual_seed(0))
    assert inputs.shape == targets.shape == (3, 5) and torch.equal(inputs[:, 1:], targets[:, :-1])
    assert targets_per_step(8, 32) == 256


def test_training_is_seeded_and_beats_uniform():
    a, b = train_lm("pre", 2, TINY, (0, 1))
    assert train_lm("pre", 2, TINY, (0, 1))[0] is a  # cached
    fresh = train_lm.__wrapped__("pre", 2, TINY, (0, 1), None)  # recomputed: same numbers
    assert np.allclose(a["loss"], fresh[0]["loss"]) and np.allclose(b["loss"], fresh[1]["loss"])
    assert not np.allclose(a["loss"], b["loss"])  # two seeds, two runs
    assert a["loss"][-1] < np.log(128) and sorted(a["profiles"]) == [0, 10, 20]
    assert 2.0 < unigram_loss() < np.log(128)


def test_cosine_and_drop_layer_on_a_stack_with_silent_blocks():
    model = TransformerStack(3, 16, 2, 32, causal=True, vocab_size=128, max_seq_len=32)
    with torch.no_grad():
        for layer in (model.blocks[2].attn.out_proj, model.blocks[2].ffn.linear2):
            layer.weight.zero_()
            layer.bias.zero_()
    inputs, targets = validation_batch(LMConfig())
    cos = layer_cosine_similarity(model, inputs)
    assert cos.shape == (3,) and cos[2] == pytest.approx(1.0, abs=1e-5)
    change = drop_layer_loss_change(model, inputs, targets)
    assert change[2] == pytest.approx(0.0, abs=1e-6) and len(model.blocks) == 3


def test_loss_spike_detector():
    losses = [2.0] * 20 + [5.0] + [2.0] * 5
    assert loss_spikes(losses).tolist() == [20]
    assert loss_spikes(np.linspace(3, 1, 50)).size == 0
