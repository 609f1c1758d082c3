"""normlab.studies.claims: the registry itself (its claims are evaluated in tests/claims)."""

import math

import pytest

from normlab.studies import claims


@pytest.fixture
def registry(monkeypatch):
    monkeypatch.setattr(claims, "CLAIMS", {})
    return claims.CLAIMS


def make(name="toy", value=3, holds=lambda e: e["learned"] >= 4):
    return claims.claim(
        name=name,
        page="book/09-training-deep-stacks.md",
        section="warm-up-in-practice",
        sentence="Most seeds learn.",
        ensemble="8 seeds",
        statistic="seeds that learn",
        margin="at least 4 of 8",
        measure=lambda: {"learned": value, "seeds": 8},
        holds=holds,
    )


def test_a_claim_that_holds_returns_its_evidence(registry):
    make(value=6)
    assert claims.check("toy") == {"learned": 6, "seeds": 8}


def test_a_claim_that_fails_names_itself_its_page_and_the_numbers(registry):
    make(value=3)
    with pytest.raises(claims.ClaimFailed) as failed:
        claims.check("toy")
    message = str(failed.value)
    for part in ("'toy'", "book/09-training-deep-stacks.md", "warm-up-in-practice", "at least 4 of 8", "learned = 3"):
        assert part in message, message


def test_names_are_unique_and_unknown_names_are_refused(registry):
    make()
    with pytest.raises(ValueError, match="defined twice"):
        make()
    with pytest.raises(KeyError, match="no claim 'nope'.*toy"):
        claims.check("nope")


def test_the_interval_is_the_t_interval_of_the_mean():
    mean, low, high = claims.interval95([1.0, 2.0, 3.0, 4.0])
    assert mean == 2.5
    half = 3.182 * math.sqrt(5 / 3) / 2  # t(0.975, 3) * sd / sqrt(n)
    assert low == pytest.approx(2.5 - half) and high == pytest.approx(2.5 + half)
    assert claims.interval95([2.0])[1] == -math.inf


def test_the_command_line_reports_and_fails_on_a_claim_that_does_not_hold(registry, capsys):
    make(name="holds", value=6)
    make(name="fails", value=1)
    assert claims.main(["holds"]) == 0
    assert claims.main([]) == 1
    out = capsys.readouterr().out
    assert "holds  holds" in out and "FAILS  fails" in out
    with pytest.raises(SystemExit):
        claims.main(["unknown"])
