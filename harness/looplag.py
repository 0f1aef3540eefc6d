"""Event-loop lag: a heartbeat task that measures how late the loop wakes it up.

The sampler sleeps ``interval_s`` in a loop and records, per wake-up, the lateness
``lag = (now - before) - interval_s`` (aiodebug's ``monitor_loop_lag``, Node's
``monitorEventLoopDelay``). It costs one timer per interval, so it stays on in timing runs.
It cannot name the code that blocked the loop, and consecutive short blocks merge into one
longer lag (the reference notes measured ten 5 ms blocks as one 54 ms lag).

Summary statistics (:func:`summarize_lags`):

- ``p99_s`` / ``p50_s``: percentiles of the per-wake-up lags, numpy's default ``linear``
  method (no extrapolation beyond the largest sample, unlike ``statistics.quantiles``'
  default ``exclusive`` method).
- ``max_s``: the largest lag.
- ``blocked_fraction``: the share of the observed time during which the loop was blocked,
  counting a wake-up as blocked when it was late by more than ``blocked_threshold_s``
  (50 ms by default, asyncio debug mode's order of magnitude for a "slow callback"); the
  whole lateness of such a wake-up counts as blocked time. Lags below the threshold are
  scheduling noise and count as zero. Clamped to [0, 1].
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import numpy as np

__all__ = [
    "DEFAULT_BLOCKED_THRESHOLD_S",
    "DEFAULT_INTERVAL_S",
    "LoopLagSampler",
    "LoopLagStats",
    "summarize_lags",
]

# 10 ms resolves blocks of the size that matter for uploads (a whole-file read of a few MiB,
# a blocking HTTP call) at a cost of ~100 wake-ups per second.
DEFAULT_INTERVAL_S = 0.010
DEFAULT_BLOCKED_THRESHOLD_S = 0.050


@dataclass(frozen=True)
class LoopLagStats:
    """Summary of one sampling period; lags in seconds."""

    samples: int
    observed_s: float
    p50_s: float | None
    p99_s: float | None
    max_s: float | None
    blocked_s: float
    blocked_fraction: float | None


def summarize_lags(
    lags: Sequence[float],
    observed_s: float,
    blocked_threshold_s: float = DEFAULT_BLOCKED_THRESHOLD_S,
) -> LoopLagStats:
    """Summarise per-wake-up lags observed over ``observed_s`` seconds (see module doc)."""
    # A sleep can return a hair early on some clocks; negative lateness is not blocking.
    clean = np.clip(np.asarray(lags, dtype=float), 0.0, None)
    blocked_s = float(clean[clean > blocked_threshold_s].sum()) if clean.size else 0.0
    fraction = min(1.0, blocked_s / observed_s) if observed_s > 0 else None
    if clean.size == 0:
        return LoopLagStats(0, observed_s, None, None, None, 0.0, fraction)
    return LoopLagStats(
        samples=int(clean.size),
        observed_s=observed_s,
        p50_s=float(np.percentile(clean, 50, method="linear")),
        p99_s=float(np.percentile(clean, 99, method="linear")),
        max_s=float(clean.max()),
        blocked_s=blocked_s,
        blocked_fraction=fraction,
    )


class LoopLagSampler:
    """Heartbeat sampler for the running asyncio loop.

    ``clock`` and ``sleep`` are injectable so tests can drive it without real time; by
    default they are ``time.perf_counter`` and ``asyncio.sleep``. Use as::

        sampler = LoopLagSampler()
        sampler.start()
        ...  # the work under test
        stats = await sampler.stop()
    """

    def __init__(
        self,
        *,
        interval_s: float = DEFAULT_INTERVAL_S,
        blocked_threshold_s: float = DEFAULT_BLOCKED_THRESHOLD_S,
        clock: Callable[[], float] = time.perf_counter,
        sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = interval_s
        self.blocked_threshold_s = blocked_threshold_s
        self._clock = clock
        self._sleep = sleep
        self._lags: list[float] = []
        self._started_at: float | None = None
        self._task: asyncio.Task[None] | None = None
        self._sleeping_since: float | None = None

    @property
    def lags(self) -> tuple[float, ...]:
        """The lags recorded so far, in seconds."""
        return tuple(self._lags)

    async def run(self, max_samples: int | None = None) -> None:
        """Sample until cancelled (or ``max_samples`` wake-ups, for tests)."""
        if self._started_at is None:
            self._started_at = self._clock()
        while max_samples is None or len(self._lags) < max_samples:
            before = self._sleeping_since = self._clock()
            await self._sleep(self.interval_s)
            self._sleeping_since = None
            self._lags.append(self._clock() - before - self.interval_s)

    def start(self) -> None:
        """Start sampling as a task of the running loop."""
        if self._task is not None:
            raise RuntimeError("sampler already started")
        self._started_at = self._clock()
        self._task = asyncio.get_running_loop().create_task(self.run(), name="looplag")

    async def stop(self) -> LoopLagStats:
        """Stop sampling and return the summary of everything recorded."""
        if self._task is not None:
            # A loop blocked until the very end never woke the sampler: count the lateness of
            # the sleep in flight, or the block that matters most would be lost.
            since, now = self._sleeping_since, self._clock()
            if since is not None and now - since > self.interval_s:
                self._lags.append(now - since - self.interval_s)
            elif (
                since is None
                and not self._lags
                and self._started_at is not None
                and now - self._started_at > self.interval_s
            ):
                # The sampler never got to run: the loop was busy from start() to stop(),
                # one block as long as the whole span (less the interval it would have
                # slept anyway)
                self._lags.append(now - self._started_at - self.interval_s)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        return self.summary()

    def summary(self) -> LoopLagStats:
        """Summary of the lags recorded so far."""
        observed = 0.0 if self._started_at is None else self._clock() - self._started_at
        return summarize_lags(self._lags, observed, self.blocked_threshold_s)
