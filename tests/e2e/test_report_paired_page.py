"""The head-against-base section end to end: ``uploadbench report`` on a base-and-head run's
``results.json`` (a synthetic one: what is checked is the page, not a measurement), then
the page in headless Chromium, offline. No sockets but the browser's own (every non-file
request is blocked)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.unit.test_report_paired import paired_doc

LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="module")
def page_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``uploadbench report RUN --against none`` of a run whose head lost 30% throughput."""
    run_dir = tmp_path_factory.mktemp("reports") / "run-07"
    run_dir.mkdir()
    doc = paired_doc(head_factor={"throughput_bytes_per_s": 0.7})
    (run_dir / "results.json").write_text(json.dumps(doc), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "harness", "report", str(run_dir), "--against", "none"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    path = run_dir / "index.html"
    assert proc.stdout.strip() == str(path)
    return path


def test_report_command_writes_the_section(page_path: Path) -> None:
    page = page_path.read_text(encoding="utf-8")
    assert '<section id="head-vs-base" class="paired regression">' in page
    assert "head is slower than base on 1 gating check (throughput)" in page
    assert '<code id="paired-base">main @ 1a2b3c4d</code>' in page
    assert '<code id="paired-head">feature/pool @ 9f8e7d6c, dirty</code>' in page
    data = json.loads(page.split('<script id="report-data" type="application/json">')[1].split(
        "</script>"
    )[0])  # fmt: skip
    assert data["headline"]["exit_code"] == 1
    assert data["paired"]["verdict"].startswith("head is slower than base")


def _chromium() -> str:
    path = os.environ.get("UPLOADBENCH_CHROMIUM", "/usr/bin/chromium")
    if Path(path).is_file() and os.access(path, os.X_OK):
        return path
    message = f"Chromium not found at {path}: apt-get install chromium"
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must run this test, never skip it silently
    pytest.skip(message)


@pytest.mark.browser
def test_the_section_shows_offline_in_chromium(page_path: Path) -> None:
    from playwright.sync_api import Route, sync_playwright

    executable = _chromium()
    seen: dict[str, Any] = {"blocked": [], "errors": []}

    def only_local(route: Route) -> None:
        if route.request.url.startswith(("file:", "data:")):
            route.continue_()
        else:
            seen["blocked"].append(route.request.url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_local)
            page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
            page.on(
                "console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None
            )
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            assert page.is_visible("#head-vs-base")
            verdict = page.inner_text("#paired-verdict")
            # the section sits after the headline, before the per-scenario detail
            order = page.evaluate(
                """() => ['headline', 'head-vs-base', 'scenario-1'].map(
                    id => document.getElementById(id).getBoundingClientRect().top)"""
            )
            regressed_colour = page.eval_on_selector(
                "#paired-gating td.verdict.bad", "el => getComputedStyle(el).color"
            )
            all_visible = page.is_visible("#paired-all")
        finally:
            browser.close()
    assert seen == {"blocked": [], "errors": []}
    assert verdict.startswith("head is slower than base on 1 gating check (throughput)")
    assert order == sorted(order)
    assert regressed_colour == "rgb(179, 38, 30)"  # --bad, as every regressed verdict
    assert not all_visible  # the full list stays collapsed
