"""Report prose and tables drafted from the findings table, as HTML fragments: the chapters.

The title block, contents and summary of scores, then for each outcome its heading,
score sentence, key findings, question table, answer breakdowns and (outcome 3) the
offending-related factors of table 3.5.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from analysis import config
from analysis.engine.wording import quantifier
from analysis.render import present
from analysis.render.narrative.lookup import (
    counts,
    esc,
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


def title_block(trust: str, instrument: Any, audience: str, findings: pd.DataFrame) -> str:
    """Report title, sub-title and the audience banner."""
    n = n_cases(findings)
    banner = (
        f"Publication version: small cells are suppressed {C.symbol}."
        if audience == "publication"
        else f"Internal version: not for publication; small cells are shown but marked "
        f"{LOW.symbol}."
    )
    return (
        '<header class="report-title">'
        f"<h1>Inspection of adult offending work in {esc(trust)}</h1>"
        f'<p class="subtitle">{esc(instrument.title)}'
        + (f" · {present.fmt_int(n)} cases inspected" if n is not None else "")
        + "</p>"
        f'<p class="audience audience-{esc(audience)}">{esc(banner)}</p>'
        "</header>"
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
    li = "".join(f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t in items)
    return f'<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>{li}</ol></nav>'


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
        body.append(
            f'<tr><th scope="row"><a href="#outcome-{o.number}">{o.number}. {esc(o.name)}</a></th>'
            + "".join(f'<td class="num">{esc(c)}</td>' for c in cells[:3])
            + f"<td>{esc(cells[3])}</td></tr>"
        )
    return (
        '<section id="summary"><h2>Summary of scores</h2>'
        '<table class="report-table summary-table">'
        "<caption>The proportion of work judged to have been done well enough, by outcome</caption>"
        "<thead><tr><th scope='col'>Outcome</th><th scope='col'>Score</th>"
        "<th scope='col'>Judgements above the line (n of N)</th>"
        "<th scope='col'>95% interval</th><th scope='col'>Note</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
        '<p class="note">A score is the share of relevant judgements, across the cases inspected, '
        "that were above the line (done well enough). See the appendix on the scoring approach.</p>"
        "</section>"
    )


# -- outcome chapters ---------------------------------------------------------------------


def score_sentence(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """``"Overall, 67% of work to protect the public ... was done well enough."`` (plain text)."""
    o = instrument.outcomes[outcome_id]
    phrase = getattr(o, "phrase", None) or outcome_phrase(o)
    r = score_row(findings, outcome_id)
    if r is None or present.is_missing(r["percent"]) or suppressed(r):
        return f"There were too few relevant judgements to score work to {phrase}."
    return f"Overall, {present.fmt_pct(r['percent'])} of work to {phrase} was done well enough."


def _judgement(instrument: Any, r: Mapping[str, Any]) -> str:
    n, N = present.whole(r["numerator"]), present.whole(r["denominator"])
    name = label(instrument, r["measure_id"], r.get("label", ""))
    return (
        f"<li><strong>{esc(name)}</strong>: done well enough in {esc(quantifier(n, N))} "
        f"of the relevant cases ({present.n_of_n(n, N)}, {present.fmt_pct(r['percent'])}).</li>"
    )


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
    parts = ['<div class="key-findings">']
    for title, chosen, cls in (
        ("Key strengths", strengths, "strengths"),
        ("Key areas for improvement", areas, "improvements"),
    ):
        parts.append(f'<div class="{cls}"><h4>{title}</h4>')
        if chosen:
            parts.append("<ol>" + "".join(_judgement(instrument, r) for r in chosen) + "</ol>")
        else:
            parts.append(
                '<p class="note">No question qualified. Questions with fewer than '
                f"{config.LOW_BASE_THRESHOLD} relevant cases, and figures suppressed {C.symbol}, "
                "are never listed here.</p>"
            )
        parts.append("</div>")
    parts.append("</div>")
    return "".join(parts)


def outcome_header(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Chapter heading, score sentence and key findings of one outcome."""
    o = instrument.outcomes[outcome_id]
    return (
        f'<section class="outcome" id="outcome-{o.number}">'
        f"<h2>Outcome {o.number}: {esc(o.name)}</h2>"
        f'<p class="score-sentence">{esc(score_sentence(findings, instrument, outcome_id))}</p>'
        + key_findings(findings, instrument, outcome_id)
        + "</section>"
    )


def question_table(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Every scored question of the outcome: n of N, %, 95% interval and markers."""
    o = instrument.outcomes[outcome_id]
    q = question_rows(findings, instrument, outcome_id)
    if q.empty:
        return '<p class="note">No case-level questions were answered for this outcome.</p>'
    body = []
    for r in q.to_dict("records"):
        crit = instrument.questions[r["measure_id"]].criterion
        name = label(instrument, r["measure_id"])
        body.append(
            f"<tr><td>{esc(crit)}</td><th scope='row'>{esc(name)}</th>"
            f"<td class='num'>{esc(counts(r))}</td>"
            f"<td class='num'>{esc(pct(r))}</td>"
            f"<td class='num'>{esc(interval(r))}</td>"
            f"<td>{esc(note(r))}</td></tr>"
        )
    return (
        '<table class="report-table question-table">'
        f"<caption>Outcome {o.number}: questions judged in the cases inspected</caption>"
        "<thead><tr><th scope='col'>Criterion</th><th scope='col'>Question</th>"
        "<th scope='col'>Done well enough (n of N)</th><th scope='col'>%</th>"
        "<th scope='col'>95% interval</th><th scope='col'>Note</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
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
    body = "".join(
        f"<tr><th scope='row'>{esc(r['category'])}</th><td class='num'>{esc(counts(r))}</td>"
        f"<td class='num'>{esc(pct(r))}</td>"
        f"<td>{esc(note(r))}</td></tr>"
        for r in sub.to_dict("records")
    )
    return (
        '<table class="report-table breakdown-table">'
        f"<caption>{esc(label(instrument, question_id))}: answers in the relevant cases</caption>"
        "<thead><tr><th scope='col'>Answer</th><th scope='col'>Cases (n of N)</th>"
        "<th scope='col'>%</th><th scope='col'>Note</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def factor_table(findings: pd.DataFrame, instrument: Any) -> str:
    """Table 3.5: factors by prevalence, with % sufficient interventions and progress.

    Order and groups are :func:`analysis.render.present.factors` and
    :func:`~analysis.render.present.factor_groups`, as in the factor chart and tables.xlsx.
    """
    factors = present.factors(findings, instrument)
    if not factors:
        return '<p class="note">No offending-related factors were recorded.</p>'
    headings = {
        present.MOST_PREVALENT: present.MOST_PREVALENT,
        present.OTHER_COMMON: present.OTHER_COMMON,
        C.symbol: f"Prevalence suppressed {C.symbol}",
    }
    body = []
    previous = None
    for fac, group in zip(factors, present.factor_groups(factors, instrument), strict=True):
        if group != previous:
            body.append(f"<tr class='group'><th colspan='4'>{esc(headings[group])}</th></tr>")
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
        body.append(
            f"<tr><th scope='row'>{esc(fac.label)}</th>"
            + "".join(f"<td class='num'>{esc(c)}</td>" for c in cells)
            + "</tr>"
        )
    return (
        '<table class="report-table factor-table">'
        "<caption>Offending-related factors, in order of prevalence in the cases inspected"
        "</caption>"
        "<thead><tr><th scope='col'>Factor</th><th scope='col'>Identified (n of cases)</th>"
        "<th scope='col'>Where identified: sufficient interventions or services</th>"
        "<th scope='col'>Where identified: sufficient progress</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )
