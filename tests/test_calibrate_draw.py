"""Calibration draws a verbal figure's target uniformly among the counts its band allows."""

from collections import Counter

import numpy as np

from analysis.synthetic.calibrate import _aim  # draws through solve.draw_count
from analysis.synthetic.solve import QuestionSpec
from analysis.synthetic.statements import Statement


def spec(prefer_relevant=20, pool=30, rate=0.7):
    return QuestionSpec(qid="q", pool=pool, prefer_relevant=prefer_relevant, prefer_rate=rate)


def aims(stmts, n=2000, seed=7, **kw):
    rng = np.random.default_rng(seed)
    return [_aim(spec(**kw), stmts, rng).prefer_rate for _ in range(n)]


MOST = Statement(fid="f", kind="question", measure="q", verbal="most")


def test_most_of_twenty_is_fifteen_to_eighteen_each_equally_likely():
    # "most" is 75%-90%: of 20 cases 15 (75%), 16, 17 or 18 (90%); 19 (95%) is not "most".
    got = Counter(round(a * 20) for a in aims([MOST]))
    assert set(got) == {15, 16, 17, 18}
    # 2000 draws, a quarter each: 500 expected, 3 standard deviations (19.4) either way.
    assert all(440 <= c <= 560 for c in got.values()), got


def test_a_stated_base_is_used():
    # "most" of a stated 12: 9 (75%) or 10 (83.3%); 11 (91.7%) is too many.
    stated = Statement(fid="f", kind="question", measure="q", verbal="most", denominator=12)
    assert set(aims([stated], n=200)) == {9 / 12, 10 / 12}


def test_none_or_all_only_when_nothing_else_fits():
    # "many" (25%-100%) of 4: 1, 2 or 3; 4 of 4 would be written "all".
    many = Statement(fid="f", kind="question", measure="q", verbal="many")
    assert set(aims([many], n=300, prefer_relevant=4, pool=4)) == {0.25, 0.5, 0.75}


def test_the_draw_is_seeded():
    assert aims([MOST], n=50, seed=3) == aims([MOST], n=50, seed=3)
    assert aims([MOST], n=50, seed=3) != aims([MOST], n=50, seed=4)


def test_a_question_without_a_band_keeps_the_profile_rate():
    exact = Statement(fid="f", kind="question", measure="q", numerator=7, denominator=10)
    assert aims([], n=1) == [0.7] and aims([exact], n=1) == [0.7]
