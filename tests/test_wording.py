"""Verbal quantifiers: every word-number pair of the reference report, and band consistency."""

import pytest

from analysis.engine.wording import (
    ALIASES,
    ALL_BUT_MIN_BASE,
    LADDER,
    REPORT_PAIRS,
    REPORT_PERCENTS,
    VAGUE,
    band,
    percent_text,
    quantifier,
)

LANDMARKS = {
    "one-quarter": 1 / 4,
    "one-third": 1 / 3,
    "half": 1 / 2,
    "two-thirds": 2 / 3,
    "three-quarters": 3 / 4,
}


@pytest.mark.parametrize("pair", REPORT_PAIRS, ids=lambda p: f"{p.phrase}:{p.n}/{p.N}")
def test_report_pair(pair):
    if pair.status == "exact":
        assert quantifier(pair.n, pair.N) == pair.phrase
    else:
        assert quantifier(pair.n, pair.N) == pair.expected
    if pair.status != "conflict":
        lo, hi = band(pair.phrase)
        assert lo <= pair.p <= hi


def test_conflicting_pair_is_documented_by_a_matching_exact_pair():
    for c in (p for p in REPORT_PAIRS if p.status == "conflict"):
        assert any(
            p.status == "exact" and (p.n, p.N) == (c.n, c.N) and p.phrase == c.expected
            for p in REPORT_PAIRS
        )


@pytest.mark.parametrize(("n", "N", "text", "where"), REPORT_PERCENTS)
def test_report_percentages(n, N, text, where):
    assert percent_text(n, N) == text


def test_ladder_is_contiguous_and_increasing():
    assert LADDER[0][1] == 0.0 and LADDER[-1][2] == 1.0
    for (_, lo, hi), (_, lo2, _) in zip(LADDER[:-1], LADDER[1:], strict=True):
        assert lo < hi == lo2
    names = [n for n, _, _ in LADDER]
    assert len(names) == len(set(names))


def test_landmark_words_straddle_their_landmark():
    for name, L in LANDMARKS.items():
        lo, hi = band(name)
        assert lo < L < hi
        for under in (f"just under {name}", f"nearly {name}"):
            try:
                u_lo, u_hi = band(under)
            except KeyError:
                continue
            assert u_hi <= lo and u_lo < u_hi <= L
        try:
            o_lo, o_hi = band(f"just over {name}")
        except KeyError:
            continue
        assert o_lo >= hi > L


def test_band_of_every_quantifier_contains_its_proportion():
    for N in range(1, 80):
        for n in range(N + 1):
            lo, hi = band(quantifier(n, N))
            assert lo <= n / N <= hi, (n, N)


def test_quantifier_is_monotone():
    order = ["none"] + [n for n, _, _ in LADDER] + ["all but two", "all but one", "all"]
    for N in (7, 20, 42, 73, 200):
        ranks = [order.index(quantifier(n, N)) for n in range(N + 1)]
        assert ranks == sorted(ranks), N


def test_all_but_needs_a_base_of_twenty():
    assert quantifier(ALL_BUT_MIN_BASE - 1, ALL_BUT_MIN_BASE) == "all but one"
    assert quantifier(13, 14) == "almost all"
    assert quantifier(0, 5) == "none" and quantifier(5, 5) == "all"


def test_aliases_resolve():
    for alias, target in ALIASES.items():
        assert band(alias) == band(target)
    assert band("about three-quarters") == pytest.approx((0.70, 0.80))
    assert band("less than two-thirds")[1] == pytest.approx(2 / 3)
    assert band("the majority") == (0.5, 1.0)


def test_errors():
    with pytest.raises(ValueError):
        quantifier(3, 2)
    with pytest.raises(ValueError):
        quantifier(0, 0)
    with pytest.raises(KeyError):
        band("umpteen")


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        ("many", (0.25, 1.0)),
        ("Generally", (0.5, 1.0)),
        ("a number of", (0.0, 0.5)),
        ("every case", (1.0, 1.0)),
        # Percent comparatives: ten points beyond the number, as "more than X" for a landmark.
        ("more than 40%", (0.40, 0.50)),
        ("fewer than 20%", (0.10, 0.20)),
    ],
)
def test_vague_words_and_percent_comparatives_have_bands(phrase, expected):
    assert band(phrase) == pytest.approx(expected)


def test_vague_words_are_never_chosen_by_quantifier():
    # Every proportion from 0/40 to 40/40 gets a ladder word, never a vague one.
    assert not {quantifier(n, 40) for n in range(41)} & set(VAGUE)
