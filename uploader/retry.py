"""Retry policy as a value (urllib3's ``Retry``): ``increment()`` returns a new policy, the
backoff is a pure function of the attempt count and an injected RNG.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from uploader.api import Settings

__all__ = ["RetryPolicy", "full_jitter_backoff"]


def full_jitter_backoff(retry: int, base_s: float, cap_s: float, rng: random.Random) -> float:
    """AWS "full jitter": uniform in ``[0, min(cap, base * 2**retry)]`` (``retry`` from 0).

    Spreads retries of many clients that failed together, unlike a fixed schedule.
    """
    if retry < 0:
        raise ValueError("retry must be >= 0")
    # 2**retry overflows float for huge counts; the cap is reached long before.
    ceiling = min(cap_s, base_s * 2.0 ** min(retry, 62))
    return rng.uniform(0.0, ceiling)


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a request gets and how long to wait between them.

    ``attempts`` counts attempts already made. A server-requested wait (``Retry-After``,
    Kimi's "try again after N seconds") is honoured when it is at most
    ``retry_after_cap_s``; a longer one ends the retries (openai-python's rule: a client
    that waits minutes inside a benchmark is worse than one that reports the error).
    """

    max_attempts: int = 4
    backoff_base_s: float = 0.25
    backoff_cap_s: float = 8.0
    retry_after_cap_s: float = 30.0
    attempts: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> RetryPolicy:
        return cls(
            max_attempts=max(1, settings.max_attempts),
            backoff_base_s=settings.backoff_base_s,
            backoff_cap_s=settings.backoff_cap_s,
            retry_after_cap_s=settings.retry_after_cap_s,
        )

    def increment(self) -> RetryPolicy:
        """The policy after one more attempt."""
        return replace(self, attempts=self.attempts + 1)

    @property
    def exhausted(self) -> bool:
        return self.attempts >= self.max_attempts

    def delay_s(self, rng: random.Random, retry_after_s: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None when there is none to make."""
        if self.exhausted:
            return None
        if retry_after_s is not None:
            if retry_after_s > self.retry_after_cap_s:
                return None
            return max(0.0, retry_after_s)
        return full_jitter_backoff(
            max(0, self.attempts - 1), self.backoff_base_s, self.backoff_cap_s, rng
        )
