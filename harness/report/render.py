"""``render_report``: results (+ comparison, history) -> one self-contained HTML string.

Pure: no clock, no disk, no network. The same input gives the same bytes (fixed SVG hash
salts, no dates), so two reports can be diffed. Every string from a scenario file is
escaped by jinja2's autoescape or by pandas; the embedded JSON is escaped so that it cannot
close its ``<script>`` element.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import fields
from importlib import resources
from typing import Any, cast
from urllib.parse import quote

import jinja2
from markupsafe import Markup

from harness.analysis.ablation import ablation_rows
from harness.analysis.changepoints import CONFIRM
from harness.analysis.claims import ClaimRow, claim_rows, network_text, tls_text
from harness.analysis.memory import memory_slope_by_variant
from harness.analysis.summary import sample_time
from harness.metrics import METRIC_TABLE, METRICS
from harness.report import checks as check_tables
from harness.report import tables
from harness.report.figures import claims_view, trend_figures, trends_view
from harness.report.format import fmt_metric
from harness.report.headline import (
    Change,
    Headline,
    check_size,
    check_where,
    headline,
    undecided,
    verdict_sentence,
    what_changed,
)
from harness.report.micro import micro_rows, micro_table
from harness.report.paired import (
    PairedSection,
    paired_checks_of,
    paired_section,
    paired_verdict_line,
)
from harness.report.plots import Plotter
from harness.report.pooling import pooling_section
from harness.report.steps import open_steps_table, trend_steps
from harness.report.tables import row_attributes
from harness.report.trends import history_series
from harness.report.view import ScenarioData, scenarios_of
from harness.report.warnings import report_advice
from harness.results.contract import ResultsDoc, ScenarioDoc, TrialDoc, is_base_trial

__all__ = ["REPORT_DATA_VERSION", "render_report", "report_data"]

# Version of the JSON in <script id="report-data">; bump when its shape changes.
# 3: "paired" (head against base of a base-and-head run) and headline "paired".
# 4: "changes" (the first screen's regressions and improvements: size, since when).
# 5: claims carry their variants, network and TLS.
REPORT_DATA_VERSION = 5

# The medians of every cell in the embedded JSON: every metric timing trials carry.
_SUMMARY_METRICS = tuple(m.name for m in METRIC_TABLE if m.source == "trial")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.PackageLoader("harness.report", "templates"),
        autoescape=True,  # every template, whatever its name: scenario strings are untrusted
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def _clean(value: Any) -> Any:
    """JSON-safe: NaN and infinities become null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def _script_json(data: Any) -> Markup:
    text = json.dumps(_clean(data), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    # "</script>" or "<!--" inside a string must not end or confuse the script element
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return Markup(text)  # noqa: S704 - escaped above for the script-data context


# The page's only executable script: the filters (templates/report.js), then the flag the
# browser tests wait for. Its hash goes into the Content-Security-Policy, so a script that
# escaping ever let through would still not run.
_FILTER_SCRIPT = (
    resources.files("harness.report").joinpath("templates/report.js").read_text(encoding="utf-8")
)
_READY_SCRIPT = (
    _FILTER_SCRIPT + "document.body.dataset.ready = '1';  // browser tests wait for this flag"
)
_READY_HASH = base64.b64encode(hashlib.sha256(_READY_SCRIPT.encode()).digest()).decode()

_SCHEME = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")


def _relative_link(path: object, prefix: str) -> str | None:
    """A link to a run artefact (flame graph), only if it is a plain relative path:
    an absolute path or any scheme (``http:``, ``javascript:``) is refused."""
    if not isinstance(path, str) or not path:
        return None
    if _SCHEME.match(path) or path.startswith(("/", "\\")) or "\\" in path:
        return None
    if any(part == ".." for part in path.split("/")):
        return None
    return quote(prefix + path, safe="/._-~")


def report_data(
    results: Mapping[str, Any],
    scenarios: Sequence[ScenarioData],
    claims: Sequence[ClaimRow],
    head: Headline,
    warnings: Sequence[str],
    checks: Sequence[Mapping[str, Any]] = (),
    paired: Mapping[str, Any] | None = None,
    changes: Sequence[Change] = (),
) -> dict[str, Any]:
    """The machine-readable summary embedded in the page; ``paired`` is the comparison's
    ``paired`` part (None for a run without revisions), ``changes`` the first screen's
    regressions and improvements."""
    paired_checks = paired_checks_of({"paired": paired})
    return {
        "report_data_version": REPORT_DATA_VERSION,
        "run_id": results.get("run_id"),
        "started_at": results.get("started_at"),
        "complete": results.get("complete", True),
        "headline": {
            "verdict": head.verdict,
            "exit_code": head.exit_code,
            "regressions": head.regressions,
            "improvements": head.improvements,
            "unchanged": head.unchanged,
            "inconclusive": head.inconclusive,
            "failed": head.failed,
            "passed": head.passed,
            "paired": head.paired,
            "failures": [
                {"kind": f.kind, "where": f.where, "metric": f.metric, "reason": f.reason}
                for f in head.failures
            ],
        },
        "claims": [
            {
                "claim": r.claim.key,
                "scenario": r.scenario,
                "provider": r.provider,
                "metric": r.metric,
                "before_variant": r.before_variant,
                "after_variant": r.after_variant,
                "before": r.before,
                "after": r.after,
                "verdict": r.verdict,
                "network": r.network,
                "tls": r.tls,
            }
            for r in claims
        ],
        "scenarios": [
            {
                "name": s.name,
                "baseline": s.baseline,
                "groups": [
                    {
                        "provider": g.provider,
                        "variant": g.variant,
                        "concurrency": g.concurrency,
                        "repeats": len(g.trials),
                        "median": {m: g.median(m) for m in _SUMMARY_METRICS},
                    }
                    for g in s.groups
                ],
            }
            for s in scenarios
        ],
        "warnings": list(warnings),
        "changes": [
            {
                "direction": c.direction,
                "kind": c.kind,
                "scenario": c.scenario,
                "provider": c.provider,
                "variant": c.variant,
                "concurrency": c.concurrency,
                "metric": c.metric,
                "size": c.size,
                "since": c.since,
                "gating": c.gating,
            }
            for c in changes
        ],
        # every field of every check, kinds and fields this page does not know included
        "checks": [dict(c) for c in checks],
        # head against base: the revisions, the verdict line and every paired check
        "paired": (
            None
            if paired_checks is None or paired is None
            else {
                "revisions": dict(paired.get("revisions") or {}),
                "verdict": paired_verdict_line(paired_checks),
                "checks": [dict(c) for c in paired_checks],
            }
        ),
    }


def render_report(
    results: Mapping[str, Any],
    *,
    comparison: Mapping[str, Any] | None = None,
    history: Sequence[Mapping[str, Any]] | None = None,
    environment_warnings: Sequence[str] = (),
    asset_prefix: str = "",
    micro: Mapping[str, Any] | None = None,
    micro_previous: Mapping[str, Any] | None = None,
) -> str:
    """The HTML report of one run.

    ``comparison`` is ``RunComparison.to_dict()``; ``history`` the earlier nights' summaries
    (oldest first or in any order: they are sorted by ``started_at``). ``asset_prefix`` is
    prepended to the relative links of run artefacts (flame graphs) when the page is written
    somewhere else than the run directory. ``micro``/``micro_previous`` are pytest-benchmark
    JSON documents of this run and an earlier one. Missing parts render as "not measured"
    notes.
    """
    scenarios = scenarios_of(results)
    # a base-and-head run's tables describe the head: base trials enter the pairs only
    # (the view's cells already take trials through the contract's timing rule)
    head_docs = _head_scenarios(results)
    claims = claim_rows(head_docs)
    ablations = {str(s.get("name", "")): ablation_rows(s) for s in head_docs}
    head = headline(comparison)
    paired = paired_section(comparison)
    paired_part = (comparison or {}).get("paired") if paired is not None else None
    advice = report_advice(
        results, scenarios, history=history, comparison=comparison, extra=environment_warnings
    )
    warnings = [a.text for a in advice]
    regressions, improvements = what_changed(comparison, history, results)
    by_name = {s.name: s for s in scenarios}
    open_checks = [
        _undecided_view(c, by_name.get(str(c.get("scenario")))) for c in undecided(comparison)
    ]
    checks = list((comparison or {}).get("checks") or ())
    series = history_series(history, results) if history else {}
    # change points of the plotted series (the detector, pure): markers and pending steps
    steps = trend_steps(series, results)
    plotter = Plotter()
    sections = []
    for index, scenario in enumerate(scenarios):
        mine = [c for c in checks if c.get("scenario") == scenario.name]
        flamegraphs = []
        for trial in scenario.profiled:
            profile = trial.get("profile") or {}
            link = _relative_link(profile.get("flamegraph"), asset_prefix)
            if link:
                flamegraphs.append(
                    {
                        "href": link,
                        "label": f"{trial.get('variant')} c={trial.get('concurrency')} "
                        f"({trial.get('provider')})",
                        "peak": profile.get("heap_peak_bytes")
                        or (trial.get("metrics") or {}).get("heap_peak_bytes"),
                    }
                )
        sections.append(
            {
                "anchor": f"scenario-{index + 1}",
                "name": scenario.name,
                "baseline": scenario.baseline,
                "claim": scenario.claim,
                # where it ran: "regional (50 ms RTT)", "TLS 1.3" (the claims table's words)
                "conditions": f"{network_text(scenario.definition)}, "
                f"{tls_text(scenario.definition)}",
                "description": str(scenario.definition.get("description") or ""),
                "measured": Markup(tables.measured_table(scenario)) if scenario.groups else None,  # noqa: S704
                "variants": _markup(tables.variants_table(scenario)),
                "ablation": _markup(
                    tables.ablation_table(ablations.get(scenario.name, []), scenario.name)
                ),
                "pivot": _markup(check_tables.checks_pivot(mine, scenario)),
                "gates": _markup(check_tables.gates_table(mine)),
                "all_checks": _markup(check_tables.checks_table(mine, scenario)) if mine else None,
                "check_count": len(mine),
                "latency_cdf": _markup(plotter.latency_cdf(scenario)),
                "scatter": _markup(plotter.upload_scatter(scenario)),
                "throughput": _markup(plotter.throughput(scenario)),
                "memory": _markup(plotter.memory_over_time(scenario)),
                "flamegraphs": [
                    {**f, "peak": fmt_metric("heap_peak_bytes", f["peak"])} for f in flamegraphs
                ],
                "loop_lag": _markup(tables.loop_lag_table(scenario)),
                "faults": _markup(tables.faults_table(scenario)),
                # one chart per metric, every provider: nights by date, the history
                # check's noise band, change points, base and head (figures.py)
                "trends": trends_view(
                    trend_figures(
                        scenario.name,
                        scenario.providers,
                        scenario.variants,
                        series,
                        run_id=str(results.get("run_id")),
                        checks=mine,
                        steps=steps,
                        paired=paired_part,
                    )
                )
                if series
                else None,
                "open_steps": _markup(open_steps_table(scenario.name, steps, comparison)),
                "failed": [
                    f"{t.get('key') or t.get('variant')}"
                    + (" (base revision)" if is_base_trial(t) else "")
                    + f": {t.get('error') or 'no message'}"
                    for t in scenario.failed
                ],
                # the paired checks of this scenario, for the pivot's note
                "paired_checks": any(c.get("kind") == "paired" for c in mine),
            }
        )
    names = {s.name for s in scenarios}
    elsewhere = [c for c in checks if c.get("scenario") not in names]
    env = results.get("environment") or {}
    template = _environment().get_template("report.html")
    return template.render(
        run_id=str(results.get("run_id") or "unknown run"),
        # said on the first screen, not only in the folded advice
        incomplete=not results.get("complete", True),
        started_at=str(results.get("started_at") or ""),
        finished_at=str(results.get("finished_at") or ""),
        # the analysis layer's sentence, as the console prints it
        sample_efficiency=sample_time(cast(ResultsDoc, results)).message,
        head=head,
        commit=str(env.get("git_commit") or "")[:12],
        sentence=verdict_sentence(head, regressions, improvements),
        regressions=[_change_view(c) for c in regressions],
        improvements=[_change_view(c) for c in improvements],
        changes=[
            ("regressions", "Regressions", _change_groups(regressions), "bad"),
            ("improvements", "Improvements", _change_groups(improvements), "good"),
        ],
        advice=advice,
        undecided=open_checks,
        filters=_filters(scenarios),
        paired=_paired_view(paired),
        other_checks=_markup(check_tables.checks_table(elsewhere)) if elsewhere else None,
        claims=Markup(tables.claims_table(claims)),  # noqa: S704 - pandas escaped it
        claims_measured=any(r.verdict != "not measured" for r in claims),
        claim_figures=claims_view(claims),
        memory_vs_size=_markup(plotter.memory_vs_size(scenarios)),
        memory_slopes=_memory_slopes(scenarios),
        # the pooling gain over RTT and TLS (issue 16); None: the page leaves it out
        pooling=pooling_section(head_docs, plotter),
        sections=sections,
        micro=_markup(micro_table(micro_rows(micro, micro_previous))) if micro else None,
        warnings=warnings,
        has_history=bool(history),
        confirm_nights=CONFIRM,
        history_nights=len({str(e.get("run_id")) for e in history or ()}),
        environment=Markup(tables.environment_table(env)) if env else None,  # noqa: S704
        packages=_markup(tables.packages_table(env)),
        data=_script_json(
            report_data(
                results,
                scenarios,
                claims,
                head,
                warnings,
                checks,
                paired_part,
                (*regressions, *improvements),
            )
        ),
        ready_script=Markup(_READY_SCRIPT),  # noqa: S704 - a constant of this module
        ready_hash=_READY_HASH,
    )


def _change_view(change: Change) -> dict[str, Any]:
    """A change for the first screen, with the filters' attributes."""
    view: dict[str, Any] = {f.name: getattr(change, f.name) for f in fields(change)}
    view["where"] = change.where
    view["attrs"] = Markup(  # noqa: S704 - row_attributes escapes every value
        row_attributes(change.scenario or None, change.provider or None, change.variant or None)
    )
    return view


def _undecided_view(check: Mapping[str, Any], scenario: ScenarioData | None) -> dict[str, Any]:
    """An undecided gating check for the first screen: where, what, the change so far and
    what would decide it (:func:`harness.report.checks.decide_text`)."""
    metric = str(check.get("metric") or "")
    row = METRICS.get(metric)
    return {
        "where": check_where(check),
        "title": row.title if row is not None else ("every metric" if metric == "*" else metric),
        "size": check_size(check) if check.get("ratio") is not None else "",
        "against": str(check.get("baseline") or ""),
        "decide": check_tables.decide_text(check, scenario) or str(check.get("reason") or ""),
        "attrs": Markup(  # noqa: S704 - row_attributes escapes every value
            row_attributes(
                str(check.get("scenario") or "") or None,
                str(check.get("provider") or "") or None,
                str(check.get("variant") or "") or None,
            )
        ),
    }


def _change_groups(changes: Sequence[Change]) -> list[dict[str, Any]]:
    """The first screen's lines: one per cell and comparison (where, since when, gating
    or not), its changes in their order (largest first), so a cell whose throughput and
    latencies all moved reads as one line with one commit range."""
    groups: dict[tuple[str, str, bool, str], dict[str, Any]] = {}
    for change in changes:
        key = (change.where, change.since, change.gating, change.kind)
        group = groups.setdefault(key, {**_change_view(change), "parts": [], "count": 0})
        group["parts"].append({"title": change.title, "size": change.size})
        group["count"] += 1
    return list(groups.values())


def _filters(scenarios: Sequence[ScenarioData]) -> list[tuple[str, list[str]]]:
    """The filter bar's choices: every scenario, provider and variant of the page, for the
    axes with two values or more (one value has nothing to choose)."""
    axes = {
        "scenario": [s.name for s in scenarios],
        "provider": sorted({p for s in scenarios for p in s.providers}),
        "variant": list(dict.fromkeys(v for s in scenarios for v in s.variants)),
    }
    return [(axis, values) for axis, values in axes.items() if len(values) > 1]


def _paired_view(section: PairedSection | None) -> dict[str, Any] | None:
    """The head-against-base section for the template, its tables marked safe (our own
    table builder escaped every cell)."""
    if section is None:
        return None
    view: dict[str, Any] = {f.name: getattr(section, f.name) for f in fields(section)}
    for name in ("revisions", "gating", "regressed", "all_checks"):
        view[name] = _markup(view[name])
    return view


def _head_scenarios(results: Mapping[str, Any]) -> list[ScenarioDoc]:
    """The run's scenarios without the base revision's trials
    (:func:`harness.results.contract.is_base_trial`): what the claims and the ablation
    measure, so a profiled base trial's heap peak never mixes with the head's."""
    out: list[ScenarioDoc] = []
    for scenario in results.get("scenarios") or ():
        trials = list(scenario.get("trials") or ())
        kept = [t for t in trials if not is_base_trial(t)]
        out.append(
            cast(
                ScenarioDoc, scenario if len(kept) == len(trials) else {**scenario, "trials": kept}
            )
        )
    return out


def _by_provider(scenarios: Sequence[ScenarioData]) -> dict[str, list[Mapping[str, Any]]]:
    """Every scenario's profiled trials per provider: a file size sweep may span scenarios,
    but providers differ by design and are never pooled."""
    out: dict[str, list[Mapping[str, Any]]] = {}
    for scenario in scenarios:
        for trial in scenario.profiled:
            out.setdefault(str(trial.get("provider") or ""), []).append(trial)
    return out


def _memory_slopes(scenarios: Sequence[ScenarioData]) -> list[str]:
    """One line per (provider, variant) whose profiled trials cover two sizes or more: heap
    bytes per byte of file (about 1 when the file is held whole, near 0 when streamed), as
    :func:`harness.analysis.memory.memory_slope_by_variant` fits it (the fit thresholds read)."""
    per_provider = _by_provider(scenarios)
    lines = []
    for provider, trials in sorted(per_provider.items()):
        for variant, fit in sorted(memory_slope_by_variant(cast(list[TrialDoc], trials)).items()):
            name = f"{provider} / {variant}" if len(per_provider) > 1 else variant
            quality = (
                f"r² {fit.r_squared:.2f}, {fit.n} trials"
                if fit.r_squared is not None and math.isfinite(fit.r_squared)
                else f"{fit.n} trials"
            )
            # "+ 0.0" turns a rounded -0.0 into 0.0: "-0.00" would read as a real negative
            lines.append(f"{name}: {round(fit.slope, 2) + 0.0:.2f} B per B of file ({quality})")
    return lines


def _markup(html: str | None) -> Markup | None:
    """Trusted HTML from our own table and SVG builders (they escape their inputs)."""
    return Markup(html) if html is not None else None  # noqa: S704
