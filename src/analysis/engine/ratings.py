"""Key questions and ratings: the rows of kind ``key_question`` and ``rating``.

A key question's judgement in a case comes from the judgement matrix (its own column, or
its prompts combined by the instrument's rule, :func:`key_question_codes`). A standard's
rating places the percentage it rests on (the lowest key question, their mean, or one
measure) in the instrument's bands, rounded first when the instrument says so; the
ratings' points sum to the overall rating (:mod:`analysis.instrument.standards`).

The probability that a rating would differ
------------------------------------------
No inspectorate publishes it, and it is what a careful reader most needs: a standard at
65% of 40 cases is Good by a hair. It is estimated by a **case bootstrap**: the inspected
cases are resampled with replacement, ``B`` times (:data:`BOOTSTRAP_REPLICATES`), each
sample (court, victims, ...) keeping its own size, and every key question, standard and
the overall rating recomputed from each resample with the same rules (rounding
included). ``p_different`` is the share of resamples whose rating differs from the
observed one (a resample in which a standard cannot be rated counts as different). It
answers: "if the organisation's work were exactly as in these cases, how often would a
fresh sample of the same size be rated differently?"; near 0 far from a band edge, near
one half at one.

Resampling a case only matters through its pattern of key-question judgements, so
cases with the same pattern are pooled and each resample is one multinomial draw over
the patterns: exact (the same distribution as resampling rows) and cheap for any number
of cases. The generator is seeded (:data:`BOOTSTRAP_SEED`), so the same cases give the
same probabilities, byte for byte. The Monte Carlo error is at most
``0.5 / sqrt(B)`` (0.008 for 4,000 replicates).

For one proportion the bootstrap has a closed form that the tests check by hand: with
``n`` of ``N`` cases sufficient, a resample's count is Binomial(N, n / N).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analysis import config
from analysis.engine.scoring import ABOVE_CODE, BELOW_CODE, NOT_RELEVANT, Judgements
from analysis.engine.stats import wilson
from analysis.instrument import Instrument

#: Bootstrap replicates behind ``p_different`` (Monte Carlo error at most 0.5/sqrt(B)).
BOOTSTRAP_REPLICATES = 4000
#: Seed of the bootstrap: fixed, so the same cases give the same findings.
BOOTSTRAP_SEED = 20180601


def key_question_codes(j: Judgements, instrument: Instrument) -> tuple[list[str], np.ndarray]:
    """Per case and key question: 1 sufficient, 0 not sufficient, -1 not relevant.

    ``judged`` key questions copy their question's column; ``all``, ``any`` and
    ``at_least`` combine their prompts' judgements (``docs/instrument-format.md``).
    """
    ids = list(instrument.key_questions)
    out = np.full((j.n_cases, len(ids)), NOT_RELEVANT, dtype=np.int8)
    for k, kid in enumerate(ids):
        kq = instrument.key_questions[kid]
        cols = j.matrix[:, [j.index[q] for q in kq.columns]]
        if kq.combine == "judged":
            out[:, k] = cols[:, 0]
            continue
        relevant = (cols >= 0).any(axis=1)
        above = (cols == ABOVE_CODE).sum(axis=1)
        if kq.combine == "all":
            ok = relevant & ~(cols == BELOW_CODE).any(axis=1)
        elif kq.combine == "any":
            ok = above >= 1
        else:
            ok = above >= kq.at_least
        out[:, k] = np.where(relevant, np.where(ok, ABOVE_CODE, BELOW_CODE), NOT_RELEVANT)
    return ids, out


def key_question_rows(
    j: Judgements, instrument: Instrument, level: float = config.CONFIDENCE_LEVEL
) -> pd.DataFrame:
    """Findings rows of kind ``key_question``: sufficient / relevant cases, Wilson interval."""
    ids, codes = key_question_codes(j, instrument)
    if not ids:
        return pd.DataFrame()
    above = (codes == ABOVE_CODE).sum(axis=0)
    rel = (codes >= 0).sum(axis=0)
    lo, hi = wilson(above, rel, level)
    rows = []
    for k, kid in enumerate(ids):
        kq = instrument.key_questions[kid]
        crit = kq.criterion or ""
        rule = f"at least {kq.at_least}" if kq.at_least else kq.combine
        how = (
            f"judged in {kq.question}"
            if kq.combine == "judged"
            else f"{rule} of {', '.join(kq.prompts)}"
        )
        rows.append(
            {
                "kind": "key_question",
                "outcome": instrument.criteria[crit].outcome if crit else "",
                "criterion": crit,
                "measure_id": kid,
                "label": kq.label,
                "numerator": float(above[k]),
                "denominator": float(rel[k]),
                "percent": 100 * above[k] / rel[k] if rel[k] else np.nan,
                "ci_low": 100 * lo[k],
                "ci_high": 100 * hi[k],
                "method": f"Wilson score interval; {how}",
            }
        )
    return pd.DataFrame(rows)


# -- ratings ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Columns:
    """The proportions ratings rest on: one column per (measure, sample) pair."""

    keys: list[tuple[str, str | None]]
    codes: np.ndarray  # cases x columns, int8


def _columns(j: Judgements, cases: pd.DataFrame, instrument: Instrument) -> _Columns:
    kq_ids, kq_codes = key_question_codes(j, instrument)
    keys: list[tuple[str, str | None]] = []
    for s in instrument.ratings.standards:
        for m in (*s.key_questions, *((s.measure,) if s.measure else ())):
            if (m, s.sample) not in keys:
                keys.append((m, s.sample))
    codes = np.full((j.n_cases, len(keys)), NOT_RELEVANT, dtype=np.int8)
    for c, (m, sample) in enumerate(keys):
        col = kq_codes[:, kq_ids.index(m)] if m in kq_ids else j.matrix[:, j.index[m]]
        if sample is not None:
            col = np.where(_in_sample(cases, instrument, sample), col, NOT_RELEVANT)
        codes[:, c] = col
    return _Columns(keys, codes)


def _in_sample(cases: pd.DataFrame, instrument: Instrument, sample: str) -> np.ndarray:
    s = instrument.samples
    code = s.by_id[sample].code
    return cases[s.column].astype("string").eq(code).fillna(False).to_numpy(dtype=bool)


def _strata(cases: pd.DataFrame, instrument: Instrument) -> np.ndarray:
    """Stratum of each case for the bootstrap: its sample's position, or -1 (no sample)."""
    out = np.full(len(cases), -1, dtype=np.int64)
    if instrument.samples is not None and instrument.samples.column in cases.columns:
        for i, g in enumerate(instrument.samples.groups):
            out[_in_sample(cases, instrument, g.id)] = i
    return out


def _counts(codes: np.ndarray, strata: np.ndarray, b: int, seed: int):
    """Observed and bootstrap (above, relevant) counts per column.

    Returns ``(above, relevant)`` arrays of shape (1 + b, columns): row 0 the observed
    counts, rows 1.. the resamples (a multinomial draw over the distinct patterns of
    judgements in each stratum).
    """
    rng = np.random.default_rng(seed)
    k = codes.shape[1]
    above = np.zeros((1 + b, k), dtype=np.int64)
    rel = np.zeros((1 + b, k), dtype=np.int64)
    for stratum in np.unique(strata):
        sub = codes[strata == stratum]
        patterns, counts = np.unique(sub, axis=0, return_counts=True)
        n = int(counts.sum())
        draws = np.vstack([counts[None, :], rng.multinomial(n, counts / n, size=b)])
        above += draws @ (patterns == ABOVE_CODE).astype(np.int64)
        rel += draws @ (patterns >= 0).astype(np.int64)
    return above, rel


def _place(bands, value: np.ndarray, ranks: dict[str, int]) -> np.ndarray:
    """Rank of the band each value falls in (-1 for NaN or no band); vectorised."""
    out = np.full(value.shape, -1, dtype=np.int64)
    ok = ~np.isnan(value)
    for band in bands:
        hit = ok.copy()
        if band.at_least is not None:
            hit &= value >= band.at_least
        if band.above is not None:
            hit &= value > band.above
        if band.below is not None:
            hit &= value < band.below
        if band.at_most is not None:
            hit &= value <= band.at_most
        out[hit & (out < 0)] = ranks[band.rating]
    return out


def _round(bands, above: np.ndarray, rel: np.ndarray) -> np.ndarray:
    """Percentages 100 * above / rel, rounded half up exactly (integers) when declared."""
    with np.errstate(invalid="ignore", divide="ignore"):
        if not bands.round_before_banding:
            return np.where(rel > 0, (100.0 * above) / np.where(rel > 0, rel, 1), np.nan)
        scale = 10**bands.decimals
        safe = np.where(rel > 0, rel, 1)
        whole = (200 * scale * above + safe) // (2 * safe)  # floor(100 s a / r + 1/2)
        return np.where(rel > 0, whole / scale, np.nan)


def _round_value(bands, value: np.ndarray) -> np.ndarray:
    if not bands.round_before_banding:
        return value
    scale = 10**bands.decimals
    # A tolerance far below any percentage's precision, so 64.5 computed as a mean of
    # whole percentages rounds up as it would exactly.
    return np.floor(value * scale + 0.5 + 1e-9) / scale


def rating_rows(
    j: Judgements,
    cases: pd.DataFrame,
    instrument: Instrument,
    inspector_ratings: dict[str, str] | None = None,
    level: float = config.CONFIDENCE_LEVEL,
    replicates: int = BOOTSTRAP_REPLICATES,
    seed: int = BOOTSTRAP_SEED,
) -> pd.DataFrame:
    """Findings rows of kind ``rating``: one per standard, then one ``rating_overall``.

    ``category`` holds the rating's label; ``numerator``/``denominator``/``percent`` and
    the Wilson interval are those of the proportion the rating rests on (for ``mean``: the
    mean, with the bootstrap's percentile interval); ``p_different`` the bootstrap
    probability that the rating would differ (module docstring). Standards rated by
    inspectors take their rating from ``inspector_ratings`` (standard -> rating id) and
    have no probability. The overall row's numerator is the sum of the points.
    """
    r = instrument.ratings
    if r is None:
        return pd.DataFrame()
    inspector_ratings = inspector_ratings or {}
    ranks = {lvl.id: i for i, lvl in enumerate(r.scale)}
    labels = [lvl.label for lvl in r.scale]
    points = np.array([lvl.points if lvl.points is not None else 0 for lvl in r.scale])
    cols = _columns(j, cases, instrument)
    above, rel = _counts(cols.codes, _strata(cases, instrument), replicates, seed)
    pct = _round(r.bands, above, rel)  # (1 + B) x columns, as banded
    with np.errstate(invalid="ignore", divide="ignore"):
        exact = np.where(rel > 0, (100.0 * above) / np.where(rel > 0, rel, 1), np.nan)
    lo, hi = wilson(above[0], rel[0], level)
    rows, ranked = [], {}
    for s in r.standards:
        row = {
            "kind": "rating",
            "criterion": s.criterion or "",
            "outcome": instrument.criteria[s.criterion].outcome if s.criterion else "",
            "measure_id": f"rating_{s.id}",
            "label": s.title,
        }
        if s.rests_on == "inspectors":
            given = inspector_ratings.get(s.id)
            row["category"] = labels[ranks[given]] if given else ""
            row["method"] = "rated by inspectors (organisation-level evidence, a separate input)"
            rows.append(row)
            ranked[s.id] = np.full(1 + replicates, ranks[given] if given else -1)
            continue
        idx = [cols.keys.index((m, s.sample)) for m in (s.key_questions or (s.measure,))]
        if s.rests_on == "mean":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a resample with no case
                mean = np.nanmean(np.where(rel[:, idx] > 0, exact[:, idx], np.nan), axis=1)
            value, shown = _round_value(r.bands, mean), mean[0]
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                interval = np.nanpercentile(mean[1:], [2.5, 97.5]) if replicates else [np.nan] * 2
            row.update(percent=shown, ci_low=interval[0], ci_high=interval[1])
            how = f"mean of {', '.join(s.key_questions)}; bootstrap percentile interval"
        else:
            # The lowest key question (the first declared on a tie), or the one measure.
            sub = np.where(np.isnan(pct[:, idx]), np.inf, exact[:, idx])
            pick = np.argmin(sub, axis=1)
            value = np.take_along_axis(pct[:, idx], pick[:, None], axis=1)[:, 0]
            value = np.where(np.isinf(sub.min(axis=1)), np.nan, value)
            c = idx[int(pick[0])]
            row.update(
                numerator=float(above[0, c]),
                denominator=float(rel[0, c]),
                percent=exact[0, c],
                ci_low=100 * lo[c],
                ci_high=100 * hi[c],
            )
            what = cols.keys[c][0]
            how = (
                f"lowest key question: {what}"
                if s.rests_on == "lowest_key_question"
                else f"measure {what}"
            ) + "; Wilson score interval"
        got = _place(r.bands.ranges, value, ranks)
        ranked[s.id] = got
        row["category"] = labels[got[0]] if got[0] >= 0 else ""
        row["p_different"] = _p_different(got, replicates)
        rounding = (
            f"rounded half up to {r.bands.decimals} decimal places before banding"
            if r.bands.round_before_banding
            else "not rounded before banding"
        )
        row["method"] = f"{how}; {rounding}; {_bootstrap_text(replicates, seed, instrument)}"
        rows.append(row)
    if r.overall is not None:
        rows.append(_overall_row(r, ranked, points, labels, ranks, replicates, seed, instrument))
    return pd.DataFrame(rows)


def _p_different(got: np.ndarray, replicates: int) -> float:
    if got[0] < 0 or replicates == 0:
        return np.nan
    return float(np.mean(got[1:] != got[0]))


def _bootstrap_text(replicates: int, seed: int, instrument: Instrument) -> str:
    strata = " within each sample" if instrument.samples is not None else ""
    return f"P(different rating): case bootstrap{strata}, {replicates} replicates, seed {seed}"


def _overall_row(r, ranked, points, labels, ranks, replicates, seed, instrument) -> dict:
    ids = r.overall_standards
    got = np.vstack([ranked[s] for s in ids])  # standards x (1 + B)
    row = {
        "kind": "rating",
        "measure_id": "rating_overall",
        "label": "Overall rating",
        "category": "",
    }
    top = len(ids) * int(points.max())
    missing = [s for s, g in zip(ids, got, strict=True) if g[0] < 0]
    if missing:
        row["method"] = f"not rated: no rating for standard(s) {', '.join(missing)}"
        return row
    total = np.where(got >= 0, points[np.clip(got, 0, None)], 0).sum(axis=0).astype(float)
    total = np.where((got < 0).any(axis=0), np.nan, total)
    overall = _place(r.overall.ranges, total, ranks)
    row["numerator"] = float(total[0])
    row["category"] = labels[overall[0]] if overall[0] >= 0 else ""
    row["p_different"] = _p_different(overall, replicates)
    row["method"] = (
        f"sum of the points of {len(ids)} standards (out of {top}); "
        f"{_bootstrap_text(replicates, seed, instrument)}"
    )
    return row
