"""Report prose and tables drafted from the findings table, as HTML fragments.

The report notebook (``notebooks/10_report.ipynb``) is a thin sequence of calls
to these functions. Every number comes from the findings table; every string
that came from a user (organisation and LDU names, group labels, instrument
text) is HTML-escaped here, at the single point where it meets markup.

Rules kept throughout:

- suppressed cells (flag ``c`` or ``secondary``) show ``[c]`` and are never
  quoted in prose, and a cell's numerator is never shown next to a ``[c]``;
- small bases (flag ``low``) are marked ``[low]`` and are never chosen as a
  key strength or area for improvement, because one case moves them a lot;
- differences between groups are only reported as differences when they
  survive the Benjamini-Hochberg adjustment, and even then with a caveat.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import pandas as pd

from analysis import config
from analysis.engine.findings import flag_set
from analysis.engine.wording import quantifier
from analysis.render.textsafe import escape_html, lc_first

#: Significance level for the false discovery rate (Benjamini-Hochberg).
FDR_LEVEL = 0.05
#: How many questions are named as key strengths / areas for improvement.
N_KEY_FINDINGS = 3
#: Surviving differences listed in the text (smallest adjusted p first); the rest are counted.
MAX_LISTED_DIFFERENCES = 10
#: Comparison variables, in report order.
COMPARISON_VARS = ("om_grade", "gender", "ldu")
#: Irregular verb stems for turning an outcome name into "work to ..." (``Reducing`` -> ``reduce``).
_STEM_FIXES = {"reduc": "reduce", "minimis": "minimise", "achiev": "achieve", "manag": "manage"}


def esc(value: Any) -> str:
    """HTML-escape any value (quotes too, so it is safe inside attributes)."""
    return escape_html("" if value is None else str(value))


# -- number formatting ------------------------------------------------------------------


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or (isinstance(x, float) and math.isnan(x))


def round_half_up(x: float, ndigits: int = 0) -> float:
    """Round as readers expect (2.5 -> 3), not Python's round-half-to-even."""
    f = 10**ndigits
    return math.floor(x * f + 0.5) / f


def fmt_pct(x: Any) -> str:
    """``66.67`` -> ``"67%"``; missing -> ``"–"``."""
    if _missing(x):
        return "–"
    return f"{int(round_half_up(float(x)))}%"


def fmt_int(x: Any) -> str:
    """A count without decimals, with thousands separators; missing -> ``"–"``."""
    return "–" if _missing(x) else f"{int(round_half_up(float(x))):,}"


def fmt_ci(lo: Any, hi: Any) -> str:
    """A 0-100 interval as ``"55 to 78"`` (missing -> ``"–"``)."""
    if _missing(lo) or _missing(hi):
        return "–"
    return f"{int(round_half_up(float(lo)))} to {int(round_half_up(float(hi)))}"


def p_equals(p: Any) -> str:
    """``"p = 0.03"``, or ``"p < 0.001"`` for a tiny value (never ``"p = <0.001"``)."""
    text = fmt_p(p)
    return f"p < {text[1:]}" if text.startswith("<") else f"p = {text}"


def fmt_p(p: Any) -> str:
    """A p value to two significant places; tiny values as ``<0.001``."""
    if _missing(p):
        return "–"
    p = float(p)
    return "<0.001" if p < 0.001 else f"{p:.3f}" if p < 0.01 else f"{p:.2f}"


def is_suppressed(row: Mapping[str, Any]) -> bool:
    """True when the cell is suppressed (primary ``c`` or secondary) for this audience."""
    return bool(flag_set(row.get("flags")) & {"c", "secondary"}) or (
        _missing(row.get("percent")) and not _missing(row.get("denominator"))
    )


def is_low(row: Mapping[str, Any]) -> bool:
    """True when the base is below :data:`analysis.config.LOW_BASE_THRESHOLD`."""
    return "low" in flag_set(row.get("flags"))


def marker(row: Mapping[str, Any]) -> str:
    """The ``[c]`` / ``[low]`` marker text for a row ("" when none applies)."""
    if is_suppressed(row):
        return "[c]"
    return "[low]" if is_low(row) else ""


def n_of_n(row: Mapping[str, Any]) -> str:
    """``"18 of 22"``, or ``"[c]"`` when suppressed."""
    if is_suppressed(row):
        return "[c]"
    return f"{fmt_int(row['numerator'])} of {fmt_int(row['denominator'])}"


# -- look-ups ---------------------------------------------------------------------------


def rows(findings: pd.DataFrame, kind: str, **equal: str) -> pd.DataFrame:
    """Findings rows of one kind, filtered on column equality."""
    mask = findings["kind"] == kind
    for col, value in equal.items():
        mask &= findings[col] == value
    return findings[mask]


def _row(findings: pd.DataFrame, kind: str, **equal: str) -> dict[str, Any] | None:
    sub = rows(findings, kind, **equal)
    return None if sub.empty else sub.iloc[0].to_dict()


def n_cases(findings: pd.DataFrame) -> int | None:
    """Number of cases inspected (the ``sample`` row ``n_cases``)."""
    r = _row(findings, "sample", measure_id="n_cases")
    if r is None:
        return None
    value = r["denominator"] if _missing(r["numerator"]) else r["numerator"]
    return None if _missing(value) else int(value)


def trust_display_name(slug: str) -> str:
    """``norfolk-and-suffolk`` -> ``Norfolk and Suffolk`` (unescaped: escape on output)."""
    small = {"and", "of", "the", "upon", "on"}
    words = slug.replace("_", "-").split("-")
    return " ".join(
        w if (i and w in small) else w[:1].upper() + w[1:] for i, w in enumerate(words) if w
    )


def outcome_phrase(outcome: Any) -> str:
    """``Protecting the public by ...`` -> ``protect the public by ...`` (for score sentences).

    An instrument may give the phrase explicitly as ``phrase`` on the outcome.
    """
    words = outcome.name.split()
    first = words[0].lower()
    if first.endswith("ing"):
        stem = first[:-3]
        first = _STEM_FIXES.get(stem, stem)
    return " ".join([first, *words[1:]])


def score_row(findings: pd.DataFrame, outcome_id: str) -> dict[str, Any] | None:
    """The outcome score row ``score_<outcome>``."""
    return _row(findings, "outcome_score", measure_id=f"score_{outcome_id}")


def question_rows(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> pd.DataFrame:
    """Question rows of an outcome's scored questions, in instrument order, one per question."""
    qids = [q.id for q in instrument.questions_for_outcome(outcome_id)]
    sub = rows(findings, "question")
    sub = sub[sub["measure_id"].isin(qids) & (sub["group_var"] == "")]
    sub = sub.drop_duplicates("measure_id")
    order = {q: i for i, q in enumerate(qids)}
    return sub.sort_values("measure_id", key=lambda s: s.map(order))


def _label(instrument: Any, measure_id: str, fallback: str = "") -> str:
    q = instrument.questions.get(measure_id)
    return q.label if q is not None else (fallback or measure_id)


# -- front matter -------------------------------------------------------------------------


def title_block(trust: str, instrument: Any, audience: str, findings: pd.DataFrame) -> str:
    """Report title, sub-title and the audience banner."""
    n = n_cases(findings)
    banner = (
        "Publication version: small cells are suppressed [c]."
        if audience == "publication"
        else "Internal version: not for publication; small cells are shown but marked [low]."
    )
    return (
        '<header class="report-title">'
        f"<h1>Inspection of adult offending work in {esc(trust)}</h1>"
        f'<p class="subtitle">{esc(instrument.title)}'
        + (f" · {n} cases inspected" if n is not None else "")
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
        (f"outcome-{o.number}", f"Outcome {o.number}: {o.name}") for o in _outcomes(instrument)
    ]
    items += list(sections)
    li = "".join(f'<li><a href="#{esc(a)}">{esc(t)}</a></li>' for a, t in items)
    return f'<nav class="toc" aria-label="Contents"><h2>Contents</h2><ol>{li}</ol></nav>'


def _outcomes(instrument: Any) -> list[Any]:
    return sorted(instrument.outcomes.values(), key=lambda o: o.number)


def summary_table(findings: pd.DataFrame, instrument: Any) -> str:
    """The five outcome scores with their judgements (n of N) and 95% intervals."""
    body = []
    for o in _outcomes(instrument):
        r = score_row(findings, o.id)
        if r is None:
            cells = ["–", "–", "–", "no score"]
        else:
            cells = [
                fmt_pct(r["percent"]) if not is_suppressed(r) else "[c]",
                n_of_n(r) if not _missing(r["denominator"]) else "–",
                fmt_ci(r["ci_low"], r["ci_high"]) if not is_suppressed(r) else "[c]",
                marker(r),
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
    if r is None or _missing(r["percent"]) or is_suppressed(r):
        return f"There were too few relevant judgements to score work to {phrase}."
    return f"Overall, {fmt_pct(r['percent'])} of work to {phrase} was done well enough."


def _judgement(instrument: Any, r: Mapping[str, Any]) -> str:
    n, N = int(r["numerator"]), int(r["denominator"])
    label = _label(instrument, r["measure_id"], r.get("label", ""))
    return (
        f"<li><strong>{esc(label)}</strong>: done well enough in {esc(quantifier(n, N))} "
        f"of the relevant cases ({n:,} of {N:,}, {fmt_pct(r['percent'])}).</li>"
    )


def key_findings(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> str:
    """Key strengths and areas for improvement: the strongest and weakest questions.

    Only questions with an unsuppressed base of at least
    :data:`analysis.config.LOW_BASE_THRESHOLD` are eligible; a strength must be at
    or above the outcome score and an area for improvement below it.
    """
    q = question_rows(findings, instrument, outcome_id)
    eligible = [
        r
        for r in q.to_dict("records")
        if not is_suppressed(r) and not is_low(r) and not _missing(r["percent"])
    ]
    score = score_row(findings, outcome_id)
    cut = (
        float(score["percent"])
        if score is not None and not _missing(score["percent"]) and not is_suppressed(score)
        else 50.0
    )
    eligible.sort(key=lambda r: (-float(r["percent"]), r["measure_id"]))
    strengths = [r for r in eligible if float(r["percent"]) >= cut][:N_KEY_FINDINGS]
    areas = [r for r in reversed(eligible) if float(r["percent"]) < cut][:N_KEY_FINDINGS]
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
                f"{config.LOW_BASE_THRESHOLD} relevant cases, and figures suppressed [c], are "
                "never listed here.</p>"
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
        supp = is_suppressed(r)
        crit = instrument.questions[r["measure_id"]].criterion
        label = _label(instrument, r["measure_id"])
        body.append(
            f"<tr><td>{esc(crit)}</td><th scope='row'>{esc(label)}</th>"
            f"<td class='num'>{esc(n_of_n(r))}</td>"
            f"<td class='num'>{'[c]' if supp else fmt_pct(r['percent'])}</td>"
            f"<td class='num'>{'[c]' if supp else fmt_ci(r['ci_low'], r['ci_high'])}</td>"
            f"<td>{esc(marker(r))}</td></tr>"
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

    Those with more than two scoring answers (sufficient / insufficient / no review),
    shown in the chapter of the first outcome they count towards, in instrument order.
    """
    have = set(rows(findings, "breakdown")["measure_id"])
    out = []
    for q in instrument.questions_for_outcome(outcome_id):
        aset = instrument.answer_set(q)
        scoring = [c for c in aset.codes if c.scores in ("above", "below")] if aset else []
        if q.id in have and len(scoring) > 2 and q.outcomes[:1] == (outcome_id,):
            out.append(q.id)
    return out


def breakdown_table(findings: pd.DataFrame, instrument: Any, question_id: str) -> str:
    """Answers to one category question (e.g. sufficient / insufficient / no review)."""
    sub = rows(findings, "breakdown", measure_id=question_id)
    sub = sub[sub["group_var"] == ""]
    body = "".join(
        f"<tr><th scope='row'>{esc(r['category'])}</th><td class='num'>{esc(n_of_n(r))}</td>"
        f"<td class='num'>{'[c]' if is_suppressed(r) else fmt_pct(r['percent'])}</td>"
        f"<td>{esc(marker(r))}</td></tr>"
        for r in sub.to_dict("records")
    )
    return (
        '<table class="report-table breakdown-table">'
        f"<caption>{esc(_label(instrument, question_id))}: answers in the relevant cases</caption>"
        "<thead><tr><th scope='col'>Answer</th><th scope='col'>Cases (n of N)</th>"
        "<th scope='col'>%</th><th scope='col'>Note</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
    )


def factor_table(findings: pd.DataFrame, instrument: Any) -> str:
    """Table 3.5: factors by prevalence, with % sufficient interventions and progress."""
    f = rows(findings, "factor")
    entries = []
    for fac in instrument.factors.values():
        get = {item: _row(f, "factor", measure_id=qid) for item, qid in fac.items.items()}
        ident = get.get("identified")
        if ident is None:
            continue
        n_ident = -1 if is_suppressed(ident) else float(ident["numerator"])
        entries.append((n_ident, fac, get))
    if not entries:
        return '<p class="note">No offending-related factors were recorded.</p>'
    entries.sort(key=lambda e: (-e[0], e[1].label))
    top = int(instrument.factor_table.get("most_prevalent", len(entries)))
    body = []
    for i, (_, fac, get) in enumerate(entries):
        if i == 0:
            body.append("<tr class='group'><th colspan='4'>Most prevalent factors</th></tr>")
        if i == top:
            body.append("<tr class='group'><th colspan='4'>Other common factors</th></tr>")
        ident = get["identified"]
        cells = [esc(n_of_n(ident))]
        for item in ("interventions", "progress"):
            r = get.get(item)
            if r is None:
                cells.append("–")
            elif is_suppressed(r):
                cells.append("[c]")
            else:
                cells.append(
                    f"{fmt_pct(r['percent'])} ({n_of_n(r)}){' [low]' if is_low(r) else ''}"
                )
        body.append(
            f"<tr><th scope='row'>{esc(fac.label)}</th>"
            + "".join(f"<td class='num'>{esc(c) if j else c}</td>" for j, c in enumerate(cells))
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


# -- comparisons --------------------------------------------------------------------------


def comparison_vars(findings: pd.DataFrame) -> list[str]:
    """Comparison variables present in the findings, in report order."""
    have = set(rows(findings, "difference")["group_var"]) | set(
        rows(findings, "comparison")["group_var"]
    )
    return [v for v in COMPARISON_VARS if v in have] + sorted(have - set(COMPARISON_VARS) - {""})


def _var_label(instrument: Any, group_var: str) -> str:
    d = instrument.case_details.get(group_var)
    return d.label if d is not None else group_var


def _split_pair(group: str, groups: Iterable[str]) -> tuple[str, str] | None:
    """Find which two groups a difference's ``"A - B"`` label names (names may contain " - ")."""
    groups = list(groups)
    for a in groups:
        for b in groups:
            if a != b and group == f"{a} - {b}":
                return a, b
    return None


def surviving_differences(findings: pd.DataFrame, group_var: str) -> pd.DataFrame:
    """Differences whose Benjamini-Hochberg adjusted p is below :data:`FDR_LEVEL`."""
    d = rows(findings, "difference", group_var=group_var)
    keep = d["p_adjusted"].notna() & (d["p_adjusted"].astype("float64") < FDR_LEVEL)
    d = d[keep & ~d.apply(lambda r: is_suppressed(r.to_dict()), axis=1)] if len(d) else d
    return d.sort_values(["p_adjusted", "measure_id"])


def comparison_section(findings: pd.DataFrame, instrument: Any, group_var: str) -> str:
    """What the comparison by one variable shows, stated carefully for small samples."""
    var = _var_label(instrument, group_var)
    comp = rows(findings, "comparison", group_var=group_var)
    diffs = rows(findings, "difference", group_var=group_var)
    groups = list(dict.fromkeys(comp["group"]))
    tested = diffs["measure_id"].nunique()
    compared = comp["measure_id"].nunique()
    survive = surviving_differences(findings, group_var)
    head = f'<h3 id="comparison-{esc(group_var)}">By {esc(lc_first(var))}</h3>'
    sizes = []
    for g in groups:
        n = rows(findings, "sample", measure_id="n_cases", group_var=group_var, group=g)
        if len(n):
            sizes.append(f"{esc(g)} ({fmt_int(n.iloc[0]['numerator'])} cases)")
    intro = (
        f"<p>We compared {len(groups)} groups"
        + (": " + ", ".join(sizes) if sizes else (": " + ", ".join(esc(g) for g in groups)))
        + f", on {compared} question{'s' if compared != 1 else ''}. "
    )
    if tested == 0:
        return head + intro + "No difference between the groups could be tested.</p>"
    test = (
        "Fisher's exact test"
        if len(groups) == 2
        else "a test of all the groups together (chi-square, or the exact Fisher-Freeman-Halton "
        "test when counts were small)"
    )
    intro += f"The differences were tested with {test}. "
    if survive.empty:
        intro += (
            "None of the differences was large enough to be distinguished from chance once we "
            f"allowed for the number of comparisons made (Benjamini-Hochberg, false discovery rate "
            f"{int(FDR_LEVEL * 100)}%). This does not show that the groups performed alike: with "
            "samples of this size only large differences could be detected.</p>"
        )
        return head + intro
    intro += (
        f"{len(survive)} difference{'s' if len(survive) != 1 else ''} remained after allowing for "
        "the number of comparisons (Benjamini-Hochberg, false discovery rate "
        f"{int(FDR_LEVEL * 100)}%):</p>"
    )
    items = []
    for r in survive.head(MAX_LISTED_DIFFERENCES).to_dict("records"):
        pair = _split_pair(r["group"], groups)
        label = esc(_label(instrument, r["measure_id"], r["label"]))
        if pair is None:
            # More than two groups: one test of them all, so list each group's result.
            parts = []
            for g in groups:
                rg = _row(comp, "comparison", measure_id=r["measure_id"], group=g)
                if rg is not None:
                    shown = (
                        "[c]" if is_suppressed(rg) else f"{fmt_pct(rg['percent'])}, {n_of_n(rg)}"
                    )
                    parts.append(f"{esc(g)} {esc(shown)}")
            items.append(
                f"<li><strong>{label}</strong>: the proportion done well enough differed between "
                f"the groups ({'; '.join(parts)}; adjusted {p_equals(r['p_adjusted'])}).</li>"
            )
            continue
        a, b = pair
        ra = _row(comp, "comparison", measure_id=r["measure_id"], group=a)
        rb = _row(comp, "comparison", measure_id=r["measure_id"], group=b)
        hi, lo = (a, b) if float(r["percent"]) >= 0 else (b, a)
        rh, rl = (ra, rb) if hi == a else (rb, ra)
        detail = ""
        if rh is not None and rl is not None and not (is_suppressed(rh) or is_suppressed(rl)):
            detail = (
                f" ({fmt_pct(rh['percent'])}, {n_of_n(rh)}, against {fmt_pct(rl['percent'])}, "
                f"{n_of_n(rl)})"
            )
        items.append(
            f"<li><strong>{label}</strong>: done well enough more often in the {esc(hi)} group "
            f"than in the {esc(lo)} group{detail}; a difference of "
            f"{fmt_int(abs(float(r['percent'])))} percentage points (95% interval "
            f"{fmt_ci(r['ci_low'], r['ci_high'])}; adjusted {p_equals(r['p_adjusted'])}).</li>"
        )
    caveat = (
        '<p class="caveat">These groups are small, so the size of each difference is uncertain '
        "(see the intervals), and differences in the mix of cases each group held may explain "
        "them. Treat them as prompts for further inquiry, not as conclusions.</p>"
    )
    more = len(survive) - MAX_LISTED_DIFFERENCES
    if more > 0:
        items.append(
            f"<li>and {more} more, listed with every difference tested in tables.xlsx.</li>"
        )
    return head + intro + "<ul>" + "".join(items) + "</ul>" + caveat


def comparisons_intro(group_vars: Sequence[str] = COMPARISON_VARS, instrument: Any = None) -> str:
    """Opening of the comparisons section, naming the variables compared (in report order)."""
    names = []
    for gv in group_vars:
        if gv == "om_grade":
            names.append(
                "the grade of the offender manager (probation officer, PO, or probation service "
                "officer, PSO)"
            )
        elif gv == "ldu":
            names.append("local delivery unit (LDU)")
        else:
            label = _var_label(instrument, gv) if instrument is not None else gv.replace("_", " ")
            names.append(lc_first(label))
    listed = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else "".join(names)
    return (
        '<section id="comparisons"><h2>Comparisons between groups of cases</h2>'
        "<p>For each scored question we compared the proportion of work done well enough "
        f"between groups of cases: by {esc(listed)}. A difference between two groups was tested "
        "with Fisher's exact test, and more than two groups with one test of all of them "
        "together; because many questions were tested at once the p values were adjusted with "
        "the Benjamini-Hochberg procedure, which limits the expected share of false discoveries "
        "among the differences reported.</p></section>"
    )


# -- appendices ---------------------------------------------------------------------------


def appendix_heading(anchor: str, title: str, text: str = "") -> str:
    """An appendix heading with its anchor and optional introduction."""
    intro = f"<p>{esc(text)}</p>" if text else ""
    return f'<section class="appendix" id="{esc(anchor)}"><h2>{esc(title)}</h2>{intro}</section>'


def profile_columns(findings: pd.DataFrame, instrument: Any) -> list[str]:
    """Case-detail columns with a profile in the findings, in instrument order."""
    have = set(rows(findings, "profile")["measure_id"])
    ordered = [c for c in instrument.case_details if c in have]
    return ordered + sorted(have - set(ordered))


def sample_profile_intro(findings: pd.DataFrame, trust: str) -> str:
    """Opening sentence of the sample profile appendix."""
    n = n_cases(findings)
    total = f"{n:,}" if n is not None else "an unknown number of"
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
    for o in _outcomes(instrument):
        crits = [c for c in instrument.criteria.values() if c.outcome == o.id and c.case_assessed]
        crit_scores = []
        for c in crits:
            r = _row(findings, "criterion_score", measure_id=f"score_{c.id}")
            if r is None:
                continue
            supp = is_suppressed(r)
            if not supp and not _missing(r["percent"]):
                crit_scores.append(float(r["percent"]))
            body.append(
                f"<tr><td>{esc(c.id)}</td><th scope='row'>{esc(c.title)}</th>"
                f"<td class='num'>{esc(n_of_n(r)) if not _missing(r['denominator']) else '–'}</td>"
                f"<td class='num'>{'[c]' if supp else fmt_pct(r['percent'])}</td></tr>"
            )
        score = score_row(findings, o.id)
        alt = sum(crit_scores) / len(crit_scores) if crit_scores else None
        body.append(
            f"<tr class='total'><td></td><th scope='row'>Outcome {o.number} score "
            f"({'question mean' if method == 'question_mean' else 'criterion mean'})</th><td></td>"
            f"<td class='num'>{fmt_pct(score['percent']) if score is not None else '–'}</td></tr>"
            f"<tr class='alt'><td></td><th scope='row'>for comparison: "
            f"{'criterion mean' if method == 'question_mean' else 'question mean'}</th><td></td>"
            f"<td class='num'>{fmt_pct(alt) if method == 'question_mean' else '–'}</td></tr>"
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
    for o in _outcomes(instrument):
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
    flags = findings["flags"].fillna("")
    n_low = int(flags.str.contains(r"(?:^|;)low(?:;|$)", regex=True).sum())
    n_c = int(flags.str.contains(r"(?:^|;)c(?:;|$)", regex=True).sum())
    n_sec = int(flags.str.contains(r"(?:^|;)secondary(?:;|$)", regex=True).sum())
    low = (
        f"<p><strong>[low]</strong>: the base (number of relevant cases) is below "
        f"{config.LOW_BASE_THRESHOLD}. One case changes such a percentage by more than "
        f"{int(100 / config.LOW_BASE_THRESHOLD)} points, so it is shown but never quoted as a "
        f"key finding. {n_low} figures in this report's findings table carry this mark.</p>"
    )
    if audience == "publication":
        sup = (
            "<p><strong>[c]</strong>: this is the publication version. A figure is suppressed "
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
            f"suppresses [c] figures whose count, or complement, is below "
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
        f"<td><code>{esc(v if v is not None else '–')}</code></td></tr>"
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
    counts = status.value_counts()
    order = ["exact", "within band", "inconsistent in source", "FAIL"]
    summary = ", ".join(f"{int(counts.get(s, 0))} {esc(s)}" for s in order)
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
    rows = "".join(
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
        f'<table class="report-table"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'
        "</details>"
    )
    return intro + details
