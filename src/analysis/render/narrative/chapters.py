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
from analysis.engine.wording import scale_for
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
        heading=present.words(instrument).say("report_title", organisation=trust),
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
    say = present.words(instrument).say
    sections = list(sections)
    # The ratings follow the summary, as the inspectorate's reports put them up front.
    first = [s for s in sections if s[0] == "ratings"]
    sections = [s for s in sections if s[0] != "ratings"]
    items = [("summary", say("summary_heading")), *first]
    items += [
        (f"outcome-{o.number}", say("unit_heading", number=o.number, name=o.name))
        for o in outcomes(instrument)
    ]
    items += list(sections)
    return render("contents.html.j2", items=items)


def summary_table(findings: pd.DataFrame, instrument: Any) -> str:
    """The outcome scores with their judgements (n of N) and 95% intervals."""
    w = present.words(instrument)
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
        name = w.say("unit_name", number=o.number, name=o.name)
        body.append({"number": o.number, "name": name, "cells": cells})
    return render(
        "summary_table.html.j2",
        rows=body,
        heading=w.say("summary_heading"),
        caption=w.say("summary_caption"),
        unit=w.Unit,
        note=w.say("summary_note"),
        judgements_column=w.say("judgements_column"),
    )


# -- outcome chapters ---------------------------------------------------------------------


def score_sentence(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """``"Overall, 67% of work to protect the public ... was done well enough."`` (plain text)."""
    o = instrument.outcomes[outcome_id]
    say = present.words(instrument).say
    parts = {"phrase": o.phrase or outcome_phrase(o), "name": o.name, "number": o.number}
    r = score_row(findings, outcome_id)
    if r is None or present.is_missing(r["percent"]) or suppressed(r):
        return say("no_score_sentence", **parts)
    return say("score_sentence", percent=present.fmt_pct(r["percent"]), **parts)


def _judgement(instrument: Any, r: Mapping[str, Any]) -> dict[str, Any]:
    n, N = present.whole(r["numerator"]), present.whole(r["denominator"])
    return {
        "name": label(instrument, r["measure_id"], r.get("label", "")),
        # The words of the instrument's own scale (its `wording:` file).
        "quantifier": scale_for(instrument).quantifier(n, N),
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
        done_well=present.words(instrument).say("done_well"),
        threshold=config.LOW_BASE_THRESHOLD,
        c_symbol=C.symbol,
    )


def outcome_header(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Chapter heading, score sentence and key findings of one outcome."""
    o = instrument.outcomes[outcome_id]
    return render(
        "outcome_header.html.j2",
        number=o.number,
        heading=present.words(instrument).say("unit_heading", number=o.number, name=o.name),
        sentence=score_sentence(findings, instrument, outcome_id),
        key_findings=Markup(key_findings(findings, instrument, outcome_id)),
    )


def question_table(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Every scored question of the outcome: n of N, %, 95% interval and markers."""
    o = instrument.outcomes[outcome_id]
    q = question_rows(findings, instrument, outcome_id)
    if q.empty:
        unit = present.words(instrument).unit
        return render(
            "note.html.j2", text=f"No case-level questions were answered for this {unit}."
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
    w = present.words(instrument)
    caption = w.say("question_table_caption", number=o.number, name=o.name)
    return render(
        "question_table.html.j2",
        caption=caption,
        rows=body,
        criterion=w.word("criterion_word", capital=True),
        question=w.word("question_word", capital=True),
        done_column=w.say("done_well")[:1].upper() + w.say("done_well")[1:] + " (n of N)",
    )


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


def factors_unit(instrument: Any) -> str | None:
    """The unit (outcome id) whose chapter shows the offending-related factors, if any.

    The instrument's ``presentation`` ``factors_unit`` (``O3`` for 2013-14); None when it
    declares none or has no factors.
    """
    unit = present.words(instrument).factors_unit
    return unit if unit is not None and instrument.factors else None


def factor_section(findings: pd.DataFrame, instrument: Any) -> str:
    """The factor table under its heading (the instrument's ``factors_heading``)."""
    heading = present.words(instrument).say("factors_heading")
    return render("factor_section.html.j2", heading=heading) + factor_table(findings, instrument)


# -- ratings ------------------------------------------------------------------------------


def has_ratings(findings: pd.DataFrame) -> bool:
    """Whether the findings hold rating rows (an instrument with a ``ratings`` section)."""
    return bool((findings["kind"] == "rating").any())


def _rating_cell(instrument: Any, label: str) -> dict[str, str]:
    """A rating's text and its band's class (``rating-good``); never a colour alone."""
    return present.rating_badge(instrument, label)


def ratings_table(findings: pd.DataFrame, instrument: Any) -> str:
    """The ratings as the inspectorate shows them: one row per standard, then the overall.

    Each rating is a coloured band that always carries its text label; beside it the
    percentage it rests on (n of N), its 95% interval, and the probability that a fresh
    sample of the same size would be rated differently (the findings' ``p_different``).
    """
    body = []
    for r in rows(findings, "rating").to_dict("records"):
        rests = MISSING
        if "inspectors" in str(r.get("method", "")):
            rests = "rated by inspectors" + ("" if r.get("category") else "; none supplied")
        if r["measure_id"] == "rating_overall" and not present.is_missing(r["numerator"]):
            rests = f"{present.fmt_int(r['numerator'])} points"
        elif not present.is_missing(r.get("percent")) and not present.is_missing(
            r.get("denominator")
        ):
            rests = f"{pct(r)} ({counts(r)})"
        p = r.get("p_different")
        body.append(
            {
                "name": r["label"],
                # The key question it rests on, worded (numbered as the question tables are).
                "basis": (
                    present.rating_basis(r.get("method"), instrument)
                    if rests != MISSING and "points" not in rests and "inspectors" not in rests
                    else ""
                ),
                "overall": r["measure_id"] == "rating_overall",
                "rating": _rating_cell(instrument, r.get("category") or ""),
                "rests": rests,
                "interval": MISSING if present.is_missing(r.get("ci_low")) else interval(r),
                "p": MISSING if present.is_missing(p) else present.fmt_pct(100 * float(p)),
            }
        )
    w = present.words(instrument)
    caption, note = _ratings_words(instrument, body)
    return render("ratings_table.html.j2", rows=body, unit=w.Unit, caption=caption, note=note)


#: How the note under the ratings table words each rule a rating can rest on.
_RESTS_ON = {
    "lowest_key_question": "the lowest of its key questions",
    "mean": "the mean of its key questions",
    "measure": "one measure",
}


def _ratings_words(instrument: Any, body: list[dict[str, Any]]) -> tuple[str, str]:
    """The ratings table's caption and note, saying only what this instrument does."""
    standards = getattr(getattr(instrument, "ratings", None), "standards", ())
    rules = list(dict.fromkeys(_RESTS_ON[s.rests_on] for s in standards if s.rests_on in _RESTS_ON))
    by_inspectors = any(s.rests_on == "inspectors" for s in standards)
    caption = "Ratings, as the instrument's rules give them from the cases inspected"
    if by_inspectors:
        caption += ", and as inspectors rated the organisation-level standards"
    note = (
        f"A standard's rating places the percentage it rests on ({' or '.join(rules)}) in the "
        "instrument's bands"
        if rules
        else "Each standard is rated by inspectors"
    )
    if any(r["overall"] for r in body):
        note += "; the overall rating sums the standards' points"
    note += (
        ". The chance of a different rating is the share of case bootstrap resamples of the "
        "same size rated otherwise: near 0 far from a band's edge, near one half at one. No "
        "inspectorate publishes it."
    )
    return caption, note
