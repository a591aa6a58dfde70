"""Joint-model check of the demo data: rule violations, offender-manager correlation, time.

``PYTHONPATH=src python bench/synthetic_model.py [PROFILE ...]``

For each profile (default: every demo profile) generates its workbook's cases as
``demo-data`` does and prints the CPU time, the consistency-rule violations (the
instrument's rules) and the intra-class correlation by internal offender manager of the
latent quality and of the case score (share of the case's scored, relevant questions
above the line). ICC(1) is the one-way ANOVA estimate with the mean group size.
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

from analysis.instrument import ABOVE
from analysis.synthetic.constraints import violations
from analysis.synthetic.demo import demo_profiles
from analysis.synthetic.generate import generate
from analysis.synthetic.profile import load_profile, profile_instrument


def icc1(values: pd.Series, groups: pd.Series) -> float:
    """One-way random-effects ICC(1) of ``values`` by ``groups``."""
    ok = values.notna()
    values, groups = values[ok], groups[ok]
    k = groups.value_counts().mean()
    means = values.groupby(groups).transform("mean")
    n_g = groups.nunique()
    msb = ((means - values.mean()) ** 2).sum() / (n_g - 1)
    msw = ((values - means) ** 2).sum() / (len(values) - n_g)
    return float((msb - msw) / (msb + (k - 1) * msw))


def case_score(inst, cases: pd.DataFrame) -> pd.Series:
    """Share of each case's scored, relevant questions answered above the line."""
    above = np.zeros(len(cases))
    relevant = np.zeros(len(cases))
    for q in inst.questions.values():
        aset = inst.answer_set(q)
        if not q.scored or aset is None or not aset.codes_scoring(ABOVE):
            continue
        vals = cases[q.id].to_numpy(dtype=object)
        above += np.isin(vals, list(aset.codes_scoring(ABOVE)))
        relevant += vals != aset.na_code
    return pd.Series(np.where(relevant > 0, above / np.maximum(relevant, 1), np.nan))


def main(names: list[str]) -> None:
    paths = names or [str(p) for p in demo_profiles()]
    total_t = total_v = 0.0
    print(
        f"{'profile':28} {'cases':>5} {'cpu s':>6} {'rule viol.':>10} {'ICC q':>6} {'ICC score':>9}"
    )
    for p in paths:
        prof = load_profile(p)
        inst = profile_instrument(prof)
        t = time.process_time()
        cases = generate(prof)
        dt = time.process_time() - t
        v = sum(violations(inst.consistency, cases, inst).values())
        om = pd.Series(cases.attrs["offender_manager"])
        q = pd.Series(cases.attrs["latent_quality"])
        print(
            f"{prof['slug']:28} {len(cases):5d} {dt:6.1f} {v:10d} {icc1(q, om):6.2f} "
            f"{icc1(case_score(inst, cases), om):9.2f}"
        )
        total_t += dt
        total_v += v
    print(f"{'total':28} {'':5} {total_t:6.1f} {int(total_v):10d}")


if __name__ == "__main__":
    main(sys.argv[1:])
