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
from analysis.render.html import render
from analysis.render.narrative.lookup import counts, label, pct, row, rows, suppressed
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
    sizes = []
    for g in groups:
        n = rows(findings, "sample", measure_id="n_cases", group_var=group_var, group=g)
        if len(n):
            sizes.append(f"{g} ({present.fmt_int(n.iloc[0]['numerator'])} cases)")
    test = (
        "Fisher's exact test"
        if len(groups) == 2
        else "a test of all the groups together (chi-square, or the exact Fisher-Freeman-Halton "
        "test when counts were small)"
    )
    listed = []
    for r in survive[:MAX_LISTED_DIFFERENCES]:
        pair = _split_pair(r["group"], groups)
        item: dict[str, Any] = {
            "name": label(instrument, r["measure_id"], r["label"]),
            "p": present.p_equals(r["p_adjusted"]),
            "parts": None,
        }
        listed.append(item)
        if pair is None:
            # More than two groups: one test of them all, so list each group's result.
            item["parts"] = []
            for g in groups:
                rg = row(comp, "comparison", measure_id=r["measure_id"], group=g)
                if rg is not None:
                    shown = C.symbol if suppressed(rg) else f"{pct(rg)}, {counts(rg)}"
                    item["parts"].append(f"{g} {shown}")
            continue
        a, b = pair
        ra = row(comp, "comparison", measure_id=r["measure_id"], group=a)
        rb = row(comp, "comparison", measure_id=r["measure_id"], group=b)
        hi, lo = (a, b) if float(r["percent"]) >= 0 else (b, a)
        rh, rl = (ra, rb) if hi == a else (rb, ra)
        detail = ""
        if rh is not None and rl is not None and not (suppressed(rh) or suppressed(rl)):
            detail = f" ({pct(rh)}, {counts(rh)}, against {pct(rl)}, {counts(rl)})"
        item.update(
            high=hi,
            low=lo,
            detail=detail,
            points=present.fmt_int(abs(float(r["percent"]))),
            interval=present.fmt_ci(r["ci_low"], r["ci_high"]),
        )
    return render(
        "comparison_section.html.j2",
        group_var=group_var,
        variable=present.variable_label(group_var, instrument),
        groups=groups,
        sizes=sizes,
        compared=present.plural(compared, present.words(instrument).word("question_word")),
        tested=tested,
        test=test,
        survive=survive,
        survived=present.plural(len(survive), "difference"),
        fdr=int(FDR_LEVEL * 100),
        listed=listed,
        more=len(survive) - MAX_LISTED_DIFFERENCES,
        done_well=present.words(instrument).say("done_well"),
    )


def comparisons_intro(
    group_vars: Sequence[str] = present.COMPARISON_ORDER, instrument: Any = None
) -> str:
    """Opening of the comparisons section, naming the variables compared (in report order)."""
    declared = present.words(instrument).comparison_names
    names = [declared.get(gv) or present.variable_label(gv, instrument) for gv in group_vars]
    return render(
        "comparisons_intro.html.j2",
        listed=present.and_list(names),
        done_well=present.words(instrument).say("done_well"),
    )
