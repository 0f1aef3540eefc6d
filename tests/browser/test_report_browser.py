"""The report in real headless Chromium: opens from file://, fetches nothing, shows its
numbers. Uses the system Chromium (``UPLOADBENCH_CHROMIUM``, default /usr/bin/chromium)
through playwright, so no browser download is ever needed."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from harness.report import write_report
from tests.factories.nights import (
    ScenarioSpec,
    default_specs,
    make_comparison,
    make_history,
    make_results,
)

pytestmark = pytest.mark.browser

LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root in a container
    "--disable-gpu",
    "--disable-dev-shm-usage",  # containers have a tiny /dev/shm
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def _chromium() -> str:
    path = os.environ.get("UPLOADBENCH_CHROMIUM", "/usr/bin/chromium")
    if Path(path).is_file() and os.access(path, os.X_OK):
        return path
    message = (
        f"Chromium not found at {path}: apt-get install chromium, or point "
        "UPLOADBENCH_CHROMIUM at a Chromium binary"
    )
    if os.environ.get("CI"):
        pytest.fail(message)  # CI must run this test, never skip it silently
    pytest.skip(message)


@pytest.fixture(scope="module")
def chromium() -> str:
    """The browser binary, checked before any report is rendered for it."""
    return _chromium()


@pytest.fixture(scope="module")
def nightly_report(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    specs = [*default_specs(), ScenarioSpec("<script>alert(1)</script>", None, 4096, 200, (8,))]
    results = make_results(specs=specs, repeats=5)
    comparison = make_comparison(results)
    run_dir = tmp_path_factory.mktemp("reports") / results["run_id"]
    run_dir.mkdir()
    path = write_report(
        run_dir, results, comparison=comparison, history=make_history(nights=30, specs=specs)
    )
    return {"path": path, "comparison": comparison, "results": results}


def _open(executable: str, path: Path, shot: Path) -> dict[str, Any]:
    """Open ``path`` in headless Chromium with every non-local request blocked; return what
    the page showed and what went wrong, and save a full-page screenshot to ``shot``."""
    from playwright.sync_api import Route, sync_playwright

    seen: dict[str, Any] = {"blocked": [], "errors": [], "dialogs": []}

    def only_local(route: Route) -> None:
        url = route.request.url
        if url.startswith(("file:", "data:")):
            route.continue_()
        else:
            seen["blocked"].append(url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route("**/*", only_local)
            page.on(
                "console", lambda m: seen["errors"].append(m.text) if m.type == "error" else None
            )
            page.on("pageerror", lambda exc: seen["errors"].append(str(exc)))
            page.on("dialog", lambda d: (seen["dialogs"].append(d.message), d.dismiss()))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            # every <img>, and every raster image inside an SVG, decodes
            seen["images"] = page.evaluate(
                """async () => {
                    const imgs = [...document.images];
                    const ok = imgs.every(i => i.complete && i.naturalWidth > 0);
                    const inner = [...document.querySelectorAll('svg image')];
                    for (const el of inner) {
                        const img = new Image();
                        img.src = el.getAttribute('xlink:href') || el.getAttribute('href');
                        await img.decode();
                        if (img.naturalWidth === 0) return {ok: false, inner: inner.length};
                    }
                    return {ok, imgs: imgs.length, inner: inner.length};
                }"""
            )
            seen["svg_sizes"] = page.evaluate(
                """() => [...document.querySelectorAll('svg:not([aria-hidden="true"])')]
                      .filter(s => !s.parentElement.closest('svg'))
                      .map(s => { const r = s.getBoundingClientRect();
                                  return [r.width, r.height]; })"""
            )
            seen["headline"] = {
                el: page.inner_text(f"#{el}") if page.query_selector(f"#{el}") else None
                for el in (
                    "verdict",
                    "count-regressions",
                    "count-improvements",
                    "count-failed",
                    "exit-code",
                )
            }
            seen["data"] = json.loads(page.inner_text("#report-data"))
            seen["scenario_names"] = page.eval_on_selector_all(
                ".scenario-name", "els => els.map(e => e.textContent)"
            )
            page.screenshot(path=str(shot), full_page=True)
            print(f"report screenshot: {shot}")
        finally:
            browser.close()
    return seen


def _assert_clean(path: Path, seen: dict[str, Any]) -> None:
    assert path.stat().st_size < 5 * 1024 * 1024
    assert seen["blocked"] == []
    assert seen["errors"] == []
    assert seen["dialogs"] == []
    assert seen["images"]["ok"], seen["images"]
    # figures; decorative swatches (legend keys, aria-hidden) are not figures
    text = path.read_text(encoding="utf-8")
    expected_svgs = text.count("<svg") - len(re.findall(r"<svg[^>]*aria-hidden=\"true\"", text))
    assert len(seen["svg_sizes"]) == expected_svgs
    # drawn, never collapsed (the claims' before/after bars are the smallest: 260x96)
    assert all(w > 200 and h > 60 for w, h in seen["svg_sizes"]), seen["svg_sizes"]
    head, data = seen["headline"], seen["data"]["headline"]
    assert head["verdict"]
    if data["exit_code"] is not None:
        assert head["count-regressions"] == str(data["regressions"])
        assert head["count-failed"] == str(data["failed"])
        assert head["exit-code"] == str(data["exit_code"])


def test_report_opens_offline_without_errors(
    chromium: str, nightly_report: dict[str, Any], tmp_path: Path
) -> None:
    path: Path = nightly_report["path"]
    shot = tmp_path / "report.png"
    seen = _open(chromium, path, shot)

    _assert_clean(path, seen)
    assert seen["images"]["inner"] >= 1  # the big scatters were rasterised
    assert len(seen["svg_sizes"]) > 10
    gates = [c for c in nightly_report["comparison"]["checks"] if c.get("gating")]
    assert seen["headline"]["count-regressions"] == str(
        sum(1 for c in gates if c["verdict"] == "regressed")
    )
    assert seen["headline"]["exit-code"] == str(nightly_report["comparison"]["exit_code"])
    assert seen["headline"]["verdict"].startswith("Failed: 1 regression: throughput of ")
    # the scenario named <script>alert(1)</script> stayed text (and no dialog opened)
    assert "<script>alert(1)</script>" in seen["scenario_names"]
    assert seen["data"]["run_id"] == nightly_report["results"]["run_id"]
    assert {c["claim"]: c["verdict"] for c in seen["data"]["claims"]}["memory_50mb"] == "met"
    assert shot.stat().st_size > 10_000


@pytest.fixture(scope="module")
def two_provider_report(chromium: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The nightly's shape with two scenarios measured on two providers each (kimi and
    glm), compared, with history: the page a filter must cut down."""
    specs = default_specs()[1:3]
    results = make_results(specs=specs, repeats=4)
    for scenario in results["scenarios"]:
        for trial in list(scenario["trials"]):
            other = json.loads(json.dumps(trial))
            other["provider"] = "glm"
            other["key"] = str(trial["key"]).replace("|kimi|", "|glm|")
            scenario["trials"].append(other)
        scenario["definition"]["providers"] = [{"kind": "kimi"}, {"kind": "glm"}]
    run_dir = tmp_path_factory.mktemp("two-providers") / results["run_id"]
    run_dir.mkdir()
    return write_report(
        run_dir,
        results,
        comparison=make_comparison(results),
        history=make_history(nights=10, specs=specs),
    )


# the rows the filters act on, and which are shown: (provider, scenario, shown) per row
_ROWS = """() => [...document.querySelectorAll('tr[data-provider]')]
    .map(tr => [tr.dataset.provider, tr.dataset.scenario || '', tr.offsetParent !== null])"""


def test_filters_change_what_is_shown_and_survive_a_reload(
    chromium: str, two_provider_report: Path
) -> None:
    from playwright.sync_api import sync_playwright

    path = two_provider_report
    errors: list[str] = []
    assert path.stat().st_size < 5 * 1024 * 1024
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            blocked: list[str] = []
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(("file:", "data:"))
                    else (blocked.append(route.request.url), route.abort())
                ),
            )
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.goto(path.as_uri(), wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)

            # every data row of a scenario that ran on several providers names its provider
            data = json.loads(page.inner_text("#report-data"))
            several = {
                s["name"]
                for s in data["scenarios"]
                if len({g["provider"] for g in s["groups"]}) > 1
            }
            assert several == {s["name"] for s in data["scenarios"]}
            unnamed = page.evaluate(
                """(names) => [...document.querySelectorAll('section.scenario')]
                    .filter(s => names.includes(s.dataset.scenario))
                    .flatMap(s => [...s.querySelectorAll('tbody tr')])
                    .filter(tr => !tr.dataset.provider
                                  && !['kimi', 'glm'].some(p => tr.textContent.includes(p)))
                    .map(tr => tr.textContent.trim().slice(0, 80))""",
                sorted(several),
            )
            assert unnamed == []

            rows = page.evaluate(_ROWS)
            assert {p for p, _, shown in rows if shown} == {"kimi", "glm"}
            # untick glm: its rows go, kimi's stay, and the fragment says so
            page.uncheck("#filters input[name='provider'][value='glm']")
            rows = page.evaluate(_ROWS)
            assert rows
            assert all(shown == (p == "kimi") for p, _, shown in rows)
            assert page.evaluate("location.hash") == "#only:provider=kimi"
            # a reload keeps the choice
            page.reload(wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            assert not page.is_checked("#filters input[name='provider'][value='glm']")
            assert all(shown == (p == "kimi") for p, _, shown in page.evaluate(_ROWS))
            # a second axis: one scenario only hides the other's section and its rows
            first, second = (s["name"] for s in data["scenarios"])
            page.uncheck(f"#filters input[name='scenario'][value='{second}']")
            assert page.evaluate("location.hash").startswith("#only:scenario=")
            shown_sections = page.evaluate(
                """() => [...document.querySelectorAll('section.scenario')]
                    .filter(s => s.offsetParent !== null).map(s => s.dataset.scenario)"""
            )
            assert shown_sections == [first]
            # an in-page link scrolls without dropping the choice
            page.click(f"nav [data-scenario='{first}'] a")
            assert page.evaluate("location.hash").startswith("#only:")
            page.reload(wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            visible = {(p, sc) for p, sc, shown in page.evaluate(_ROWS) if shown}
            assert visible
            assert {p for p, _ in visible} == {"kimi"}
            assert {sc for _, sc in visible} <= {first}
            # show all: everything back, the fragment gone
            page.click("#filters-reset")
            assert all(shown for _, _, shown in page.evaluate(_ROWS))
            assert page.evaluate("location.hash") == ""
        finally:
            browser.close()
    assert errors == []
    assert blocked == []
    text = path.read_text(encoding="utf-8")
    # one self-contained file: nothing loaded from elsewhere
    assert not re.search(r"<(script|img|link|iframe)[^>]+(src|href)=\"(?!data:)", text)


def test_the_first_screen_shows_the_regression_without_scrolling(
    chromium: str, nightly_report: dict[str, Any]
) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(nightly_report["path"].as_uri(), wait_until="load")
            page.wait_for_selector("body[data-ready='1']", timeout=30_000)
            seen = page.evaluate(
                """() => [...document.querySelectorAll('#regressions li')]
                    .filter(li => li.offsetParent !== null)
                    .map(li => { const r = li.getBoundingClientRect();
                                 return [li.textContent.replace(/\\s+/g, ' ').trim(),
                                         r.top >= 0 && r.bottom <= innerHeight]; })"""
            )
        finally:
            browser.close()
    assert seen
    text, in_view = seen[0]
    assert in_view, text
    assert text.startswith("throughput-10-files / kimi / async / c=8: throughput 18% slower")
    assert "18% slower (14-22%)" in text


@pytest.mark.slow
def test_real_nightly_report(chromium: str, tmp_path: Path) -> None:
    """The report of a real nightly run: the one CI's nightly job names in
    UPLOADBENCH_REPORT after ``nox -s bench``, or else a ``--quick`` run of the shipped
    nightly suite made here (about 3 minutes), so ``nox -s tests`` checks a real page."""
    target = os.environ.get("UPLOADBENCH_REPORT")
    if target:
        path = Path(target).resolve()
        assert path.is_file(), f"UPLOADBENCH_REPORT={target}: no such file"
    else:
        nightly = Path(__file__).resolve().parents[2] / "scenarios" / "nightly"
        out = tmp_path / "reports"
        command = [sys.executable, "-m", "harness", "run", str(nightly), "--quick"]
        proc = subprocess.run(
            [*command, "--reports", str(out), "--no-history"],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        assert proc.returncode in (0, 3), proc.stderr[-2000:]
        path = (out / "latest" / "index.html").resolve()
    seen = _open(chromium, path, tmp_path / "nightly.png")
    _assert_clean(path, seen)
    assert seen["data"]["scenarios"], "the nightly report lists no scenario"
    if not target:
        claims = {c["claim"]: c["verdict"] for c in seen["data"]["claims"]}
        # every row of the investigation's table was measured by a nightly scenario
        assert "not measured" not in claims.values(), claims
    print(f"nightly report: {path} ({path.stat().st_size / 1e6:.2f} MB)")
