"""Funnel plots: each organisation's score against its base, with binomial control limits.

A funnel plot (Spiegelhalter 2005, "Funnel plots for comparing institutional
performance", *Statistics in Medicine* 24:1185-1202) shows each organisation's
proportion against the size of the sample it rests on, with control limits
around the pooled proportion ``p0`` that narrow as the sample grows::

    p0 +/- z * sqrt(p0 * (1 - p0) / n)

with ``z = 1.96`` (95%, "warning") and ``z = 3.09`` (99.8%, "alarm"), the
normal approximation to the binomial that UK public-sector comparisons use.
An organisation outside the 99.8% limits is evidence of a real difference from
the pooled figure, not proof of poorer (or better) practice: samples are small,
judgements within one case are not independent, and case mix differs.

Everything here is on the proportion scale (0-1) internally; tables and charts
that leave the module use percent (0-100), like the findings table. The plots are
drawn by :mod:`analysis.render.charts.funnel`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from statistics import NormalDist

import numpy as np
import pandas as pd

#: Two-sided 95% limits ("warning").
Z_95 = NormalDist().inv_cdf(0.975)
#: Two-sided 99.8% limits ("alarm"): 3.090.
Z_998 = NormalDist().inv_cdf(0.999)

#: Position labels, in the order a reader meets them.
WITHIN = "within limits"
ABOVE_95 = "above 95% limit"
ABOVE_998 = "above 99.8% limit"
BELOW_95 = "below 95% limit"
BELOW_998 = "below 99.8% limit"
POSITIONS = (BELOW_998, BELOW_95, WITHIN, ABOVE_95, ABOVE_998)


def control_limits(p0: float, n, z: float) -> tuple[np.ndarray, np.ndarray]:
    """Binomial control limits around ``p0`` for sample size(s) ``n``.

    Parameters
    ----------
    p0
        Target (pooled) proportion, 0-1.
    n
        Sample size or array of sizes (must be positive).
    z
        Normal quantile: :data:`Z_95` or :data:`Z_998`.

    Returns
    -------
    tuple of numpy.ndarray
        Lower and upper limits, clipped to [0, 1] because a proportion cannot
        leave that range even where the normal approximation would.

    Examples
    --------
    >>> lo, hi = control_limits(0.7, 50, 1.96)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.573, 0.827)
    """
    if not 0.0 <= p0 <= 1.0:
        raise ValueError(f"p0 must be a proportion, got {p0}")
    n = np.asarray(n, dtype=float)
    if np.any(n <= 0):
        raise ValueError("sample sizes must be positive")
    half = z * np.sqrt(p0 * (1.0 - p0) / n)
    return np.clip(p0 - half, 0.0, 1.0), np.clip(p0 + half, 0.0, 1.0)


def classify(p: float, n: float, p0: float, phi: float = 1.0) -> str:
    """Where one point lies relative to the 95% and 99.8% limits.

    Parameters
    ----------
    p
        The organisation's proportion, 0-1.
    n
        Its base.
    p0
        Pooled proportion.
    phi
        Multiplicative over-dispersion factor (1 = plain binomial limits).

    Returns
    -------
    str
        One of :data:`POSITIONS`. A point exactly on a limit counts as within.
    """
    if p0 in (0.0, 1.0):
        # Degenerate funnel: every limit collapses onto p0.
        return WITHIN if p == p0 else (ABOVE_998 if p > p0 else BELOW_998)
    z = (p - p0) / math.sqrt(phi * p0 * (1 - p0) / n)
    if z > Z_998:
        return ABOVE_998
    if z > Z_95:
        return ABOVE_95
    if z < -Z_998:
        return BELOW_998
    if z < -Z_95:
        return BELOW_95
    return WITHIN


@dataclass
class Funnel:
    """One outcome's funnel: the points, the pooled proportion and the limit curves.

    Attributes
    ----------
    measure_id, label
        What is plotted (``score_O1``, "Assisting sentencing").
    points
        One row per organisation: ``trust, numerator, denominator, n, percent,
        ci_low, ci_high, z, position`` plus the four limits at its ``n``
        (percent scale).
    p0
        Pooled proportion (0-1).
    phi
        Estimated over-dispersion (mean squared z-score, Spiegelhalter 2005
        section 5); shown for information, limits use ``phi_used``.
    phi_used
        1 for plain binomial limits, ``phi`` when inflated limits were asked for.
    curves
        Limit curves on a grid of ``n`` (percent scale) for drawing.
    n_basis
        What ``n`` counts ("relevant judgements" or "cases").
    """

    measure_id: str
    label: str
    points: pd.DataFrame
    p0: float
    phi: float
    phi_used: float
    curves: pd.DataFrame
    n_basis: str = "relevant judgements"
    notes: list[str] = field(default_factory=list)

    @property
    def outside(self) -> pd.DataFrame:
        """Organisations outside the 95% limits (either side)."""
        return self.points[self.points["position"] != WITHIN]


def build_funnel(
    points: pd.DataFrame,
    *,
    measure_id: str = "",
    label: str = "",
    p0: float | None = None,
    n_col: str = "denominator",
    n_basis: str = "relevant judgements",
    overdispersion: bool = False,
    grid: int = 200,
) -> Funnel:
    """Compute a funnel from one row per organisation.

    Parameters
    ----------
    points
        Columns ``trust``, ``percent`` (0-100) and ``n_col``; ``numerator``,
        ``ci_low`` and ``ci_high`` are carried through when present.
    measure_id, label
        Carried into the result for titles and tables.
    p0
        Pooled proportion (0-1). Default: the ``n``-weighted mean of the
        organisations' proportions, which equals sum(numerator) / sum(n) when
        each percent is numerator / n.
    n_col
        Column holding each organisation's base.
    n_basis
        Words for what ``n`` counts, used in labels and prose.
    overdispersion
        Inflate the limits by ``sqrt(phi)`` when ``phi > 1`` (Spiegelhalter's
        multiplicative over-dispersion). Off by default: the brief is plain
        binomial limits, and with a dozen organisations ``phi`` is itself noisy.
    grid
        Number of points on each limit curve.

    Returns
    -------
    Funnel
    """
    df = points.copy()
    df["n"] = pd.to_numeric(df[n_col]).astype(float)
    df["percent"] = pd.to_numeric(df["percent"]).astype(float)
    df = df[df["n"].notna() & (df["n"] > 0) & df["percent"].notna()].reset_index(drop=True)
    notes: list[str] = []
    if df.empty:
        empty = pd.DataFrame(columns=["trust", "n", "percent", "position"])
        return Funnel(measure_id, label, empty, math.nan, math.nan, 1.0, pd.DataFrame(), n_basis)
    prop = df["percent"] / 100.0
    if p0 is None:
        p0 = float((prop * df["n"]).sum() / df["n"].sum())

    if 0.0 < p0 < 1.0:
        z = (prop - p0) / np.sqrt(p0 * (1 - p0) / df["n"])
        phi = float(np.mean(z**2))
    else:
        z = pd.Series(np.nan, index=df.index)
        phi = math.nan
    phi_used = phi if (overdispersion and phi > 1) else 1.0
    if overdispersion and phi > 1:
        notes.append(f"limits widened by sqrt(phi) = {math.sqrt(phi):.2f} for over-dispersion")

    df["z"] = z
    df["position"] = [classify(p, n, p0, phi_used) for p, n in zip(prop, df["n"], strict=True)]
    scale = math.sqrt(phi_used)
    for z_, tag in ((Z_95, "95"), (Z_998, "998")):
        lo, hi = control_limits(p0, df["n"].to_numpy(), z_ * scale)
        df[f"lower_{tag}"], df[f"upper_{tag}"] = lo * 100, hi * 100

    n_min, n_max = float(df["n"].min()), float(df["n"].max())
    ns = np.linspace(max(1.0, n_min * 0.8), n_max * 1.15, grid)
    curves = pd.DataFrame({"n": ns})
    for z_, tag in ((Z_95, "95"), (Z_998, "998")):
        lo, hi = control_limits(p0, ns, z_ * scale)
        curves[f"lower_{tag}"], curves[f"upper_{tag}"] = lo * 100, hi * 100
    curves["p0"] = p0 * 100

    keep = ["trust", "numerator", "n", "percent", "ci_low", "ci_high", "z", "position"]
    keep += ["lower_95", "upper_95", "lower_998", "upper_998"]
    df = df[[c for c in keep if c in df.columns]]
    return Funnel(measure_id, label, df, p0, phi, phi_used, curves, n_basis, notes)


def describe(f: Funnel) -> str:
    """A careful plain-English paragraph about one funnel (plain text: escape before HTML).

    Names every organisation outside the limits, says which side, and reminds
    the reader what that does and does not mean.
    """
    if f.points.empty:
        return f"No organisation has a {f.label or f.measure_id} score to compare."
    head = (
        f"{f.label or f.measure_id}: pooled score {f.p0 * 100:.1f}% across "
        f"{len(f.points)} organisations."
    )
    hi998 = f.points.loc[f.points["position"] == ABOVE_998, "trust"].tolist()
    lo998 = f.points.loc[f.points["position"] == BELOW_998, "trust"].tolist()
    hi95 = f.points.loc[f.points["position"] == ABOVE_95, "trust"].tolist()
    lo95 = f.points.loc[f.points["position"] == BELOW_95, "trust"].tolist()
    parts = [head]
    if not (hi998 or lo998 or hi95 or lo95):
        parts.append(
            "Every organisation lies within the 95% limits: the differences between them are "
            "no larger than chance alone would often produce with samples of this size."
        )
    if lo998:
        parts.append(
            f"Below the 99.8% limit: {_names(lo998)}. A point this far out is unlikely to be "
            "chance alone and is worth looking into; it is evidence of a real difference from "
            "the pooled score, not proof of poorer practice (case mix and sampling can differ)."
        )
    if hi998:
        parts.append(
            f"Above the 99.8% limit: {_names(hi998)}, a difference unlikely to be chance alone."
        )
    if lo95 or hi95:
        side = []
        if lo95:
            side.append(f"below: {_names(lo95)}")
        if hi95:
            side.append(f"above: {_names(hi95)}")
        parts.append(
            "Between the 95% and 99.8% limits (" + "; ".join(side) + "). About one "
            "organisation in twenty lands here by chance alone, so on its own this is no cause "
            "for concern."
        )
    if not math.isnan(f.phi) and f.phi > 1.5 and f.phi_used == 1.0:
        parts.append(
            f"The spread between organisations is wider than binomial sampling predicts "
            f"(over-dispersion {f.phi:.1f}); the limits treat each of the {f.n_basis} as "
            "independent, which judgements within one case are not, so they are if anything "
            "too narrow."
        )
    parts.extend(f.notes)
    return " ".join(parts)


def _names(trusts: list[str]) -> str:
    return ", ".join(trusts)
