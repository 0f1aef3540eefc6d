"""``python -m harness.profile`` end to end: a real profiled trial of the real uploaders
against the mock provider, as the runner starts it (spec on stdin, result on stdout).

The profiled processes run in fixtures, so under ``pytest --memray`` the test bodies stay
light and the subprocesses' own memray Tracker never meets pytest-memray's.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.fileset import materialize
from harness.mockprovider import MockConfig, MockServer
from harness.profile import MEMORY_METRICS, external_resources
from harness.scenario import FilesSpec
from harness.worker import TrialSpec

KEY = "sk-test"
MIB = 1024 * 1024
SIZE = 24 * MIB
# Python start-up, memray, the upload and the 4.5 MB flame graph on a loaded 2-core box.
DEADLINE_S = 120.0


@pytest.fixture(scope="module")
def mock() -> Iterator[MockServer]:
    with MockServer.in_thread(MockConfig(keys=(KEY,)), port=0) as server:
        yield server


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("run")


def profile(mock: MockServer, run_dir: Path, variant: str, cache: Path) -> dict[str, Any]:
    files = materialize(FilesSpec(count=1, sizes=(SIZE,), content="random", seed=7), cache)
    spec = TrialSpec(
        trial_id=f"profile-test|kimi|{variant}|c=1|r=0|profile",
        scenario="profile-test",
        provider="kimi",
        variant=variant,
        concurrency=1,
        base_url=mock.url + "/kimi/v1",
        api_key=KEY,
        files=files.files,
        profile_dir=str(run_dir / "profiles"),
        run_dir=str(run_dir),
    )
    done = subprocess.run(
        [sys.executable, "-m", "harness.profile"],
        input=spec.to_json(),
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict[str, Any] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def profiled(
    mock: MockServer, run_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, dict[str, Any]]:
    cache = tmp_path_factory.mktemp("files")
    return {variant: profile(mock, run_dir, variant, cache) for variant in ("sync", "async")}


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["sync", "async"])
def test_profiled_trial_reports_the_heap_peak(
    profiled: dict[str, dict[str, Any]], variant: str
) -> None:
    result = profiled[variant]
    assert result["status"] == "ok"
    assert result["profiled"] is True
    assert [r["outcome"] for r in result["records"]] == ["ok"]
    peak = result["metrics"]["heap_peak_bytes"]
    assert isinstance(peak, int)
    assert peak > 0
    assert peak == result["profile"]["heap_peak_bytes"]
    assert result["profile"]["rss_peak_bytes"] > peak // 2


@pytest.mark.slow
def test_sync_holds_the_file_and_async_streams_it(profiled: dict[str, dict[str, Any]]) -> None:
    sync = profiled["sync"]["metrics"]["heap_peak_bytes"]
    reference = profiled["async"]["metrics"]["heap_peak_bytes"]
    assert sync >= SIZE  # the legacy client reads the whole file
    assert reference < SIZE // 2  # the reference streams it in chunks
    top = profiled["sync"]["profile"]["top_allocations"]
    assert top[0]["bytes"] >= SIZE // 2


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["sync", "async"])
def test_profiled_trial_carries_no_timing(
    profiled: dict[str, dict[str, Any]], variant: str
) -> None:
    result = profiled[variant]
    for name, value in result["metrics"].items():
        if name not in MEMORY_METRICS:
            assert value is None, name
    for record in result["records"]:
        assert record["start"] is None
        assert record["end"] is None
        assert record["size"] == SIZE


@pytest.mark.slow
def test_profile_files_land_in_the_run_folder(
    profiled: dict[str, dict[str, Any]], run_dir: Path
) -> None:
    seen = set()
    for result in profiled.values():
        profile = result["profile"]
        assert profile["flamegraph"].startswith("profiles/")
        assert profile["flamegraph"].endswith(".html")
        assert profile["capture"].endswith(".bin")
        assert (run_dir / profile["capture"]).stat().st_size > 0
        seen.add(profile["flamegraph"])
        timeline = profile["memory_over_time"]
        assert 1 <= len(timeline) <= 200
        assert all(len(point) == 2 for point in timeline)
        top = profile["top_allocations"]
        assert 1 <= len(top) <= 10
        assert all({"location", "bytes", "count"} == set(site) for site in top)
    assert len(seen) == 2  # one flame graph per trial, none overwritten


@pytest.mark.slow
def test_flamegraph_loads_nothing_from_the_network(
    profiled: dict[str, dict[str, Any]], run_dir: Path
) -> None:
    html = (run_dir / profiled["sync"]["profile"]["flamegraph"]).read_text(encoding="utf-8")
    assert external_resources(html) == []
    assert "cdn.jsdelivr.net" not in html


@pytest.mark.slow
@pytest.mark.browser
def test_flamegraph_renders_offline_in_chromium(
    profiled: dict[str, dict[str, Any]], run_dir: Path
) -> None:
    """Every request other than file: and data: is aborted and recorded; the page must
    still draw its flame graph with no script error."""
    sync_api = pytest.importorskip("playwright.sync_api")
    chromium = os.environ.get("UPLOADBENCH_CHROMIUM", "/usr/bin/chromium")
    if not Path(chromium).exists():
        pytest.skip(f"no Chromium at {chromium}")
    page_url = (run_dir / profiled["sync"]["profile"]["flamegraph"]).resolve().as_uri()
    blocked: list[str] = []
    errors: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
        )
        try:
            page = browser.new_page()

            def route(r: Any) -> None:
                if r.request.url.startswith(("file:", "data:", "blob:")):
                    r.continue_()
                else:
                    blocked.append(r.request.url)
                    r.abort()

            page.route("**/*", route)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(page_url, wait_until="load")
            page.wait_for_selector("svg", timeout=30_000)
            svgs = page.locator("svg").count()
            title = page.title()
        finally:
            browser.close()
    assert blocked == []
    assert errors == []
    assert svgs > 1
    assert "memray" in title


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "trial spec is not JSON"),
        ('{"variant": "async", "files": []}', "no 'profile_dir'"),
    ],
)
def test_bad_spec_is_one_line_and_exit_2(stdin: str, message: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "harness.profile"],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=DEADLINE_S,
        check=False,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
