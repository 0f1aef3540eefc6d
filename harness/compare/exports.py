"""CI exports of a comparison: JUnit XML, a GitHub-flavoured markdown job summary, and
Bencher Metric Format JSON. Pure functions from a :class:`RunComparison` (or a results
document, for BMF) to text; the command writes them."""

from __future__ import annotations

import json
from collections.abc import Sequence
from xml.etree import ElementTree as ET

from harness.analysis import stats
from harness.analysis.cells import cell_samples, variant_order
from harness.compare.model import Check, RunComparison
from harness.errors import EXIT_ERROR, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_REGRESSION
from harness.metrics import METRIC_NAMES, MISSING
from harness.results.contract import ResultsDoc

__all__ = ["markdown_text", "to_bmf", "to_junit_xml", "to_markdown"]


def _fmt(value: float | None, digits: int = 3) -> str:
    return MISSING if value is None else f"{value:.{digits}g}"


def _ci(check: Check) -> str:
    if check.ci_low is None or check.ci_high is None:
        return MISSING
    return f"[{check.ci_low:.3f}, {check.ci_high:.3f}]"


def to_junit_xml(comparison: RunComparison) -> str:
    """JUnit XML: one testcase per check. Failures are exactly what makes the exit code 1
    (gating regressions, failed thresholds); inconclusive checks are skipped; a non-gating
    regression (a variant slower than the baseline variant: the finding, not a fault)
    passes with the verdict in its output, so CI dashboards agree with the gate."""
    checks = comparison.checks
    failures = sum(c.failed and c.gating for c in checks)
    skipped = sum(c.verdict == "inconclusive" for c in checks)
    counts = {"tests": str(len(checks)), "failures": str(failures), "skipped": str(skipped)}
    root = ET.Element("testsuites", {"name": "uploadbench", **counts, "errors": "0"})
    suite_name = f"uploadbench compare {comparison.run_id} against {comparison.against}"
    suite = ET.SubElement(root, "testsuite", {"name": suite_name, **counts, "errors": "0"})
    for check in checks:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": check.label or check.scenario,
                "name": f"{check.kind}: {check.metric} vs {check.baseline}",
            },
        )
        message = f"{check.verdict}: {check.reason}"
        if check.failed and check.gating:
            failure = ET.SubElement(case, "failure", {"message": message, "type": check.verdict})
            failure.text = message
        elif check.verdict == "inconclusive":
            ET.SubElement(case, "skipped", {"message": message})
        else:
            note = "" if check.gating else " (not gating)"
            ET.SubElement(case, "system-out").text = f"{check.verdict}{note}: {check.reason}"
    ET.indent(root)
    body: str = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="utf-8"?>\n' + body + "\n"


def markdown_text(text: str) -> str:
    """User text (scenario names, variant specs) made safe for a markdown table: it can
    neither break the table nor inject HTML into a job summary."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("|", "\\|")
        .replace("\n", " ")
    )


_ICON = {
    "regressed": "🔴 regressed",
    "fail": "🔴 fail",
    "improved": "🟢 improved",
    "pass": "🟢 pass",
    "unchanged": "⚪ unchanged",
    "inconclusive": "🟡 inconclusive",
}


_RULES = ("threshold", "trigger")


def _md_table(checks: Sequence[Check]) -> list[str]:
    lines = [
        "| where | kind | metric | against | verdict | ratio | CI (95%; paired: 1 - alpha) "
        "| p | n | reason |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for c in checks:
        # a rule's n would read as samples: a threshold has medians, a trigger cells and runs
        n = f"{c.n_baseline}/{c.n_candidate}" if c.kind not in _RULES else MISSING
        lines.append(
            f"| {markdown_text(c.label)} | {c.kind} | `{markdown_text(c.metric)}` | "
            f"{markdown_text(c.baseline)} | "
            f"{_ICON[c.verdict]} | {_fmt(c.ratio)} | {_ci(c)} | {_fmt(c.p_value, 2)} | {n} | "
            f"{markdown_text(c.reason)} |"
        )
    return lines


def to_markdown(comparison: RunComparison) -> str:
    """A GitHub job summary: the headline, head against base (a base-and-head run), every
    gating check that is not plainly fine, then all checks in a collapsed section."""
    status = {
        EXIT_OK: "✅ ok",
        EXIT_REGRESSION: "❌ regression, failed threshold or data lost",
        EXIT_INCONCLUSIVE: "🟡 inconclusive",
        EXIT_ERROR: "❌ harness errors",
    }.get(comparison.exit_code, "?")
    lines = [
        f"## uploadbench: {status} (exit {comparison.exit_code})",
        "",
        f"Run `{markdown_text(comparison.run_id)}`: {markdown_text(comparison.headline)}.",
        "",
    ]
    if comparison.revisions is not None:
        # a base-and-head run: what a pull request's reader came for, first
        from harness.compare.paired import paired_markdown

        lines += [paired_markdown(comparison.paired, comparison.revisions), ""]
    # paired checks have their own section above
    attention = [
        c
        for c in comparison.checks
        if c.gating and c.verdict not in ("pass", "unchanged") and c.kind != "paired"
    ]
    if attention:
        lines += ["### Gating checks that need a look", "", *_md_table(attention), ""]
    others = [
        c
        for c in comparison.checks
        if c.verdict in ("regressed", "improved") and not c.gating and c.kind != "paired"
    ]
    if others:
        lines += ["### Other changes (not gating)", "", *_md_table(others), ""]
    if comparison.notes:
        lines += ["### Notes", "", *[f"- {markdown_text(n)}" for n in comparison.notes], ""]
    if comparison.checks:
        lines += [
            f"<details><summary>All {len(comparison.checks)} checks</summary>",
            "",
            *_md_table(comparison.checks),
            "",
            "</details>",
            "",
        ]
    return "\n".join(lines)


def to_bmf(results: ResultsDoc) -> str:
    """Bencher Metric Format JSON: one benchmark per ``scenario/provider/variant/c=N``, one
    measure per metric: the median over repeats with the smallest and largest repeat as
    ``lower_value``/``upper_value``. Heap peaks come from profiled trials, timings never."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for scenario in results["scenarios"]:
        samples = cell_samples(scenario)
        order = {v: i for i, v in enumerate(variant_order(scenario))}
        for key in sorted(samples, key=lambda k: (k[0], k[2], order.get(k[1], 0))):
            provider, variant, concurrency = key
            name = "/".join(p for p in (scenario["name"], provider, variant) if p)
            measures: dict[str, dict[str, float]] = {}
            for metric in METRIC_NAMES:
                values = samples[key].get(metric)
                if values:
                    measures[metric] = {
                        "value": stats.median(values),
                        "lower_value": min(values),
                        "upper_value": max(values),
                    }
            if measures:
                out[f"{name}/c={concurrency}"] = measures
    return json.dumps(out, indent=1, allow_nan=False) + "\n"
