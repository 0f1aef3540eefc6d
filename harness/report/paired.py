"""The head-against-base section of a base-and-head run (``run S --base REV --head REV``).

Read from the comparison's ``paired`` key (``RunComparison.to_dict()``: the two revisions
by label and every :class:`~harness.analysis.paired.PairedCheck` as JSON); None there (a
run without revisions) means no section. Nothing is recomputed: the verdict line is
:func:`harness.compare.paired.paired_headline` (the job summary's), the revisions are
written by :func:`harness.compare.paired.revision_text`, values by the metric table's
formatter and the change with its CI by :func:`harness.report.format.fmt_change`, the
job summary's notation. Every string goes through :func:`harness.report.tables.html_table`
(pandas, escaped) or the template's autoescape.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from harness.analysis.paired import BASE, HEAD, PairedCheck
from harness.compare.paired import paired_headline, revision_text
from harness.report.format import NA, fmt_change, fmt_count, fmt_kind, fmt_metric, fmt_p
from harness.report.tables import Row, data_table, html_table, metric_title

__all__ = ["PairedSection", "paired_checks_of", "paired_section", "paired_verdict_line"]

_PAIRED_FIELDS = tuple(f.name for f in fields(PairedCheck))


@dataclass(frozen=True)
class PairedSection:
    """What the page shows of a base-and-head run, its tables as escaped HTML."""

    verdict: str  # "regression", "inconclusive" or "ok": the box's colour, as the headline's
    line: str  # the overall verdict in one line (paired_headline)
    base: str  # "main @ 1a2b3c4d"
    head: str  # "feature @ 9f8e7d6c, dirty"
    revisions: str  # table: label, ref, commit, working tree
    gating: str | None  # one row per cell and gating metric
    regressed: str | None  # the non-gating metrics that regressed
    all_checks: str | None  # every paired check with its reason (collapsed)
    check_count: int
    gating_count: int
    method: str | None  # how the verdicts were reached (alpha, CI level)


def paired_checks_of(comparison: Mapping[str, Any] | None) -> list[Mapping[str, Any]] | None:
    """The comparison's paired checks as JSON, or None when it has no ``paired`` part."""
    paired = (comparison or {}).get("paired")
    if not isinstance(paired, Mapping):
        return None
    return [c for c in paired.get("checks") or () if isinstance(c, Mapping)]


def _as_check(check: Mapping[str, Any]) -> PairedCheck:
    return PairedCheck(**{name: check[name] for name in _PAIRED_FIELDS})


def paired_verdict_line(checks: Sequence[Mapping[str, Any]]) -> str:
    """:func:`~harness.compare.paired.paired_headline` of the checks read back from JSON; a
    check this version cannot read back (a field or metric it does not know) gets a plain
    count of the gating verdicts instead, never a crash."""
    try:
        return paired_headline([_as_check(c) for c in checks])
    except (KeyError, TypeError):
        gating = [c for c in checks if c.get("gating")]
        counts = [
            f"{sum(1 for c in gating if c.get('verdict') == v)} {v}"
            for v in ("regressed", "inconclusive", "improved", "unchanged")
        ]
        return f"{', '.join(counts)} of {len(gating)} gating check(s)"


def _box(checks: Sequence[Mapping[str, Any]]) -> str:
    """The verdict class of the section, from its gating checks: any regression first, then
    anything undecided (no gating check at all included)."""
    verdicts = {c.get("verdict") for c in checks if c.get("gating")}
    if "regressed" in verdicts:
        return "regression"
    if not verdicts or "inconclusive" in verdicts:
        return "inconclusive"
    return "ok"


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _change(check: Mapping[str, Any]) -> str:
    """``+8.0% [+2.1%, +14.3%]`` (ratio - 1) or the difference (pp for fractions)."""
    metric, scale = str(check.get("metric", "")), str(check.get("scale", "ratio"))
    low, high = _number(check.get("ci_low")), _number(check.get("ci_high"))
    if scale == "ratio":
        ratio = _number(check.get("ratio"))
        effect = None if ratio is None else ratio - 1.0
        ci = None if low is None or high is None else (low - 1.0, high - 1.0)
    else:
        effect = _number(check.get("delta"))
        ci = None if low is None or high is None else (low, high)
    return fmt_change(metric, scale, effect, ci)


def _pairs(check: Mapping[str, Any]) -> str:
    text = fmt_count(check.get("n_pairs"))
    processes = check.get("n_processes")
    if processes is not None:
        text += f" ({fmt_count(processes)} process{'' if processes == 1 else 'es'}"
        dropped = _number(check.get("n_dropped"))
        text += f", {fmt_count(dropped)} dropped)" if dropped else ")"
    return text


def _rows(
    checks: Sequence[Mapping[str, Any]], *, sized: bool, reasons: bool = False
) -> list[dict[str, str]]:
    rows = []
    for c in checks:
        metric = str(c.get("metric", ""))
        size = c.get("size")
        row = {
            "scenario": str(c.get("scenario", "")),
            "provider": str(c.get("provider", "")),
            "variant": str(c.get("variant", "")),
            "c": NA if c.get("concurrency") is None else str(c.get("concurrency")),
            **({"size": fmt_kind("bytes", size) if size is not None else NA} if sized else {}),
            "metric": metric_title(metric),
            "base (median)": fmt_metric(metric, c.get("base_median")),
            "head (median)": fmt_metric(metric, c.get("head_median")),
            "head vs base [CI]": _change(c),
            "p": fmt_p(c.get("p_value")),
            "pairs": _pairs(c),
            "verdict": str(c.get("verdict", "")),
        }
        if reasons:
            row["gates"] = "yes" if c.get("gating") else "no"
            row["reason"] = str(c.get("reason") or "")
        rows.append(row)
    return rows


def _table(
    checks: Sequence[Mapping[str, Any]], *, sized: bool, reasons: bool = False
) -> str | None:
    """One row per check, each ``<tr>`` carrying its cell for the page's filters."""
    rows = _rows(checks, sized=sized, reasons=reasons)
    if not rows:
        return None
    table = [
        Row(
            row,
            scenario=str(c.get("scenario") or "") or None,
            provider=str(c.get("provider") or "") or None,
            variant=str(c.get("variant") or "") or None,
        )
        for c, row in zip(checks, rows, strict=True)
    ]
    return data_table(table, list(rows[0]))


def _revisions_table(revisions: Mapping[str, Any]) -> str:
    rows = []
    for label in (BASE, HEAD):
        rev = revisions.get(label)
        rev = rev if isinstance(rev, Mapping) else {}
        commit = rev.get("commit")
        rows.append(
            {
                "revision": label,
                "ref": str(rev.get("ref") or NA),
                "commit": str(commit)[:8] if commit else "(no commit)",
                "working tree": ("dirty (uncommitted changes)" if rev.get("dirty") else "clean")
                if rev
                else NA,
            }
        )
    return html_table(rows, ["revision", "ref", "commit", "working tree"])


def _method(checks: Sequence[Mapping[str, Any]]) -> str | None:
    alphas = sorted({a for c in checks if (a := _number(c.get("alpha"))) is not None})
    if not alphas:
        return None
    alpha = ", ".join(f"{a:.3g}" for a in alphas)
    return (
        "Pairs: the base and head trials of one worker process and round. Change: head/base "
        "as exp(mean log-ratio) (fractions: the mean difference in percentage points), with "
        f"a {(1 - alphas[0]) * 100:.4g}% cluster-bootstrap CI over processes and pairs; p: "
        f"Wilcoxon signed-rank; alpha {alpha} per check. "
        "A change needs the CI to exclude no change and p < alpha; unchanged means the CI "
        "lies inside the metric's minimum effect."
    )


def paired_section(comparison: Mapping[str, Any] | None) -> PairedSection | None:
    """The section of a comparison with a ``paired`` part; None without one."""
    checks = paired_checks_of(comparison)
    if checks is None:
        return None
    paired = (comparison or {}).get("paired") or {}
    revisions = paired.get("revisions")
    revisions = revisions if isinstance(revisions, Mapping) else {}
    sized = any(c.get("size") is not None for c in checks)
    gating = [c for c in checks if c.get("gating")]
    worse = [c for c in checks if not c.get("gating") and c.get("verdict") == "regressed"]
    return PairedSection(
        verdict=_box(checks),
        line=paired_verdict_line(checks),
        base=revision_text(revisions.get(BASE)),
        head=revision_text(revisions.get(HEAD)),
        revisions=_revisions_table(revisions),
        gating=_table(gating, sized=sized),
        regressed=_table(worse, sized=sized),
        all_checks=_table(checks, sized=sized, reasons=True),
        check_count=len(checks),
        gating_count=len(gating),
        method=_method(checks),
    )
