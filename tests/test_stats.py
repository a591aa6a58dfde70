"""Tests for analysis.engine.stats against published worked examples and hand-computed values."""

import math

import numpy as np
import pytest

from analysis.engine.stats import (
    EXACT_MAX_TOTAL,
    FISHER_MAX_TOTAL,
    bh_adjust,
    chi_square_2x2,
    fisher_2x2,
    k_by_2_test,
    newcombe_difference,
    two_by_two_test,
    wilson,
    z_value,
)


def test_z_value_95():
    assert z_value(0.95) == pytest.approx(1.959964, abs=1e-6)


@pytest.mark.parametrize(
    ("n", "N", "lo", "hi"),
    [
        # Newcombe (1998a), Statistics in Medicine 17:857-872, Table I, method 3 (Wilson).
        (81, 263, 0.2553, 0.3662),
        (15, 148, 0.0624, 0.1605),
        (0, 20, 0.0, 0.1611),
    ],
)
def test_wilson_published(n, N, lo, hi):
    got_lo, got_hi = wilson(n, N)
    assert float(got_lo) == pytest.approx(lo, abs=5e-5)
    assert float(got_hi) == pytest.approx(hi, abs=5e-5)


def test_wilson_by_hand_three_of_four():
    # p = .75, n = 4, z^2 = 3.841459
    # centre = (.75 + z^2/8) / (1 + z^2/4) = 1.230182 / 1.960365 = .627527
    # half   = z * sqrt(.75*.25/4 + z^2/64) / 1.960365 = 1.959964 * .326952 / 1.960365 = .326885
    lo, hi = wilson(3, 4)
    assert float(lo) == pytest.approx(0.300642, abs=2e-5)
    assert float(hi) == pytest.approx(0.954412, abs=2e-5)


def test_wilson_vectorised_and_zero_base():
    lo, hi = wilson(np.array([0, 3, 0]), np.array([20, 4, 0]))
    assert lo.shape == (3,)
    assert np.isnan(lo[2]) and np.isnan(hi[2])
    assert lo[0] == 0.0


def test_newcombe_published_example_b():
    # Newcombe (1998b), Statistics in Medicine 17:873-890, Table II (b): 9/10 - 3/10,
    # method 10: 0.6, 0.1705 to 0.8090.
    d, lo, hi = newcombe_difference(9, 10, 3, 10)
    assert float(d) == pytest.approx(0.6)
    assert float(lo) == pytest.approx(0.1705, abs=5e-5)
    assert float(hi) == pytest.approx(0.8090, abs=5e-5)


def test_newcombe_example_a_by_hand():
    # Table II (a): 56/70 - 48/80 = 0.8 - 0.6 = 0.2000 (not 0.175).
    # Wilson 56/70: centre .82744/1.05488 = .78439, half .097642/1.05488 = .092562
    #   -> l1 = .69183, u1 = .87695
    # Wilson 48/80: centre .62401/1.04802 = .59542, half .110005/1.04802 = .104965
    #   -> l2 = .49046, u2 = .70038
    # low  = .2 - sqrt((.8 - .69183)^2 + (.70038 - .6)^2) = .2 - sqrt(.021777) = .05243
    # high = .2 + sqrt((.87695 - .8)^2 + (.6 - .49046)^2) = .2 + sqrt(.017920) = .33387
    # (Newcombe's table prints 0.0524 to 0.3339 for method 10.)
    d, lo, hi = newcombe_difference(56, 70, 48, 80)
    assert float(d) == pytest.approx(0.2)
    assert float(lo) == pytest.approx(0.0524, abs=5e-5)
    assert float(hi) == pytest.approx(0.3339, abs=5e-5)


def test_newcombe_zero_base_is_nan():
    d, lo, hi = newcombe_difference([1], [0], [1], [2])
    assert np.isnan(d[0]) and np.isnan(lo[0]) and np.isnan(hi[0])


def test_newcombe_opposite_edges_stop_exactly_at_the_bound():
    # 0/1 - 1/1 = -1. Wilson 0/1 is [0, z^2/(1 + z^2)] = [0, 3.841459/4.841459] = [0, .793451];
    # Wilson 1/1 is [1/(1 + z^2), 1] = [.206549, 1].
    # low  = -1 - sqrt((0 - 0)^2 + (1 - 1)^2) = -1, exactly (never a hair beyond -1)
    # high = -1 + sqrt(.793451^2 + (1 - .206549)^2) = -1 + sqrt(2) * .793451 = .122109
    d, lo, hi = newcombe_difference(0, 1, 1, 1)
    assert float(d) == -1.0 and float(lo) == -1.0
    assert float(hi) == pytest.approx(0.122109, abs=2e-6)
    # The mirror image, 1/1 - 0/1: 1, from -.122109 to exactly 1.
    d, lo, hi = newcombe_difference(1, 1, 0, 1)
    assert float(d) == 1.0 and float(hi) == 1.0
    assert float(lo) == pytest.approx(-0.122109, abs=2e-6)


def test_newcombe_vectorised_with_a_zero_base_among_others():
    # Example (b) beside a comparison with an empty group: only the second is NaN.
    d, lo, hi = newcombe_difference([9, 1], [10, 0], [3, 1], [10, 2])
    assert d.shape == lo.shape == hi.shape == (2,)
    assert d[0] == pytest.approx(0.6)
    assert lo[0] == pytest.approx(0.1705, abs=5e-5) and hi[0] == pytest.approx(0.8090, abs=5e-5)
    assert np.isnan(d[1]) and np.isnan(lo[1]) and np.isnan(hi[1])


def test_fisher_hand_computed():
    # [[3, 1], [1, 3]]: all margins 4, N = 8; P(a = k) = C(4,k)^2 / 70 = 1,16,36,16,1 /70.
    # Two-sided p = P(tables no more likely than observed) = (1 + 16 + 16 + 1) / 70.
    p = fisher_2x2(3, 1, 1, 3)
    assert p[0] == pytest.approx(34 / 70)
    # [[4, 0], [0, 4]]: (1 + 1) / 70
    assert fisher_2x2(4, 0, 0, 4)[0] == pytest.approx(2 / 70)


def test_fisher_empty_row_or_column_is_nan():
    assert np.isnan(fisher_2x2(0, 0, 3, 1)[0])
    assert np.isnan(fisher_2x2(3, 0, 1, 0)[0])


def test_chi_square_hand_computed():
    # Rows 20, 20, 20; columns 35, 25; expected 11.667 / 8.333 in every row.
    # chi2 = .2381 + .3333 + 5.9524 + 8.3333 + 3.8095 + 5.3333 = 24.0 on 2 df,
    # and the chi-square(2) survival function is exp(-x/2): p = exp(-12).
    res = k_by_2_test(np.array([[10, 10], [20, 0], [5, 15]]))
    assert res.method == "chi-square"
    assert res.p_value == pytest.approx(math.exp(-12), rel=1e-6)


def test_exact_test_when_expected_small():
    # [[2,0],[0,2],[1,1]], margins rows 2,2,2 cols 3,3, N = 6.
    # P(table) = (2!2!2! 3!3!) / (6! prod cells!) = 0.4 / prod cells!.
    # Six tables with first column a permutation of (2,1,0): 0.1 each; (1,1,1): 0.4.
    # Observed is one of the 0.1 tables: p = 6 * 0.1 = 0.6.
    res = k_by_2_test(np.array([[2, 0], [0, 2], [1, 1]]))
    assert res.method == "Fisher-Freeman-Halton exact"
    assert res.p_value == pytest.approx(0.6)


def test_large_table_with_small_expected_uses_chi_square():
    t = np.array([[EXACT_MAX_TOTAL, 500], [2, 1], [1, 2]])
    res = k_by_2_test(t)
    assert res.method.startswith("chi-square (some expected")


def test_k_by_2_untestable():
    assert np.isnan(k_by_2_test(np.array([[3, 0], [2, 0]])).p_value)
    assert np.isnan(k_by_2_test(np.array([[3, 1], [0, 0]])).p_value)


def test_bh_adjust_hand_computed():
    # Sorted p .01 .03 .04 .5, m = 4: p*m/rank = .04 .06 .0533 .5; running minimum from
    # the top gives .04 .0533 .0533 .5. NaN is neither counted nor adjusted.
    got = bh_adjust([0.01, 0.04, np.nan, 0.03, 0.5])
    exp = [0.04, 0.16 / 3, np.nan, 0.16 / 3, 0.5]
    np.testing.assert_allclose(got, exp)


def test_chi_square_2x2_hand_computed():
    # [[30, 10], [20, 20]]: N = 80, ad - bc = 600 - 200 = 400,
    # chi2 = 80 * 400^2 / (40 * 40 * 50 * 30) = 12.8 / 2.4 = 5.3333; p = erfc(sqrt(chi2 / 2))
    assert chi_square_2x2(30, 10, 20, 20)[0] == pytest.approx(math.erfc(math.sqrt(8 / 3)))


def test_two_by_two_switches_to_chi_square_for_large_tables():
    n = FISHER_MAX_TOTAL
    p, method = two_by_two_test([3, n], [1, n], [1, n], [3, n // 2])
    assert p[0] == pytest.approx(34 / 70) and method[0] == "Fisher's exact test"
    assert method[1] == "chi-square (large sample)"
    assert p[1] == pytest.approx(chi_square_2x2(n, n, n, n // 2)[0])
