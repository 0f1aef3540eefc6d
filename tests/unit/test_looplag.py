"""The loop-lag sampler and its summary, driven by an injected clock (no real time)."""

from __future__ import annotations

import asyncio

import pytest

from harness.looplag import LoopLagSampler, summarize_lags


class FakeTime:
    """A clock whose sleeps advance it by the interval plus a scripted lateness."""

    def __init__(self, lateness: list[float]) -> None:
        self.now = 100.0
        self._lateness = list(lateness)

    def clock(self) -> float:
        return self.now

    async def sleep(self, interval: float) -> None:
        self.now += interval + (self._lateness.pop(0) if self._lateness else 0.0)


async def test_sampler_records_scripted_lateness() -> None:
    fake = FakeTime([0.001, 0.0, 0.2, 0.002])
    sampler = LoopLagSampler(interval_s=0.01, clock=fake.clock, sleep=fake.sleep)
    await sampler.run(max_samples=4)
    assert sampler.lags == pytest.approx([0.001, 0.0, 0.2, 0.002])
    stats = sampler.summary()
    assert stats.samples == 4
    assert stats.max_s == pytest.approx(0.2)
    # Only the 200 ms wake-up is over the 50 ms threshold; observed = 4 * 10 ms + 203 ms.
    assert stats.blocked_s == pytest.approx(0.2)
    assert stats.blocked_fraction == pytest.approx(0.2 / 0.243)


def test_summary_percentiles_use_numpy_linear_and_never_extrapolate() -> None:
    lags = [0.001] * 6 + [0.054]
    stats = summarize_lags(lags, observed_s=1.0)
    # statistics.quantiles' default would extrapolate p99 beyond the max (the reference
    # notes saw 102 ms for a 54 ms max); linear interpolation stays within the samples.
    assert stats.p99_s is not None
    assert stats.max_s is not None
    assert stats.p99_s <= stats.max_s
    assert stats.p99_s == pytest.approx(0.001 + 0.94 * 0.053)
    assert stats.p50_s == pytest.approx(0.001)


def test_summary_without_samples_has_no_percentiles() -> None:
    stats = summarize_lags([], observed_s=0.5)
    assert (stats.samples, stats.p99_s, stats.max_s) == (0, None, None)
    assert stats.blocked_fraction == 0.0


def test_blocked_fraction_is_clamped_and_negative_lags_ignored() -> None:
    stats = summarize_lags([-0.001, 2.0], observed_s=1.0)
    assert stats.blocked_fraction == 1.0
    assert stats.p50_s is not None
    assert stats.p50_s >= 0.0


def test_threshold_is_configurable() -> None:
    lags = [0.02, 0.03, 0.001]
    assert summarize_lags(lags, 1.0).blocked_s == 0.0
    assert summarize_lags(lags, 1.0, blocked_threshold_s=0.01).blocked_s == pytest.approx(0.05)


async def test_stop_counts_a_block_that_lasts_until_the_end() -> None:
    # A real loop, a blocking call that starves the sampler: with the in-flight sleep
    # counted, the block shows up even though the sampler never woke during it.
    now = [0.0]
    sampler = LoopLagSampler(interval_s=0.01, clock=lambda: now[0])
    sampler.start()
    await asyncio.sleep(0)  # let the sampler start its first sleep
    now[0] += 0.5  # the loop is "blocked" for 500 ms by the fake clock's account
    stats = await sampler.stop()
    assert stats.max_s == pytest.approx(0.49)
    assert stats.blocked_fraction == pytest.approx(0.98)


async def test_start_twice_is_an_error() -> None:
    sampler = LoopLagSampler()
    sampler.start()
    with pytest.raises(RuntimeError):
        sampler.start()
    await sampler.stop()


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="positive"):
        LoopLagSampler(interval_s=0)


async def test_a_loop_busy_from_start_to_stop_is_one_block_not_no_data() -> None:
    # The uploads never yielded: the sampler's task never ran, so no heartbeat was ever
    # late. That is the worst lag there is, not a missing value.
    fake = FakeTime([])
    sampler = LoopLagSampler(interval_s=0.01, clock=fake.clock, sleep=fake.sleep)
    sampler.start()
    fake.now += 0.25  # the loop is held for 250 ms before stop() gets to run
    stats = await sampler.stop()
    assert sampler.lags == pytest.approx([0.24])
    assert stats.max_s == pytest.approx(0.24)


async def test_a_round_shorter_than_one_heartbeat_observes_nothing() -> None:
    fake = FakeTime([])
    sampler = LoopLagSampler(interval_s=0.01, clock=fake.clock, sleep=fake.sleep)
    sampler.start()
    fake.now += 0.004
    stats = await sampler.stop()
    assert sampler.lags == ()
    assert stats.p99_s is None
