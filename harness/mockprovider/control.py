"""``/__mock/`` control routes: health, stats, reset, faults."""

from __future__ import annotations

import json

from aiohttp import web

from harness.mockprovider.faults import FaultValueError, validate_faults
from harness.mockprovider.shapes import json_response
from harness.mockprovider.state import STATE_KEY, MockState

__all__ = ["add_control_routes"]

_FAULTS_BODY_LIMIT = 1024 * 1024


def _state(request: web.Request) -> MockState:
    state = request.app[STATE_KEY]
    assert isinstance(state, MockState)
    return state


async def _health(request: web.Request) -> web.StreamResponse:
    return json_response({"status": "ok"})


async def _stats(request: web.Request) -> web.StreamResponse:
    return json_response(_state(request).stats.to_json())


async def _reset(request: web.Request) -> web.StreamResponse:
    await _state(request).reset()
    return json_response({})


def _faults_json(state: MockState) -> dict[str, object]:
    return {
        "seed": state.fault_seed,
        "faults": [spec.to_dict() for spec in state.plan.specs],
        "applied": state.plan.applied_counts(),
    }


async def _get_faults(request: web.Request) -> web.StreamResponse:
    return json_response(_faults_json(_state(request)))


def _bad(reason: str) -> web.Response:
    return json_response({"error": reason}, 400)


async def _put_faults(request: web.Request) -> web.StreamResponse:
    state = _state(request)
    if (request.content_length or 0) > _FAULTS_BODY_LIMIT:
        return _bad(f"body: larger than {_FAULTS_BODY_LIMIT} bytes")
    raw = await request.content.read(_FAULTS_BODY_LIMIT + 1)
    if len(raw) > _FAULTS_BODY_LIMIT:
        return _bad(f"body: larger than {_FAULTS_BODY_LIMIT} bytes")
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _bad(f"body: not valid JSON ({exc})")
    if not isinstance(doc, dict):
        return _bad('body: must be an object {"seed": int, "faults": [...]}')
    unknown = set(doc) - {"seed", "faults"}
    if unknown:
        return _bad(f"{sorted(unknown)[0]}: unknown key; allowed: seed, faults")
    seed = doc.get("seed", state.config.seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        return _bad(f"seed: must be an integer, got {seed!r}")
    try:
        specs = validate_faults(doc.get("faults", []))
    except FaultValueError as err:
        return _bad(str(err))
    state.install_faults(specs, seed)
    return json_response(_faults_json(state))


def add_control_routes(app: web.Application) -> None:
    """Register ``/__mock/`` routes (not recorded in stats, never faulted)."""
    app.router.add_get("/__mock/health", _health)
    app.router.add_get("/__mock/stats", _stats)
    app.router.add_post("/__mock/reset", _reset)
    app.router.add_get("/__mock/faults", _get_faults)
    app.router.add_put("/__mock/faults", _put_faults)
