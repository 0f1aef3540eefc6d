"""Size-aware deadlines and a stall watchdog on upload progress, with an injected clock.

A fixed timeout is either too short for big files or far too long for a stalled small
one (the investigation's "timeout prediction"): the deadline grows with the file, and the
watchdog ends an attempt that makes no progress for ``stall_timeout_s`` whatever its size.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Literal, TypeVar

from uploader.api import Settings

__all__ = ["StallWatchdog", "UploadTimeout", "deadline_s", "legacy_timeout_s", "run_watched"]

T = TypeVar("T")
Clock = Callable[[], float]
Sleep = Callable[[float], Awaitable[Any]]
Reason = Literal["stall", "deadline"]


def legacy_timeout_s(settings: Settings, override: float | None = None) -> float:
    """The baselines' one fixed timeout per network operation, whatever the file's size:
    ``override`` if given, else ``settings.min_timeout_s``. The legacy code had no timeout
    prediction; a scenario sets this timeout the same way for every variant."""
    return settings.min_timeout_s if override is None else override


def deadline_s(size: int, settings: Settings) -> float:
    """``min_timeout_s + size / min_rate_bytes_per_s``: the longest a transfer of ``size``
    bytes may take at the slowest rate we still call healthy."""
    if size < 0:
        raise ValueError("size must be >= 0")
    if settings.min_rate_bytes_per_s <= 0:
        raise ValueError("min_rate_bytes_per_s must be > 0")
    return settings.min_timeout_s + size / settings.min_rate_bytes_per_s


class UploadTimeout(TimeoutError):
    """An attempt was ended by the watchdog (``reason`` is ``stall`` or ``deadline``)."""

    def __init__(self, reason: Reason, waited_s: float) -> None:
        super().__init__(f"{reason}: no completion after {waited_s:.2f}s")
        self.reason: Reason = reason
        self.waited_s = waited_s


class StallWatchdog:
    """Tracks progress of one attempt. ``progress()`` on every byte batch sent and when the
    answer starts; ``expired()`` says whether the attempt must end."""

    def __init__(self, clock: Clock, stall_timeout_s: float, deadline_s: float) -> None:
        if stall_timeout_s <= 0 or deadline_s <= 0:
            raise ValueError("stall_timeout_s and deadline_s must be > 0")
        self._clock = clock
        self.stall_timeout_s = stall_timeout_s
        self.started_at = clock()
        self.deadline_at = self.started_at + deadline_s
        self.last_progress_at = self.started_at
        self.bytes_sent = 0

    def progress(self, nbytes: int = 0) -> None:
        self.bytes_sent += nbytes
        self.last_progress_at = self._clock()

    def elapsed_s(self) -> float:
        return self._clock() - self.started_at

    def expired(self) -> Reason | None:
        now = self._clock()
        if now >= self.deadline_at:
            return "deadline"
        if now - self.last_progress_at >= self.stall_timeout_s:
            return "stall"
        return None

    def seconds_to_check(self) -> float:
        """How long nothing can expire: the earlier of the deadline and the stall limit."""
        now = self._clock()
        return max(0.0, min(self.deadline_at, self.last_progress_at + self.stall_timeout_s) - now)


async def run_watched(
    work: Coroutine[Any, Any, T],
    watchdog: StallWatchdog,
    sleep: Sleep = asyncio.sleep,
    *,
    tick_s: float = 0.05,
) -> T:
    """Run ``work`` until it finishes or ``watchdog`` expires; then cancel it and raise
    :class:`UploadTimeout`. ``sleep`` is injectable so tests drive time themselves.

    Waits at most ``tick_s`` past an expiry (checks are not finer than that).
    """
    task = asyncio.ensure_future(work)
    try:
        while True:
            reason = watchdog.expired()
            if reason is not None:
                raise UploadTimeout(reason, watchdog.elapsed_s())
            napper = asyncio.ensure_future(sleep(max(watchdog.seconds_to_check(), tick_s)))
            try:
                done, _ = await asyncio.wait({task, napper}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                if not napper.done():
                    napper.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await napper
            if task in done:
                return task.result()
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
