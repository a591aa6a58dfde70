"""Reading findings cells: the flags column and numbers that may be missing."""

import math

import pandas as pd
import pytest

from analysis.engine.findings import flag_set, number


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("low;c", {"low", "c"}),
        (" secondary ; c ", {"secondary", "c"}),
        ("", set()),
        (None, set()),
        (pd.NA, set()),
        (math.nan, set()),
    ],
)
def test_flag_set(value, expected):
    assert flag_set(value) == expected


@pytest.mark.parametrize(("value", "expected"), [(3, 3.0), ("2.5", 2.5), (12.0, 12.0)])
def test_number(value, expected):
    assert number(value) == expected


@pytest.mark.parametrize("value", [None, pd.NA, "", "x", math.nan])
def test_number_missing_is_nan(value):
    assert math.isnan(number(value))
