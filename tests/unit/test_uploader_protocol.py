"""Provider request builders, answer parsers and error classification: no sockets."""

from __future__ import annotations

import base64
import email.parser
import email.policy
import email.utils
import json
from dataclasses import replace
from pathlib import Path

import pytest

from uploader import protocol
from uploader.api import LocalFile, Target

KEY = "sk-secret-key"
NOW = 1_700_000_000.0


def target(provider: str = "kimi", base: str | None = None) -> Target:
    bases = {
        "kimi": "http://127.0.0.1:9/kimi/v1",
        "glm": "http://127.0.0.1:9/glm/api/paas/v4",
        "supabase": "http://127.0.0.1:9/supabase",
    }
    return Target(provider, base or bases[provider], KEY)  # type: ignore[arg-type]


def parse_multipart(
    req: protocol.HttpRequest, content: bytes
) -> dict[str, tuple[str | None, bytes]]:
    raw = f"Content-Type: {req.headers['Content-Type']}\r\n\r\n".encode() + req.body_bytes(content)
    msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(raw)
    fields = {}
    for part in msg.iter_parts():
        name = part.get_param("name", header="content-disposition")
        payload = part.get_payload(decode=True)
        fields[str(name)] = (part.get_filename(), payload)
    return fields


@pytest.mark.parametrize("provider", ["kimi", "glm"])
def test_openai_upload_is_multipart_with_purpose_and_exact_length(provider: str) -> None:
    content = b"hello\r\n--not-a-boundary\r\n" * 3
    req = protocol.openai_upload(target(provider), "report.pdf", len(content), "b0undary")
    assert req.method == "POST"
    assert req.url.endswith("/files")
    assert req.headers["Authorization"] == f"Bearer {KEY}"
    assert int(req.headers["Content-Length"]) == len(req.body_bytes(content))
    fields = parse_multipart(req, content)
    assert fields["purpose"] == (None, b"file-extract")
    assert fields["file"] == ("report.pdf", content)
    # The OpenAI SDK sends purpose first; some servers depend on it.
    assert req.head.index(b'name="purpose"') < req.head.index(b'name="file"')


def test_multipart_filename_is_escaped() -> None:
    req = protocol.openai_upload(target(), 'a"b\r\n.txt', 1, "x")
    assert b'filename="a%22b%0D%0A.txt"' in req.head


def test_multipart_rejects_bad_boundary() -> None:
    with pytest.raises(ValueError, match="boundary"):
        protocol.openai_upload(target(), "a", 1, "")


def test_supabase_raw_upload() -> None:
    req = protocol.supabase_object_upload(target("supabase"), "dir/a b.json", 10)
    assert req.url == "http://127.0.0.1:9/supabase/storage/v1/object/uploads/dir/a%20b.json"
    assert req.headers["apikey"] == KEY
    assert req.headers["x-upsert"] == "false"
    assert req.headers["Content-Type"] == "application/json"
    assert req.headers["Content-Length"] == "10"
    assert req.head == req.tail == b""
    assert (
        protocol.supabase_object_upload(target("supabase"), "a", 1, upsert=True).headers["x-upsert"]
        == "true"
    )


def test_supabase_multipart_upload() -> None:
    req = protocol.supabase_multipart_upload(target("supabase"), "d/x.bin", 3, "bnd")
    fields = parse_multipart(req, b"abc")
    assert fields["file"] == ("x.bin", b"abc")
    assert fields["cacheControl"] == (None, b"3600")


def test_tus_create_patch_head() -> None:
    t = target("supabase")
    create = protocol.tus_create(t, "big.bin", 13 * 2**20, upsert=True)
    assert create.url.endswith("/supabase/storage/v1/upload/resumable")
    assert create.headers["Tus-Resumable"] == "1.0.0"
    assert create.headers["Upload-Length"] == str(13 * 2**20)
    assert create.headers["x-upsert"] == "true"
    meta = dict(pair.split(" ") for pair in create.headers["Upload-Metadata"].split(","))
    assert base64.b64decode(meta["bucketName"]) == b"uploads"
    assert base64.b64decode(meta["objectName"]) == b"big.bin"
    patch = protocol.tus_patch(t, "http://h/u/1", 6 * 2**20, 100)
    assert patch.method == "PATCH"
    assert patch.headers["Upload-Offset"] == str(6 * 2**20)
    assert patch.headers["Content-Type"] == "application/offset+octet-stream"
    assert patch.content_length == 100
    head = protocol.tus_head(t, "http://h/u/1")
    assert head.method == "HEAD"
    assert head.content_length == 0
    with pytest.raises(ValueError, match=">= 0"):
        protocol.tus_patch(t, "u", -1, 1)


def test_upload_url_and_list() -> None:
    assert protocol.upload_url(target(), "x") == "http://127.0.0.1:9/kimi/v1/files"
    assert protocol.upload_url(target("supabase"), "x").endswith("/object/uploads/x")
    assert protocol.list_files(target("glm"), after="file-1").url.endswith(
        "/files?limit=100&order=created_at&after=file-1"
    )
    assert protocol.list_files(target("kimi")).url.endswith("/kimi/v1/files")
    with pytest.raises(ValueError, match="kimi and glm"):
        protocol.list_files(target("supabase"))


def test_metadata_goes_to_the_project_the_target_names() -> None:
    # The harness names the project; the uploader knows no server's URL layout.
    project = "http://127.0.0.1:9/supabase"
    for provider in ("kimi", "glm", "supabase"):
        named = replace(target(provider), metadata_project_url=project + "/")
        assert protocol.metadata_url(named) == project + "/rest/v1/file_uploads"
    # Unnamed: a Supabase target is its own project; Kimi and GLM have no table, even at
    # a URL that looks like the mock's.
    assert protocol.metadata_url(target("supabase")) == project + "/rest/v1/file_uploads"
    assert protocol.metadata_url(target("kimi")) is None
    assert protocol.metadata_url(target("glm", "https://open.bigmodel.cn/api/paas/v4")) is None
    f = LocalFile(Path("/tmp/a.txt"), 3, "abc")
    row = protocol.metadata_row(target(), f, "id1", 3)
    req = protocol.metadata_insert(target("supabase"), row)
    assert json.loads(req.head) == row
    assert req.headers["Prefer"] == "return=minimal"
    with pytest.raises(ValueError, match="no metadata table"):
        protocol.metadata_insert(target("glm", "https://open.bigmodel.cn/api/paas/v4"), row)


def test_parsers() -> None:
    body = b'{"id":"co3t989kqq4ua4e78urg","object":"file","bytes":5426,"filename":"f.txt"}'
    assert protocol.parse_openai_file(body) == protocol.StoredFile(
        "co3t989kqq4ua4e78urg", 5426, "f.txt"
    )
    for bad in (b"<html>", b"[]", b'{"bytes":1}', b'{"id":"x","bytes":"1"}'):
        with pytest.raises(protocol.ProtocolError):
            protocol.parse_openai_file(bad)
    assert protocol.parse_supabase_object(b'{"Key":"uploads/a","Id":"u"}') == "uploads/a"
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_supabase_object(b'{"Id":"u"}')
    files, more = protocol.parse_file_list(
        b'{"object":"list","data":[{"id":"a","bytes":1}],"has_more":true}'
    )
    assert files == [protocol.StoredFile("a", 1)]
    assert more
    assert protocol.parse_tus_location({"location": "/s/u/abc"}, "http://h:1/s/u") == (
        "http://h:1/s/u/abc"
    )
    assert protocol.parse_upload_offset({"upload-offset": "42"}) == 42
    with pytest.raises(protocol.ProtocolError):
        protocol.parse_upload_offset({"Upload-Offset": "-1"})


def test_retry_after_forms() -> None:
    assert protocol.parse_retry_after({"Retry-After": "3"}, NOW) == 3.0
    assert protocol.parse_retry_after({"retry-after": "0.5"}, NOW) == 0.5
    assert protocol.parse_retry_after({"retry-after-ms": "250", "Retry-After": "9"}, NOW) == 0.25
    date = email.utils.formatdate(NOW + 7, usegmt=True)
    assert protocol.parse_retry_after({"Retry-After": date}, NOW) == pytest.approx(7.0)
    assert protocol.parse_retry_after({"Retry-After": "soon"}, NOW) is None
    assert protocol.parse_retry_after({}, NOW) is None


def classify(provider: str, status: int, body: bytes | str, **headers: str) -> protocol.ErrorInfo:
    raw = body.encode() if isinstance(body, str) else body
    return protocol.classify_response(provider, status, headers, raw, now_unix=NOW)  # type: ignore[arg-type]


def test_supabase_400_carries_the_real_status() -> None:
    dup = classify(
        "supabase",
        400,
        '{"statusCode":"409","error":"Duplicate","code":"ResourceAlreadyExists",'
        '"message":"The resource already exists"}',
    )
    assert (dup.status, dup.real_status, dup.retryable) == (400, 409, False)
    assert dup.code == "ResourceAlreadyExists"
    slow = classify("supabase", 400, '{"statusCode":"429","error":"too_many","message":"x"}')
    assert slow.real_status == 429
    assert slow.retryable
    missing = classify("supabase", 400, '{"statusCode":"404","error":"not_found","message":"x"}')
    assert missing.real_status == 404
    assert not missing.retryable


def test_kimi_wait_in_message_and_quota() -> None:
    limited = classify(
        "kimi",
        429,
        '{"error":{"type":"rate_limit_reached_error","message":"Your account org<ak> request '
        'reached organization max RPM: 3, please try again after 7 seconds"}}',
    )
    assert limited.retryable
    assert limited.retry_after_s == 7.0
    quota = classify(
        "kimi", 429, '{"error":{"type":"exceeded_current_quota_error","message":"balance"}}'
    )
    assert not quota.retryable
    glm_balance = classify("glm", 429, '{"error":{"code":"1113","message":"余额不足"}}')
    assert not glm_balance.retryable
    glm_busy = classify("glm", 429, '{"error":{"code":"1302","message":"并发数过高"}}')
    assert glm_busy.retryable
    assert glm_busy.retry_after_s is None


def test_statuses_html_and_should_retry() -> None:
    assert classify("kimi", 503, "").retryable
    assert (
        classify("glm", 435, '{"error":{"code":"435","message":"File size exceeds"}}').retryable
        is False
    )
    page = classify("supabase", 502, "<html><body>Bad Gateway</body></html>")
    assert page.retryable
    assert "HTML" in page.message
    too_big = classify("supabase", 413, "<!DOCTYPE html><title>413</title>")
    assert not too_big.retryable
    assert not classify("kimi", 500, "{}", **{"x-should-retry": "false"}).retryable
    assert classify("kimi", 400, "{}", **{"x-should-retry": "true"}).retryable
    assert classify("kimi", 503, "", **{"Retry-After": "2"}).retry_after_s == 2.0
    assert "\n" not in classify("kimi", 500, "line one\nline two").message


def test_scrub_and_one_line() -> None:
    assert protocol.scrub(f"Bearer {KEY} failed", KEY) == "Bearer *** failed"
    assert protocol.one_line("a\n  b", 10) == "a b"
    assert len(protocol.one_line("x" * 500)) == 200


def test_judge_upload() -> None:
    ok = protocol.judge_upload("kimi", 5, 200, {}, b'{"id":"f","bytes":5}', now_unix=NOW)
    assert (ok.outcome, ok.file_id, ok.bytes_stored) == ("ok", "f", 5)
    short = protocol.judge_upload("glm", 5, 200, {}, b'{"id":"f","bytes":4}', now_unix=NOW)
    assert short.outcome == "integrity_error"
    assert short.bytes_stored == 4
    sup = protocol.judge_upload("supabase", 5, 200, {}, b'{"Key":"uploads/a"}', now_unix=NOW)
    assert (sup.outcome, sup.file_id, sup.bytes_stored) == ("ok", "uploads/a", 5)
    err = protocol.judge_upload("supabase", 5, 400, {}, b'{"statusCode":"413"}', now_unix=NOW)
    assert (err.outcome, err.status, err.retryable) == ("http_error", 413, False)
    drift = protocol.judge_upload("kimi", 5, 200, {}, b"<html>", now_unix=NOW)
    assert drift.outcome == "http_error"
