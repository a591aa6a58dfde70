"""The one findings table: every computed figure as a tidy row, and the context it holds for.

Every number shown in a report, chart or Excel table is read from this table,
so each can be traced back to its numerator and denominator. The table is
written to ``outputs/<trust>/findings.csv`` (and ``.parquet``) by
``python -m analysis analyse``.

The findings carry their context (:class:`FindingsContext`): the audience they
were disclosure-controlled for, the thresholds, the confidence level, the
instrument and the outcome scoring method. It is written beside the table as
``findings.meta.json`` (and into the parquet file's metadata), and every
renderer takes it from there (:func:`read_context`), so a report can never
call unsuppressed findings a publication version.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import pandas as pd

from analysis import config
from analysis.engine.disclosure import AUDIENCES
from analysis.errors import UserError

#: Column order of the findings table; meanings are documented in the README.
FINDINGS_COLUMNS: list[str] = [
    "trust",  # organisation slug ("aggregate" for pooled rows)
    "kind",  # one of KINDS below
    "outcome",  # O1..O5, or empty
    "criterion",  # 1.1..5.5, or empty
    "measure_id",  # question id, factor item id, score id (score_O1) or profile column
    "label",  # human-readable label
    "group_var",  # case-detail column a comparison is split by (om_grade, ldu, gender), else empty
    "group",  # the group's value ("PO"); for a difference "PO - PSO"; else empty
    "category",  # answer category for breakdowns / profile rows, else empty
    "numerator",  # count above the line (or in the category)
    "denominator",  # relevant cases (answers other than not applicable)
    "percent",  # 100 * numerator / denominator, unrounded (scores: the score)
    "ci_low",  # lower bound of the 95% interval, percent
    "ci_high",  # upper bound of the 95% interval, percent
    "p_value",  # exact test (differences only)
    "p_adjusted",  # Benjamini-Hochberg adjusted p across the screened questions
    # ";"-joined: low (base under threshold), c (suppressed),
    # secondary (suppressed to protect another cell)
    "flags",
    "method",  # how the interval / test was computed
    # rating rows: probability the rating would differ given sampling uncertainty (0-1)
    "p_different",
]

KINDS = (
    "outcome_score",
    "criterion_score",
    "question",
    "factor",
    "breakdown",
    "comparison",
    "difference",
    "profile",
    "sample",
    "key_question",
    "rating",
)


def empty_findings() -> pd.DataFrame:
    """An empty findings table with the right columns and dtypes."""
    return conform(pd.DataFrame(columns=FINDINGS_COLUMNS))


def conform(df: pd.DataFrame) -> pd.DataFrame:
    """Return ``df`` with exactly the findings columns, in order, with stable dtypes."""
    missing = [c for c in FINDINGS_COLUMNS if c not in df.columns]
    df = df.assign(**{c: pd.NA for c in missing})[FINDINGS_COLUMNS].copy()
    text = ["trust", "kind", "outcome", "criterion", "measure_id", "label"]
    text += ["group_var", "group", "category", "flags", "method"]
    for c in text:
        df[c] = df[c].astype("string").fillna("")
    for c in ["numerator", "denominator"]:
        df[c] = pd.to_numeric(df[c]).astype("Float64")
    for c in ["percent", "ci_low", "ci_high", "p_value", "p_adjusted", "p_different"]:
        df[c] = pd.to_numeric(df[c]).astype("Float64")
    return df.reset_index(drop=True)


def flag_set(value: Any) -> set[str]:
    """The flags of one findings cell (``"low;c"`` -> ``{"low", "c"}``); empty when missing."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return set()
    return {f.strip() for f in str(value).split(";") if f.strip()}


def number(value: Any) -> float:
    """A findings number as a float, NaN when missing (``pd.NA`` does not compare)."""
    if value is None or value is pd.NA:
        return math.nan
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


# -- the findings' context -------------------------------------------------------------

#: The file beside ``findings.csv`` that holds the findings' context.
CONTEXT_FILE = "findings.meta.json"
#: Key of the same context (as JSON) in the schema metadata of ``findings.parquet``.
PARQUET_CONTEXT_KEY = b"analysis.findings_context"


@dataclass(frozen=True)
class FindingsContext:
    """What a findings table was computed for, and how.

    The defaults are those of a run with no options; the instrument fields are
    None only for findings not computed from an instrument (hand-made test tables).

    Attributes
    ----------
    audience
        ``internal`` (low bases flagged) or ``publication`` (small cells suppressed).
    low_threshold
        Bases under this are flagged ``low``.
    suppression_threshold
        Publication: counts or complements under this are suppressed ``c``.
    confidence_level
        Confidence level of every interval.
    instrument_id, instrument_version, instrument_sha256
        The instrument the cases were scored against.
    outcome_method
        How outcome scores average their questions (``question_mean`` or ``criterion_mean``).
    """

    audience: str = "internal"
    low_threshold: int = config.LOW_BASE_THRESHOLD
    suppression_threshold: int = config.SUPPRESSION_THRESHOLD
    confidence_level: float = config.CONFIDENCE_LEVEL
    instrument_id: str | None = None
    instrument_version: str | None = None
    instrument_sha256: str | None = None
    outcome_method: str | None = None

    def __post_init__(self) -> None:
        if self.audience not in AUDIENCES:
            raise UserError(
                f"audience must be one of {', '.join(AUDIENCES)}, not {self.audience!r}"
            )

    @classmethod
    def for_run(
        cls,
        instrument: Any,
        *,
        audience: str = "internal",
        low_threshold: int = config.LOW_BASE_THRESHOLD,
        suppression_threshold: int = config.SUPPRESSION_THRESHOLD,
        confidence_level: float = config.CONFIDENCE_LEVEL,
        outcome_method: str | None = None,
    ) -> FindingsContext:
        """The context of findings computed with ``instrument`` and these options.

        ``outcome_method`` None means the instrument's own method, which is recorded.
        """
        return cls(
            audience=audience,
            low_threshold=low_threshold,
            suppression_threshold=suppression_threshold,
            confidence_level=confidence_level,
            instrument_id=instrument.id,
            instrument_version=instrument.version,
            instrument_sha256=instrument.sha256,
            outcome_method=outcome_method or instrument.outcome_method,
        )

    def to_json(self) -> str:
        """Deterministic JSON: sorted keys, no timestamps (same context, same bytes)."""
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, source: str | Path = "findings context") -> FindingsContext:
        """Parse :meth:`to_json` output.

        Raises
        ------
        UserError
            When ``text`` is not a context of this version (say what ``source`` it came from).
        """
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise UserError(f"{source}: not valid JSON: {exc}") from None
        names = {f.name for f in fields(cls)}
        if not isinstance(data, dict) or set(data) != names:
            raise UserError(
                f"{source}: not a findings context (expected the keys {', '.join(sorted(names))})"
            )
        return cls(**data)

    def check_instrument(self, instrument: Any) -> None:
        """Refuse to render these findings with another instrument than they were computed with.

        Raises
        ------
        UserError
            When the instrument's sha256 differs from the recorded one.
        """
        if self.instrument_sha256 is not None and instrument.sha256 != self.instrument_sha256:
            raise UserError(
                f"the findings were computed with instrument {self.instrument_id} "
                f"{self.instrument_version} (sha256 {self.instrument_sha256[:12]}…), not "
                f"{instrument.id} {instrument.version} from {instrument.path} "
                f"(sha256 {instrument.sha256[:12]}…): name the same instrument"
            )


def read_context(out_dir: str | Path) -> FindingsContext:
    """The context of the findings in ``out_dir`` (its ``findings.meta.json``).

    Raises
    ------
    UserError
        When there is no context (findings written before contexts were recorded,
        or copied without it) or it cannot be read.
    """
    path = Path(out_dir) / CONTEXT_FILE
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(
            f"no findings context at {path}: the findings were written without one; "
            "run the organisation's report (or `python -m analysis analyse`) again"
        ) from None
    return FindingsContext.from_json(text, path)
