"""Retry policy, size-aware deadline and stall watchdog, with an injected clock: no real
sleeps, no sockets."""

from __future__ import annotations

import asyncio
import random

import pytest

from uploader.api import Settings
from uploader.retry import RetryPolicy, full_jitter_backoff
from uploader.timeouts import StallWatchdog, UploadTimeout, deadline_s, run_watched


class FakeTime:
    """A clock that only moves when someone sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


def test_full_jitter_stays_within_the_exponential_ceiling() -> None:
    rng = random.Random(1)
    for retry in range(8):
        ceiling = min(8.0, 0.25 * 2**retry)
        samples = [full_jitter_backoff(retry, 0.25, 8.0, rng) for _ in range(200)]
        assert all(0.0 <= s <= ceiling for s in samples)
        # Full jitter spreads over the whole range, not just near the top.
        assert min(samples) < ceiling * 0.2
        assert max(samples) > ceiling * 0.8
    assert full_jitter_backoff(10_000, 1.0, 20.0, rng) <= 20.0
    with pytest.raises(ValueError, match=">= 0"):
        full_jitter_backoff(-1, 1.0, 2.0, rng)


def test_jitter_is_reproducible_from_the_seed() -> None:
    a = [full_jitter_backoff(3, 0.5, 8.0, random.Random(7)) for _ in range(3)]
    b = [full_jitter_backoff(3, 0.5, 8.0, random.Random(7)) for _ in range(3)]
    assert a == b


def test_policy_is_a_value() -> None:
    policy = RetryPolicy.from_settings(Settings(max_attempts=3, backoff_base_s=1.0))
    first = policy.increment()
    assert policy.attempts == 0
    assert first.attempts == 1
    assert first.increment().increment().exhausted
    assert not first.exhausted


def test_policy_delays() -> None:
    rng = random.Random(0)
    policy = RetryPolicy(max_attempts=3, backoff_base_s=1.0, backoff_cap_s=5.0).increment()
    assert 0.0 <= policy.delay_s(rng) <= 1.0  # after attempt 1: up to base
    assert 0.0 <= policy.increment().delay_s(rng) <= 2.0  # attempt 2: up to 2 * base
    assert policy.delay_s(rng, retry_after_s=4.0) == 4.0  # the server's wait wins
    capped = RetryPolicy(retry_after_cap_s=10.0).increment()
    assert capped.delay_s(rng, retry_after_s=11.0) is None  # too long: surface the error
    assert capped.delay_s(rng, retry_after_s=0.0) == 0.0
    done = policy.increment().increment()
    assert done.exhausted
    assert done.delay_s(rng) is None
    assert done.delay_s(rng, retry_after_s=1.0) is None


def test_deadline_grows_with_size() -> None:
    s = Settings(min_timeout_s=10.0, min_rate_bytes_per_s=1_000_000)
    assert deadline_s(0, s) == 10.0
    assert deadline_s(256_000_000, s) == pytest.approx(266.0)
    with pytest.raises(ValueError, match="size"):
        deadline_s(-1, s)
    with pytest.raises(ValueError, match="min_rate"):
        deadline_s(1, Settings(min_rate_bytes_per_s=0))


def test_watchdog_stall_and_deadline() -> None:
    t = FakeTime()
    dog = StallWatchdog(t.clock, stall_timeout_s=1.0, deadline_s=5.0)
    assert dog.expired() is None
    assert dog.seconds_to_check() == 1.0
    t.now = 0.9
    dog.progress(100)
    t.now = 1.5
    assert dog.expired() is None  # progress at 0.9 re-armed the stall timer
    assert dog.seconds_to_check() == pytest.approx(0.4)
    t.now = 2.0
    assert dog.expired() == "stall"
    dog.progress()
    t.now = 5.0
    assert dog.expired() == "deadline"  # progress does not extend the deadline
    assert dog.bytes_sent == 100
    with pytest.raises(ValueError, match="> 0"):
        StallWatchdog(t.clock, 0.0, 1.0)


async def test_run_watched_catches_a_stall_without_real_waiting() -> None:
    t = FakeTime()
    dog = StallWatchdog(t.clock, stall_timeout_s=0.5, deadline_s=300.0)
    cancelled = asyncio.Event()

    async def hung() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            cancelled.set()

    with pytest.raises(UploadTimeout) as info:
        await run_watched(hung(), dog, t.sleep)
    assert info.value.reason == "stall"
    assert t.now == pytest.approx(0.5)  # far below the 300 s deadline
    assert cancelled.is_set()


async def test_run_watched_lets_a_progressing_upload_run_to_its_deadline() -> None:
    t = FakeTime()
    dog = StallWatchdog(t.clock, stall_timeout_s=0.5, deadline_s=3.0)

    async def trickle() -> None:
        while True:
            await t.sleep(0.1)
            dog.progress(1)

    with pytest.raises(UploadTimeout) as info:
        await run_watched(trickle(), dog, t.sleep)
    assert info.value.reason == "deadline"
    assert t.now >= 3.0
    assert dog.bytes_sent > 0


async def test_run_watched_returns_the_result() -> None:
    t = FakeTime()
    dog = StallWatchdog(t.clock, stall_timeout_s=1.0, deadline_s=2.0)

    async def work() -> int:
        await t.sleep(0.2)
        return 42

    assert await run_watched(work(), dog, t.sleep) == 42


async def test_run_watched_propagates_errors() -> None:
    t = FakeTime()
    dog = StallWatchdog(t.clock, stall_timeout_s=1.0, deadline_s=2.0)

    async def broken() -> None:
        raise ConnectionResetError("reset by peer")

    with pytest.raises(ConnectionResetError):
        await run_watched(broken(), dog, t.sleep)
