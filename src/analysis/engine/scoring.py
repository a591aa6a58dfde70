"""Scores: question proportions, criterion scores and outcome scores (the report's Appendix 5).

Answers are turned once into an ``int8`` judgement matrix (one row per case, one
column per question): ``1`` above the line, ``0`` below, ``-1`` not relevant
(not applicable, blank, or a descriptive code). Every figure is then a sum over
that matrix, so scoring a million cases takes seconds.

Scoring rules
-------------
- **Question**: proportion above the line = above / (above + below); not
  applicable and blank answers are excluded. A question with no relevant case
  has no proportion and drops out of every average it belongs to.
- **Criterion score**: the average, over the criterion's scored questions that
  have a proportion, of those proportions.
- **Outcome score** (``question_mean``, the published method): the average,
  over *all* relevant scored questions counting to the outcome, of their
  proportions. A question counting to two outcomes (victim work counts to O4
  and O5) counts in both.
- **Outcome score** (``criterion_mean``, an option): the average of criterion
  scores, where each criterion's score is taken over its questions counting to
  the outcome. The two differ when criteria have unequal numbers of questions:
  ``question_mean`` weights every question equally (a criterion with 30
  questions weighs ten times one with 3), ``criterion_mean`` weights every
  criterion equally. Appendix 5 describes both ("the average of the scores for
  the component general criteria" for sections, "an average, over all the
  relevant questions" for outcome scores); the instrument's
  ``scoring.outcome_method`` picks one.

Intervals for scores
--------------------
A score is a weighted sum of ratios, ``S = sum_j w_j a_j / r_j``, and the
judgements within a case are correlated (one practitioner, one case file). The
interval is a first-order (delta-method) normal interval with cases as
clusters: each case's influence value is
``z_i = sum_j w_j (y_ij - p_j d_ij) / r_j`` (``y`` above, ``d`` relevant), and
``Var(S) = n / (n - 1) * sum_i z_i**2`` with ``n`` the cases that have at least
one relevant judgement for the score. The interval ``S +/- z * sqrt(Var)`` is
clipped to [0, 1]. For a single question it reduces to the Wald interval with
an ``n / (n - 1)`` factor, which is why question rows use Wilson instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.stats import wilson, z_value
from analysis.errors import UserError
from analysis.instrument import ABOVE, BELOW, Instrument

ABOVE_CODE, BELOW_CODE, NOT_RELEVANT = np.int8(1), np.int8(0), np.int8(-1)
#: Question-mean and criterion-mean outcome methods (see module docstring).
OUTCOME_METHODS = ("question_mean", "criterion_mean")
#: Rows per chunk when computing influence values: 2,048 rows of float64 codes for
#: ~250 questions stay in a CPU cache, which measured 4x faster than 8,192 rows.
_CHUNK = 2_048


@dataclass
class Judgements:
    """The judgement matrix of a set of cases.

    Attributes
    ----------
    matrix
        ``int8`` array (cases x questions): 1 above, 0 below, -1 not relevant.
    questions
        Question ids, one per column.
    """

    matrix: np.ndarray
    questions: list[str]
    index: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.index = {q: j for j, q in enumerate(self.questions)}

    @property
    def n_cases(self) -> int:
        """Number of cases (rows)."""
        return int(self.matrix.shape[0])

    def _counts(self) -> tuple[np.ndarray, np.ndarray]:
        # Column by column: each column is contiguous (Fortran order) and fits in cache,
        # five times faster than comparing the whole matrix at once.
        if not hasattr(self, "_count_cache"):
            q = self.matrix.shape[1]
            above, rel = np.empty(q, dtype=np.int64), np.empty(q, dtype=np.int64)
            for j in range(q):
                col = self.matrix[:, j]
                above[j] = np.count_nonzero(col == ABOVE_CODE)
                rel[j] = np.count_nonzero(col >= 0)
            self._count_cache = (above, rel)
        return self._count_cache

    def above(self) -> np.ndarray:
        """Above-the-line count per question."""
        return self._counts()[0].copy()

    def relevant(self) -> np.ndarray:
        """Relevant (above or below) count per question."""
        return self._counts()[1].copy()

    def any_relevant(self, questions: list[str]) -> np.ndarray:
        """Per case: whether any of ``questions`` has a relevant judgement."""
        out = np.zeros(self.n_cases, dtype=bool)
        for q in questions:
            out |= self.matrix[:, self.index[q]] >= 0
        return out

    def subset(self, rows: np.ndarray) -> Judgements:
        """Judgements of a subset of cases (boolean mask or indices)."""
        return Judgements(self.matrix[rows], self.questions)


def judged_questions(instrument: Instrument) -> list[str]:
    """Questions that can be judged above/below the line (scored or not), in declared order."""
    out = []
    for q in instrument.questions.values():
        aset = instrument.answer_set(q)
        if aset is not None and aset.codes_scoring(ABOVE):
            out.append(q.id)
    return out


def factorize_column(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Integer codes (-1 for blank) and the distinct values, as stripped strings.

    Categorical columns reuse their codes; others are hashed once. Values that are
    blank after stripping count as missing, so "" and None are the same thing.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy().astype(np.int64)
        uniques = [str(u).strip() for u in values.cat.categories]
    else:
        codes, u = pd.factorize(values, use_na_sentinel=True)
        codes = codes.astype(np.int64)
        uniques = [str(x).strip() for x in u]
    # Merge duplicates created by stripping (" PO" and "PO") and drop blanks.
    labels = sorted({x for x in uniques if x})
    pos = {x: i for i, x in enumerate(labels)}
    lut = np.array([pos.get(x, -1) for x in uniques] + [-1], dtype=np.int64)
    return lut[codes], labels


def code_column(values: pd.Series, above: tuple[str, ...], below: tuple[str, ...]) -> np.ndarray:
    """Map one answer column to int8 judgements without touching every string twice.

    Categorical columns map their few categories; other columns are factorised
    once. Either way the per-row work is one integer look-up.
    """
    if isinstance(values.dtype, pd.CategoricalDtype):
        codes = values.cat.codes.to_numpy()
        uniques = list(values.cat.categories)
    else:
        codes, uniques = pd.factorize(values, use_na_sentinel=True)
    # The last slot of the look-up table serves code -1 (missing).
    lut = np.full(len(uniques) + 1, NOT_RELEVANT, dtype=np.int8)
    for k, u in enumerate(uniques):
        if u in above:
            lut[k] = ABOVE_CODE
        elif u in below:
            lut[k] = BELOW_CODE
    return lut[codes]


def judgement_matrix(
    cases: pd.DataFrame, instrument: Instrument, questions: list[str] | None = None
) -> Judgements:
    """Build the judgement matrix.

    Parameters
    ----------
    cases
        Processed cases (canonical answer codes).
    instrument
        The instrument the cases were recorded against.
    questions
        Question ids to include; default every question with an above-the-line code.

    Returns
    -------
    Judgements

    Raises
    ------
    UserError
        If a question column is missing from ``cases``.
    """
    questions = judged_questions(instrument) if questions is None else list(questions)
    missing = [q for q in questions if q not in cases.columns]
    if missing:
        raise UserError(
            f"the cases lack {len(missing)} question column(s) of instrument "
            f"{instrument.id}: {', '.join(missing[:5])}{' ...' if len(missing) > 5 else ''}"
        )
    m = np.empty((len(cases), len(questions)), dtype=np.int8, order="F")
    for j, qid in enumerate(questions):
        aset = instrument.answer_set(qid)
        m[:, j] = code_column(cases[qid], aset.codes_scoring(ABOVE), aset.codes_scoring(BELOW))
    return Judgements(m, questions)


# -- weights -------------------------------------------------------------------------


@dataclass(frozen=True)
class ScoreSpec:
    """One score: an id, where it sits, and its per-question weights before normalising.

    ``groups`` lists groups of question ids; the score is the mean over groups that
    have a relevant question of the mean over that group's relevant questions.
    """

    measure_id: str
    kind: str
    outcome: str
    criterion: str
    label: str
    groups: tuple[tuple[str, ...], ...]
    method: str


def score_specs(instrument: Instrument, outcome_method: str | None = None) -> list[ScoreSpec]:
    """Outcome and criterion score definitions, outcomes first, in declared order."""
    method = outcome_method or instrument.outcome_method
    if method not in OUTCOME_METHODS:
        raise UserError(f"unknown outcome method {method!r}; use one of {OUTCOME_METHODS}")
    specs = []
    for o in instrument.outcomes.values():
        qs = instrument.questions_for_outcome(o.id)
        if method == "question_mean":
            groups = (tuple(q.id for q in qs),)
        else:
            by_crit: dict[str, list[str]] = {}
            for q in qs:
                by_crit.setdefault(q.criterion, []).append(q.id)
            groups = tuple(tuple(v) for v in by_crit.values())
        specs.append(ScoreSpec(f"score_{o.id}", "outcome_score", o.id, "", o.name, groups, method))
    for c in instrument.criteria.values():
        qs = tuple(q.id for q in instrument.questions_for_criterion(c.id))
        if qs:
            specs.append(
                ScoreSpec(
                    f"score_{c.id}", "criterion_score", c.outcome, c.id, c.title, (qs,), "mean"
                )
            )
    return specs


def _weights(spec: ScoreSpec, index: dict[str, int], relevant: np.ndarray) -> np.ndarray:
    """Per-question weights w_j (summing to 1 over questions with a proportion)."""
    w = np.zeros(len(index))
    groups = [[index[q] for q in g if relevant[index[q]] > 0] for g in spec.groups]
    groups = [g for g in groups if g]
    for g in groups:
        # A question listed twice in a group would double-count; the instrument forbids
        # duplicate ids, so plain assignment is safe.
        w[g] += 1.0 / (len(groups) * len(g))
    return w


def compute_scores(
    judgements: Judgements,
    specs: list[ScoreSpec],
    level: float = config.CONFIDENCE_LEVEL,
) -> pd.DataFrame:
    """Compute scores with their linearised, case-clustered intervals.

    Parameters
    ----------
    judgements
        The judgement matrix.
    specs
        Score definitions from :func:`score_specs`.
    level
        Confidence level.

    Returns
    -------
    pandas.DataFrame
        One row per spec: ``measure_id, kind, outcome, criterion, label, numerator``
        (pooled above-the-line judgements), ``denominator`` (pooled relevant
        judgements), ``n_cases`` (cases with a relevant judgement), ``score``,
        ``ci_low``, ``ci_high`` (0-1 scale) and ``method``.
    """
    m = judgements.matrix
    above = judgements.above().astype(float)
    rel = judgements.relevant().astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(rel > 0, above / np.where(rel > 0, rel, 1), 0.0)
    W = np.zeros((len(rel), len(specs)))
    for k, s in enumerate(specs):
        W[:, k] = _weights(s, judgements.index, rel)
    ss, n_used = _influence_sums(m, W, p, rel)
    score = (W * p[:, None]).sum(0)
    z = z_value(level)
    with np.errstate(invalid="ignore", divide="ignore"):
        var = np.where(n_used > 1, n_used / (n_used - 1) * ss, np.nan)
    has = W.sum(0) > 0
    score = np.where(has, score, np.nan)
    se = np.sqrt(var)
    rows = []
    for k, s in enumerate(specs):
        qmask = W[:, k] > 0
        rows.append(
            {
                "measure_id": s.measure_id,
                "kind": s.kind,
                "outcome": s.outcome,
                "criterion": s.criterion,
                "label": s.label,
                "numerator": above[qmask].sum(),
                "denominator": rel[qmask].sum(),
                "n_cases": n_used[k],
                "score": score[k],
                "ci_low": np.clip(score[k] - z * se[k], 0, 1) if has[k] else np.nan,
                "ci_high": np.clip(score[k] + z * se[k], 0, 1) if has[k] else np.nan,
                "method": (
                    f"{s.method}; linearised case-clustered normal interval"
                    if s.kind == "outcome_score"
                    else "mean of question proportions; linearised case-clustered normal interval"
                ),
            }
        )
    return pd.DataFrame(rows)


def _influence_sums(
    m: np.ndarray, W: np.ndarray, p: np.ndarray, rel: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Sum of squared influence values and number of cases used, per score.

    A judgement's residual over its base, ``u = (y - p d) / r``, is 0 when not
    relevant, ``-p/r`` below and ``(1-p)/r`` above; with the code ``c`` in
    {-1, 0, 1} that is ``A c**2 + B c + D`` (``A = a/2 - b``, ``B = a/2``, ``D = b``
    for the above and below values ``a`` and ``b``), so a block of questions sharing
    their weights (same criterion, same outcomes) sums to two small matrix-vector
    products over the int8 codes. Scores then mix the few block sums. Rows go in
    chunks small enough to stay in cache.
    """
    K = W.shape[1]
    ss, n_used = np.zeros(K), np.zeros(K)
    used_q = np.flatnonzero(W.any(axis=1))
    if K == 0 or used_q.size == 0:
        return ss, n_used
    coef, block = np.unique(W[used_q], axis=0, return_inverse=True)
    order = np.argsort(block.ravel(), kind="stable")
    cols, block = used_q[order], block.ravel()[order]
    bounds = np.r_[np.flatnonzero(np.r_[True, np.diff(block) != 0]), cols.size]
    nb, q = len(bounds) - 1, cols.size
    safe_r = np.where(rel[cols] > 0, rel[cols], 1.0)
    alpha, beta = (1 - p[cols]) / safe_r, -p[cols] / safe_r  # u above, u below
    A, B, D = alpha / 2 - beta, alpha / 2, beta  # u = A c^2 + B c + D
    d_block = np.add.reduceat(D, bounds[:-1])
    width = np.diff(bounds).astype(np.float64)
    used = (coef != 0).astype(np.float64)
    buf = np.empty((_CHUNK, 2 * q))
    S = np.empty((_CHUNK, nb))
    R = np.empty((_CHUNK, nb))
    for lo in range(0, m.shape[0], _CHUNK):
        sub = m[lo : lo + _CHUNK, cols]
        k = sub.shape[0]
        x, xa = buf[:k, :q], buf[:k, q:]
        x[:] = sub
        np.abs(x, out=xa)
        for b in range(nb):
            s0, s1 = bounds[b], bounds[b + 1]
            S[:k, b] = xa[:, s0:s1] @ A[s0:s1] + x[:, s0:s1] @ B[s0:s1]
            # Relevant judgements in the block: width + (sum c - sum c^2) / 2.
            R[:k, b] = x[:, s0:s1].sum(axis=1) - xa[:, s0:s1].sum(axis=1)
        z = (S[:k] + d_block) @ coef
        ss += np.einsum("ik,ik->k", z, z)
        any_rel = (width + R[:k] / 2 > 0.5).astype(np.float64)
        n_used += ((any_rel @ used) > 0).sum(axis=0)
    return ss, n_used


def score_frame(
    judgements: Judgements,
    instrument: Instrument,
    outcome_method: str | None = None,
    level: float = config.CONFIDENCE_LEVEL,
) -> pd.DataFrame:
    """Outcome then criterion scores (see :func:`compute_scores` for the columns)."""
    return compute_scores(judgements, score_specs(instrument, outcome_method), level)


def question_frame(
    judgements: Judgements, instrument: Instrument, level: float = config.CONFIDENCE_LEVEL
) -> pd.DataFrame:
    """Per-question above / relevant counts, percent and Wilson interval, in declared order.

    Returns
    -------
    pandas.DataFrame
        ``measure_id, outcome, criterion, label, numerator, denominator, percent,
        ci_low, ci_high`` (percent scale), one row per judged question.
    """
    above = judgements.above()
    rel = judgements.relevant()
    lo, hi = wilson(above, rel, level)
    with np.errstate(invalid="ignore", divide="ignore"):
        pct = np.where(rel > 0, 100 * above / np.where(rel > 0, rel, 1), np.nan)
    qs = [instrument.questions[q] for q in judgements.questions]
    return pd.DataFrame(
        {
            "kind": "question",
            "measure_id": judgements.questions,
            "outcome": [instrument.criteria[q.criterion].outcome for q in qs],
            "criterion": [q.criterion for q in qs],
            "label": [q.label for q in qs],
            "numerator": above.astype(float),
            "denominator": rel.astype(float),
            "percent": pct,
            "ci_low": 100 * lo,
            "ci_high": 100 * hi,
            "method": "Wilson score interval",
        }
    )


def score_rows(scores: pd.DataFrame) -> pd.DataFrame:
    """Findings rows (percent scale) from :func:`score_frame` output."""
    out = scores.drop(columns=["n_cases"]).rename(columns={"score": "percent"})
    for c in ("percent", "ci_low", "ci_high"):
        out[c] = 100 * out[c].astype(float)
    return out
