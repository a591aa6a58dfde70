"""Verbal quantifiers: every word-number pair of the reference report, and band consistency."""

import pytest

from analysis import config
from analysis.engine.wording import (
    ALIASES,
    ALL_BUT_MIN_BASE,
    BANDS,
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
    # Every pair fits the reading band of its phrase, the conflicting ones too.
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
    # Education Scotland: "majority" means 50% to 74% ("most" starts at 75%).
    assert band("the majority") == (0.5, 0.75)


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
        # No upper bound: the O3 summary says "a number of" of reviews insufficient or
        # missing, which O3 2.7 puts above half (fewer than half sufficient).
        ("a number of", (0.0, 1.0)),
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


# -- the reading bands and their sources ---------------------------------------------------


def test_every_ladder_cell_lies_in_its_reading_band():
    for phrase, lo, hi in LADDER:
        b_lo, b_hi = band(phrase)
        assert b_lo <= lo < hi <= b_hi, phrase


def test_every_band_names_its_source():
    for phrase, (lo, hi, source) in BANDS.items():
        assert 0 <= lo <= hi <= 1, phrase
        assert len(source) > 2, phrase


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        # Education Scotland, 'Terms we use in the inspection process': few up to 15%, less
        # than half 15% to 49%, majority 50% to 74%, most 75% to 90%, almost all over 90%.
        ("few", (0.0, 0.15)),
        ("less than half", (0.15, 0.50)),
        ("less than one-half", (0.15, 0.50)),
        ("most", (0.75, 0.90)),
        # ... widened to 8/9 = 0.8889, which the report calls "almost all" (O5 key strength).
        ("almost all", (8 / 9, 1.0)),
        ("nearly every", (8 / 9, 1.0)),
        # The report's graded majorities are read as "most"; 8/9 is "the great majority".
        ("the great majority", (0.75, 0.90)),
        ("the large majority", (0.75, 0.90)),
    ],
)
def test_published_scale_bands(phrase, expected):
    assert band(phrase) == pytest.approx(expected)


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [
        # Down to the midpoint of 2/3 and 3/4 (0.7083), up to three-quarters' own 0.73.
        ("almost three-quarters", (17 / 24, 0.73)),
        # From 2/3 + 0.02 to the midpoint of 2/3 and 3/4.
        ("just over two-thirds", (0.6867, 17 / 24)),
        # Down to the midpoint of 1/2 and 2/3 (0.5833); 27/42 = 0.643 lies inside.
        ("just under two-thirds", (7 / 12, 0.6467)),
        # Comparatives reach the next step: 1/3 to 1/2, 1/2 to 2/3, 3/4 to 90%.
        ("more than one-third", (1 / 3, 0.5)),
        ("less than two-thirds", (0.5, 2 / 3)),
        ("more than three-quarters", (0.75, 0.90)),
        ("over two-thirds", (2 / 3, 0.75)),
    ],
)
def test_landmark_bands_follow_the_nearest_landmark_rule(phrase, expected):
    assert band(phrase) == pytest.approx(expected, abs=1e-4)


def test_few_and_a_minority_split_at_fifteen_percent():
    # Education Scotland's "few" ends at 15%: 2/15 = 13.3% is "few", 3/20 = 15% "a minority".
    assert quantifier(2, 15) == "few"
    assert quantifier(3, 20) == "a minority"


def test_report_pairs_use_vague_words_within_their_bands():
    vague = [p for p in REPORT_PAIRS if p.status == "vague"]
    assert {p.phrase for p in vague} <= set(VAGUE)
    # 9/18 = 0.50, 28/73 = 0.384, 20/73 = 0.274 are "many" (>= 0.25); 7/28 = 0.25 a
    # "small percentage" (<= 0.30).
    assert sorted((p.n, p.N) for p in vague) == [(7, 28), (9, 18), (20, 73), (28, 73)]


def test_the_wording_document_lists_every_band_and_its_source():
    text = (config.DOCS_DIR / "wording.md").read_text(encoding="utf-8")

    def pct(x: float) -> str:
        return f"{100 * x:.1f}".rstrip("0").rstrip(".")

    cells = {p: f"{pct(lo)}-{pct(hi)}%" for p, lo, hi in LADDER}
    for phrase, (lo, hi, source) in BANDS.items():
        row = f"| {phrase} | {pct(lo)}-{pct(hi)}% | {cells.get(phrase, '--')} |"
        assert row in text, phrase
        assert f"| {source} |" in text, phrase
