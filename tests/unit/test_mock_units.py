"""Pure parts of the mock provider: fault validation and seeded plans, the body gate,
config checks, the faults file, TUS metadata and PostgREST filters. No sockets."""

from __future__ import annotations

import json
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

import harness.mockprovider as mp
from harness.errors import HarnessError, ScenarioError
from harness.mockprovider.body import STALL_POLL_S, BodyCut, BodyGate
from harness.mockprovider.faults import FaultPlan, FaultValueError, validate_fault, validate_faults
from harness.mockprovider.rest import parse_filter, row_matches
from harness.mockprovider.serve import load_faults_file
from harness.mockprovider.stats import RequestRecord, Stats
from harness.mockprovider.tus import parse_upload_metadata


def test_public_api_is_intended() -> None:
    assert {"MockConfig", "MockServer", "create_app", "FAULT_TYPES", "validate_fault"} <= set(
        mp.__all__
    )
    for name in mp.__all__:
        assert hasattr(mp, name), name


def test_catalog_lists_every_fault_with_its_params() -> None:
    assert set(mp.FAULT_TYPES) == {
        "http_error",
        "rate_limit",
        "concurrency_cap",
        "latency",
        "slow_read",
        "stall",
        "abort_mid_body",
        "drop_response",
    }
    assert set(mp.FAULT_TYPES["abort_mid_body"]) == {"after_bytes", "after_pct", "mode"}


@pytest.mark.parametrize(
    ("fault", "field", "words"),
    [
        ({"type": "nope"}, "type", "http_error"),
        ({"type": "http_error", "status": 200}, "status", "400..599"),
        ({"type": "http_error", "body": "xml"}, "body", "provider, html, empty"),
        ({"type": "http_error", "probability": 1.5}, "probability", "0..1"),
        ({"type": "http_error", "probability": True}, "probability", "number"),
        ({"type": "latency"}, "ms", "required"),
        ({"type": "latency", "ms": -1}, "ms", "0.."),
        ({"type": "slow_read", "bytes_per_s": 0}, "bytes_per_s", "1.."),
        ({"type": "stall", "stall_s": 0}, "stall_s", "> 0"),
        ({"type": "stall", "stall_s": 10_000}, "stall_s", "3600"),
        ({"type": "abort_mid_body"}, "after_bytes", "exactly one"),
        ({"type": "abort_mid_body", "after_pct": 120}, "after_pct", "0..100"),
        ({"type": "abort_mid_body", "after_bytes": 1, "mode": "x"}, "mode", "fin, rst"),
        ({"type": "drop_response", "mode": "fin", "colour": 1}, "colour", "unknown parameter"),
        ({"type": "concurrency_cap"}, "max_in_flight", "required"),
        ({"type": "rate_limit", "style": "aws"}, "style", "kimi_concurrency"),
        ({"type": "http_error", "target": {"provider": "s3"}}, "target.provider", "kimi, glm"),
        ({"type": "http_error", "target": {"host": "x"}}, "target.host", "provider, method, route"),
        ({"type": "http_error", "max_count": -1}, "max_count", "integer"),
    ],
)
def test_validate_fault_names_the_field_and_what_is_allowed(
    fault: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(ValueError, match=r".*") as err:
        validate_fault(fault)
    assert isinstance(err.value, FaultValueError)
    assert err.value.field == field
    assert words in str(err.value)
    assert str(err.value).startswith(field)


def test_validate_faults_prefixes_the_index() -> None:
    with pytest.raises(FaultValueError, match=r"^faults\[1\]\.status: "):
        validate_faults([{"type": "latency", "ms": 1}, {"type": "http_error", "status": 99}])


def test_defaults_and_round_trip() -> None:
    spec = validate_fault({"type": "http_error"})
    assert (spec.status, spec.body, spec.probability, spec.retry_after_s) == (
        503,
        "provider",
        1.0,
        None,
    )
    assert validate_fault({"type": "abort_mid_body", "after_bytes": 3}).mode == "rst"
    assert validate_fault({"type": "drop_response"}).mode == "fin"
    assert validate_fault({"type": "stall"}).stall_s == 600
    full = {
        "type": "latency",
        "probability": 0.5,
        "target": {"provider": "glm", "method": "POST", "route": "/files"},
        "max_count": 3,
        "ms": 10.0,
        "jitter_ms": 2.0,
    }
    assert validate_fault(full).to_dict() == full
    assert validate_fault(validate_fault(full).to_dict()) == validate_fault(full)


def test_target_matching_ignores_leading_slashes() -> None:
    spec = validate_fault({"type": "http_error", "target": {"route": "storage/v1/object/*"}})
    assert spec.matches("supabase", "POST", "/storage/v1/object/uploads/a/b.bin")
    assert not spec.matches("supabase", "POST", "/storage/v1/bucket")
    kimi = validate_fault(
        {"type": "http_error", "target": {"provider": "kimi", "method": "post", "route": "/files"}}
    )
    assert kimi.matches("kimi", "POST", "/files")
    assert not kimi.matches("kimi", "GET", "/files")
    assert not kimi.matches("glm", "POST", "/files")
    assert not kimi.matches("kimi", "POST", "/files/abc")


def _hits(plan: FaultPlan, n: int) -> list[bool]:
    out = []
    for _ in range(n):
        sel = plan.select("kimi", "POST", "/files")
        out.append(sel.reject is not None)
        if sel.reject is not None:
            plan.mark_applied(sel.reject[0])
        plan.release(sel)
    return out


def test_plan_draws_are_seeded_per_fault() -> None:
    specs = validate_faults([{"type": "http_error", "probability": 0.3}])
    first = _hits(FaultPlan(specs, seed=1), 200)
    assert first == _hits(FaultPlan(specs, seed=1), 200)
    assert first != _hits(FaultPlan(specs, seed=2), 200)
    assert 30 < sum(first) < 90

    # a fault's draws do not depend on what the other faults do
    def errors_with(latency_rate: float) -> list[bool]:
        plan = FaultPlan(
            validate_faults(
                [
                    {"type": "latency", "ms": 1, "probability": latency_rate},
                    {"type": "http_error", "probability": 0.3},
                ]
            ),
            seed=1,
        )
        return [plan.select("kimi", "POST", "/files").reject is not None for _ in range(200)]

    assert errors_with(0.1) == errors_with(0.9)


def test_max_count_caps_applications() -> None:
    plan = FaultPlan(validate_faults([{"type": "http_error", "max_count": 2}]), seed=0)
    assert _hits(plan, 5) == [True, True, False, False, False]
    assert plan.applied_counts() == [2]


def test_concurrency_cap_counts_in_flight_requests() -> None:
    plan = FaultPlan(validate_faults([{"type": "concurrency_cap", "max_in_flight": 2}]), seed=0)
    a = plan.select("glm", "POST", "/files")
    b = plan.select("glm", "POST", "/files")
    c = plan.select("glm", "POST", "/files")
    assert (a.reject, b.reject) == (None, None)
    assert c.reject is not None
    plan.release(a)
    d = plan.select("glm", "POST", "/files")
    assert d.reject is None


def test_body_faults_are_routed_to_their_roles() -> None:
    specs = validate_faults(
        [
            {"type": "slow_read", "bytes_per_s": 10},
            {"type": "abort_mid_body", "after_bytes": 5},
            {"type": "latency", "ms": 100},
            {"type": "drop_response", "mode": "rst"},
        ]
    )
    sel = FaultPlan(specs, seed=0).select("supabase", "PUT", "/storage/v1/object/a/b")
    assert sel.reject is None
    assert sel.slow_read is not None
    assert sel.slow_read[0] == 0
    assert sel.cut is not None
    assert sel.cut[1].type == "abort_mid_body"
    assert sel.latency_s == pytest.approx(0.1)
    assert sel.drop is not None
    assert sel.drop[1].mode == "rst"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept = 0.0

    def time(self) -> float:
        return self.now

    async def sleep(self, s: float) -> None:
        self.now += s
        self.slept += s


async def test_gate_throttles_then_cuts_at_the_exact_byte() -> None:
    clock = _Clock()
    notes: list[str] = []
    gate = BodyGate(
        bytes_per_s=1000,
        cut_at=2500,
        cut_mode="fin",
        stall_s=None,
        clock=clock.time,
        sleep=clock.sleep,
        on_throttle=lambda: notes.append("throttle"),
        on_cut=lambda: notes.append("cut"),
    )
    assert await gate.admit(1000) == 1000
    assert await gate.admit(1000) == 1000
    assert await gate.admit(1000) == 500  # trimmed to the cut position
    with pytest.raises(BodyCut) as cut:
        await gate.admit(1000)
    assert cut.value.mode == "fin"
    assert clock.slept == pytest.approx(2.5)
    assert notes == ["throttle", "cut"]


async def test_gate_stalls_before_cutting() -> None:
    clock = _Clock()
    gate = BodyGate(
        bytes_per_s=None,
        cut_at=0,
        cut_mode="fin",
        stall_s=30.0,
        clock=clock.time,
        sleep=clock.sleep,
        on_throttle=lambda: None,
        on_cut=lambda: None,
    )
    with pytest.raises(BodyCut):
        await gate.admit(10)
    assert clock.slept == 30.0


@pytest.mark.parametrize(("gone_after", "slept"), [(3, 0.3), (None, 30.0), (0, 0.0)])
async def test_gate_stall_ends_when_the_peer_is_gone(gone_after: int | None, slept: float) -> None:
    clock = _Clock()
    asked: list[float] = []

    def peer_gone() -> bool:
        asked.append(clock.now)
        return gone_after is not None and len(asked) > gone_after

    gate = BodyGate(
        bytes_per_s=None,
        cut_at=0,
        cut_mode="fin",
        stall_s=30.0,
        clock=clock.time,
        sleep=clock.sleep,
        on_throttle=lambda: None,
        on_cut=lambda: None,
        peer_gone=peer_gone,
    )
    with pytest.raises(BodyCut):
        await gate.admit(10)
    assert clock.slept == pytest.approx(slept)
    assert all(b - a <= STALL_POLL_S + 1e-9 for a, b in pairwise(asked))


async def test_gate_stall_is_bounded_when_the_clock_stands_still() -> None:
    slept: list[float] = []

    async def sleep(s: float) -> None:
        slept.append(s)

    gate = BodyGate(
        bytes_per_s=None,
        cut_at=0,
        cut_mode="rst",
        stall_s=1.0,
        clock=lambda: 0.0,
        sleep=sleep,
        on_throttle=lambda: None,
        on_cut=lambda: None,
        peer_gone=lambda: False,
    )
    with pytest.raises(BodyCut):
        await gate.admit(1)
    assert 0 < len(slept) <= 1.0 / STALL_POLL_S + 2


def test_config_refuses_non_loopback_and_bad_values() -> None:
    with pytest.raises(HarnessError, match="not a loopback"):
        mp.MockConfig(host="0.0.0.0")
    assert mp.MockConfig(host="0.0.0.0", allow_non_loopback=True).host == "0.0.0.0"
    assert mp.MockConfig(host="::1").host == "::1"
    with pytest.raises(HarnessError, match="store"):
        mp.MockConfig(store="s3:bucket")
    with pytest.raises(HarnessError, match="hash_algo"):
        mp.MockConfig(hash_algo="md5")
    with pytest.raises(HarnessError, match=r"faults\[0\]\.type"):
        mp.MockConfig(faults=({"type": "boom"},))
    cfg = mp.MockConfig(faults=({"type": "latency", "ms": 5},))
    assert cfg.fault_specs[0].ms == 5


def test_faults_file_json_and_toml(tmp_path: Path) -> None:
    as_json = tmp_path / "f.json"
    as_json.write_text(json.dumps([{"type": "http_error", "status": 502}]))
    seed, specs = load_faults_file(as_json)
    assert seed is None
    assert specs[0].status == 502
    as_toml = tmp_path / "f.toml"
    as_toml.write_text('seed = 9\n[[faults]]\ntype = "rate_limit"\nstyle = "glm_1113"\n')
    seed, specs = load_faults_file(as_toml)
    assert (seed, specs[0].style) == (9, "glm_1113")
    broken = tmp_path / "b.json"
    broken.write_text("{")
    with pytest.raises(ScenarioError, match="not valid json"):
        load_faults_file(broken)
    extra = tmp_path / "e.json"
    extra.write_text('{"faults": [], "colour": 1}')
    with pytest.raises(ScenarioError) as err:
        load_faults_file(extra)
    assert err.value.field == "colour"


def test_tus_metadata_parsing() -> None:
    meta = parse_upload_metadata("bucketName dXBsb2Fkcw==,objectName YS9iLmJpbg==,flag")
    assert meta == {"bucketName": "uploads", "objectName": "a/b.bin", "flag": ""}
    with pytest.raises(ValueError, match="base64"):
        parse_upload_metadata("objectName !!!")


def test_rest_filters() -> None:
    row = {"name": "a.txt", "size": 10, "ok": True, "note": None}
    assert row_matches(row, [("name", *parse_filter("name", "eq.a.txt"))])
    assert row_matches(row, [("size", *parse_filter("size", "gte.10"))])
    assert not row_matches(row, [("size", *parse_filter("size", "gt.10"))])
    assert row_matches(row, [("size", *parse_filter("size", "not.eq.3"))])
    assert row_matches(row, [("ok", *parse_filter("ok", "is.true"))])
    assert row_matches(row, [("note", *parse_filter("note", "is.null"))])
    assert row_matches(row, [("name", *parse_filter("name", "in.(b.txt,a.txt)"))])
    assert row_matches(row, [("name", *parse_filter("name", "like.*.txt"))])
    with pytest.raises(ValueError, match="failed to parse"):
        parse_filter("name", "approx.3")


def test_stats_totals_fold_faults_and_statuses() -> None:
    stats = Stats(max_records=2)
    for seq, (status, fault) in enumerate(
        [(200, None), (503, "http_error"), (None, "latency+drop_response")], 1
    ):
        rec = RequestRecord(
            stats.next_seq(), "kimi", "POST", "POST /files", "/kimi/v1/files", "xxh3_128", 1, 0.0
        )
        rec.status, rec.fault, rec.bytes = status, fault, seq
        stats.add(rec)
    doc = stats.to_json()
    assert [r["seq"] for r in doc["requests"]] == [2, 3]
    assert doc["totals"] == {
        "requests": 3,
        "connections_accepted": 0,
        "provider_connections": 0,
        "tls_handshakes": 0,
        "tls_resumed": 0,
        "provider_handshakes": 0,
        "bytes_received": 6,
        "faults_applied": {"http_error": 1, "latency": 1, "drop_response": 1},
        "by_status": {"200": 1, "503": 1, "none": 1},
        "records_dropped": 1,
    }


def test_provider_connections_are_distinct_and_reset() -> None:
    stats = Stats()
    for connection_id in (1, 1, 4, 1, 4, 9):
        stats.provider_request_on(connection_id)
    assert stats.to_json()["totals"]["provider_connections"] == 3
    stats.reset()
    assert stats.to_json()["totals"]["provider_connections"] == 0


def test_provider_handshakes_are_those_of_provider_connections() -> None:
    stats = Stats()
    stats.tls_handshake(1, resumed=False)  # a control connection
    stats.tls_handshake(2, resumed=False)
    stats.tls_handshake(3, resumed=True)
    stats.provider_request_on(2)
    stats.provider_request_on(3)
    stats.provider_request_on(7)  # kept alive from before the reset: no new handshake
    totals = stats.to_json()["totals"]
    assert (totals["tls_handshakes"], totals["tls_resumed"]) == (3, 1)
    assert totals["provider_handshakes"] == 2
    stats.reset()
    assert stats.to_json()["totals"]["tls_handshakes"] == 0
