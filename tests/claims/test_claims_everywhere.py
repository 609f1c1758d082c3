"""Every measured claim of the book holds on other CPUs and for other seeds.

The book build checks each claim with this machine's kernels and the book's seeds. Here
each claim is evaluated again (``python -m normlab.studies.claims --json``, a new process
per setting) under PyTorch's ``default`` CPU kernels with the book's seeds, and under the
``avx2`` kernels with another seed base (``NORMLAB_SEED_BASE=1000``): what a reader on
another machine, or an author trying other seeds, would get. (Two settings, not three:
each costs a full evaluation of every claim.) The book build itself covers this CPU's own
kernels, ``avx512`` on a CPU that has it. A claim that flips fails with its name, its page and the
evidence on both sides: this run's and the book build's.

Each setting is evaluated in three parts, a process each (evaluations.py says which, and
why they run in the background while the rest of the suite runs).
"""

from __future__ import annotations

from functools import cache

import pytest
from claims.evaluations import CLAIMS_OF, PARTS, ROOT, SETTINGS, Reports, evaluate

from normlab.studies.claims import CLAIMS, format_evidence


def native_kernels() -> str:
    import torch

    return torch.backends.cpu.get_cpu_capability().lower()  # "avx512", "avx2" or "default"


@cache
def as_built(names: tuple[str, ...]) -> dict:
    """These claims as the book build evaluates them: this CPU's kernels, the book's seeds."""
    return evaluate(None, 0, names)


@pytest.fixture(scope="session")
def reports(pytestconfig):
    return Reports(pytestconfig)


def test_the_parts_cover_every_claim_once():
    parts = [name for part in PARTS for name in CLAIMS_OF[part]]
    assert sorted(parts) == sorted(CLAIMS) and len(parts) == len(set(parts))
    assert all(CLAIMS_OF[part] for part in PARTS), "a part with no claims: regroup PARTS"


@pytest.mark.slow
@pytest.mark.parametrize("setting", SETTINGS, ids=[s.id for s in SETTINGS])
def test_every_claim_holds(setting, reports):
    kernels, seed_base = setting.kernels, setting.seed_base
    if kernels == "avx2" and native_kernels() == "default":
        pytest.skip("this CPU has no AVX2 kernels")
    report = reports.of(setting)
    assert report["seed_base"] == seed_base
    if kernels:
        assert report["kernels"].lower() == kernels, f"asked for {kernels}, PyTorch ran {report['kernels']}"
    assert set(report["claims"]) == set(setting.names)
    flipped = [name for name, result in report["claims"].items() if not result["holds"]]
    if flipped:
        built = as_built(tuple(flipped))["claims"]
        lines = [
            f"- {name} ({CLAIMS[name].page}, section {CLAIMS[name].section!r}): {CLAIMS[name].sentence}\n"
            f"  asserted: {CLAIMS[name].margin}\n"
            f"  here ({report['kernels']} kernels, seed base {seed_base}): "
            f"{format_evidence(report['claims'][name]['evidence'])}\n"
            f"  as built ({native_kernels()} kernels, seed base 0): {format_evidence(built[name]['evidence'])}"
            for name in flipped
        ]
        pytest.fail(f"{len(flipped)} claim(s) of the book do not hold here:\n" + "\n".join(lines))


def test_every_claim_is_checked_on_its_page():
    """A claim in the registry that no chapter checks would be listed on the claims page
    but asserted nowhere in the build."""
    for name, claim in CLAIMS.items():
        page = ROOT / claim.page
        assert page.is_file(), f"claim {name!r} names a page that does not exist: {claim.page}"
        text = page.read_text()
        assert f'"{name}"' in text and "claims.check(" in text, f"{claim.page} does not check claim {name!r}"
        assert f"({claim.section})=" in text, f"claim {name!r}: no label ({claim.section})= in {claim.page}"
