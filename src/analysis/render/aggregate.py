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
from analysis.render.present import (
    LOW,
    MISSING,
    C,
    fmt_ci,
    fmt_int,
    fmt_pct,
    is_missing,
    is_suppressed,
    pct_n_of_n,
    rating_badge,
    trust_display_name,
    words,
)

#: How the pooled row is named in the score table.
POOLED_LABEL = "All organisations (pooled)"


def title(instrument: Instrument | None) -> str:
    """The aggregate report's title, the instrument's ``aggregate_title``.

    Its HTML <title> is set by the pipeline to the same words.
    """
    return words(instrument).say("aggregate_title")


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
        title=title(instrument),
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
    caption = f"{words(instrument).Unit} scores (95% confidence interval), by organisation"
    return render("score_table.html.j2", rows=rows, outcome_headings=headings, caption=caption)


def funnel_note_html(f: Funnel) -> str:
    """The careful paragraph under one funnel chart."""
    return render("funnel_note.html.j2", text=describe(f))


def sections(
    instrument: Instrument, comparisons: bool, ratings: bool = False
) -> list[tuple[str, str]]:
    """The aggregate report's ``(anchor, title)`` sections, in the instrument's words.

    The ratings section only when ``ratings`` (:func:`has_ratings`), the factors section
    only when the instrument has offending-related factors, the comparisons only when
    ``comparisons``.
    """
    w = words(instrument)
    out = [("scores", f"{w.Unit} scores by organisation")]
    if ratings:
        out.append(("ratings", "Ratings by organisation"))
    out.append(("funnels", "How each organisation compares with the pooled score"))
    if instrument.factors:
        out.append(("factors", f"{w.say('factors_heading')}, all organisations"))
    if comparisons:
        out.append(("comparisons", "Comparisons between groups of cases, all organisations"))
    return out + [
        ("appendix-methods", "Appendix 1: Methods"),
        ("appendix-disclosure", "Appendix 2: Small bases and suppression"),
        ("appendix-provenance", "Appendix 3: Provenance"),
    ]


def scores_note_html(instrument: Instrument) -> str:
    """The paragraph under the score table: how a pooled score is made."""
    return render("paragraph.html.j2", text=words(instrument).say("aggregate_scores_note"))


def comparisons_note_html(instrument: Instrument) -> str:
    """The paragraph opening the pooled comparisons: pooling can mislead."""
    text = words(instrument).say("aggregate_comparisons_note")
    return render("paragraph.html.j2", text=text)


# -- ratings ------------------------------------------------------------------------------


def has_ratings(agg: pd.DataFrame) -> bool:
    """Whether any organisation's findings hold rating rows (a programme with ratings)."""
    return bool(((agg["kind"] == "rating") & (agg["trust"] != AGGREGATE)).any())


def ratings_by_organisation(agg: pd.DataFrame, instrument: Instrument) -> pd.DataFrame:
    """One row per organisation and rated standard (then its overall rating), as shown.

    Organisations in name order; within one, the standards in the instrument's order, the
    overall rating last. Ratings are never pooled: an aggregate of organisations is not
    rated. Columns: ``organisation``, ``standard`` (its id and title), ``rating`` (its
    label, "" when none), ``overall``, ``rests`` (what it rests on: "54% (13 of 24)",
    "rated by inspectors", "17 points"), ``p`` (the chance of a different rating).
    """
    rows = agg[(agg["kind"] == "rating") & (agg["trust"] != AGGREGATE)]
    ratings = getattr(instrument, "ratings", None)
    order = {f"rating_{s.id}": i for i, s in enumerate(ratings.standards)} if ratings else {}
    order["rating_overall"] = len(order)
    rows = rows.assign(
        _t=rows["trust"].map(display_name), _s=rows["measure_id"].map(order).fillna(len(order))
    ).sort_values(["_t", "_s"], kind="stable")
    out = []
    for r in rows.to_dict("records"):
        overall = r["measure_id"] == "rating_overall"
        sid = str(r["measure_id"]).removeprefix("rating_")
        if overall:
            rests = f"{fmt_int(r['numerator'])} points" if not is_missing(r["numerator"]) else ""
        elif "inspectors" in str(r.get("method", "")):
            rests = "rated by inspectors"
        elif is_suppressed(r["flags"]):
            rests = C.symbol
        elif is_missing(r["percent"]):
            rests = ""
        else:
            rests = pct_n_of_n(r["percent"], r["numerator"], r["denominator"])
        p = r.get("p_different")
        chance = "" if is_missing(p) or is_suppressed(r["flags"]) else fmt_pct(100 * float(p))
        out.append(
            {
                "organisation": r["_t"],
                "standard": r["label"] if overall else f"{sid} {r['label']}",
                "rating": str(r.get("category") or ""),
                "overall": overall,
                "rests": rests,
                "p": chance,
            }
        )
    columns = ["organisation", "standard", "rating", "overall", "rests", "p"]
    return pd.DataFrame(out, columns=columns)


def ratings_table_html(agg: pd.DataFrame, instrument: Instrument) -> str:
    """The ratings of every organisation: one row per organisation and standard.

    Each rating is its coloured band carrying its words, as in the organisation's own
    report (the same CSS classes).
    """
    table = ratings_by_organisation(agg, instrument)
    rows = [
        {
            **r,
            "rating": rating_badge(instrument, r["rating"]),
            "rests": r["rests"] or MISSING,
            "p": r["p"] or MISSING,
        }
        for r in table.to_dict("records")
    ]
    w = words(instrument)
    caption = f"Ratings of the {w.units}, by organisation, from each organisation's own report"
    note = (
        "Each organisation is rated from its own cases (and, for standards rated by "
        "inspectors, their judgement); ratings are not pooled. The chance of a different "
        "rating is the share of case bootstrap resamples of the same size rated otherwise."
    )
    return render("aggregate_ratings.html.j2", rows=rows, unit=w.Unit, caption=caption, note=note)
