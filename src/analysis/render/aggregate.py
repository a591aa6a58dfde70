"""The aggregate report's own HTML: its opening, the score table and the funnel notes.

Everything else the aggregate report shows (factor table, comparisons, methods)
is the single-organisation renderers' work on the pooled rows
(:func:`analysis.engine.pooling.pooled_rows`); ``notebooks/20_aggregate.ipynb``
stays thin by calling these.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from analysis.engine.funnel import Funnel, describe
from analysis.engine.pooling import AGGREGATE, pooled_rows, trusts_in
from analysis.instrument import Instrument
from analysis.render.html import render
from analysis.render.narrative import provenance_section
from analysis.render.present import LOW, C, fmt_ci, fmt_int, fmt_pct, trust_display_name

#: How the pooled row is named in the score table.
POOLED_LABEL = "All organisations (pooled)"
#: The aggregate report's title (its HTML <title> is set by the pipeline to the same words).
TITLE = "Inspection of adult offending work: all organisations"


def display_name(trust: str) -> str:
    """An organisation's name as the reports print it ("Lowbridge City"), never its slug."""
    return POOLED_LABEL if trust == AGGREGATE else trust_display_name(trust)


def named(f: Funnel) -> Funnel:
    """The funnel with its organisations named as in the reports (chart labels, notes)."""
    points = f.points.assign(trust=[display_name(t) for t in f.points["trust"]])
    return dataclasses.replace(f, points=points)


def title_block_html(
    agg: pd.DataFrame, instrument: Instrument, audience: str, record: Mapping[str, Any]
) -> str:
    """Title, sub-title, audience banner and (demo data) synthetic banner, as a trust report's.

    ``record`` is the aggregate's provenance (:func:`analysis.pipeline.provenance`): it
    says which organisations' inputs were synthetic; one is enough for the banner.
    """
    pooled = pooled_rows(agg)
    n = pooled[(pooled["kind"] == "sample") & (pooled["measure_id"] == "n_cases")]
    banner = (
        f"Publication version: small cells are suppressed {C.symbol}."
        if audience == "publication"
        else "Internal version: not for publication; small cells are shown but marked "
        f"{LOW.symbol}."
    )
    inputs = (record or {}).get("inputs") or {}
    return render(
        "aggregate_title.html.j2",
        title=TITLE,
        subtitle=instrument.title,
        n_orgs=len(trusts_in(agg)),
        n=fmt_int(n["numerator"].iloc[0]) if len(n) else None,
        audience=audience,
        banner=banner,
        synthetic=any(bool(v.get("synthetic")) for v in inputs.values()),
    )


def contents_html(sections: Iterable[tuple[str, str]]) -> str:
    """The contents list: one link per ``(anchor, title)`` section."""
    return render("contents.html.j2", items=list(sections))


def heading_html(anchor: str, title: str, text: str = "") -> str:
    """A section heading with its anchor (a contents entry) and an optional paragraph.

    Anchors starting ``appendix-`` are styled as the trust report's appendices.
    """
    cls = "appendix" if anchor.startswith("appendix-") else ""
    return render("section_heading.html.j2", anchor=anchor, title=title, text=text, cls=cls)


def provenance_html(record: Mapping[str, Any]) -> str:
    """The aggregate's provenance: the run, then each organisation's input (sha256, synthetic)."""
    if not record:
        return provenance_section(record)
    inputs = record.get("inputs") or {}
    extra = {
        f"Input of {display_name(t)} (sha256)": (v.get("input_sha256") or "–")
        + (" (synthetic)" if v.get("synthetic") else "")
        for t, v in sorted(inputs.items())
    }
    # The organisations are named (not by slug) in their own rows below the parameters.
    params = {k: v for k, v in (record.get("parameters") or {}).items() if k != "trusts"}
    shown = {**record, "input_file": None, "input_sha256": None, "parameters": params}
    return provenance_section(shown, extra)


def outcome_score_table(agg: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """Wide table: one row per organisation (pooled last), each outcome score with interval."""
    sc = agg[agg["kind"] == "outcome_score"]
    rows = []
    order = sorted(t for t in sc["trust"].unique() if t != AGGREGATE) + [AGGREGATE]
    for t in order:
        rec = {"organisation": display_name(t)}
        for o in instrument.outcomes:
            r = sc[(sc["trust"] == t) & (sc["outcome"] == o)]
            if r.empty or pd.isna(r["percent"].iloc[0]):
                rec[o] = ""
                continue
            pc, lo, hi = (r[c].iloc[0] for c in ("percent", "ci_low", "ci_high"))
            ci = f" ({fmt_ci(lo, hi)})" if pd.notna(lo) and pd.notna(hi) else ""
            rec[o] = f"{fmt_pct(pc)}{ci}"
        rows.append(rec)
    return pd.DataFrame(rows)


def intro_html(agg: pd.DataFrame, instrument: Instrument, audience: str) -> str:
    """Opening paragraph: how many organisations and cases, and what pooling means.

    ``audience`` is the aggregate findings' own (their context), never a parameter.
    """
    pooled = pooled_rows(agg)
    n = pooled[(pooled["kind"] == "sample") & (pooled["measure_id"] == "n_cases")]
    mode = (
        "Small cells are suppressed [c] for publication."
        if audience == "publication"
        else "Internal version: small bases are marked [u] (low reliability), nothing is "
        "suppressed."
    )
    return render(
        "aggregate_intro.html.j2",
        trusts=[display_name(t) for t in trusts_in(agg)],
        n_cases=fmt_int(n["numerator"].iloc[0]) if len(n) else "–",
        title=instrument.title,
        version=instrument.version,
        mode=mode,
    )


def score_table_html(agg: pd.DataFrame, instrument: Instrument) -> str:
    """Outcome scores per organisation with 95% intervals, pooled row last."""
    t = outcome_score_table(agg, instrument)
    rows = [
        {
            "organisation": r["organisation"],
            "total": r["organisation"] == POOLED_LABEL,
            "cells": [r[o] for o in instrument.outcomes],
        }
        for r in t.to_dict("records")
    ]
    headings = [f"{o.id} {o.short}" for o in instrument.outcomes.values()]
    return render("score_table.html.j2", rows=rows, outcome_headings=headings)


def funnel_note_html(f: Funnel) -> str:
    """The careful paragraph under one funnel chart."""
    return render("funnel_note.html.j2", text=describe(f))
