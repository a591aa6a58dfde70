"""What every part of the report prose reads: findings rows, labels and the cells of a row.

The cell helpers keep the report's rules in one place: a suppressed cell shows ``[c]``
and nothing else (never its numerator), and its words, numbers and markers come from
:mod:`analysis.render.present`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from analysis.render import present
from analysis.render.present import C

#: Irregular verb stems for turning an outcome name into "work to ..." (``Reducing`` -> ``reduce``).
_STEM_FIXES = {"reduc": "reduce", "minimis": "minimise", "achiev": "achieve", "manag": "manage"}


# -- the cells of a findings row ---------------------------------------------------------


def suppressed(row: Mapping[str, Any]) -> bool:
    """True when the row is suppressed (primary ``c`` or secondary) for this audience."""
    return present.is_suppressed(row.get("flags"))


def low(row: Mapping[str, Any]) -> bool:
    """True when the row's base is below :data:`analysis.config.LOW_BASE_THRESHOLD`."""
    return present.is_low(row.get("flags"))


def counts(row: Mapping[str, Any]) -> str:
    """``"18 of 22"``, or ``"[c]"`` when suppressed."""
    if suppressed(row):
        return C.symbol
    return present.n_of_n(row["numerator"], row["denominator"])


def pct(row: Mapping[str, Any]) -> str:
    """``"63%"``, or ``"[c]"`` when suppressed."""
    return C.symbol if suppressed(row) else present.fmt_pct(row["percent"])


def interval(row: Mapping[str, Any]) -> str:
    """``"52 to 72"``, or ``"[c]"`` when suppressed."""
    return C.symbol if suppressed(row) else present.fmt_ci(row["ci_low"], row["ci_high"])


def note(row: Mapping[str, Any]) -> str:
    """The markers shown in a table's Note column (``"[u]"``, ``"[u] [c]"``, ``""``)."""
    return present.markers(row.get("flags"))


# -- look-ups ---------------------------------------------------------------------------


def rows(findings: pd.DataFrame, kind: str, **equal: str) -> pd.DataFrame:
    """Findings rows of one kind, filtered on column equality."""
    mask = findings["kind"] == kind
    for col, value in equal.items():
        mask &= findings[col] == value
    return findings[mask]


def row(findings: pd.DataFrame, kind: str, **equal: str) -> dict[str, Any] | None:
    """The first findings row of one kind matching ``equal``, as a dict; None when absent."""
    sub = rows(findings, kind, **equal)
    return None if sub.empty else sub.iloc[0].to_dict()


def n_cases(findings: pd.DataFrame) -> int | None:
    """Number of cases inspected (the ``sample`` row ``n_cases``)."""
    r = row(findings, "sample", measure_id="n_cases")
    if r is None:
        return None
    value = r["denominator"] if present.is_missing(r["numerator"]) else r["numerator"]
    return None if present.is_missing(value) else present.whole(value)


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


def outcomes(instrument: Any) -> list[Any]:
    """The instrument's outcomes in number order."""
    return sorted(instrument.outcomes.values(), key=lambda o: o.number)


def score_row(findings: pd.DataFrame, outcome_id: str) -> dict[str, Any] | None:
    """The outcome score row ``score_<outcome>``."""
    return row(findings, "outcome_score", measure_id=f"score_{outcome_id}")


def question_rows(findings: pd.DataFrame, instrument: Any, outcome_id: str) -> pd.DataFrame:
    """Question rows of an outcome's scored questions, in instrument order, one per question."""
    qids = [q.id for q in instrument.questions_for_outcome(outcome_id)]
    sub = rows(findings, "question")
    sub = sub[sub["measure_id"].isin(qids) & (sub["group_var"] == "")]
    sub = sub.drop_duplicates("measure_id")
    order = {q: i for i, q in enumerate(qids)}
    return sub.sort_values("measure_id", key=lambda s: s.map(order))


def label(instrument: Any, measure_id: str, fallback: str = "") -> str:
    """A question's short label; ``fallback`` (or its id) when the instrument lacks it."""
    q = instrument.questions.get(measure_id)
    return q.label if q is not None else (fallback or measure_id)
