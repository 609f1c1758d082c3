"""normlab.studies.schedules: the learning-rate schedules the deep-stacks chapter plots."""

import math

import pytest

from normlab.studies import schedules


def test_warmup_cosine_ramps_peaks_and_ends_at_the_floor():
    lr = schedules.curve(schedules.warmup_cosine, 1000, peak=1.0, warmup=100, total=1000)
    assert lr[0] == pytest.approx(0.01) and lr[99] == pytest.approx(1.0)
    assert all(a < b for a, b in zip(lr[:99], lr[1:100]))  # rises during warm-up
    assert all(a >= b for a, b in zip(lr[100:-1], lr[101:]))  # never rises after
    assert schedules.warmup_cosine(1000, 1.0, 100, 1000) == pytest.approx(0.1)
    assert schedules.warmup_cosine(550, 1.0, 100, 1000) == pytest.approx(0.55)  # half-way


def test_inverse_sqrt_is_vaswanis_formula():
    d, w = 512, 4000
    for step in (0, 10, 3999, 4000, 100_000):
        s = step + 1
        assert schedules.inverse_sqrt(step, d, w) == pytest.approx(d**-0.5 * min(s**-0.5, s * w**-1.5))
    lr = schedules.curve(schedules.inverse_sqrt, 20_000, d_model=d, warmup=w)
    assert lr.argmax() == w - 1 and lr.max() == pytest.approx((d * w) ** -0.5)
    assert lr[4 * w - 1] == pytest.approx(lr.max() / 2)  # 1/sqrt(step) decay


def test_constant_with_warmup_ramps_linearly_then_holds():
    assert [schedules.constant_with_warmup(s, 2.0, 4) for s in range(6)] == [0.5, 1.0, 1.5, 2.0, 2.0, 2.0]
    assert schedules.constant_with_warmup(0, 2.0, 0) == 2.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: schedules.warmup_cosine(-1, 1.0, 10, 100), "step must be >= 0"),
        (lambda: schedules.warmup_cosine(0, 1.0, 100, 100), "must exceed the warm-up"),
        (lambda: schedules.inverse_sqrt(0, 512, 0), "warmup >= 1"),
        (lambda: schedules.constant_with_warmup(0, 1.0, -3), "warmup must be >= 0"),
    ],
)
def test_bad_arguments_say_what_was_expected(call, message):
    with pytest.raises(ValueError, match=message):
        call()
    assert math.isfinite(schedules.inverse_sqrt(0))
