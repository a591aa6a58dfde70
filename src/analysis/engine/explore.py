"""Exploration: the findings of any filter of the cases, fast enough for widgets.

:func:`analysis.engine.run.analyse` recomputes everything (profile, breakdowns, factors,
every comparison, disclosure) from the case table; a widget needs a few figures, at once.
An :class:`Explorer` does the expensive work once per case table:

- the judgement matrix (:func:`analysis.engine.scoring.judgement_matrix`: the
  instrument's scoring and skip rules, 1 above the line, 0 below, -1 not relevant),
  kept as two float matrices, *above* and *relevant* (cases x questions);
- every case detail factorised into groups (:func:`analysis.engine.compare.group_values`
  order), as one stacked indicator matrix (all groups of all details x cases).

An interaction is then a boolean mask over the cases, and every count is a
matrix-vector product with it: the questions' above / relevant counts are
``mask @ above``, a question by every case detail is ``groups @ (mask * above[:, q])``.
Intervals and tests are the engine's own (:mod:`analysis.engine.stats`), so the
figures equal those :func:`~analysis.engine.run.analyse` gives for the filtered cases:

- questions and groups: Wilson score interval;
- scores: :func:`analysis.engine.scoring.compute_scores` on the masked judgements;
- two groups compared question by question: the difference with Newcombe's hybrid
  score interval, tested with **Fisher's exact test** and screened with the
  Benjamini-Hochberg false discovery rate across the questions tested
  (statsmodels' ``multipletests``). Fisher rather than a two-proportion z test
  because explored groups are small (a 73-case trust split three ways, a filter on
  top) and answers often sit at 0% or 100%, where the z test's normal approximation
  fails; it is also the test the findings use, so the explorer and the report agree.
  It is computed for all questions in array calls (:func:`analysis.engine.stats.fisher_2x2_many`),
  with the same p values as scipy's one-table function;
- a question across the groups of one detail: the engine's comparison test
  (Fisher for two groups, :func:`analysis.engine.stats.k_by_2_test` for more), unadjusted,
  for the details the report compares (and the organisation when pooled).

The explorer computes only. It flags nothing: whether a base is small is the
presentation layer's rule (``analysis.render.present``), applied when results are shown.
Nothing it returns holds a case row or identifier: only counts over masks.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.compare import DIFF_SEP, group_values
from analysis.engine.profile import MISSING, profile_columns
from analysis.engine.scoring import (
    ABOVE_CODE,
    compute_scores,
    judgement_matrix,
    score_rows,
    score_specs,
)
from analysis.engine.stats import (
    FISHER_MAX_TOTAL,
    bh_adjust,
    chi_square_2x2,
    fisher_2x2_many,
    k_by_2_test,
    newcombe_difference,
    wilson,
)
from analysis.errors import UserError
from analysis.instrument import Instrument

#: The filter option for blank values when a group is already called ``MISSING``.
BLANK = "(blank)"
#: ``method`` of a detail :meth:`Explorer.by_detail` does not test.
NOT_TESTED = "not tested"
#: The organisation column: a detail of its own when several organisations are pooled.
TRUST = "trust"


@dataclass(frozen=True)
class Detail:
    """One case detail's groups: the explorer's unit of filtering and splitting.

    Attributes
    ----------
    id, label
        Column id and the instrument's label.
    groups
        Group values in :func:`analysis.engine.compare.group_values` order, blanks excluded.
    level
        Per case: index into ``groups``, or ``len(groups)`` for a blank value.
    """

    id: str
    label: str
    groups: tuple[str, ...]
    level: np.ndarray = field(repr=False)

    @property
    def has_blanks(self) -> bool:
        """Whether some case has no value (offered as :data:`MISSING` in filters)."""
        return bool((self.level == len(self.groups)).any())

    @property
    def blank(self) -> str:
        """The filter option for cases with no value.

        :data:`MISSING`, or :data:`BLANK` when a group is already called that (the RoSH
        level "Not recorded" is an answer).
        """
        return BLANK if MISSING in self.groups else MISSING

    @property
    def options(self) -> tuple[str, ...]:
        """What a filter offers: the groups, then :attr:`blank` when some case has none."""
        return self.groups + ((self.blank,) if self.has_blanks else ())


def explore_details(cases: pd.DataFrame, instrument: Instrument) -> list[str]:
    """Case details to filter and split by: the profiled ones, and the organisation when pooled.

    The profiled details are every non-sensitive category, text or count detail
    (:func:`analysis.engine.profile.profile_columns`); the organisation comes first when
    the cases hold more than one.
    """
    cols = [c for c in profile_columns(instrument) if c in cases.columns]
    if TRUST in cases.columns and cases[TRUST].nunique(dropna=True) > 1:
        cols = [TRUST, *cols]
    return cols


class Explorer:
    """One case table, ready for fast filtered findings.

    Parameters
    ----------
    cases
        Processed cases (one organisation, or several stacked with their ``trust``).
    instrument
        The instrument the cases were recorded against.
    details
        Case-detail columns to filter and split by; default :func:`explore_details`.
    level
        Confidence level of every interval.
    outcome_method
        ``question_mean`` or ``criterion_mean``; default the instrument's.
    """

    def __init__(
        self,
        cases: pd.DataFrame,
        instrument: Instrument,
        details: Sequence[str] | None = None,
        *,
        level: float = config.CONFIDENCE_LEVEL,
        outcome_method: str | None = None,
    ) -> None:
        cases = cases.reset_index(drop=True)
        self.instrument = instrument
        self.level = level
        self.n_cases = len(cases)
        self.judgements = judgement_matrix(cases, instrument)
        m = self.judgements.matrix
        self.questions: list[str] = self.judgements.questions
        self.above = (m == ABOVE_CODE).astype(np.float64)
        self.relevant = (m >= 0).astype(np.float64)
        self.specs = score_specs(instrument, outcome_method)
        details = explore_details(cases, instrument) if details is None else list(details)
        self.details: dict[str, Detail] = {}
        for col in details:
            if col not in cases.columns:
                raise UserError(f"the cases have no column {col!r} to explore by")
            groups = group_values(cases, instrument, col)
            label = instrument.case_details[col].label if col in instrument.case_details else col
            # The engine's grouping: values stripped, compared as text.
            text = cases[col].astype("string").str.strip()
            pos = {g: i for i, g in enumerate(groups)}
            level_ = text.map(pos).fillna(len(groups)).to_numpy(dtype=np.int64)
            self.details[col] = Detail(col, label, tuple(groups), level_)
        # The details a question is tested across: those the report compares (and the
        # organisation when pooled); a test for every detail would be a fishing trip, and
        # the exact tests of the many-valued ones (principal offence) are the slowest part.
        self.tested = [
            v
            for v in self.details
            if len(self.details[v].groups) >= 2
            and (v == TRUST or v in instrument.comparison_columns)
        ]
        # One indicator row per group of every detail, stacked (groups x cases).
        self._rows = [(d.id, g) for d in self.details.values() for g in d.groups]
        ind = np.zeros((len(self._rows), self.n_cases))
        r = 0
        for d in self.details.values():
            for k in range(len(d.groups)):
                ind[r] = d.level == k
                r += 1
        self._indicators = ind
        qs = [instrument.questions[q] for q in self.questions]
        # Built once: a DataFrame is made from whole columns per call (assign is slow).
        self._meta = {
            "measure_id": self.questions,
            "outcome": [instrument.criteria[q.criterion].outcome for q in qs],
            "criterion": [q.criterion for q in qs],
            "label": [q.label for q in qs],
        }
        self._row_var = [r[0] for r in self._rows]
        self._row_group = [r[1] for r in self._rows]
        bounds = np.cumsum([0] + [len(d.groups) for d in self.details.values()])
        self._slices = {
            d.id: slice(int(lo), int(hi))
            for d, lo, hi in zip(self.details.values(), bounds[:-1], bounds[1:], strict=True)
        }

    # -- masks ---------------------------------------------------------------------------

    def mask(self, selected: Mapping[str, Iterable[str]] | None = None) -> np.ndarray:
        """Cases whose value in each named detail is among the selected values.

        A detail not named keeps every case; one named with no values keeps none.
        The detail's :attr:`Detail.blank` option selects the cases with no value.
        """
        out = np.ones(self.n_cases, dtype=bool)
        for col, values in (selected or {}).items():
            d = self.details[col]
            keep = set(values)
            allowed = np.array([g in keep for g in d.groups] + [d.blank in keep])
            out &= allowed[d.level]
        return out

    def group_mask(self, detail: str, values: Iterable[str]) -> np.ndarray:
        """Cases in any of ``values`` of one detail (a group to compare)."""
        return self.mask({detail: values})

    def _counts(self, mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        w = np.asarray(mask, dtype=np.float64)
        return w @ self.above, w @ self.relevant

    # -- results -------------------------------------------------------------------------

    def questions_frame(self, mask: np.ndarray | None = None) -> pd.DataFrame:
        """Every judged question for the masked cases, in declared order.

        As the findings' ``question`` rows: ``numerator`` above the line of
        ``denominator`` relevant, ``percent`` and Wilson ``ci_low`` / ``ci_high`` (0-100).
        """
        mask = np.ones(self.n_cases, dtype=bool) if mask is None else mask
        above, rel = self._counts(mask)
        lo, hi = wilson(above, rel, self.level)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(rel > 0, 100 * above / np.where(rel > 0, rel, 1), np.nan)
        return pd.DataFrame(
            {
                **self._meta,
                "numerator": above,
                "denominator": rel,
                "percent": pct,
                "ci_low": 100 * lo,
                "ci_high": 100 * hi,
            }
        )

    def scores(self, mask: np.ndarray | None = None) -> pd.DataFrame:
        """Outcome then criterion scores of the masked cases.

        As the findings' score rows: ``measure_id, kind, outcome, criterion, label,
        numerator, denominator, percent, ci_low, ci_high, method`` (percent scale).
        """
        if mask is None:
            j = self.judgements
        else:
            mask = np.asarray(mask, dtype=bool)
            j = self.judgements.subset(mask)
            # The counts are two products with the mask; handing them over spares the
            # column-by-column count (the same integers, so the same scores).
            above, rel = self._counts(mask)
            j._count_cache = (np.rint(above).astype(np.int64), np.rint(rel).astype(np.int64))
        return score_rows(compute_scores(j, self.specs, self.level))

    def by_detail(self, question: str, mask: np.ndarray | None = None) -> pd.DataFrame:
        """One question for the masked cases, split by every case detail.

        Returns
        -------
        pandas.DataFrame
            One row per detail and group (``group_var, group, numerator, denominator,
            percent, ci_low, ci_high``), and per detail the engine's test of the groups
            in ``p_value`` and ``method`` (repeated on its rows; unadjusted: one question).
            Only the details the report compares are tested (:attr:`tested`); the others
            get a blank ``p_value`` and the method "not tested".
            Groups without a relevant case in the mask are kept, with a zero base.
        """
        if question not in self.judgements.index:
            raise UserError(f"{question!r} is not a judged question of {self.instrument.id}")
        mask = np.ones(self.n_cases, dtype=bool) if mask is None else mask
        q = self.judgements.index[question]
        w = np.asarray(mask, dtype=np.float64)
        above = self._indicators @ (w * self.above[:, q])
        rel = self._indicators @ (w * self.relevant[:, q])
        lo, hi = wilson(above, rel, self.level)
        with np.errstate(invalid="ignore", divide="ignore"):
            pct = np.where(rel > 0, 100 * above / np.where(rel > 0, rel, 1), np.nan)
        p_values = np.full(len(self._rows), np.nan)
        methods = np.full(len(self._rows), NOT_TESTED, dtype=object)
        two = [v for v in self.tested if len(self.details[v].groups) == 2]
        if two:
            # Fisher's exact test for every two-group detail in one array call.
            first = np.array([self._slices[v].start for v in two])
            a1, r1, a2, r2 = above[first], rel[first], above[first + 1], rel[first + 1]
            n = [np.rint(x).astype(np.int64) for x in (a1, r1 - a1, a2, r2 - a2)]
            p2 = fisher_2x2_many(*n)
            big = (n[0] + n[1] + n[2] + n[3]) > FISHER_MAX_TOTAL
            if big.any():
                p2[big] = chi_square_2x2(*(x[big] for x in n))
            for v, p, b in zip(two, p2, big, strict=True):
                p_values[self._slices[v]] = p
                methods[self._slices[v]] = (
                    "chi-square (large sample)" if b else "Fisher's exact test"
                )
        for d in (self.details[v] for v in self.tested):
            if len(d.groups) != 2:
                sl = self._slices[d.id]
                a, r = above[sl], rel[sl]
                t = k_by_2_test(np.column_stack([a, r - a]).astype(np.int64))
                p_values[sl], methods[sl] = t.p_value, t.method
        return pd.DataFrame(
            {
                "group_var": self._row_var,
                "group": self._row_group,
                "numerator": above,
                "denominator": rel,
                "percent": pct,
                "ci_low": 100 * lo,
                "ci_high": 100 * hi,
                "p_value": p_values,
                "method": methods,
            }
        )

    def differences(
        self, group_a: np.ndarray, group_b: np.ndarray, names: tuple[str, str] = ("A", "B")
    ) -> pd.DataFrame:
        """Every question compared between two disjoint groups of cases, FDR-screened.

        Parameters
        ----------
        group_a, group_b
            Boolean masks (already combined with any filter); they must not overlap.
        names
            The groups' names, for the ``group`` column (``"A - B"``).

        Returns
        -------
        pandas.DataFrame
            Per question in declared order: ``numerator_a, denominator_a, percent_a``
            and the same for ``b``; ``percent`` the difference a - b in percentage
            points with Newcombe's interval ``ci_low, ci_high``; ``p_value`` Fisher's
            exact test (Pearson chi-square above
            :data:`analysis.engine.stats.FISHER_MAX_TOTAL` cases, as the engine);
            ``p_adjusted`` Benjamini-Hochberg across the questions tested.
        """
        group_a, group_b = np.asarray(group_a, dtype=bool), np.asarray(group_b, dtype=bool)
        if (group_a & group_b).any():
            raise UserError("the two groups share cases: a case can be in one group only")
        a1, r1 = self._counts(group_a)
        a2, r2 = self._counts(group_b)
        d, lo, hi = newcombe_difference(a1, r1, a2, r2, self.level)
        n = [np.rint(x).astype(np.int64) for x in (a1, r1 - a1, a2, r2 - a2)]
        big = (n[0] + n[1] + n[2] + n[3]) > FISHER_MAX_TOTAL
        p = fisher_2x2_many(*n)
        if big.any():
            p[big] = chi_square_2x2(*(x[big] for x in n))
        with np.errstate(invalid="ignore", divide="ignore"):
            pa = np.where(r1 > 0, 100 * a1 / np.where(r1 > 0, r1, 1), np.nan)
            pb = np.where(r2 > 0, 100 * a2 / np.where(r2 > 0, r2, 1), np.nan)
        return pd.DataFrame(
            {
                **self._meta,
                "group": DIFF_SEP.join(names),
                "numerator_a": a1,
                "denominator_a": r1,
                "percent_a": pa,
                "numerator_b": a2,
                "denominator_b": r2,
                "percent_b": pb,
                "percent": 100 * d,
                "ci_low": 100 * lo,
                "ci_high": 100 * hi,
                "p_value": p,
                "p_adjusted": bh_adjust(p),
                "method": np.where(big, "chi-square (large sample)", "Fisher's exact test"),
            }
        )
