"""normlab.hf.families: the probes find each placement in blocks whose wiring is known
(normlab's own, and deliberately mis-wired ones), and, in every transformers family of the
model-families page, what facts.md section 4 and the families' own modeling code say."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from normlab import Block
from normlab.hf.families import (
    FACTS,
    FACTS_ROW,
    FAMILIES,
    compare_with_facts,
    facts_claims,
    family_table,
    norm_kind,
    probe_block,
)
from normlab.nn.blocks import ParallelBlock, PreNormBlock, SandwichBlock
from normlab.nn.norms import RMSNorm

pytest.importorskip("transformers")

X = torch.randn(2, 6, 16, generator=torch.Generator().manual_seed(0))


def probe(block: nn.Module):
    block.eval()
    return probe_block(lambda: block(X), block)


# --------------------------------------------------------------------------- blocks with known wiring


@pytest.mark.parametrize(
    "placement, expected",
    [("post", "post"), ("pre", "pre"), ("sandwich", "sandwich"), ("res-post", "res-post"), ("parallel", "parallel")]
    + [("deepnorm", "post")],  # LN(alpha * x + F(x)): a norm after the add
)
@pytest.mark.parametrize("norm", ["layer", "rms"])
def test_probes_find_the_placement_of_normlab_blocks(placement, expected, norm):
    torch.manual_seed(0)
    found = probe(Block(16, 4, 32, placement=placement, norm=norm, causal=True))
    assert found.placement == expected
    assert found.norm == {"layer": "LayerNorm", "rms": "RMSNorm"}[norm]
    assert found.qk_norm == "none"


@pytest.mark.parametrize("qk_norm, expected", [("head", "per head"), ("all", "over all heads")])
def test_probes_find_qk_norm(qk_norm, expected):
    torch.manual_seed(0)
    found = probe(Block(16, 4, 32, placement="pre", norm="rms", qk_norm=qk_norm))
    assert (found.placement, found.qk_norm, found.n_norms) == ("pre", expected, 2)


def test_parallel_block_counts_its_norms():
    torch.manual_seed(0)
    assert probe(Block(16, 4, 32, placement="parallel", shared_norm=True)).n_norms == 1
    assert probe(Block(16, 4, 32, placement="parallel", shared_norm=False)).n_norms == 2


class NormAfterTheAdd(PreNormBlock):
    """Calls itself pre-norm, but its first norm sits after the attention's residual add."""

    def forward(self, x, key_padding_mask=None):
        x = self.norm1(x + self._sa_block(x, key_padding_mask))
        return x + self._ff_block(self.norm2(x))


class MissingBranchNorm(SandwichBlock):
    """Calls itself sandwich, but forgets the norm on the FFN's output."""

    def forward(self, x, key_padding_mask=None):
        x = x + self.norm3(self._sa_block(self.norm1(x), key_padding_mask))
        return x + self._ff_block(self.norm2(x))


class SequentialAfterAll(ParallelBlock):
    """Calls itself parallel, but its FFN reads the attention's output (that is pre-norm)."""

    def forward(self, x, key_padding_mask=None):
        x = x + self._sa_block(self.norm1(x), key_padding_mask)
        return x + self._ff_block(self.norm1(x))


def test_a_mis_wired_block_is_not_detected_as_what_it_claims():
    torch.manual_seed(0)
    mis = NormAfterTheAdd(16, 4, 32)
    assert mis.placement == "pre"
    found = probe(mis)
    assert found.placement != "pre"
    assert not found.reads_normalised_input  # the attention reads the raw stream
    mis = SequentialAfterAll(16, 4, 32)
    assert mis.placement == "parallel"
    found = probe(mis)
    assert found.placement == "pre"
    assert not found.attention_output_added_directly
    mis = MissingBranchNorm(16, 4, 32)
    assert mis.placement == "sandwich"
    found = probe(mis)
    assert found.attention_output_normalised and not found.last_norm_output_added
    assert found.placement == "unknown"


def test_norm_kind_tells_layernorm_from_rmsnorm_and_from_other_modules():
    x = torch.randn(3, 8)
    assert norm_kind(nn.LayerNorm(8), x) == "LayerNorm"
    assert norm_kind(nn.LayerNorm(8, elementwise_affine=False), x) == "LayerNorm"
    assert norm_kind(RMSNorm(8), x) == "RMSNorm"
    assert norm_kind(nn.Linear(8, 8, bias=False), x) is None
    assert norm_kind(nn.GELU(), x) is None
    assert norm_kind(nn.Dropout(0.1).eval(), x) is None


# --------------------------------------------------------------------------- the transformers families


@pytest.fixture(scope="module")
def rows():
    return {row["family"]: row for row in family_table()}


def test_every_family_is_probed(rows):
    assert list(rows) == [f.label for f in FAMILIES]


def test_detection_agrees_with_facts_md(rows):
    compared = compare_with_facts(list(rows.values()))
    assert {c["family"] for c in compared} == set(FACTS_ROW)
    assert [c for c in compared if c["agrees"] != "yes"] == []


def test_facts_md_rows_are_read_as_written():
    assert facts_claims("OPT-350m", "pre (OPT-350m post)", "LN") == {"placement": "post", "norm": "LayerNorm"}
    assert facts_claims("OPT", "pre (OPT-350m post)", "LN")["placement"] == "pre"
    assert facts_claims("Gemma 2", "sandwich (3 adds QK-norm)", "RMSNorm")["QK-norm"] == "none"
    assert facts_claims("Gemma 3", "sandwich (3 adds QK-norm)", "RMSNorm")["QK-norm"] == "yes"
    assert facts_claims("BERT", "post, no final LN", "LN eps 1e-12")["final norm"] == "no"
    assert FACTS.exists()


# The families facts.md has no row for, from their modeling_*.py in transformers (placement,
# norm, final norm, QK-norm): a transformers upgrade that rewires one fails here.
FROM_THE_MODELING_CODE = {
    "RoBERTa": ("post", "LayerNorm", "no", "none"),
    "ALBERT": ("post", "LayerNorm", "no", "none"),
    "DistilBERT": ("post", "LayerNorm", "no", "none"),
    "ELECTRA": ("post", "LayerNorm", "no", "none"),
    "BART": ("post", "LayerNorm", "no", "none"),
    "mBART": ("pre", "LayerNorm", "yes", "none"),
    "Qwen2": ("pre", "RMSNorm", "yes", "none"),
    "Qwen3": ("pre", "RMSNorm", "yes", "per head"),
    "Gemma": ("pre", "RMSNorm", "yes", "none"),
    "OLMo": ("pre", "LayerNorm", "yes", "none"),
    "Phi": ("parallel, one norm", "LayerNorm", "yes", "none"),
    "Phi-3": ("pre", "RMSNorm", "yes", "none"),
    "StableLM": ("pre", "LayerNorm", "yes", "none"),
    "Cohere": ("parallel, one norm", "LayerNorm", "yes", "none"),
    "Cohere, use_qk_norm": ("parallel, one norm", "LayerNorm", "yes", "per head"),
}


@pytest.mark.parametrize("family", list(FROM_THE_MODELING_CODE))
def test_families_without_a_facts_row_match_their_modeling_code(rows, family):
    row = rows[family]
    assert (row["placement"], row["norm"], row["final norm"], row["QK-norm"]) == FROM_THE_MODELING_CODE[family]


def test_architectures(rows):
    kinds = {name: row["architecture"] for name, row in rows.items()}
    assert {n for n, k in kinds.items() if k == "encoder"} == {"BERT", "RoBERTa", "ALBERT", "DistilBERT", "ELECTRA"}
    assert {n for n, k in kinds.items() if k == "encoder–decoder"} == {"T5", "BART", "mBART"}
