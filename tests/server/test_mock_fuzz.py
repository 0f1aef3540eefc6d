"""Fuzz the mock provider's parsers over real sockets: never a 500, never a hang, errors in
the provider's own shape, no object outside its bucket.

One mock serves every example of a target (hypothesis cannot take function-scoped fixtures).
Requests are raw bytes on a socket with a timeout, so a malformed body, a lying
Content-Length or a half-closed connection reaches the server exactly as sent. Each test
prints how many inputs it tried (``pytest -s`` shows them).
"""

from __future__ import annotations

import base64
import json
import logging
import math
import socket
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.mockprovider import MockConfig, MockServer
from harness.mockprovider.storage import check_object_name

KEY = "sk-fuzz"
AUTH = f"Authorization: Bearer {KEY}"
# Per request: far above an answer's few milliseconds on a loaded box, far below a hang.
CLIENT_TIMEOUT_S = 10.0
# Fixed inputs, so a red nightly is reproducible; ~150 examples per target keeps the
# whole file around 10-20 s under memray on 2 cores.
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Rig:
    server: MockServer
    errors: list[logging.LogRecord] = field(default_factory=list)
    tried: Counter[str] = field(default_factory=Counter)

    @property
    def port(self) -> int:
        return self.server.port


class _Collect(logging.Handler):
    def __init__(self, sink: list[logging.LogRecord]) -> None:
        super().__init__(logging.WARNING)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        self.sink.append(record)


@pytest.fixture(scope="module")
def rig() -> Iterator[Rig]:
    config = MockConfig(
        keys=(KEY,),
        kimi_max_bytes=4096,
        glm_max_bytes=4096,
        supabase_max_bytes=4096,
        kimi_max_files=100_000,
        glm_max_files=100_000,
        max_records=5_000,
    )
    with MockServer.in_thread(config) as server:
        out = Rig(server)
        handler = _Collect(out.errors)
        for name in ("uploadbench.mock", "aiohttp.server", "aiohttp.web"):
            logging.getLogger(name).addHandler(handler)
        try:
            yield out
        finally:
            for name in ("uploadbench.mock", "aiohttp.server", "aiohttp.web"):
                logging.getLogger(name).removeHandler(handler)


@pytest.fixture(autouse=True)
def _no_server_errors(rig: Rig) -> Iterator[None]:
    """After each target: no 500 recorded by the mock, nothing logged as an error."""
    yield
    statuses = {r.status for r in rig.server.state.stats.records}
    assert not {s for s in statuses if s is not None and s >= 500 and s != 501}, statuses
    errors = [r.getMessage() for r in rig.errors if r.levelno >= logging.ERROR]
    assert not errors, errors[:3]
    # no object may leave its bucket, whatever path got stored
    for bucket, name in rig.server.state.objects:
        assert bucket in rig.server.state.buckets
        check_object_name(rig.server.state, name)


def exchange(
    port: int,
    method: str,
    target: str | bytes,
    headers: list[str],
    body: bytes = b"",
    *,
    content_length: int | None = None,
    half_close: bool = False,
    timeout_s: float = CLIENT_TIMEOUT_S,
) -> Answer | None:
    """One request with ``Connection: close``; the answer, or None if the server closed
    or reset the connection without one (a cut body). A hang fails the test."""
    length = len(body) if content_length is None else content_length
    lines = [f"Host: 127.0.0.1:{port}", "Connection: close", *headers]
    if method not in ("GET", "HEAD", "OPTIONS") or body or content_length is not None:
        lines.append(f"Content-Length: {length}")
    raw_target = target if isinstance(target, bytes) else target.encode()
    head = method.encode() + b" " + raw_target + b" HTTP/1.1\r\n"
    head += "".join(line + "\r\n" for line in lines).encode("latin-1") + b"\r\n"
    chunks: list[bytes] = []
    with socket.create_connection(("127.0.0.1", port), timeout=timeout_s) as sock:
        try:
            sock.sendall(head + body)
            if half_close:
                sock.shutdown(socket.SHUT_WR)
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
        except TimeoutError:
            pytest.fail(f"no answer within {timeout_s} s: {method} {target!r}")
        except (ConnectionResetError, BrokenPipeError):
            pass
    raw = b"".join(chunks)
    if not raw:
        return None
    status_line, _, rest = raw.partition(b"\r\n")
    header_blob, _, payload = rest.partition(b"\r\n\r\n")
    parsed: dict[str, str] = {}
    for line in header_blob.decode("latin-1").split("\r\n"):
        name, _, value = line.partition(":")
        parsed[name.strip().lower()] = value.strip()
    return Answer(int(status_line.split()[1]), parsed, payload)


def refused_as_bad_http(answer: Answer) -> bool:
    """aiohttp's HTTP parser refused the request before any route ran (a plain-text 400),
    as the real providers' front proxies answer invalid HTTP with their own page."""
    return answer.status == 400 and answer.headers.get("content-type", "").startswith("text/plain")


def has_control_chars(text: str) -> bool:
    """Characters RFC 9110 forbids in a field value (HTAB aside)."""
    return any((ord(ch) < 32 and ch != "\t") or ord(ch) == 127 for ch in text)


def assert_provider_shape(api: str, answer: Answer) -> None:
    """An error answer is JSON in the dialect of the API that was called."""
    assert answer.status != 500, answer.body[:300]
    if answer.status < 400:
        return
    assert answer.headers.get("content-type", "").startswith("application/json"), answer
    doc = answer.json()
    assert isinstance(doc, dict), doc
    if api == "kimi":
        assert set(doc["error"]) == {"type", "message"}, doc
    elif api == "glm":
        assert set(doc["error"]) == {"code", "message"}, doc
    elif api in ("storage", "tus"):
        assert {"statusCode", "error", "code", "message"} <= set(doc), doc
        assert doc["statusCode"] == str(int(doc["statusCode"])), doc
    elif api == "rest":
        # PostgREST's body, or Kong's for a key it refuses
        assert {"code", "details", "hint", "message"} <= set(doc) or {"message", "hint"} == set(
            doc
        ), doc
    else:  # pragma: no cover - a test names its API
        raise AssertionError(api)


# -- strategies ----------------------------------------------------------------------------
_BOUNDARY_OK = string.ascii_letters + string.digits + "'()+_,-./:=?"
boundaries = st.one_of(
    st.text(_BOUNDARY_OK, min_size=1, max_size=70),
    st.text(max_size=80),  # junk: quotes, unicode, spaces, nothing
    st.just('"quoted boundary"'),
)
header_names = st.sampled_from(
    ["Content-Disposition", "Content-Type", "Content-Transfer-Encoding", "Content-Length", "X-J"]
)
header_values = st.one_of(
    st.just('form-data; name="file"; filename="a.bin"'),
    st.just('form-data; name="purpose"'),
    st.just("form-data; name=file; filename*=UTF-8''%E2%82%AC.txt"),
    st.builds(
        lambda n, f: f'form-data; name="{n}"; filename="{f}"',
        st.sampled_from(["file", "purpose", "cacheControl", "metadata", "x"]),
        st.text(max_size=20).filter(lambda s: "\r" not in s and "\n" not in s),
    ),
    st.sampled_from(["base64", "quoted-printable", "gzip", "x", "multipart/mixed; boundary=q"]),
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=60),
)
part_bodies = st.one_of(
    st.binary(max_size=600),
    st.sampled_from([b"file-extract", b"batch", b"{}", b'{"a":1}', b"[]", b"max-age=5"]),
)


@st.composite
def multipart_requests(draw: st.DrawFn) -> tuple[str, bytes, int | None, bool]:
    """(content type, body, claimed length or None, half-close) of a hostile multipart."""
    boundary = draw(boundaries)
    parts = draw(
        st.lists(
            st.tuples(st.lists(st.tuples(header_names, header_values), max_size=4), part_bodies),
            max_size=4,
        )
    )
    crlf = draw(st.sampled_from(["\r\n", "\n"]))
    b = boundary.encode("utf-8", "surrogatepass")
    out = bytearray(draw(st.sampled_from([b"", b"preamble\r\n"])))
    for headers, payload in parts:
        out += b"--" + b + crlf.encode()
        for name, value in headers:
            out += f"{name}: {value}{crlf}".encode("utf-8", "surrogatepass")
        out += crlf.encode() + payload + crlf.encode()
    if draw(st.booleans()):
        out += b"--" + b + b"--" + crlf.encode()
    body = bytes(out)
    cut = draw(st.one_of(st.none(), st.integers(0, max(0, len(body)))))
    lie = False
    claimed: int | None = None
    if cut is not None:
        body = body[:cut]
        lie = draw(st.booleans())  # claim the full length and hang up early
        claimed = len(out) if lie else None
    ctype = draw(
        st.sampled_from(
            [
                f"multipart/form-data; boundary={boundary}",
                f'multipart/form-data; boundary="{boundary}"',
                "multipart/form-data",
                f"multipart/mixed; boundary={boundary}",
            ]
        )
    )
    return ctype, body, claimed, lie


def _latin1(value: str) -> str:
    return value.encode("latin-1", "replace").decode("latin-1").replace("\r", "").replace("\n", "")


def _safe_header(value: str) -> str:
    """A junk value that is still valid HTTP, so it reaches the mock's own parsing (control
    characters are the multipart target's, which checks aiohttp refuses them)."""
    return "".join(ch for ch in _latin1(value) if not has_control_chars(ch))


# -- targets -------------------------------------------------------------------------------
MULTIPART_ROUTES = [
    ("kimi", "/kimi/v1/files"),
    ("glm", "/glm/api/paas/v4/files"),
    ("storage", "/supabase/storage/v1/object/uploads/fuzz/a.bin"),
]


@FUZZ
@given(req=multipart_requests(), route=st.sampled_from(MULTIPART_ROUTES), upsert=st.booleans())
def test_fuzz_multipart_bodies(
    rig: Rig, req: tuple[str, bytes, int | None, bool], route: tuple[str, str], upsert: bool
) -> None:
    ctype, body, claimed, lie = req
    api, path = route
    headers = [AUTH, f"Content-Type: {_latin1(ctype)}"]
    if upsert:
        headers.append("x-upsert: true")
    answer = exchange(rig.port, "POST", path, headers, body, content_length=claimed, half_close=lie)
    rig.tried["multipart_bodies"] += 1
    if answer is not None and refused_as_bad_http(answer):
        assert has_control_chars(ctype), answer
    elif answer is not None:
        assert_provider_shape(api, answer)
    else:
        assert lie, f"no answer to a complete request: {ctype!r} {body[:200]!r}"


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode()


metadata_values = st.one_of(
    st.text(st.characters(codec="latin-1", exclude_characters="\r\n"), max_size=80),
    st.lists(
        st.tuples(
            st.sampled_from(
                ["bucketName", "objectName", "contentType", "cacheControl", "metadata", "x", ""]
            ),
            st.one_of(
                st.sampled_from(
                    [b"uploads", b"nope", b"a/../b", b"/abs", b"ok.bin", b"{}", b"[1]"]
                ),
                st.binary(max_size=30),
                st.text(max_size=20).map(lambda s: s.encode("utf-8", "surrogatepass")),
            ),
            st.sampled_from(["b64", "raw", "none", "space"]),
        ),
        max_size=5,
    ).map(
        lambda pairs: ",".join(
            k
            if how == "none"
            else f"{k} {_b64(v)}"
            if how == "b64"
            else f"{k} {_b64(v)} x"
            if how == "space"
            else f"{k} {v.decode('latin-1')}"
            for k, v, how in pairs
        )
    ),
)
numbers = st.one_of(
    st.integers(-5, 10_000).map(str),
    st.sampled_from(["", " 1", "1 ", "+1", "0x10", "1e3", "٣", "²", "99999999999999999999999"]),
    st.text(string.printable.replace("\r", "").replace("\n", ""), max_size=12),
)


@FUZZ
@given(
    length=st.one_of(st.none(), numbers),
    defer=st.sampled_from([None, "1", "0", "yes"]),
    metadata=st.one_of(st.none(), metadata_values),
    version=st.sampled_from(["1.0.0", "1.0.0", "0.2.2", ""]),
    body=st.one_of(st.none(), st.binary(max_size=300)),
    patches=st.lists(
        st.tuples(
            st.one_of(st.none(), numbers),
            st.one_of(st.none(), numbers),
            st.binary(max_size=200),
            st.sampled_from(["application/offset+octet-stream", "text/plain"]),
            st.booleans(),
        ),
        max_size=3,
    ),
)
def test_fuzz_tus_headers(
    rig: Rig,
    length: str | None,
    defer: str | None,
    metadata: str | None,
    version: str,
    body: bytes | None,
    patches: list[tuple[str | None, str | None, bytes, str, bool]],
) -> None:
    base = "/supabase/storage/v1/upload/resumable"
    headers = [AUTH, f"Tus-Resumable: {version}", "x-upsert: true"]
    if length is not None:
        headers.append(f"Upload-Length: {_safe_header(length)}")
    if defer is not None:
        headers.append(f"Upload-Defer-Length: {defer}")
    if metadata is not None:
        headers.append(f"Upload-Metadata: {_safe_header(metadata)}")
    if body is not None:
        headers.append("Content-Type: application/offset+octet-stream")
    answer = exchange(rig.port, "POST", base, headers, body or b"")
    rig.tried["tus_headers"] += 1
    assert answer is not None
    assert_provider_shape("tus", answer)
    # Fuzz PATCH and HEAD on a real upload (made here if the fuzzed create failed).
    location = answer.headers.get("location")
    if answer.status != 201 or not location:
        meta = f"Upload-Metadata: bucketName {_b64(b'uploads')},objectName {_b64(b'fuzz/t.bin')}"
        made = exchange(
            rig.port,
            "POST",
            base,
            [AUTH, "Tus-Resumable: 1.0.0", "x-upsert: true", "Upload-Length: 64", meta],
        )
        assert made is not None
        assert made.status == 201, made
        location = made.headers["location"]
    upload_path = "/" + location.split("/", 3)[3]
    for offset, declared, chunk, ctype, lie in patches:
        patch_headers = [AUTH, "Tus-Resumable: 1.0.0", f"Content-Type: {ctype}"]
        if offset is not None:
            patch_headers.append(f"Upload-Offset: {_safe_header(offset)}")
        if declared is not None:
            patch_headers.append(f"Upload-Length: {_safe_header(declared)}")
        claimed = len(chunk) + 100 if lie else None
        got = exchange(
            rig.port,
            "PATCH",
            upload_path,
            patch_headers,
            chunk,
            content_length=claimed,
            half_close=lie,
        )
        rig.tried["tus_headers"] += 1
        if got is not None:
            assert_provider_shape("tus", got)
        else:
            assert lie
        head = exchange(rig.port, "HEAD", upload_path, [AUTH, "Tus-Resumable: 1.0.0"])
        assert head is not None
        assert head.status in (200, 404), head
        if head.status == 200:
            # the offset is a number the client can resume from
            assert head.headers["upload-offset"].isdigit(), head.headers


path_segments = st.one_of(
    st.sampled_from(["..", ".", "", "a", "b.bin", "%2e%2e", "%2F", "%00", "%5c", "~", "*", "%"]),
    st.text(max_size=12),
)


@st.composite
def object_paths(draw: st.DrawFn) -> str:
    segments = draw(st.lists(path_segments, min_size=1, max_size=5))
    joined = "/".join(segments)
    how = draw(st.sampled_from(["quote", "quote-all", "raw"]))
    if how == "quote":
        return quote(joined, safe="/%")
    if how == "quote-all":
        return quote(joined, safe="")
    # raw: what an attacker may send, as far as it is still an HTTP request target
    return quote(joined, safe="/%.~*:@!$&'()+,;=")


OBJECT_ROUTES = [
    ("POST", "object/{bucket}/{path}"),
    ("PUT", "object/{bucket}/{path}"),
    ("GET", "object/{bucket}/{path}"),
    ("HEAD", "object/{bucket}/{path}"),
    ("GET", "object/info/{bucket}/{path}"),
    ("POST", "object/upload/sign/{bucket}/{path}"),
    ("POST", "object/sign/{bucket}/{path}"),
    ("GET", "object/authenticated/{bucket}/{path}"),
]


@FUZZ
@given(
    path=object_paths(),
    bucket=st.sampled_from(["uploads", "..", "nope", "%2e%2e", "uploads%2F.."]),
    route=st.sampled_from(OBJECT_ROUTES),
    leading=st.sampled_from(["", "/", "//"]),
)
def test_fuzz_object_paths(
    rig: Rig, path: str, bucket: str, route: tuple[str, str], leading: str
) -> None:
    method, template = route
    target = "/supabase/storage/v1/" + template.format(bucket=bucket, path=leading + path)
    body = b"x" * 10 if method in ("POST", "PUT") and "sign" not in template else b""
    headers = [AUTH, "x-upsert: true", "Content-Type: application/octet-stream"]
    answer = exchange(rig.port, method, target, headers, body)
    rig.tried["object_paths"] += 1
    assert answer is not None
    if answer.status == 400 and answer.headers.get("content-type", "").startswith("text/plain"):
        # aiohttp's HTTP parser refused the request line itself, before any route ran
        assert method == method.upper()
        return
    if method == "HEAD":
        assert answer.status != 500
        return
    assert_provider_shape("storage", answer)


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=False),
    st.text(max_size=20),
    st.sampled_from(["uploads", "..", "a/b", "", "*"]),
)
json_values = st.recursive(
    json_leaves,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.one_of(
                st.sampled_from(
                    [
                        "id",
                        "name",
                        "public",
                        "file_size_limit",
                        "allowed_mime_types",
                        "prefix",
                        "limit",
                        "offset",
                        "search",
                        "sortBy",
                        "column",
                        "order",
                        "prefixes",
                        "bucketId",
                        "sourceKey",
                        "destinationKey",
                        "destinationBucket",
                    ]
                ),
                st.text(max_size=8),
            ),
            inner,
            max_size=6,
        ),
    ),
    max_leaves=12,
)


def _encode(value: Any, raw_numbers: str | None) -> bytes:
    text = json.dumps(value, allow_nan=True)
    if raw_numbers is not None and isinstance(value, dict):
        # numbers JSON allows but Python's ints and floats may not take (1e999, -0, 1E-400)
        text = text[:-1] + (", " if value else "") + f'"limit": {raw_numbers}, "offset": 0' + "}"
    return text.encode()


JSON_ROUTES = [
    ("storage", "POST", "/supabase/storage/v1/bucket"),
    ("storage", "PUT", "/supabase/storage/v1/bucket/uploads"),
    ("storage", "POST", "/supabase/storage/v1/object/list/uploads"),
    ("storage", "DELETE", "/supabase/storage/v1/object/uploads"),
    ("storage", "POST", "/supabase/storage/v1/object/move"),
    ("storage", "POST", "/supabase/storage/v1/object/copy"),
    ("rest", "POST", "/supabase/rest/v1/fuzz"),
    ("rest", "PATCH", "/supabase/rest/v1/fuzz?id=eq.1"),
]


@FUZZ
@given(
    route=st.sampled_from(JSON_ROUTES),
    body=st.one_of(
        json_values.map(lambda v: (v, None)),
        st.tuples(
            st.dictionaries(st.sampled_from(["prefix", "search", "id"]), json_leaves, max_size=2),
            st.sampled_from(["1e999", "-1e999", "-0", "1E-400", "1.5", "-1", "9" * 40]),
        ),
        st.binary(max_size=80).map(lambda b: (b, None)),
    ),
)
def test_fuzz_json_bodies(
    rig: Rig, route: tuple[str, str, str], body: tuple[Any, str | None]
) -> None:
    api, method, path = route
    value, raw_numbers = body
    payload = value if isinstance(value, bytes) else _encode(value, raw_numbers)
    headers = [AUTH, "Content-Type: application/json", "Prefer: return=representation"]
    answer = exchange(rig.port, method, path, headers, payload)
    rig.tried["json_bodies"] += 1
    assert answer is not None
    assert_provider_shape(api, answer)


query_text = st.text(max_size=15)


@FUZZ
@given(
    params=st.lists(
        st.tuples(
            st.sampled_from(["id", "name", "select", "order", "limit", "offset", "x", "*"]),
            st.one_of(
                st.sampled_from(
                    ["eq.1", "not.eq.1", "in.(1,2)", "like.*a*", "is.null", "gt.", "zz.1", "1e999"]
                ),
                query_text,
            ),
        ),
        max_size=4,
    ),
    method=st.sampled_from(["GET", "HEAD", "DELETE"]),
    single=st.booleans(),
)
def test_fuzz_rest_queries(
    rig: Rig, params: list[tuple[str, str]], method: str, single: bool
) -> None:
    query = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in params)
    headers = [AUTH, "Prefer: return=representation,count=exact"]
    if single:
        headers.append("Accept: application/vnd.pgrst.object+json")
    answer = exchange(rig.port, method, f"/supabase/rest/v1/fuzz?{query}", headers)
    rig.tried["rest_queries"] += 1
    assert answer is not None
    if method == "HEAD":
        assert answer.status != 500
        return
    assert_provider_shape("rest", answer)


fault_params = st.dictionaries(
    st.sampled_from(
        [
            "type",
            "rate",
            "probability",
            "status",
            "body",
            "retry_after_s",
            "style",
            "max_in_flight",
            "ms",
            "jitter_ms",
            "bytes_per_s",
            "after_bytes",
            "after_pct",
            "stall_s",
            "mode",
            "max_count",
            "target",
            "junk",
        ]
    ),
    st.one_of(
        json_leaves,
        st.sampled_from(
            [
                *("http_error", "rate_limit", "concurrency_cap", "latency", "slow_read"),
                *("stall", "abort_mid_body", "drop_response", "fin", "rst", "hang", "html"),
            ]
        ),
        st.dictionaries(
            st.sampled_from(["provider", "method", "route", "x"]),
            st.one_of(json_leaves, st.sampled_from(["kimi", "POST", "/files", "[", "**"])),
            max_size=3,
        ),
    ),
    max_size=6,
)


@FUZZ
@given(
    doc=st.one_of(
        st.builds(
            lambda seed, faults: {"seed": seed, "faults": faults},
            st.one_of(st.integers(-(2**80), 2**80), json_leaves),
            st.lists(fault_params, max_size=3),
        ),
        json_values,
    ),
    odd=st.tuples(
        st.sampled_from(["probability", "ms", "stall_s", "after_pct", "retry_after_s", "status"]),
        st.sampled_from([math.inf, -math.inf, math.nan, 1e308, 2**64]),
    ),
)
def test_fuzz_control_faults(rig: Rig, doc: Any, odd: tuple[str, float]) -> None:
    """``PUT /__mock/faults`` validates whatever it is sent: a 200 or a one-line 400."""
    if isinstance(doc, dict) and doc.get("faults") and isinstance(doc["faults"][0], dict):
        # numbers Python's json reads as inf or nan (1e999, NaN) in a fault's parameter
        doc["faults"][0][odd[0]] = odd[1]
    payload = json.dumps(doc).encode()
    try:
        answer = exchange(rig.port, "PUT", "/__mock/faults", [], payload)
        rig.tried["control_faults"] += 1
        assert answer is not None
        assert answer.status in (200, 400), answer
        body = answer.json()
        if answer.status == 400:
            assert set(body) == {"error"}, body
            assert "\n" not in body["error"]
    finally:
        # no fuzzed fault may stay installed for the other targets
        cleared = exchange(rig.port, "PUT", "/__mock/faults", [], b'{"faults": []}')
        assert cleared is not None
        assert cleared.status == 200


FILES_BASES = [("kimi", "/kimi/v1/files"), ("glm", "/glm/api/paas/v4/files")]


@FUZZ
@given(
    base=st.sampled_from(FILES_BASES),
    file_id=st.one_of(st.none(), path_segments.map(lambda p: quote(p, safe="%"))),
    suffix=st.sampled_from(["", "/content", "/"]),
    method=st.sampled_from(["GET", "DELETE", "POST", "PUT"]),
    query=st.lists(
        st.tuples(
            st.sampled_from(["limit", "after", "purpose", "order", "x"]),
            st.one_of(st.sampled_from(["1e999", "-1", "0", "101", "file-extract"]), query_text),
        ),
        max_size=3,
    ),
)
def test_fuzz_files_ids_and_queries(
    rig: Rig,
    base: tuple[str, str],
    file_id: str | None,
    suffix: str,
    method: str,
    query: list[tuple[str, str]],
) -> None:
    api, path = base
    if file_id is not None:
        path += "/" + file_id + suffix
    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    answer = exchange(rig.port, method, path + ("?" + qs if qs else ""), [AUTH])
    rig.tried["files_ids_and_queries"] += 1
    assert answer is not None
    assert_provider_shape(api, answer)


def test_fuzz_report_counts(rig: Rig) -> None:
    """Runs last in this module: the number of inputs the targets above tried."""
    print("\nfuzz inputs tried:", dict(rig.tried))
    assert len(rig.tried) == 7, rig.tried
    assert min(rig.tried.values()) >= 100, rig.tried
    # memory bounded: records are capped, whatever arrived
    assert len(rig.server.state.stats.records) <= 5_000


def test_exchange_times_out_instead_of_hanging() -> None:
    """The client timeout is real: a server that never answers fails the test, not CI."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with pytest.raises(pytest.fail.Exception, match="no answer within"):
            exchange(port, "GET", "/", [], timeout_s=0.2)
