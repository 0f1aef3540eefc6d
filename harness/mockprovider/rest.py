"""A schemaless PostgREST imitation at ``/supabase/rest/v1/{table}``: enough for supabase-py's
``table(t).insert(...).execute()``, ``.select(...).eq(...).execute()``, ``update`` and
``delete`` on metadata rows. Rows live in memory; each gets an auto ``id`` unless given."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any

from aiohttp import web

from harness.mockprovider import shapes
from harness.mockprovider.common import check_auth, read_json
from harness.mockprovider.state import RequestContext, ctx_of

__all__ = ["add_rest_routes", "parse_filter", "row_matches"]

_BODY_LIMIT = 16 * 1024 * 1024
_RESERVED = frozenset({"select", "order", "limit", "offset", "columns", "on_conflict"})
_TABLE_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_SINGLE = "application/vnd.pgrst.object+json"


def _bad(message: str, code: str = "PGRST100") -> shapes.ProviderError:
    return shapes.ProviderError(shapes.rest_error(400, code, message))


def parse_filter(column: str, expr: str) -> tuple[str, bool, str]:
    """``eq.5`` / ``not.eq.5`` -> (op, negated, value); ValueError if unknown."""
    negated = expr.startswith("not.")
    if negated:
        expr = expr[4:]
    op, sep, value = expr.partition(".")
    if not sep or op not in _OPS:
        raise ValueError(f'"failed to parse filter ({column}={expr})"')
    return op, negated, value


def _as_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _compare(value: Any, text: str) -> int | None:
    """-1/0/1 comparing a row value with a filter literal, None if incomparable."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            other = float(text)
        except ValueError:
            return None
        return (value > other) - (value < other)
    mine = _as_text(value)
    return (mine > text) - (mine < text)


def _like(value: Any, pattern: str, fold: bool) -> bool:
    regex = "^" + ".*".join(re.escape(p) for p in pattern.replace("%", "*").split("*")) + "$"
    return re.match(regex, _as_text(value), re.IGNORECASE if fold else 0) is not None


def _in(value: Any, text: str) -> bool:
    inner = text.strip()
    if inner.startswith("(") and inner.endswith(")"):
        inner = inner[1:-1]
    items = [item.strip().strip('"') for item in inner.split(",")] if inner else []
    return _as_text(value) in items


_OPS: dict[str, Callable[[Any, str], bool]] = {
    "eq": lambda v, t: _compare(v, t) == 0,
    "neq": lambda v, t: _compare(v, t) not in (0, None),
    "gt": lambda v, t: _compare(v, t) == 1,
    "gte": lambda v, t: _compare(v, t) in (0, 1),
    "lt": lambda v, t: _compare(v, t) == -1,
    "lte": lambda v, t: _compare(v, t) in (0, -1),
    "like": lambda v, t: v is not None and _like(v, t, False),
    "ilike": lambda v, t: v is not None and _like(v, t, True),
    "is": lambda v, t: _as_text(v) == t.lower(),
    "in": _in,
}


def row_matches(row: Mapping[str, Any], filters: Iterable[tuple[str, str, bool, str]]) -> bool:
    """Whether a row passes every ``(column, op, negated, value)`` filter."""
    for column, op, negated, value in filters:
        if _OPS[op](row.get(column), value) == negated:
            return False
    return True


def _filters(request: web.Request) -> list[tuple[str, str, bool, str]]:
    out = []
    for column, expr in request.query.items():
        if column in _RESERVED:
            continue
        try:
            op, negated, value = parse_filter(column, expr)
        except ValueError as exc:
            raise _bad(str(exc).strip('"'), "PGRST100") from None
        out.append((column, op, negated, value))
    return out


def _project(rows: list[dict[str, Any]], select: str) -> list[dict[str, Any]]:
    columns = [c.strip().strip('"') for c in select.split(",") if c.strip()]
    if not columns or "*" in columns:
        return [dict(r) for r in rows]
    return [{c: r.get(c) for c in columns} for r in rows]


def _table(request: web.Request) -> tuple[RequestContext, str]:
    ctx = ctx_of(request)
    check_auth(request, ctx)
    table = request.match_info["table"]
    if not _TABLE_RE.match(table):
        raise shapes.ProviderError(
            shapes.rest_error(404, "42P01", f'relation "public.{table}" does not exist')
        )
    ctx.rec.object_id = table
    return ctx, table


def _prefer(request: web.Request) -> set[str]:
    return {p.strip() for p in request.headers.get("Prefer", "").split(",") if p.strip()}


def _respond(
    request: web.Request, rows: list[dict[str, Any]], status: int, total: int | None = None
) -> web.StreamResponse:
    prefer = _prefer(request)
    headers = {}
    if any(p.startswith("count=") for p in prefer):
        n = len(rows)
        span = f"0-{n - 1}" if n else "*"
        headers["Content-Range"] = f"{span}/{total if total is not None else n}"
    if request.method in ("POST", "PATCH", "DELETE") and "return=representation" not in prefer:
        return web.Response(status=201 if request.method == "POST" else 204, headers=headers)
    rows = _project(rows, request.query.get("select", "*"))
    if _SINGLE in request.headers.get("Accept", ""):
        if len(rows) != 1:
            raise shapes.ProviderError(
                shapes.rest_error(
                    406,
                    "PGRST116",
                    "JSON object requested, multiple (or no) rows returned",
                    f"The result contains {len(rows)} rows",
                )
            )
        return shapes.json_response(rows[0], status, headers)
    if request.method == "HEAD":
        return web.Response(status=status, headers=headers, content_type="application/json")
    return shapes.json_response(rows, status, headers)


async def _select(request: web.Request) -> web.StreamResponse:
    ctx, table = _table(request)
    filters = _filters(request)
    rows = [r for r in ctx.state.tables.get(table, []) if row_matches(r, filters)]
    total = len(rows)
    order = request.query.get("order")
    if order:
        for item in reversed(order.split(",")):
            column, _, direction = item.partition(".")
            rows.sort(
                key=lambda r, c=column: (r.get(c) is None, _as_text(r.get(c))),  # type: ignore[misc]
                reverse=direction.startswith("desc"),
            )
    try:
        offset = int(request.query.get("offset", "0"))
        limit = int(request.query["limit"]) if "limit" in request.query else None
    except ValueError:
        raise _bad("limit and offset must be integers") from None
    rows = rows[offset : None if limit is None else offset + limit]
    return _respond(request, rows, 200, total)


async def _insert(request: web.Request) -> web.StreamResponse:
    ctx, table = _table(request)
    doc = await read_json(ctx, _BODY_LIMIT, lambda m: shapes.rest_error(400, "PGRST102", m))
    items = doc if isinstance(doc, list) else [doc]
    if not items or not all(isinstance(r, dict) for r in items):
        raise _bad("the body must be a JSON object or a non-empty array of objects", "PGRST102")
    rows = ctx.state.tables.setdefault(table, [])
    inserted = []
    for item in items:
        row = dict(item)
        if "id" not in row:
            ctx.state.next_row_id[table] = ctx.state.next_row_id.get(table, 0) + 1
            row["id"] = ctx.state.next_row_id[table]
        elif any(r.get("id") == row["id"] for r in rows):
            raise shapes.ProviderError(
                shapes.rest_error(
                    409,
                    "23505",
                    f'duplicate key value violates unique constraint "{table}_pkey"',
                    f"Key (id)=({row['id']}) already exists.",
                )
            )
        rows.append(row)
        inserted.append(row)
    return _respond(request, inserted, 201)


async def _update(request: web.Request) -> web.StreamResponse:
    ctx, table = _table(request)
    doc = await read_json(ctx, _BODY_LIMIT, lambda m: shapes.rest_error(400, "PGRST102", m))
    if not isinstance(doc, dict):
        raise _bad("the body must be a JSON object", "PGRST102")
    filters = _filters(request)
    changed = []
    for row in ctx.state.tables.get(table, []):
        if row_matches(row, filters):
            row.update(doc)
            changed.append(row)
    return _respond(request, changed, 200)


async def _delete(request: web.Request) -> web.StreamResponse:
    ctx, table = _table(request)
    filters = _filters(request)
    rows = ctx.state.tables.get(table, [])
    kept = [r for r in rows if not row_matches(r, filters)]
    gone = [r for r in rows if row_matches(r, filters)]
    ctx.state.tables[table] = kept
    return _respond(request, gone, 200)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
AddRoute = Callable[[str, str, str, Handler], None]


def add_rest_routes(add: AddRoute) -> None:
    """Register ``rest/v1/{table}`` for GET/HEAD (select), POST, PATCH and DELETE."""
    path = "rest/v1/{table}"
    add("supabase", "GET", path, _select)
    add("supabase", "HEAD", path, _select)
    add("supabase", "POST", path, _insert)
    add("supabase", "PATCH", path, _update)
    add("supabase", "DELETE", path, _delete)
