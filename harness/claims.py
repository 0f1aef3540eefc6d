"""The investigation's claims: one table of what was promised and how a measurement meets it.

Each row is one claim of the seed investigation (sync uploader -> async uploader): what it
promised in its own words, which metric measures it and the rule that decides "met". The
scenario loader takes the keys a scenario's ``claim`` may name from here
(:data:`CLAIM_KEYS`); :mod:`harness.analysis.claims` measures the rows; the report shows
them. A scenario serves a claim only by naming it (``claim = "..."``): never by its name.

Pure data (it reads only :mod:`harness.metrics`): importable without numpy, pandas or
matplotlib.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from harness.metrics import METRICS

__all__ = ["CLAIMS", "CLAIM_KEYS", "Claim", "ClaimRule", "claim"]

# How the measured before/after values meet the claim:
# - "reduction": 1 - after / before >= target (e.g. 0.9 = "90% less")
# - "speedup":   before / after >= target (e.g. 5 = "5x faster", for a time)
# - "below":     after < target (an absolute ceiling, in the metric's unit)
ClaimRule = Literal["reduction", "speedup", "below"]


@dataclass(frozen=True)
class Claim:
    """One row of the investigation's table.

    ``metric`` names the metric that decides (:mod:`harness.metrics`); ``per_upload``
    divides it by the uploads of a trial (connections per upload). ``before`` is the
    uploader spec that stands for "before" in this claim when it is not the table's
    (``sync``): a claim about one fix is measured against the reference with that fix
    switched off, so that nothing else differs. ``also`` names counts shown per upload
    beside the deciding metric, for both sides: they explain the verdict, never decide it.
    ``promised_*`` are the investigation's words, shown as they were written.
    """

    key: str
    title: str
    promised_before: str
    promised_after: str
    promised_change: str
    metric: str
    rule: ClaimRule
    target: float
    per_upload: bool = False
    before: str | None = None
    also: tuple[str, ...] = ()

    @property
    def target_text(self) -> str:
        """The rule in words: ``at least 90% less``, ``at least 5x faster``, ``below 1%``."""
        if self.rule == "reduction":
            return f"at least {self.target:.0%} less"
        if self.rule == "speedup":
            return f"at least {self.target:g}x faster"
        if self.per_upload:
            return f"below {self.target:g} per upload"
        return f"below {METRICS[self.metric].format(self.target)}"


CLAIMS: Final[tuple[Claim, ...]] = (
    Claim(
        "memory_50mb", "Memory for a 50 MB file", "~50 MB", "~5 MB", "90% reduction",
        metric="heap_peak_bytes", rule="reduction", target=0.9,
    ),
    Claim(
        "throughput_10_files", "Throughput for 10 files", "10 s", "1-2 s", "5-10x faster",
        metric="wall_s", rule="speedup", target=5.0,
    ),
    Claim(
        "latency_per_upload", "Latency per upload", "500 ms", "250-350 ms", "30-50% lower",
        metric="latency_p50_s", rule="reduction", target=0.3,
    ),
    Claim(
        "timeout_rate", "Timeout rate", "5-10%", "<1%", "below 1%",
        metric="timeout_rate", rule="below", target=0.01,
    ),
    # Judged on time, on its mechanism: pooling saves each new connection's TCP and TLS
    # handshakes (one to three round trips), so the per-upload p50 latency of the reference
    # with pooling off against the reference, where nothing else differs; the investigation
    # credits pooling with "30-50% latency reduction" (its conclusion). Connections and
    # handshakes per upload are shown beside it: the count without the time said nothing
    # about a network where a connection costs nothing (loopback), the time says how much.
    Claim(
        "connection_overhead", "Connection overhead", "new connection per upload", "pooled",
        "significant reduction (30-50% lower latency from pooling)",
        metric="latency_p50_s", rule="reduction", target=0.3,
        before="async[pooling=off]", also=("connections_opened", "tls_handshakes"),
    ),
)  # fmt: skip

# The values a scenario's ``claim`` may take (harness.scenario validates against them).
CLAIM_KEYS: Final[tuple[str, ...]] = tuple(c.key for c in CLAIMS)


def claim(key: str) -> Claim:
    """The row for ``key``; :class:`KeyError` naming the allowed keys otherwise."""
    for row in CLAIMS:
        if row.key == key:
            return row
    raise KeyError(f"unknown claim {key!r}; allowed: {', '.join(CLAIM_KEYS)}")
