"""Report prose and tables drafted from the findings table, as HTML fragments: the chapters.

The title block, contents and summary of scores, then for each outcome its heading,
score sentence, key findings, question table, answer breakdowns and (outcome 3) the
offending-related factors of table 3.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd
from markupsafe import Markup

from analysis import config
from analysis.engine.wording import quantifier
from analysis.render import present
from analysis.render.html import render
from analysis.render.narrative.lookup import (
    counts,
    interval,
    label,
    low,
    n_cases,
    note,
    outcome_phrase,
    outcomes,
    pct,
    question_rows,
    rows,
    score_row,
    suppressed,
)
from analysis.render.present import LOW, MISSING, C

#: How many questions are named as key strengths / areas for improvement.
N_KEY_FINDINGS = 3


# -- front matter -------------------------------------------------------------------------


def title_block(
    trust: str, instrument: Any, audience: str, findings: pd.DataFrame, synthetic: bool = False
) -> str:
    """Report title, sub-title, the audience banner and, for demo data, the synthetic banner.

    ``synthetic`` is the provenance record's word (the workbook came from the demo-data
    generator): the report then says, before anything else, that its cases are invented.
    """
    n = n_cases(findings)
    banner = (
        f"Publication version: small cells are suppressed {C.symbol}."
        if audience == "publication"
        else f"Internal version: not for publication; small cells are shown but marked "
        f"{LOW.symbol}."
    )
    return render(
        "title_block.html.j2",
        trust=trust,
        title=instrument.title,
        n=n,
        audience=audience,
        banner=banner,
        synthetic=synthetic,
    )


def contents(instrument: Any, sections: Iterable[tuple[str, str]] = ()) -> str:
    """The table of contents: summary, one entry per outcome, then ``sections``.

    Parameters
    ----------
    instrument
        Supplies the outcomes.
    sections
        Further ``(anchor, title)`` pairs, e.g. comparisons and appendices.
    """
    items = [("summary", "Summary of scores")]
    items += [
        (f"outcome-{o.number}", f"Outcome {o.number}: {o.name}") for o in outcomes(instrument)
    ]
    items += list(sections)
    return render("contents.html.j2", items=items)


def summary_table(findings: pd.DataFrame, instrument: Any) -> str:
    """The five outcome scores with their judgements (n of N) and 95% intervals."""
    body = []
    for o in outcomes(instrument):
        r = score_row(findings, o.id)
        if r is None:
            cells = [MISSING, MISSING, MISSING, "no score"]
        else:
            cells = [
                pct(r),
                counts(r) if not present.is_missing(r["denominator"]) else MISSING,
                interval(r),
                note(r),
            ]
        body.append({"number": o.number, "name": o.name, "cells": cells})
    return render("summary_table.html.j2", rows=body)


# -- outcome chapters ---------------------------------------------------------------------


def score_sentence(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """``"Overall, 67% of work to protect the public ... was done well enough."`` (plain text)."""
    o = instrument.outcomes[outcome_id]
    phrase = getattr(o, "phrase", None) or outcome_phrase(o)
    r = score_row(findings, outcome_id)
    if r is None or present.is_missing(r["percent"]) or suppressed(r):
        return f"There were too few relevant judgements to score work to {phrase}."
    return f"Overall, {present.fmt_pct(r['percent'])} of work to {phrase} was done well enough."


def _judgement(instrument: Any, r: Mapping[str, Any]) -> dict[str, Any]:
    n, N = present.whole(r["numerator"]), present.whole(r["denominator"])
    return {
        "name": label(instrument, r["measure_id"], r.get("label", "")),
        "quantifier": quantifier(n, N),
        "n": n,
        "N": N,
        "percent": r["percent"],
    }


def key_findings(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Key strengths and areas for improvement: the strongest and weakest questions.

    Only questions with an unsuppressed base of at least
    :data:`analysis.config.LOW_BASE_THRESHOLD` are eligible; a strength must be at
    or above the outcome score and an area for improvement below it. Strengths are the
    highest first, areas the lowest first; ties are listed in declared order.
    """
    q = question_rows(findings, instrument, outcome_id)
    eligible = [
        r
        for r in q.to_dict("records")
        if not suppressed(r) and not low(r) and not present.is_missing(r["percent"])
    ]
    score = score_row(findings, outcome_id)
    cut = (
        float(score["percent"])
        if score is not None and not present.is_missing(score["percent"]) and not suppressed(score)
        else 50.0
    )
    declared = list(instrument.questions)

    def ranked(descending: bool) -> list[dict[str, Any]]:
        return present.ranked(
            eligible, lambda r: float(r["percent"]), lambda r: r["measure_id"], declared, descending
        )

    strengths = [r for r in ranked(True) if float(r["percent"]) >= cut][:N_KEY_FINDINGS]
    areas = [r for r in ranked(False) if float(r["percent"]) < cut][:N_KEY_FINDINGS]
    groups = [
        {"title": title, "judgements": [_judgement(instrument, r) for r in chosen], "cls": cls}
        for title, chosen, cls in (
            ("Key strengths", strengths, "strengths"),
            ("Key areas for improvement", areas, "improvements"),
        )
    ]
    return render(
        "key_findings.html.j2",
        groups=groups,
        threshold=config.LOW_BASE_THRESHOLD,
        c_symbol=C.symbol,
    )


def outcome_header(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Chapter heading, score sentence and key findings of one outcome."""
    o = instrument.outcomes[outcome_id]
    return render(
        "outcome_header.html.j2",
        number=o.number,
        name=o.name,
        sentence=score_sentence(findings, instrument, outcome_id),
        key_findings=Markup(key_findings(findings, instrument, outcome_id)),
    )


def question_table(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Every scored question of the outcome: n of N, %, 95% interval and markers."""
    o = instrument.outcomes[outcome_id]
    q = question_rows(findings, instrument, outcome_id)
    if q.empty:
        return render(
            "note.html.j2", text="No case-level questions were answered for this outcome."
        )
    body = [
        {
            "criterion": instrument.questions[r["measure_id"]].criterion,
            "name": label(instrument, r["measure_id"]),
            "counts": counts(r),
            "pct": pct(r),
            "interval": interval(r),
            "note": note(r),
        }
        for r in q.to_dict("records")
    ]
    return render("question_table.html.j2", number=o.number, rows=body)


def breakdown_questions(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> list[str]:
    """Questions whose answers are broken down in this outcome's chapter.

    Those :func:`analysis.render.present.breakdown_questions` breaks down (more than
    two scoring answers: sufficient / insufficient / no review), shown in the chapter of
    the first outcome they count towards, in instrument order.
    """
    return [
        q
        for q in present.breakdown_questions(findings, instrument)
        if q in instrument.questions and instrument.questions[q].outcomes[:1] == (outcome_id,)
    ]


def breakdown_table(findings: pd.DataFrame, instrument: Any, question_id: str) -> str:
    """Answers to one category question (e.g. sufficient / insufficient / no review)."""
    sub = rows(findings, "breakdown", measure_id=question_id)
    sub = sub[sub["group_var"] == ""]
    body = [
        {"category": r["category"], "counts": counts(r), "pct": pct(r), "note": note(r)}
        for r in sub.to_dict("records")
    ]
    caption = f"{label(instrument, question_id)}: answers in the relevant cases"
    return render("breakdown_table.html.j2", caption=caption, rows=body)


def factor_table(findings: pd.DataFrame, instrument: Any) -> str:
    """Table 3.5: factors by prevalence, with % sufficient interventions and progress.

    Order and groups are :func:`analysis.render.present.factors` and
    :func:`~analysis.render.present.factor_groups`, as in the factor chart and tables.xlsx.
    """
    factors = present.factors(findings, instrument)
    if not factors:
        return render("note.html.j2", text="No offending-related factors were recorded.")
    headings = {
        present.MOST_PREVALENT: present.MOST_PREVALENT,
        present.OTHER_COMMON: present.OTHER_COMMON,
        C.symbol: f"Prevalence suppressed {C.symbol}",
    }
    body = []
    previous = None
    for fac, group in zip(factors, present.factor_groups(factors, instrument), strict=True):
        heading = headings[group] if group != previous else None
        previous = group
        cells = [counts(fac.identified)]
        for item in ("interventions", "progress"):
            r = fac.rows.get(item)
            if r is None:
                cells.append(MISSING)
            elif suppressed(r):
                cells.append(C.symbol)
            else:
                marked = f" {LOW.symbol}" if low(r) else ""
                cells.append(f"{pct(r)} ({counts(r)}){marked}")
        body.append({"heading": heading, "label": fac.label, "cells": cells})
    return render("factor_table.html.j2", rows=body)
