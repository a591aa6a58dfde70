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
from analysis.render.html import render
from analysis.render.narrative.lookup import (
    counts,
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
    return render("appendix_heading.html.j2", anchor=anchor, title=title, text=text)


def profile_columns(findings: pd.DataFrame, instrument: Any) -> list[str]:
    """Case-detail columns with a profile in the findings, in the charts' (Appendix 2) order."""
    return present.profile_columns(rows(findings, "profile")["measure_id"], instrument)


def sample_profile_intro(findings: pd.DataFrame, trust: str) -> str:
    """Opening sentence of the sample profile appendix."""
    n = n_cases(findings)
    total = present.fmt_int(n) if n is not None else "an unknown number of"
    return render("sample_profile_intro.html.j2", trust=trust, total=total)


def scoring_approach(findings: pd.DataFrame, instrument: Any) -> str:
    """How scores are computed, with the criterion scores and both averaging methods."""
    method = instrument.outcome_method
    w = present.words(instrument)
    used = (
        f"the average, over all the relevant {w.word('question_word', plural=True)}, of the "
        f"proportion of work {w.say('judged_above_line')} (the question mean)"
        if method == "question_mean"
        else "the average of the scores of its criteria (the criterion mean)"
    )
    mean, other = "question mean", "criterion mean"
    if method != "question_mean":
        mean, other = other, mean
    body = []
    for o in outcomes(instrument):
        crits = [c for c in instrument.criteria.values() if c.outcome == o.id and c.case_assessed]
        crit_scores = []
        shown = []
        for c in crits:
            r = row(findings, "criterion_score", measure_id=f"score_{c.id}")
            if r is None:
                continue
            if not suppressed(r) and not present.is_missing(r["percent"]):
                crit_scores.append(float(r["percent"]))
            judged = counts(r) if not present.is_missing(r["denominator"]) else MISSING
            shown.append({"id": c.id, "title": c.title, "judged": judged, "pct": pct(r)})
        score = score_row(findings, o.id)
        alt = sum(crit_scores) / len(crit_scores) if crit_scores else None
        body.append(
            {
                "number": o.number,
                "label": present.words(instrument).say("unit_score", number=o.number, name=o.name),
                "criteria": shown,
                "method": mean,
                "other": other,
                "score": present.fmt_pct(score["percent"]) if score else MISSING,
                "alt": present.fmt_pct(alt) if method == "question_mean" else MISSING,
            }
        )
    w = present.words(instrument)
    intro = w.say("scoring_appendix", method=used)
    return render(
        "scoring_approach.html.j2",
        intro=intro,
        outcomes=body,
        criterion=w.word("criterion_word", capital=True),
        judgements_column=w.say("judgements_column"),
    )


def criteria_grid(instrument: Any) -> str:
    """The criteria grid (outcomes by process stage), as in the reference's Appendix 6."""
    stages = sorted(instrument.stages.values(), key=lambda s: s.number)
    w = present.words(instrument)
    body = [
        {
            "heading": w.say("unit_name", number=o.number, name=o.name),
            "cells": [
                [
                    f"{c.id} {c.title}"
                    for c in instrument.criteria.values()
                    if c.outcome == o.id and c.stage == s.id
                ]
                for s in stages
            ],
        }
        for o in outcomes(instrument)
    ]
    headings = [f"{s.number}. {s.name}" for s in stages]
    return render(
        "criteria_grid.html.j2",
        stages=headings,
        outcomes=body,
        caption=w.say("criteria_caption"),
        unit=w.Unit,
    )


def methods(findings: pd.DataFrame) -> str:
    """Intervals, tests and the false discovery rate, with the methods the findings record."""
    used = sorted({m for m in findings["method"] if m})
    return render(
        "methods.html.j2",
        used=used,
        level=int(config.CONFIDENCE_LEVEL * 100),
        fdr=FDR_LEVEL,
    )


def disclosure_notes(findings: pd.DataFrame, audience: str) -> str:
    """Which small-base and suppression rules applied for this audience."""
    flags = [flag_set(f) for f in findings["flags"]]
    return render(
        "disclosure_notes.html.j2",
        low_symbol=LOW.symbol,
        c_symbol=C.symbol,
        low_threshold=config.LOW_BASE_THRESHOLD,
        low_points=int(100 / config.LOW_BASE_THRESHOLD),
        threshold=config.SUPPRESSION_THRESHOLD,
        publication=audience == "publication",
        n_low=sum("low" in f for f in flags),
        n_c=sum("c" in f for f in flags),
        n_sec=sum("secondary" in f for f in flags),
    )


def provenance_section(record: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> str:
    """Provenance table: input hash, instrument, package version, parameters, run time.

    ``extra`` rows follow the run's (the aggregate lists each organisation's input).
    """
    if not record:
        return render("note.html.j2", text="No provenance record was found for this run.")
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
    rules = record.get("consistency_warnings")
    if isinstance(rules, Mapping):  # records written before the rules existed have none
        counts = rules.get("rules") or {}
        listed = ", ".join(f"{k} ({v})" for k, v in sorted(counts.items()))
        items.append(
            (
                "Consistency-rule warnings (cases)",
                f"{rules.get('total', 0)}: {listed}" if counts else "none",
            )
        )
    items += [(f"Parameter: {k}", v) for k, v in sorted(params.items())]
    if record.get("input_sha256") is None and extra:
        # A run on others' outputs (the aggregate): its inputs are the extra rows.
        items = items[2:]
    items += list((extra or {}).items())
    items = [(k, v if v is not None else MISSING) for k, v in items]
    return render("provenance_section.html.j2", items=items)


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
    columns = ["figure_id", "section", "published", "reproduced", "status"]
    return render(
        "reproduction_section.html.j2",
        summary=[f"{int(tally.get(s, 0))} {s}" for s in order],
        rows=list(table[columns].itertuples(index=False, name=None)),
    )
