"""book/optimiser-and-depth.md (issue 22, new topics 1 and 5): the chapter is in the book
after the deep-stacks chapter, teaches the checked facts with their citations, asserts
every measured sentence through a registered claim checked in its own section, and the
library behind it does what the text says.

The built-page checks are chapter 1-8's own (``test_chapters``) and need ``make book``;
the rest read the markdown, the registry and the library.
"""

from __future__ import annotations

import math
import re

import test_chapters as base
import torch
import yaml

from normlab.studies import claims
from normlab.studies.experiments import Setting, build_stack, make_batch
from normlab.studies.optimiser import SCALINGS, ScaledBranch, radam_rectifier, scaled_stack

SOURCE = base.BOOK / "optimiser-and-depth.md"
PREFIXES = ("optimiser_", "depth_scaling_")
SECTIONS = ("optimiser-adam-step", "optimiser-radam", "optimiser-diagnosis", "depth-scaling-stream",
            "depth-scaling-adam")  # fmt: skip


def text() -> str:
    return SOURCE.read_text(encoding="utf-8")


# --- built page (make book) ----------------------------------------------------------------

# The parts every chapter has are checked with the other new chapters (test_new_chapters.py).


# --- place in the book ---------------------------------------------------------------------


def test_the_chapter_follows_the_deep_stacks_chapter_in_the_table_of_contents():
    toc = yaml.safe_load((base.ROOT / "_toc.yml").read_text(encoding="utf-8"))
    files = [c["file"] for part in toc["parts"] for c in part["chapters"]]
    at = files.index("book/09-training-deep-stacks")
    assert files[at + 1] == "book/optimiser-and-depth"


def test_chapters_are_referred_to_by_link_not_by_number():
    # chapter numbers shift (chapter 8 moves to the appendices): {doc}/{ref} only
    assert not re.search(r"\b[Cc]hapters? \d", text())


# --- what it teaches, with its sources ------------------------------------------------------


def test_the_chapter_cites_each_source_once_under_one_key():
    source = text()
    for key in ("kingma2015adam", "liu2020variance", "liu2020understanding", "yang2021tensor4", "yang2022tensor5",
                "yang2023tensor6", "bordelon2023depthwise", "sun2025curse", "wang2022deepnet"):  # fmt: skip
        assert f"{{cite}}`{key}`" in source, key
    assert "liu2019radam" not in source


def test_the_chapter_teaches_the_checked_facts():
    source = " ".join(text().split())
    assert "invariant to diagonal rescaling of the gradients" in source  # Adam's abstract
    assert '"is not the direct reason"' in source  # Liu et al. 2020, Admin §3 (facts §9)
    assert "amplification" in source
    assert "$1/\\sqrt{L}$" in source and "$1/\\sqrt{l}$" in source  # depth vs the block's index
    assert "$\\alpha = (2N)^{1/4}$" in source and "$\\beta = (8N)^{-1/4}$" in source  # DeepNet, encoder
    assert "N$ residual layers" in source  # GPT-2 §2.3's wording, not "N blocks"
    assert "such as modern transformers" in source  # Tensor Programs VI's abstract


def test_new_bib_entries_have_one_key_per_arxiv_id():
    ids = re.findall(r"eprint\s*=\s*\{([^}]+)\}", (base.BOOK / "references-optimiser.bib").read_text(encoding="utf-8"))
    others = "\n".join(
        p.read_text(encoding="utf-8") for p in base.BOOK.glob("*.bib") if p.name != "references-optimiser.bib"
    )
    assert len(ids) == len(set(ids)) == 4
    for arxiv in ids:
        assert arxiv not in others, f"arXiv {arxiv} is already in another .bib file"


# --- the measured sentences are claims, checked in their sections --------------------------


def mine() -> dict[str, claims.Claim]:
    return {name: c for name, c in claims.CLAIMS.items() if name.startswith(PREFIXES)}


def test_the_chapter_registers_its_claims_at_the_end_of_the_registry():
    names = list(claims.CLAIMS)
    assert len(mine()) == 6
    assert names[-len(mine()) :] == list(mine()), "appended after the existing claims"
    for found in mine().values():
        assert found.page == "book/optimiser-and-depth.md" and found.section in SECTIONS


def test_every_claim_is_checked_in_its_own_section():
    source = text()
    labels = [(m.start(), m.group(1)) for m in re.finditer(r"^\((\S+)\)=$", source, re.M)]
    assert [label for _, label in labels] == list(SECTIONS)
    for name, found in mine().items():
        at = source.find(f'claims.check("{name}")')
        assert at > 0, f"{name} is not checked on the page"
        section = [label for start, label in labels if start < at][-1]
        assert section == found.section, f"{name} is checked under {section}, registered under {found.section}"


# --- the library does what the text says -----------------------------------------------------


def test_gpt2_init_equals_a_branch_multiplier_at_initialisation():
    # "with zero biases, scaling W_O and W2 by 1/sqrt(2L) multiplies each branch's output by exactly that factor"
    setting, n = Setting(), 4
    x, _ = make_batch(setting, seed=3)
    multiplied = build_stack("pre", n, setting, seed=3)
    for block in multiplied.blocks:
        block.attn = ScaledBranch(block.attn, 1 / math.sqrt(2 * n))
        block.ffn = ScaledBranch(block.ffn, 1 / math.sqrt(2 * n))
    with torch.no_grad():
        torch.testing.assert_close(scaled_stack("GPT-2 init", n, setting, seed=3)(x), multiplied(x))


def test_the_branch_multiplier_is_one_over_root_depth_on_every_branch():
    stack = scaled_stack("branches x 1/sqrt(L)", 9)
    scales = {m.scale for m in stack.modules() if isinstance(m, ScaledBranch)}
    assert scales == {1 / 3} and sum(isinstance(m, ScaledBranch) for m in stack.modules()) == 18
    assert set(SCALINGS) >= {"pre-norm", "GPT-2 init", "LayerNorm scaling"}


def test_the_rectifier_is_pytorchs():
    # PyTorch's RAdam steps by lr * r_t * m_hat / sqrt(v_hat) once rho_t > 5: with a constant
    # gradient m_hat / sqrt(v_hat) -> 1, so its step t is lr * r_t (up to eps)
    rho, r = radam_rectifier(8)
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.RAdam([p], lr=1.0, betas=(0.9, 0.98), eps=1e-12)
    for t in range(8):
        before = p.detach().clone()
        p.grad = torch.ones(1)
        opt.step()
        if rho[t] > 5:
            step = float(before - p.detach())
            assert abs(step - r[t]) < 1e-4, (t + 1, step, r[t])
