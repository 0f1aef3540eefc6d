"""The pooling gain over round-trip time and TLS (issue 16): what connection pooling saves
per upload, on its mechanism.

Pure: scenarios of a results document in, :class:`PoolingGain` rows out (the report draws
them as a curve, the console may print them). A scenario measures the pooling gain when it
runs over a network profile (``network``, through the fault proxy; no ``[[network_faults]]``
stacked on it) and ran the reference both pooled and with ``pooling=off`` and nothing else
changed (``async`` against ``async[pooling=off]``; any other pair of reference specs that
differ in ``pooling`` only counts too). Variants are known by their specs
(:func:`harness.analysis.ablation.variant_specs`), RTT and TLS by the scenario's definition
(``network.rtt_ms``, ``tls``), never by its name.

Per (scenario, provider, concurrency), each side's figure is the median over its timing
trials of ``latency_p50_s`` (:func:`harness.analysis.cells.cell_samples`, the cells compare
and the claims use); the gain is ``unpooled - pooled``. Without pooling every upload opens
its connections afresh (to Kimi for the file, to Supabase for the metadata row: two), while
the pooled p50 upload opens none, so the gain divided by the connections each unpooled
upload opened (measured: the mock's ``connections_opened`` over the files of the trial)
and by the RTT is the cost of one new connection in round trips: 1 for TCP, 2 with TLS 1.3,
3 with TLS 1.2 (:data:`HANDSHAKE_RTTS`). The issue's expectation
(:meth:`PoolingGain.meets`): within 25 % of that at an RTT above 0, under 5 ms per upload at
0 ms.

Over several RTTs the points of one line (TLS setting, provider, concurrency, variant pair)
also give a least-squares line (:func:`pooling_fits`): its slope over the connections per
upload is the round trips a new connection costs, free of what it costs at 0 ms, and its
intercept that fixed cost per upload (the handshakes' CPU and the proxy): at 10 ms the
fixed cost is still a third of the TLS gain, so the point's own figure overstates the
round trips there while the slope does not.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

import numpy as np

from harness.analysis import stats
from harness.analysis.ablation import variant_specs
from harness.analysis.cells import Cell, cell_samples
from harness.results.contract import ScenarioDoc, is_timing_trial
from uploader.api import Fixes
from uploader.variants import parse_variant

__all__ = [
    "HANDSHAKE_RTTS",
    "LAN_CEILING_S",
    "TOLERANCE",
    "PoolingFit",
    "PoolingGain",
    "pooling_fits",
    "pooling_gains",
    "pooling_pairs",
]

# Round trips a new connection costs before its first request byte: the TCP handshake, then
# TLS 1.3's one round trip or TLS 1.2's two (issue 16's anchors).
HANDSHAKE_RTTS: Final[Mapping[str, int]] = {"off": 1, "1.3": 2, "1.2": 3}
# Issue 16's must-show: the measured round trips per connection within 25 % of the
# handshake's at an RTT above 0, and a per-upload difference under 5 ms at 0 ms.
TOLERANCE: Final = 0.25
LAN_CEILING_S: Final = 0.005
_RESAMPLES: Final = 5000
_MIN_CI_SAMPLES: Final = 3


@dataclass(frozen=True)
class PoolingGain:
    """One point of the curve: at ``rtt_ms`` with ``tls`` (``off``, ``1.2``, ``1.3``), the
    per-upload p50 latency of ``unpooled`` minus ``pooled`` (seconds). ``ci_low_s`` and
    ``ci_high_s`` bound ``difference_s`` (95 %,
    :func:`harness.analysis.stats.bootstrap_difference_ci`; None with
    fewer than 3 values a side); ``connections_per_upload`` is what each upload of
    ``unpooled`` opened (median over its trials); ``rtt_per_connection`` the difference in
    round trips per new connection (None at 0 ms, or when a figure is missing)."""

    scenario: str
    provider: str
    concurrency: int
    rtt_ms: float
    tls: str
    pooled: str
    unpooled: str
    pooled_p50_s: float | None
    unpooled_p50_s: float | None
    difference_s: float | None
    ci_low_s: float | None
    ci_high_s: float | None
    samples_pooled: int
    samples_unpooled: int
    connections_per_upload: float | None
    rtt_per_connection: float | None

    @property
    def expected_rtt_per_connection(self) -> int | None:
        """The handshake's round trips for this TLS setting (:data:`HANDSHAKE_RTTS`)."""
        return HANDSHAKE_RTTS.get(self.tls)

    @property
    def meets(self) -> bool | None:
        """Issue 16's expectation: at 0 ms over plain TCP a difference under
        :data:`LAN_CEILING_S`; above 0 ms round trips per connection within
        :data:`TOLERANCE` of the handshake's. None when the figure is missing, and at 0 ms
        over TLS: there a new connection costs the handshake's CPU, not round trips, and no
        figure is expected of it."""
        if self.rtt_ms <= 0:
            if self.tls != "off" or self.difference_s is None:
                return None
            return self.difference_s < LAN_CEILING_S
        expected = self.expected_rtt_per_connection
        if self.rtt_per_connection is None or expected is None:
            return None
        return abs(self.rtt_per_connection / expected - 1.0) <= TOLERANCE

    @property
    def expectation(self) -> str:
        """The expectation :attr:`meets` checks, in words."""
        if self.rtt_ms <= 0:
            if self.tls != "off":
                return "none: at 0 ms a TLS handshake costs CPU, not round trips"
            return f"under {LAN_CEILING_S * 1e3:g} ms per upload"
        expected = self.expected_rtt_per_connection
        if expected is None:
            return "unknown TLS setting"
        return f"{expected} RTT per connection ± {TOLERANCE:.0%}"


def _pooling_of(spec: str) -> tuple[bool, tuple[bool, ...]] | None:
    """For a spec of the reference (``async``, ``async[...]``): whether it pools, and its
    other switches; None for any other uploader. ``async`` is all on (the scenario format
    has no fixes setting)."""
    try:
        parsed = parse_variant(spec)
    except ValueError:
        return None
    if parsed.kind != "builtin" or parsed.name != "async":
        return None
    others = tuple(getattr(parsed.fixes, n) for n in Fixes.names() if n != "pooling")
    return parsed.fixes.pooling, others


def pooling_pairs(scenario: ScenarioDoc) -> list[tuple[str, str]]:
    """(pooled, unpooled) variant names of the scenario whose specs differ in ``pooling``
    only, in the order the unpooled ones ran; the pooled side of each is the first that
    ran with the same other switches."""
    pooled: dict[tuple[bool, ...], str] = {}
    unpooled: list[tuple[str, tuple[bool, ...]]] = []
    for name, spec in variant_specs(scenario).items():
        found = _pooling_of(spec)
        if found is None:
            continue
        pools, others = found
        if pools:
            pooled.setdefault(others, name)
        else:
            unpooled.append((name, others))
    return [(pooled[others], name) for name, others in unpooled if others in pooled]


def _rtt_ms(definition: Mapping[str, Any]) -> float | None:
    """The network profile's RTT (ms); None without a profile (plain loopback, no proxy) or
    with ``[[network_faults]]`` too: they stack on the profile's link (a latency fault adds
    to its RTT, a reset or a bandwidth limit changes what a connection costs), so the
    profile's RTT would no longer be the one the connections paid."""
    if definition.get("network_faults"):
        return None
    network = definition.get("network")
    if not isinstance(network, Mapping):
        return None
    rtt = network.get("rtt_ms")
    if isinstance(rtt, bool) or not isinstance(rtt, int | float) or not math.isfinite(rtt):
        return None
    return float(rtt)


def _tls(definition: Mapping[str, Any]) -> str:
    tls = definition.get("tls")
    return str(tls) if isinstance(tls, str) and tls else "off"


def _median(values: Sequence[float] | None) -> float | None:
    return stats.median(values) if values else None


def _connections_per_upload(scenario: ScenarioDoc, cell: Cell) -> float | None:
    """Median over the cell's timing trials of the connections the mock accepted per file
    of the trial (None when the mock's count or the records are missing)."""
    values = []
    for trial in scenario.get("trials") or ():
        if not is_timing_trial(trial):
            continue
        if (
            str(trial.get("provider") or ""),
            str(trial.get("variant")),
            int(trial.get("concurrency") or 0),
        ) != cell:
            continue
        opened = (trial.get("metrics") or {}).get("connections_opened")
        files = len(trial.get("records") or ())
        if isinstance(opened, int | float) and not isinstance(opened, bool) and files:
            values.append(float(opened) / files)
    return _median(values)


def pooling_gains(scenarios: Iterable[ScenarioDoc], *, seed: int = 0) -> list[PoolingGain]:
    """One :class:`PoolingGain` per (scenario with a network profile, pooled/unpooled pair,
    provider, concurrency both ran at), sorted by TLS (off, 1.3, 1.2), RTT, provider,
    concurrency and scenario. ``seed`` makes the bootstrap intervals reproducible (the
    report's bytes depend on them). Empty when no scenario measures the pooling gain."""
    rng = np.random.default_rng(seed)
    rows: list[PoolingGain] = []
    for scenario in scenarios:
        definition = scenario.get("definition") or {}
        rtt = _rtt_ms(definition)
        pairs = pooling_pairs(scenario)
        if rtt is None or not pairs:
            continue
        tls = _tls(definition)
        samples = cell_samples(scenario)
        for pooled, unpooled in pairs:
            for cell in samples:
                provider, variant, concurrency = cell
                if variant != unpooled:
                    continue
                base = Cell(provider, pooled, concurrency)
                if base not in samples:
                    continue
                on = samples[base].get("latency_p50_s") or []
                off = samples[cell].get("latency_p50_s") or []
                p_on, p_off = _median(on), _median(off)
                diff = p_off - p_on if p_on is not None and p_off is not None else None
                interval = stats.bootstrap_difference_ci(
                    on, off, rng=rng, n_resamples=_RESAMPLES, min_samples=_MIN_CI_SAMPLES
                )
                per_upload = _connections_per_upload(scenario, cell)
                per_connection = (
                    diff / (per_upload * rtt / 1e3)
                    if diff is not None and per_upload and rtt > 0
                    else None
                )
                rows.append(
                    PoolingGain(
                        scenario=str(scenario.get("name", "")),
                        provider=provider,
                        concurrency=concurrency,
                        rtt_ms=rtt,
                        tls=tls,
                        pooled=pooled,
                        unpooled=unpooled,
                        pooled_p50_s=p_on,
                        unpooled_p50_s=p_off,
                        difference_s=diff,
                        ci_low_s=interval.low if interval else None,
                        ci_high_s=interval.high if interval else None,
                        samples_pooled=len(on),
                        samples_unpooled=len(off),
                        connections_per_upload=per_upload,
                        rtt_per_connection=per_connection,
                    )
                )
    order = {tls: i for i, tls in enumerate(HANDSHAKE_RTTS)}
    return sorted(
        rows,
        key=lambda r: (order.get(r.tls, len(order)), r.tls, r.rtt_ms, r.provider, r.concurrency,
                       r.scenario),
    )  # fmt: skip


@dataclass(frozen=True)
class PoolingFit:
    """A least-squares line through one line's points: per-upload difference (s) against
    RTT (s). ``rtt_per_connection`` is the slope over the connections each unpooled upload
    opened (median over the points), ``fixed_cost_s`` the intercept: what the pooling gain
    is at 0 ms. ``meets`` applies :data:`TOLERANCE` to the slope."""

    tls: str
    provider: str
    concurrency: int
    pooled: str
    unpooled: str
    points: int
    rtts_ms: tuple[float, ...]
    rtt_per_connection: float
    fixed_cost_s: float

    @property
    def expected_rtt_per_connection(self) -> int | None:
        return HANDSHAKE_RTTS.get(self.tls)

    @property
    def meets(self) -> bool | None:
        expected = self.expected_rtt_per_connection
        if expected is None:
            return None
        return abs(self.rtt_per_connection / expected - 1.0) <= TOLERANCE


def pooling_fits(rows: Sequence[PoolingGain]) -> list[PoolingFit]:
    """One :class:`PoolingFit` per line of :func:`pooling_gains` rows that has figures at
    two RTTs or more (one of them above 0) and a connection count, in the rows' order."""
    lines: dict[tuple[str, str, int, str, str], list[PoolingGain]] = {}
    for row in rows:
        key = (row.tls, row.provider, row.concurrency, row.pooled, row.unpooled)
        lines.setdefault(key, []).append(row)
    fits = []
    for (tls, provider, concurrency, pooled, unpooled), mine in lines.items():
        points = [r for r in mine if r.difference_s is not None]
        per_upload = [r.connections_per_upload for r in points if r.connections_per_upload]
        rtts = sorted({r.rtt_ms for r in points})
        if len(rtts) < 2 or rtts[-1] <= 0 or not per_upload:
            continue
        xs = np.array([r.rtt_ms / 1e3 for r in points], dtype=np.float64)
        ys = np.array([float(r.difference_s or 0.0) for r in points], dtype=np.float64)
        slope, intercept = np.polyfit(xs, ys, 1)
        fits.append(
            PoolingFit(
                tls=tls,
                provider=provider,
                concurrency=concurrency,
                pooled=pooled,
                unpooled=unpooled,
                points=len(points),
                rtts_ms=tuple(rtts),
                rtt_per_connection=float(slope) / stats.median(per_upload),
                fixed_cost_s=float(intercept),
            )
        )
    return fits
