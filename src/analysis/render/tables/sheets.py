"""The published tables of ``tables.xlsx`` as plain data: one :class:`Table` per sheet.

Each builder reads one kind of findings row and returns its table's columns and cell
values for one audience; :mod:`.workbook` writes them. Every figure is read from the
findings table (nothing is recomputed from cases), and how it is rounded, marked,
named and ordered is decided by :mod:`analysis.render.present`: internal tables keep a
suppressed value beside its ``[c]`` marker, publication tables show ``[c]`` in its place.

Following the Analysis Function guidance, every header names its unit ("(number)",
"(%)", "(percentage points)"); a figure the findings do not hold is ``[x]`` (not
available), or ``[z]`` where it cannot exist (a percentage of a base of 0, a difference
between more than two groups); and a column that would hold nothing but ``[x]``, ``[z]``
or blanks is left out (:func:`drop_empty_columns`), so the comparisons' differences are
tables of their own. Each table names the notes it relies on (:attr:`Table.notes`),
which the workbook numbers.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from analysis.engine.compare import MULTI_SEP
from analysis.engine.findings import flag_set, number
from analysis.engine.pooling import AGGREGATE
from analysis.instrument import Instrument
from analysis.render import present
from analysis.render.present import C, X, Z

AUDIENCES = ("internal", "publication")

# How a value is stored: integer count, percent (1 dp), p-value, or text.
INT, PCT, P, TEXT = "int", "pct", "p", "text"


@dataclass(frozen=True)
class Column:
    """One column of a published table."""

    header: str
    kind: str = TEXT
    width: float = 14


@dataclass
class Table:
    """One published table (one sheet).

    Attributes
    ----------
    notes
        Ids of the notes (:data:`analysis.render.tables.workbook.NOTES`) the table relies
        on; the workbook numbers them and references them from the title.
    """

    sheet: str
    title: str
    description: str
    columns: list[Column]
    rows: list[list[Any]]
    notes: tuple[str, ...] = ()


#: Cell values that hold no figure: a column of nothing else is left out.
_EMPTY = frozenset({None, "", X.symbol, Z.symbol})


def drop_empty_columns(table: Table) -> Table:
    """``table`` without the columns whose every cell is blank, ``[x]`` or ``[z]``.

    A column of ``[c]`` stays: it says that figures exist and are withheld.
    """
    keep = [
        j
        for j in range(len(table.columns))
        if not table.rows or any(r[j] not in _EMPTY for r in table.rows)
    ]
    table.columns = [table.columns[j] for j in keep]
    table.rows = [[r[j] for j in keep] for r in table.rows]
    return table


# -- reading findings ---------------------------------------------------------------------


class _Cells:
    """Turns findings values into cell values for one audience."""

    def __init__(self, audience: str) -> None:
        self.publication = audience == "publication"

    def numbers(
        self, row: pd.Series | dict[str, Any], cols: Sequence[str], gap: str | None = None
    ) -> list[Any]:
        """Values of numeric findings columns: [c] when suppressed for publication.

        A blank value is ``gap`` when given, else :func:`analysis.render.present.missing_marker`
        of the row's base ([z] on a base of 0, [x] otherwise).
        """
        hide = self.publication and present.is_suppressed(row["flags"])
        blank = gap or present.missing_marker(row.get("denominator")).symbol
        out: list[Any] = []
        for c in cols:
            v = number(row[c])
            out.append(C.symbol if hide else (blank if present.is_missing(v) else v))
        return out


def _records_by(rows: pd.DataFrame, key: str) -> dict[Any, list[dict[str, Any]]]:
    """Rows as dicts, grouped by ``key`` in their original order."""
    out: dict[Any, list[dict[str, Any]]] = {}
    for rec in rows.to_dict("records"):
        out.setdefault(rec[key], []).append(rec)
    return out


def single_trust(findings: pd.DataFrame) -> str:
    """The one organisation the findings are about ("" when unnamed); several are refused."""
    trusts = sorted(set(findings["trust"].dropna()) - {""})
    if len(trusts) > 1:
        raise ValueError(f"findings hold several organisations {trusts}; filter to one trust first")
    return trusts[0] if trusts else ""


def _question_position(rows: pd.DataFrame, instrument: Instrument) -> dict[str, int]:
    """Each question id's place in the declared order (undeclared ids after, as found)."""
    return {q: i for i, q in enumerate(present.question_order(rows["measure_id"], instrument))}


def sheet_name(text: str) -> str:
    """Excel sheet names: at most 31 characters, no spaces or special characters."""
    return re.sub(r"[^A-Za-z0-9_]+", "_", text).strip("_")[:31] or "Sheet"


# -- the published tables ---------------------------------------------------------------

_N_COLS = ["numerator", "denominator", "percent", "ci_low", "ci_high"]


#: The notes every table of percentages relies on.
_PCT_NOTES = ("markers", "rounding", "ci")


def _prop_columns(n_header: str, d_header: str, of: str) -> list[Column]:
    """Numerator, base, percentage and interval columns; ``of`` names what is counted."""
    return [
        Column(f"{n_header} (number)", INT, 14),
        Column(f"{d_header} (number)", INT, 14),
        Column(f"Percentage of {of} (%)", PCT, 14),
        Column("Lower 95% confidence limit (%)", PCT, 14),
        Column("Upper 95% confidence limit (%)", PCT, 14),
    ]


def _outcome_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "outcome_score"]
    if rows.empty:
        return None
    rows = rows.iloc[
        sorted(
            range(len(rows)),
            key=lambda i: present.unit_number(rows["outcome"].iloc[i], instrument),
        )
    ]
    w = present.words(instrument)
    out = []
    for _, r in rows.iterrows():
        name = (
            instrument.outcomes[r["outcome"]].name
            if r["outcome"] in instrument.outcomes
            else r["label"]
        )
        out.append([r["outcome"], name, *cells.numbers(r, _N_COLS), present.markers(r["flags"])])
    return Table(
        sheet=f"{w.Unit}_scores",
        title=f"{w.Unit} scores: percentage of work {w.say('done_well')}",
        description=(
            f"One row per {w.unit}. The score is the share of the {w.unit}'s relevant "
            f"question answers {w.say('judged_above_line')} (see Notes for the method)."
        ),
        columns=[
            Column(w.Unit, TEXT, 10),
            Column(f"{w.Unit} name", TEXT, 50),
            *_prop_columns(
                f"Answers {w.say('above_line')}", "Relevant answers", "relevant answers"
            ),
            Column("Markers", TEXT, 12),
        ],
        rows=out,
        notes=("scores", "base", *_PCT_NOTES),
    )


def _ratings_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    """The ratings, as the report's ratings table: one row per standard, then the overall.

    A rating is its label (``Not rated`` when none could be given); beside it the points
    it is worth, the proportion it rests on with its interval, and the probability that a
    fresh sample of the same size would be rated differently (the findings' ``p_different``,
    as a percentage).
    """
    rows = findings[findings["kind"] == "rating"]
    ratings = getattr(instrument, "ratings", None)
    if rows.empty or ratings is None:
        return None
    w = present.words(instrument)
    out = []
    for r in rows.to_dict("records"):
        overall = r["measure_id"] == "rating_overall"
        label = r.get("category") or ""
        rid = ratings.rating_of_label(label) if label else None
        if overall:
            points = cells.numbers(r, ["numerator"], X.symbol)[0]
            basis = "sum of the standards' points"
            shown = [X.symbol] * len(_N_COLS)
        else:
            points = ratings.points(rid) if rid is not None else X.symbol
            inspectors = "inspectors" in str(r.get("method", ""))
            basis = (
                "rated by inspectors"
                if inspectors
                else present.rating_basis(r.get("method"), instrument, ids="both")
            )
            shown = [X.symbol] * len(_N_COLS) if inspectors else cells.numbers(r, _N_COLS)
        p = number(r.get("p_different"))
        # As a percentage; withheld with the row's other figures when they are suppressed.
        chance = cells.numbers({**r, "p_different": 100 * p}, ["p_different"], X.symbol)[0]
        standard = "Overall" if overall else str(r["measure_id"]).removeprefix("rating_")
        out.append([standard, r["label"], label or "Not rated", points, basis, *shown, chance])
    return Table(
        sheet="Ratings",
        title=f"Ratings of the {w.units}",
        description=(
            f"One row per rated {w.unit}, then the overall rating. A rating rests on the "
            "percentage shown (see Notes for the rule); standards rated by inspectors come "
            "from a separate input."
        ),
        columns=[
            Column(w.Unit, TEXT, 10),
            Column(f"{w.Unit} name", TEXT, 40),
            Column("Rating", TEXT, 22),
            Column("Points (number)", INT, 10),
            Column("Rests on", TEXT, 36),
            *_prop_columns(f"Cases {w.say('above_line')}", "Relevant cases", "relevant cases"),
            Column("Chance of a different rating (%)", PCT, 16),
        ],
        rows=out,
        notes=("ratings", *_PCT_NOTES),
    )


def _ratings_by_organisation(
    findings: pd.DataFrame, instrument: Instrument, cells: _Cells
) -> Table | None:
    """Every organisation's ratings (the aggregate's): its Ratings table's rows, one block each.

    Organisations in name order, each with its standards in the instrument's order, then
    its overall rating; ratings are never pooled.
    """
    rows = findings[(findings["kind"] == "rating") & (findings["trust"] != AGGREGATE)]
    ratings = getattr(instrument, "ratings", None)
    order = {f"rating_{s.id}": i for i, s in enumerate(ratings.standards if ratings else ())}
    position = rows["measure_id"].map(order).fillna(len(order))  # the overall rating last
    rows = rows.iloc[position.argsort(kind="stable")]
    blocks = []
    for trust in sorted(set(rows["trust"]), key=present.trust_display_name):
        one = _ratings_table(rows[rows["trust"] == trust], instrument, cells)
        if one is not None:
            blocks += [[present.trust_display_name(trust), *r] for r in one.rows]
            template = one
    if not blocks:
        return None
    w = present.words(instrument)
    return Table(
        sheet="Ratings_by_organisation",
        title=f"Ratings of the {w.units}, by organisation",
        description=(
            f"One row per organisation and rated {w.unit}, then its overall rating, as in "
            "each organisation's own tables; ratings are not pooled."
        ),
        columns=[Column("Organisation", TEXT, 28), *template.columns],
        rows=blocks,
        notes=template.notes,
    )


def _criterion_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "criterion_score"]
    if rows.empty:
        return None
    crit_order = {c: i for i, c in enumerate(instrument.criteria)}
    keyed = sorted(rows.iterrows(), key=lambda t: (crit_order.get(t[1]["criterion"], 999), t[0]))
    out = []
    for _, r in keyed:
        crit = instrument.criteria.get(r["criterion"])
        title = crit.title if crit else r["label"]
        outcome = r["outcome"] or (crit.outcome if crit else "")
        out.append(
            [
                r["criterion"],
                outcome,
                title,
                *cells.numbers(r, _N_COLS),
                present.markers(r["flags"]),
            ]
        )
    w = present.words(instrument)
    return Table(
        sheet="Criterion_scores",
        title=f"Criterion scores: percentage of work {w.say('done_well')}",
        description="One row per case-assessed criterion of the inspection framework.",
        columns=[
            Column("Criterion", TEXT, 10),
            Column(w.Unit, TEXT, 10),
            Column("Criterion title", TEXT, 60),
            *_prop_columns(
                f"Answers {w.say('above_line')}", "Relevant answers", "relevant answers"
            ),
            Column("Markers", TEXT, 12),
        ],
        rows=out,
        notes=("scores", "base", *_PCT_NOTES),
    )


def _question_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "question"]
    if rows.empty:
        return None
    order = _question_position(rows, instrument)
    keyed = sorted(
        rows.iterrows(),
        key=lambda t: (present.unit_number(t[1]["outcome"], instrument), order[t[1]["measure_id"]]),
    )
    out = []
    for _, r in keyed:
        q = instrument.questions.get(r["measure_id"])
        out.append(
            [
                r["outcome"],
                r["criterion"] or (q.criterion if q else ""),
                r["measure_id"],
                q.text if q else r["label"],
                *cells.numbers(r, _N_COLS),
                present.markers(r["flags"]),
            ]
        )
    w = present.words(instrument)
    return Table(
        sheet="Questions",
        title=f"Key questions by {w.unit}: cases {w.say('judged_above_line')}",
        description=(
            "One row per scored question. The base is the relevant cases: answers other "
            "than not applicable, so bases vary between questions."
        ),
        columns=[
            Column(w.Unit, TEXT, 10),
            Column("Criterion", TEXT, 10),
            Column("Question id", TEXT, 22),
            Column("Question", TEXT, 70),
            *_prop_columns(f"Cases {w.say('above_line')}", "Relevant cases", "relevant cases"),
            Column("Markers", TEXT, 12),
        ],
        rows=out,
        notes=("base", *_PCT_NOTES),
    )


def _factor_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    if not (findings["kind"] == "factor").any():
        return None
    factors = present.factors(findings, instrument, hide_suppressed=cells.publication)
    groups = present.factor_groups(factors, instrument, hide_suppressed=cells.publication)
    out = []
    for f, group in zip(factors, groups, strict=True):
        # A hidden prevalence has no known rank: its group is [c] (and it is listed last).
        hidden = cells.publication and f.hidden
        row: list[Any] = [group, f.label]
        row += cells.numbers(f.identified, ["numerator", "denominator"])
        flags = set(flag_set(f.identified["flags"]))
        for item in ("interventions", "progress"):
            if hidden:
                # The items' base is the suppressed prevalence, so they are withheld too.
                row += [C.symbol] * 3
            elif item in f.rows:
                row += cells.numbers(f.rows[item], ["numerator", "denominator", "percent"])
                flags |= flag_set(f.rows[item]["flags"])
            else:
                row += [Z.symbol] * 3
        row.append(present.markers(flags))
        out.append(row)
    return Table(
        sheet="Factors",
        title="Offending-related factors: prevalence, interventions and progress",
        description=(
            "Report table 3.5, flattened. Factors in order of prevalence, ties in the "
            "instrument's order"
            + (
                f" (a factor whose prevalence is suppressed is listed last, with group {C.symbol})"
                if cells.publication
                else ""
            )
            + ". Interventions and progress are percentages of the cases where the factor was "
            "identified."
        ),
        columns=[
            Column("Factor group", TEXT, 24),
            Column("Offending-related factor", TEXT, 40),
            Column("Cases where identified (number)", INT, 14),
            Column("Cases inspected (number)", INT, 14),
            Column("Sufficient interventions (number)", INT, 14),
            Column("Cases where identified, interventions base (number)", INT, 16),
            Column("Sufficient interventions, of cases where identified (%)", PCT, 16),
            Column("Sufficient progress (number)", INT, 14),
            Column("Cases where identified, progress base (number)", INT, 16),
            Column("Sufficient progress, of cases where identified (%)", PCT, 16),
            Column("Markers", TEXT, 12),
        ],
        rows=out,
        notes=("factors", "markers", "rounding"),
    )


def _test_name(method: Any) -> str:
    """The test part of a difference row's method ("Fisher's exact test")."""
    parts = [p.strip() for p in str(method or "").split(";")]
    skip = ("interval", "newcombe", "benjamini")
    tests = [p for p in parts if p and p != "bh" and not any(w in p.lower() for w in skip)]
    return tests[0][:1].upper() + tests[0][1:] if tests else ""


def _comparison_tables(
    findings: pd.DataFrame, instrument: Instrument, cells: _Cells, group_var: str
) -> list[Table]:
    """A comparison's group results, then its differences and tests, as two tables."""
    comp = findings[(findings["kind"] == "comparison") & (findings["group_var"] == group_var)]
    diff = findings[(findings["kind"] == "difference") & (findings["group_var"] == group_var)]
    qids = present.question_order(list(comp["measure_id"]) + list(diff["measure_id"]), instrument)
    rank = {g: i for i, g in enumerate(present.group_order(comp["group"], group_var, instrument))}
    # Rows grouped by question once (as dicts): filtering the frame per question made this
    # sheet quadratic, most of tables.xlsx's time with four comparison variables.
    comp_by, diff_by = _records_by(comp, "measure_id"), _records_by(diff, "measure_id")
    groups, diffs = [], []
    for qid in qids:
        q = instrument.questions.get(qid)
        for r in sorted(comp_by.get(qid, []), key=lambda r: rank[r["group"]]):
            text = q.text if q else r["label"]
            groups.append(
                [qid, text, r["group"], *cells.numbers(r, _N_COLS), present.markers(r["flags"])]
            )
        for r in diff_by.get(qid, []):
            text = q.text if q else r["label"]
            # More than two groups have no single difference: only their test applies.
            gap = Z.symbol if MULTI_SEP in str(r["group"]) else X.symbol
            diffs.append(
                [qid, text, r["group"]]
                + cells.numbers(r, ["percent", "ci_low", "ci_high"], gap)
                + [_test_name(r["method"])]
                + cells.numbers(r, ["p_value", "p_adjusted"], X.symbol)
                + [present.markers(r["flags"])]
            )
    label = present.variable_label(group_var, instrument)
    words = present.words(instrument)
    out = [
        Table(
            sheet=sheet_name(f"Comparison_{group_var}"),
            title=f"Comparison by {label}: cases {words.say('judged_above_line')}",
            description="One row per question and group, with each group's result.",
            columns=[
                Column("Question id", TEXT, 22),
                Column("Question", TEXT, 60),
                Column("Group", TEXT, 22),
                *_prop_columns(
                    f"Cases {words.say('above_line')}", "Relevant cases", "relevant cases"
                ),
                Column("Markers", TEXT, 12),
            ],
            rows=groups,
            notes=("base", *_PCT_NOTES),
        )
    ]
    if diffs:
        out.append(
            Table(
                sheet=sheet_name(f"Differences_{group_var}"),
                title=f"Differences by {label}: tests of the groups' results",
                description=(
                    "One row per question. With two groups: the difference in percentage "
                    "points (first group minus second) and its interval; with more, only the "
                    "test across all groups. Judge significance on the adjusted p-value."
                ),
                columns=[
                    Column("Question id", TEXT, 22),
                    Column("Question", TEXT, 60),
                    Column("Groups compared", TEXT, 24),
                    Column("Difference (percentage points)", PCT, 16),
                    Column("Lower 95% confidence limit (percentage points)", PCT, 16),
                    Column("Upper 95% confidence limit (percentage points)", PCT, 16),
                    Column("Test", TEXT, 30),
                    Column("p-value (probability, 0 to 1)", P, 14),
                    Column("Adjusted p-value (probability, 0 to 1)", P, 16),
                    Column("Markers", TEXT, 12),
                ],
                rows=diffs,
                notes=("markers", "differences", "pvalues", "adjusted", "rounding"),
            )
        )
    return out


def _breakdown_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    rows = findings[findings["kind"] == "breakdown"]
    if rows.empty:
        return None
    order = _question_position(rows, instrument)
    keyed = sorted(rows.iterrows(), key=lambda t: order[t[1]["measure_id"]])
    out = []
    for _, r in keyed:
        q = instrument.questions.get(r["measure_id"])
        out.append(
            [
                r["measure_id"],
                q.text if q else r["label"],
                r["category"],
                *cells.numbers(r, ["numerator", "denominator", "percent"]),
                present.markers(r["flags"]),
            ]
        )
    return Table(
        sheet="Breakdowns",
        title="Answer breakdowns: relevant cases by answer category",
        description="One row per question and answer category; bases are the relevant cases.",
        columns=[
            Column("Question id", TEXT, 22),
            Column("Question", TEXT, 60),
            Column("Answer category", TEXT, 30),
            Column("Cases (number)", INT, 12),
            Column("Relevant cases (number)", INT, 14),
            Column("Percentage of relevant cases (%)", PCT, 14),
            Column("Markers", TEXT, 12),
        ],
        rows=out,
        notes=("base", "markers", "rounding"),
    )


def _profile_table(findings: pd.DataFrame, instrument: Instrument, cells: _Cells) -> Table | None:
    sample = findings[findings["kind"] == "sample"]
    prof = findings[findings["kind"] == "profile"]
    if sample.empty and prof.empty:
        return None
    out = []
    for _, r in sample.iterrows():
        label = r["label"] or r["measure_id"]
        row = [label, "All cases", *cells.numbers(r, ["numerator"], X.symbol), Z.symbol, Z.symbol]
        out.append(row + [present.markers(r["flags"])])
    for col in present.profile_columns(prof["measure_id"], instrument):
        for _, r in prof[prof["measure_id"] == col].iterrows():
            label = (
                instrument.case_details[col].label if col in instrument.case_details else r["label"]
            )
            out.append(
                [
                    label,
                    r["category"],
                    *cells.numbers(r, ["numerator", "denominator", "percent"]),
                    present.markers(r["flags"]),
                ]
            )
    return Table(
        sheet="Sample_profile",
        title="Sample profile: the cases inspected",
        description=(
            "The report's sample profile appendix: characteristics of the inspected case sample."
        ),
        columns=[
            Column("Characteristic", TEXT, 40),
            Column("Category", TEXT, 34),
            Column("Cases (number)", INT, 12),
            Column("Cases inspected (number)", INT, 14),
            Column("Percentage of cases inspected (%)", PCT, 14),
            Column("Markers", TEXT, 12),
        ],
        rows=out,
        notes=("markers", "rounding"),
    )


def build_tables(
    findings: pd.DataFrame,
    instrument: Instrument,
    audience: str = "internal",
    *,
    by_organisation: pd.DataFrame | None = None,
) -> list[Table]:
    """The published tables, in workbook order, as plain data (cell values per row).

    Parameters
    ----------
    findings
        The findings table of one organisation.
    instrument
        Supplies question texts, criterion titles and orders.
    audience
        ``internal`` (suppressed cells keep their values and a ``[c]`` marker) or
        ``publication`` (suppressed values are replaced by ``[c]``).
    by_organisation
        The aggregate's: every organisation's own findings, whose ratings make a table of
        one row per organisation and standard after the scores (none when no rating rows).

    Returns
    -------
    list[Table]
        Tables with no rows in the findings are left out.
    """
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {AUDIENCES}, not {audience!r}")
    single_trust(findings)
    cells = _Cells(audience)
    builders: list[Callable[[pd.DataFrame, Instrument, _Cells], Table | None]] = [
        _outcome_table,
        _ratings_table,
        _criterion_table,
        _question_table,
        _factor_table,
    ]
    tables = [t for b in builders if (t := b(findings, instrument, cells)) is not None]
    if by_organisation is not None:
        rated = _ratings_by_organisation(by_organisation, instrument, cells)
        tables[1:1] = [rated] if rated is not None else []
    group_vars = findings.loc[findings["kind"] == "comparison", "group_var"]
    for g in present.comparison_vars(group_vars, instrument):
        tables += _comparison_tables(findings, instrument, cells, g)
    for b in (_breakdown_table, _profile_table):
        if (t := b(findings, instrument, cells)) is not None:
            tables.append(t)
    tables = [drop_empty_columns(t) for t in tables]
    seen: set[str] = set()
    for i, t in enumerate(tables, start=1):
        t.title = f"Table {i}: {t.title}"
        while t.sheet in seen or t.sheet in ("Cover", "Contents", "Notes"):
            t.sheet = sheet_name(t.sheet[:28] + f"_{i}")
        seen.add(t.sheet)
    return tables
