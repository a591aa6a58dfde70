"""Interval estimates and tests for proportions, vectorised over arrays of counts.

Everything here works on proportions on the 0-1 scale; callers multiply by 100
for the findings table. Functions accept scalars or arrays of counts and return
NaN where a base is zero, so one call covers every question at once.

Methods
-------
- Single proportion: Wilson score interval (Wilson 1927; method 3 in Newcombe
  1998, *Statistics in Medicine* 17:857-872), via statsmodels.
- Difference of two independent proportions: Newcombe's hybrid score interval
  (method 10 in Newcombe 1998, *Statistics in Medicine* 17:873-890), built from
  the two Wilson intervals, via statsmodels.
- 2 x 2 tables: Fisher's exact test (two-sided, scipy).
- k x 2 tables: Pearson's chi-square, or the Fisher-Freeman-Halton exact test
  when some expected count is under 5 and the table is small enough to
  enumerate cheaply (exact, so reproducible; scipy's r x c test is Monte Carlo).
- Many tests at once: Benjamini-Hochberg false discovery rate adjustment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.special
import scipy.stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from analysis import config

#: Expected cell count below which the chi-square approximation is distrusted (Cochran's rule).
MIN_EXPECTED = 5
#: Largest 2 x 2 table total for which Fisher's exact test is run; above it the test
#: costs milliseconds per table (scipy searches the hypergeometric support) and Pearson's
#: chi-square, which it then agrees with to several digits, is used instead.
FISHER_MAX_TOTAL = 10_000
#: Largest table total for which the exact k x 2 test is tried instead of chi-square;
#: above it a small expected count is rare and the chi-square approximation adequate.
EXACT_MAX_TOTAL = 500
#: Most tables the exact k x 2 test enumerates (the product of ``row total + 1`` over all
#: rows but the last); beyond it the test falls back to chi-square, noted in ``method``.
EXACT_MAX_TABLES = 1_000_000


def z_value(level: float = config.CONFIDENCE_LEVEL) -> float:
    """Two-sided normal quantile for a confidence level (1.959964 for 95%)."""
    return float(scipy.stats.norm.ppf(0.5 + level / 2))


def wilson(n, N, level: float = config.CONFIDENCE_LEVEL) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for n successes out of N.

    Parameters
    ----------
    n, N
        Counts (scalars or arrays of the same shape).
    level
        Confidence level.

    Returns
    -------
    (low, high)
        Float arrays on the 0-1 scale; NaN where ``N`` is zero.
    """
    n = np.asarray(n, dtype=float)
    N = np.asarray(N, dtype=float)
    n, N = np.broadcast_arrays(n, N)
    lo = np.full(n.shape, np.nan)
    hi = np.full(n.shape, np.nan)
    ok = N > 0
    if ok.any():
        lo[ok], hi[ok] = proportion_confint(n[ok], N[ok], alpha=1 - level, method="wilson")
        # The Wilson limit is exactly 0 at n = 0 and 1 at n = N; statsmodels' arithmetic
        # leaves 1e-15-sized residues there, which would print as "0.0%" not "0%".
        lo[ok] = np.where(n[ok] == 0, 0.0, np.clip(lo[ok], 0.0, 1.0))
        hi[ok] = np.where(n[ok] == N[ok], 1.0, np.clip(hi[ok], 0.0, 1.0))
    return lo, hi


def newcombe_difference(
    n1, N1, n2, N2, level: float = config.CONFIDENCE_LEVEL
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Difference p1 - p2 with Newcombe's hybrid score interval (method 10).

    With Wilson limits (l1, u1) and (l2, u2)::

        low  = d - sqrt((p1 - l1)**2 + (u2 - p2)**2)
        high = d + sqrt((u1 - p1)**2 + (p2 - l2)**2)

    computed by statsmodels' ``confint_proportions_2indep(method="newcomb")``.

    Parameters
    ----------
    n1, N1, n2, N2
        Successes and bases of the two groups (scalars or arrays).
    level
        Confidence level.

    Returns
    -------
    (difference, low, high)
        On the 0-1 scale; NaN where either base is zero.
    """
    n1, N1, n2, N2 = np.broadcast_arrays(*(np.asarray(x, dtype=float) for x in (n1, N1, n2, N2)))
    d, low, high = (np.full(n1.shape, np.nan) for _ in range(3))
    ok = (N1 > 0) & (N2 > 0)
    if ok.any():
        d[ok] = n1[ok] / N1[ok] - n2[ok] / N2[ok]
        low[ok], high[ok] = confint_proportions_2indep(
            n1[ok], N1[ok], n2[ok], N2[ok], method="newcomb", alpha=1 - level
        )
        # At 0 of N1 against N2 of N2 (or the reverse) statsmodels' Wilson limits miss 0 and 1
        # by rounding, which puts the limit one unit in the last place beyond -1 (or 1).
        low[ok], high[ok] = np.clip(low[ok], -1.0, 1.0), np.clip(high[ok], -1.0, 1.0)
    return d, low, high


def fisher_2x2(a, b, c, d) -> np.ndarray:
    """Two-sided Fisher's exact test p for tables [[a, b], [c, d]] (vectorised by loop).

    Rows are groups, columns are above / below the line. NaN where a row or a
    column is empty (the test is then undefined: nothing to compare).
    """
    a, b, c, d = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (a, b, c, d))
    out = np.full(a.shape, np.nan)
    for i in range(a.size):
        t = np.array([[a[i], b[i]], [c[i], d[i]]])
        if (t.sum(0) == 0).any() or (t.sum(1) == 0).any():
            continue
        out[i] = scipy.stats.fisher_exact(t).pvalue
    return out


def fisher_2x2_many(a, b, c, d) -> np.ndarray:
    """Two-sided Fisher's exact p for many 2 x 2 tables at once, as :func:`fisher_2x2`.

    scipy's ``fisher_exact`` takes one table (about 5 ms each on a busy machine, so a
    second for every question of the instrument); this computes the same p values with
    array calls. It follows scipy's algorithm step by step: the hypergeometric mode, the
    relative tolerance ``1 + 1e-14`` for "as likely as the observed table", the tail on
    the observed side (``hypergeom.cdf`` / ``sf``) plus the tail beyond the last table on
    the other side at least as likely. scipy finds that last table by a binary search;
    here a log-probability grid (from one table of ``gammaln``) places it and scipy's own
    ``hypergeom.pmf`` then moves it to where the binary search would stop, so the p
    values are those of scipy's scalar calls (tested against them). NaN where a row or a
    column is empty, as in :func:`fisher_2x2`.
    """
    a, b, c, d = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (a, b, c, d))
    a, b, c, d = np.broadcast_arrays(a, b, c, d)
    shape = a.shape
    a, b, c, d = (x.ravel() for x in (a, b, c, d))
    out = np.full(a.shape, np.nan)
    ok = (a + b > 0) & (c + d > 0) & (a + c > 0) & (b + d > 0)
    if not ok.any():
        return out.reshape(shape)
    hg = scipy.stats.hypergeom
    a, b, c, d = a[ok], b[ok], c[ok], d[ok]
    n1, n2, n = a + b, c + d, a + c
    M = n1 + n2
    # scipy: int((n + 1) * (n1 + 1) / (n1 + n2 + 2)), a float division then truncation
    mode = ((n + 1) * (n1 + 1) / (M + 2)).astype(np.int64)
    pexact = hg.pmf(a, M, n1, n)
    pmode = hg.pmf(mode, M, n1, n)
    gamma = 1 + 1e-14
    target = pexact * gamma
    p = np.full(a.shape, np.nan)
    tie = np.abs(pexact - pmode) / np.maximum(pexact, pmode) <= 1e-14
    p[tie] = 1.0
    lower = ~tie & (a < mode)
    upper = ~tie & ~lower
    lf = scipy.special.gammaln(np.arange(int(M.max()) + 2, dtype=float) + 1)  # log(x!)

    def logpmf(i: np.ndarray, k: np.ndarray) -> np.ndarray:
        # log hypergeometric probability of x = i for tables k (up to a constant per table)
        r1, r2, cn = n1[k, None], n2[k, None], n[k, None]
        valid = (i >= 0) & (i <= r1) & (cn - i >= 0) & (cn - i <= r2)
        j = np.where(valid, i, 0)
        lp = -(lf[j] + lf[np.where(valid, r1 - j, 0)] + lf[np.where(valid, cn - j, 0)])
        lp -= lf[np.where(valid, r2 - cn + j, 0)]
        return np.where(valid, lp, -np.inf)

    def last_at_least(k: np.ndarray, lo: np.ndarray, hi: np.ndarray, ascending: bool):
        # The binary search's stop: the last i in [lo, hi] with pmf(i) >= target (pmf
        # falling, lower case) or pmf(i) <= target (pmf rising, upper case).
        width = int((hi - lo).max()) + 1
        i = lo[:, None] + np.arange(width)[None, :]
        inside = i <= hi[:, None]
        la = logpmf(i, k)
        lt = logpmf(a[k, None], k) + np.log1p(1e-14)
        hit = (la <= lt) if ascending else (la >= lt)
        g = lo - 1 + (hit & inside).sum(axis=1)
        # Settle the grid's rounding with scipy's own probabilities (a step or two, more
        # only where scipy's probabilities underflow to 0 and the grid does not).
        act = np.arange(k.size)
        for _ in range(width + 1):
            kk, ga = k[act], g[act]
            here = hg.pmf(ga, M[kk], n1[kk], n[kk])
            nxt = hg.pmf(ga + 1, M[kk], n1[kk], n[kk])
            good_here = (here <= target[kk]) if ascending else (here >= target[kk])
            good_next = (nxt <= target[kk]) if ascending else (nxt >= target[kk])
            up = (ga + 1 <= hi[act]) & good_next
            step = np.where(up, 1, np.where((ga >= lo[act]) & ~good_here, -1, 0))
            g[act] = ga + step
            act = act[step != 0]
            if not act.size:
                break
        return g

    if lower.any():
        k = np.flatnonzero(lower)
        plow = hg.cdf(a[k], M[k], n1[k], n[k])
        end = hg.pmf(n[k], M[k], n1[k], n[k]) > target[k]
        res = plow.copy()
        kk = k[~end]
        if kk.size:
            g = last_at_least(kk, mode[kk], n[kk], ascending=False)
            res[~end] = plow[~end] + hg.sf(g, M[kk], n1[kk], n[kk])
        p[k] = res
    if upper.any():
        k = np.flatnonzero(upper)
        pup = hg.sf(a[k] - 1, M[k], n1[k], n[k])
        end = hg.pmf(0, M[k], n1[k], n[k]) > target[k]
        res = pup.copy()
        kk = k[~end]
        if kk.size:
            g = last_at_least(kk, np.zeros(kk.size, dtype=np.int64), mode[kk], ascending=True)
            res[~end] = pup[~end] + hg.cdf(g, M[kk], n1[kk], n[kk])
        p[k] = res
    out[ok] = np.minimum(p, 1.0)
    return out.reshape(shape)


def chi_square_2x2(a, b, c, d) -> np.ndarray:
    """Pearson chi-square p (no continuity correction) for 2 x 2 tables, vectorised.

    ``chi2 = N (ad - bc)^2 / (r1 r2 c1 c2)`` on 1 df; NaN where a margin is zero.
    """
    a, b, c, d = (np.atleast_1d(np.asarray(x, dtype=float)) for x in (a, b, c, d))
    n = a + b + c + d
    den = (a + b) * (c + d) * (a + c) * (b + d)
    with np.errstate(invalid="ignore", divide="ignore"):
        chi2 = np.where(den > 0, n * (a * d - b * c) ** 2 / np.where(den > 0, den, 1), np.nan)
    return scipy.stats.chi2.sf(chi2, 1)


def two_by_two_test(a, b, c, d) -> tuple[np.ndarray, np.ndarray]:
    """P values and method names for 2 x 2 tables.

    Fisher's exact test, or Pearson's chi-square for tables larger than
    :data:`FISHER_MAX_TOTAL`.
    """
    a, b, c, d = (np.atleast_1d(np.asarray(x, dtype=np.int64)) for x in (a, b, c, d))
    big = (a + b + c + d) > FISHER_MAX_TOTAL
    p = np.full(a.shape, np.nan)
    small = ~big
    if small.any():
        p[small] = fisher_2x2(a[small], b[small], c[small], d[small])
    if big.any():
        p[big] = chi_square_2x2(a[big], b[big], c[big], d[big])
    method = np.where(big, "chi-square (large sample)", "Fisher's exact test")
    return p, method


@dataclass(frozen=True)
class Significance:
    """A p value and the name of the test that produced it."""

    p_value: float
    method: str


def k_by_2_test(table: np.ndarray) -> Significance:
    """Test independence in a k x 2 table (groups x above/below).

    Pearson's chi-square without continuity correction; when some expected count
    is below :data:`MIN_EXPECTED` and the total is at most :data:`EXACT_MAX_TOTAL`,
    the Fisher-Freeman-Halton exact test instead (scipy enumerates it). Rows that
    are empty are dropped first; NaN when fewer than two rows or one column remain.
    """
    t = np.asarray(table, dtype=np.int64)
    t = t[t.sum(1) > 0]
    if t.shape[0] < 2 or (t.sum(0) == 0).any():
        return Significance(float("nan"), "not testable (a group or an answer is empty)")
    expected = scipy.stats.contingency.expected_freq(t)
    small = bool((expected < MIN_EXPECTED).any())
    if small and t.sum() <= EXACT_MAX_TOTAL:
        p = exact_k_by_2(t)
        if p is not None:
            return Significance(p, "Fisher-Freeman-Halton exact")
    res = scipy.stats.chi2_contingency(t, correction=False)
    name = "chi-square" + (" (some expected counts < 5)" if small else "")
    return Significance(float(res.pvalue), name)


def exact_k_by_2(table: np.ndarray, max_tables: int = EXACT_MAX_TABLES) -> float | None:
    """Fisher-Freeman-Halton exact p for a k x 2 table, by full enumeration.

    Enumerates every table with the observed margins (scipy's r x c version is
    Monte Carlo, so not reproducible run to run) and sums the probabilities of
    those no more likely than the observed one, with R's relative tolerance of
    1e-7. Returns None when more than ``max_tables`` tables would be enumerated.
    """
    t = np.asarray(table, dtype=np.int64)
    rows = t.sum(1)
    c1 = int(t[:, 0].sum())
    if int(np.prod(rows[:-1] + 1, dtype=float)) > max_tables:
        return None

    def term(a: np.ndarray, r: int) -> np.ndarray:
        # log of 1 / (a! (r - a)!): the part of the hypergeometric probability
        # that varies between tables with the same margins.
        return -(scipy.special.gammaln(a + 1) + scipy.special.gammaln(r - a + 1))

    sums = np.zeros(1, dtype=np.int64)
    logp = np.zeros(1)
    for r in rows[:-1]:
        a = np.arange(r + 1)
        sums = (sums[:, None] + a[None, :]).ravel()
        logp = (logp[:, None] + term(a, int(r))[None, :]).ravel()
        keep = sums <= c1
        sums, logp = sums[keep], logp[keep]
    last = c1 - sums
    keep = (last >= 0) & (last <= rows[-1])
    logp = logp[keep] + term(last[keep], int(rows[-1]))
    obs = float(sum(term(np.array(t[i, 0]), int(rows[i])) for i in range(len(rows))))
    top = logp.max()
    w = np.exp(logp - top)
    # log(1 + 1e-7) ~ 1e-7: ties up to a relative 1e-7 in probability count as "as likely".
    p = w[logp <= obs + 1e-7].sum() / w.sum()
    return float(min(p, 1.0))


def bh_adjust(p) -> np.ndarray:
    """Benjamini-Hochberg adjusted p values; NaN inputs stay NaN and are not counted."""
    p = np.asarray(p, dtype=float)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="fdr_bh")[1]
    return out
