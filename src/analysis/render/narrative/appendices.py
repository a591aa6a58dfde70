"""Report appendices drafted from the findings table, as HTML fragments.

The sample profile, the scoring approach with the criterion scores, the criteria grid,
the methods, the small-base and suppression rules, the provenance record and (for the
calibrated demo data) the reproduction of the reference report.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis import config
from analysis.engine.findings import flag_set
from analysis.render import present
from analysis.render.narrative.lookup import (
    counts,
    esc,
    n_cases,
    outcomes,
    pct,
    row,
    rows,
    score_row,
    suppressed,
)
from analysis.render.present import FDR_LEVEL, LOW, MISSING, C


def appendix_heading(anchor: str, title: str, text: str = "") -> str:
    """An appendix heading with its anchor and optional introduction."""
    intro = f"<p>{esc(text)}</p>" if text else ""
    return f'<section class="appendix" id="{esc(anchor)}"><h2>{esc(title)}</h2>{intro}</section>'


def profile_columns(findings: pd.DataFrame, instrument: Any) -> list[str]:
    """Case-detail columns with a profile in the findings, in the charts' (Appendix 2) order."""
    return present.profile_columns(rows(findings, "profile")["measure_id"], instrument)


def sample_profile_intro(findings: pd.DataFrame, trust: str) -> str:
    """Opening sentence of the sample profile appendix."""
    n = n_cases(findings)
    total = present.fmt_int(n) if n is not None else "an unknown number of"
    return (
        f"<p>In {esc(trust)} we inspected a total of {total} cases. "
        "The charts below describe them.</p>"
    )


def scoring_approach(findings: pd.DataFrame, instrument: Any) -> str:
    """How scores are computed, with the criterion scores and both averaging methods."""
    method = instrument.outcome_method
    used = (
        "the average, over all the relevant questions, of the proportion of work judged above "
        "the line (the question mean)"
        if method == "question_mean"
        else "the average of the scores of its criteria (the criterion mean)"
    )
    body = []
    for o in outcomes(instrument):
        crits = [c for c in instrument.criteria.values() if c.outcome == o.id and c.case_assessed]
        crit_scores = []
        for c in crits:
            r = row(findings, "criterion_score", measure_id=f"score_{c.id}")
            if r is None:
                continue
            if not suppressed(r) and not present.is_missing(r["percent"]):
                crit_scores.append(float(r["percent"]))
            judged = counts(r) if not present.is_missing(r["denominator"]) else MISSING
            body.append(
                f"<tr><td>{esc(c.id)}</td><th scope='row'>{esc(c.title)}</th>"
                f"<td class='num'>{esc(judged)}</td><td class='num'>{esc(pct(r))}</td></tr>"
            )
        score = score_row(findings, o.id)
        alt = sum(crit_scores) / len(crit_scores) if crit_scores else None
        body.append(
            f"<tr class='total'><td></td><th scope='row'>Outcome {o.number} score "
            f"({'question mean' if method == 'question_mean' else 'criterion mean'})</th><td></td>"
            f"<td class='num'>{present.fmt_pct(score['percent']) if score else MISSING}</td></tr>"
            f"<tr class='alt'><td></td><th scope='row'>for comparison: "
            f"{'criterion mean' if method == 'question_mean' else 'question mean'}</th><td></td>"
            f"<td class='num'>{present.fmt_pct(alt) if method == 'question_mean' else MISSING}"
            "</td></tr>"
        )
    return (
        "<p>Each scoring question records whether a piece of work was done well enough "
        "('above the line') in a case. Cases where a question did not apply are left out of "
        f"its base. This report scores each outcome as {used}, as the reference report's "
        "Appendix 5 describes. The two averages differ when criteria have very different "
        "numbers of judgements; the table shows both so readers can see how much the choice "
        "matters. Leadership and management criteria (x.4) are judged from interviews, not "
        "cases, and have no case-based score.</p>"
        '<table class="report-table criterion-table"><caption>Criterion scores</caption>'
        "<thead><tr><th scope='col'>Criterion</th><th scope='col'>Title</th>"
        "<th scope='col'>Judgements above the line (n of N)</th><th scope='col'>Score</th></tr>"
        f"</thead><tbody>{''.join(body)}</tbody></table>"
    )


def criteria_grid(instrument: Any) -> str:
    """The criteria grid (outcomes by process stage), as in the reference's Appendix 6."""
    stages = sorted(instrument.stages.values(), key=lambda s: s.number)
    head = "".join(f"<th scope='col'>{s.number}. {esc(s.name)}</th>" for s in stages)
    body = []
    for o in outcomes(instrument):
        cells = []
        for s in stages:
            cs = [c for c in instrument.criteria.values() if c.outcome == o.id and c.stage == s.id]
            cells.append("<td>" + "<br>".join(f"{esc(c.id)} {esc(c.title)}" for c in cs) + "</td>")
        body.append(f"<tr><th scope='row'>{o.number}. {esc(o.name)}</th>{''.join(cells)}</tr>")
    return (
        '<table class="report-table criteria-grid"><caption>Criteria for the inspection</caption>'
        f"<thead><tr><th scope='col'>Outcome</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def methods(findings: pd.DataFrame) -> str:
    """Intervals, tests and the false discovery rate, with the methods the findings record."""
    used = sorted({m for m in findings["method"] if m})
    listed = "".join(f"<li>{esc(m)}</li>" for m in used)
    level = int(config.CONFIDENCE_LEVEL * 100)
    return (
        f"<p><strong>Intervals.</strong> Each percentage has a {level}% interval: the range of "
        "values consistent with the cases inspected. Intervals for proportions are score "
        "(Wilson) intervals, which behave well for small bases and for proportions near 0% or "
        "100%; intervals for differences between two groups use Newcombe's hybrid score "
        "method. Wide intervals are a reminder that the sample is small.</p>"
        "<p><strong>Tests.</strong> Differences between groups are tested with Fisher's exact "
        "test, which is valid for small counts. Because many questions are compared at once, "
        "p values are adjusted with the Benjamini-Hochberg procedure and a difference is "
        f"reported only when its adjusted p value is below {FDR_LEVEL}. Groups are not randomly "
        "assigned, so a difference describes these cases and does not show a cause.</p>"
        + (f"<p>Methods recorded in the findings table:</p><ul>{listed}</ul>" if listed else "")
    )


def disclosure_notes(findings: pd.DataFrame, audience: str) -> str:
    """Which small-base and suppression rules applied for this audience."""
    flags = [flag_set(f) for f in findings["flags"]]
    n_low = sum("low" in f for f in flags)
    n_c = sum("c" in f for f in flags)
    n_sec = sum("secondary" in f for f in flags)
    low = (
        f"<p><strong>{LOW.symbol}</strong>: the base (number of relevant cases) is below "
        f"{config.LOW_BASE_THRESHOLD}. One case changes such a percentage by more than "
        f"{int(100 / config.LOW_BASE_THRESHOLD)} points, so it is shown but never quoted as a "
        f"key finding. {n_low} figures in this report's findings table carry this mark.</p>"
    )
    if audience == "publication":
        sup = (
            f"<p><strong>{C.symbol}</strong>: this is the publication version. A figure is "
            "suppressed "
            f"when its count, or the count of the remaining cases, is below "
            f"{config.SUPPRESSION_THRESHOLD}, so that no individual can be recognised; further "
            "figures are suppressed where they would let a suppressed one be worked out "
            f"(secondary suppression). {n_c} figures were suppressed directly and {n_sec} to "
            "protect them.</p>"
        )
    else:
        sup = (
            "<p><strong>Internal version.</strong> Small counts are shown so the inspection team "
            "can work with them; this version must not be published. The publication version "
            f"suppresses {C.symbol} figures whose count, or complement, is below "
            f"{config.SUPPRESSION_THRESHOLD}.</p>"
        )
    ids = (
        "<p>No case identifiers or inspectors' free-text notes are included in this report or "
        "its tables.</p>"
    )
    return low + sup + ids


def provenance_section(record: Mapping[str, Any]) -> str:
    """Provenance table: input hash, instrument, package version, parameters, run time."""
    if not record:
        return '<p class="note">No provenance record was found for this run.</p>'
    params = record.get("parameters", {}) or {}
    items = [
        ("Input file", record.get("input_file")),
        ("Input file sha256", record.get("input_sha256")),
        (
            "Instrument",
            f"{record.get('instrument_id')} version {record.get('instrument_version')}",
        ),
        ("Instrument sha256", record.get("instrument_sha256")),
        ("Analysis package version", record.get("package_version")),
        ("Python version", record.get("python_version")),
        ("Run started (UTC)", record.get("started")),
    ]
    items += [(f"Parameter: {k}", v) for k, v in sorted(params.items())]
    body = "".join(
        f"<tr><th scope='row'>{esc(k)}</th>"
        f"<td><code>{esc(v if v is not None else MISSING)}</code></td></tr>"
        for k, v in items
    )
    return (
        '<table class="report-table provenance-table"><caption>Provenance of this report</caption>'
        f"<tbody>{body}</tbody></table>"
        '<p class="note">The full record, with the sha256 of every output file, is in '
        "provenance.json next to this report.</p>"
    )


def reproduction_section(table: pd.DataFrame) -> str:
    """The check of this (synthetic) data against the reference report's published figures.

    Parameters
    ----------
    table
        ``reproduction.csv`` as written by ``python -m analysis reproduce``: figure id,
        section, wording, published, reproduced, status.
    """
    status = table["status"].str.split(" (", n=1, regex=False).str[0]
    tally = status.value_counts()
    order = ["exact", "within band", "inconsistent in source", "FAIL"]
    summary = ", ".join(f"{int(tally.get(s, 0))} {esc(s)}" for s in order)
    intro = (
        "<p>This report was produced from <strong>synthetic</strong> case data, calibrated so "
        "that the suite's own pipeline reproduces the figures published in the reference "
        "report (HMI Probation, <em>Inspection of Adult Offending Work in Norfolk and "
        f"Suffolk</em>, 2014). Of its {len(table)} quantitative statements: {summary}. "
        "<em>Exact</em>: every stated count and rounded percentage matches; <em>within "
        "band</em>: a verbal quantifier (such as 'just under two-thirds') or a stated "
        "direction holds; <em>inconsistent in source</em>: two published statements cannot "
        "both hold for any data, and the more specific one is satisfied (the reason gives the "
        "arithmetic).</p>"
    )
    body = "".join(
        "<tr>"
        + "".join(
            f"<td>{esc(r[c])}</td>"
            for c in ("figure_id", "section", "published", "reproduced", "status")
        )
        + "</tr>"
        for _, r in table.iterrows()
    )
    head = "".join(
        f'<th scope="col">{h}</th>'
        for h in ("Figure", "Section", "Published", "Reproduced", "Status")
    )
    details = (
        f"<details><summary>All {len(table)} figures</summary>"
        f'<table class="report-table"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
        "</details>"
    )
    return intro + details
