"""Report prose on the comparisons between groups of cases, as HTML fragments.

Differences between groups are only reported as differences when they survive the
Benjamini-Hochberg adjustment (:data:`analysis.render.present.FDR_LEVEL`), and even then
with a caveat: the groups are small and their case mix differs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import pandas as pd

from analysis.render import present
from analysis.render.narrative.lookup import counts, esc, label, pct, row, rows, suppressed
from analysis.render.present import FDR_LEVEL, C

#: Surviving differences listed in the text (smallest adjusted p first); the rest are counted.
MAX_LISTED_DIFFERENCES = 10


def comparison_vars(findings: pd.DataFrame, instrument: Any = None) -> list[str]:
    """Comparison variables present in the findings, in report order (as the charts)."""
    found = list(rows(findings, "comparison")["group_var"])
    found += list(rows(findings, "difference")["group_var"])
    return present.comparison_vars(found, instrument)


def _split_pair(group: str, groups: Iterable[str]) -> tuple[str, str] | None:
    """Find which two groups a difference's ``"A - B"`` label names (names may contain " - ")."""
    groups = list(groups)
    for a in groups:
        for b in groups:
            if a != b and group == f"{a} - {b}":
                return a, b
    return None


def surviving_differences(
    findings: pd.DataFrame, group_var: str, instrument: Any = None
) -> list[dict[str, Any]]:
    """Unsuppressed differences whose adjusted p is below :data:`FDR_LEVEL`.

    Smallest adjusted p first, ties in the instrument's question order
    (:func:`analysis.render.present.by_significance`).
    """
    d = rows(findings, "difference", group_var=group_var).to_dict("records")
    keep = [r for r in d if present.is_significant(r["p_adjusted"]) and not suppressed(r)]
    return present.by_significance(keep, instrument)


def comparison_section(findings: pd.DataFrame, instrument: Any, group_var: str) -> str:
    """What the comparison by one variable shows, stated carefully for small samples."""
    comp = rows(findings, "comparison", group_var=group_var)
    diffs = rows(findings, "difference", group_var=group_var)
    groups = present.group_order(comp["group"], group_var, instrument)
    tested = diffs["measure_id"].nunique()
    compared = comp["measure_id"].nunique()
    survive = surviving_differences(findings, group_var, instrument)
    var = present.variable_label(group_var, instrument)
    head = f'<h3 id="comparison-{esc(group_var)}">By {esc(var)}</h3>'
    sizes = []
    for g in groups:
        n = rows(findings, "sample", measure_id="n_cases", group_var=group_var, group=g)
        if len(n):
            sizes.append(f"{esc(g)} ({present.fmt_int(n.iloc[0]['numerator'])} cases)")
    intro = (
        f"<p>We compared {len(groups)} groups"
        + (": " + ", ".join(sizes) if sizes else (": " + ", ".join(esc(g) for g in groups)))
        + f", on {present.plural(compared, 'question')}. "
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
    if not survive:
        intro += (
            "None of the differences was large enough to be distinguished from chance once we "
            f"allowed for the number of comparisons made (Benjamini-Hochberg, false discovery rate "
            f"{int(FDR_LEVEL * 100)}%). This does not show that the groups performed alike: with "
            "samples of this size only large differences could be detected.</p>"
        )
        return head + intro
    intro += (
        f"{present.plural(len(survive), 'difference')} remained after allowing for "
        "the number of comparisons (Benjamini-Hochberg, false discovery rate "
        f"{int(FDR_LEVEL * 100)}%):</p>"
    )
    items = []
    for r in survive[:MAX_LISTED_DIFFERENCES]:
        pair = _split_pair(r["group"], groups)
        name = esc(label(instrument, r["measure_id"], r["label"]))
        p_adj = present.p_equals(r["p_adjusted"])
        if pair is None:
            # More than two groups: one test of them all, so list each group's result.
            parts = []
            for g in groups:
                rg = row(comp, "comparison", measure_id=r["measure_id"], group=g)
                if rg is not None:
                    shown = C.symbol if suppressed(rg) else f"{pct(rg)}, {counts(rg)}"
                    parts.append(f"{esc(g)} {esc(shown)}")
            items.append(
                f"<li><strong>{name}</strong>: the proportion done well enough differed between "
                f"the groups ({'; '.join(parts)}; adjusted {p_adj}).</li>"
            )
            continue
        a, b = pair
        ra = row(comp, "comparison", measure_id=r["measure_id"], group=a)
        rb = row(comp, "comparison", measure_id=r["measure_id"], group=b)
        hi, lo = (a, b) if float(r["percent"]) >= 0 else (b, a)
        rh, rl = (ra, rb) if hi == a else (rb, ra)
        detail = ""
        if rh is not None and rl is not None and not (suppressed(rh) or suppressed(rl)):
            detail = f" ({pct(rh)}, {counts(rh)}, against {pct(rl)}, {counts(rl)})"
        items.append(
            f"<li><strong>{name}</strong>: done well enough more often in the {esc(hi)} group "
            f"than in the {esc(lo)} group{detail}; a difference of "
            f"{present.fmt_int(abs(float(r['percent'])))} percentage points (95% interval "
            f"{present.fmt_ci(r['ci_low'], r['ci_high'])}; adjusted {p_adj}).</li>"
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


def comparisons_intro(
    group_vars: Sequence[str] = present.COMPARISON_ORDER, instrument: Any = None
) -> str:
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
            names.append(present.variable_label(gv, instrument))
    listed = present.and_list(names)
    return (
        '<section id="comparisons"><h2>Comparisons between groups of cases</h2>'
        "<p>For each scored question we compared the proportion of work done well enough "
        f"between groups of cases: by {esc(listed)}. A difference between two groups was tested "
        "with Fisher's exact test, and more than two groups with one test of all of them "
        "together; because many questions were tested at once the p values were adjusted with "
        "the Benjamini-Hochberg procedure, which limits the expected share of false discoveries "
        "among the differences reported.</p></section>"
    )
