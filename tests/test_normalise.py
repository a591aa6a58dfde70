"""Normalisation of typed answer variants, cell by cell and column by column.

Expected values are worked by hand from the rules in analysis.ingest.normalise: case, spaces and
punctuation are ignored; Yes/No/N/A synonyms map only where the column allows them; a value
that maps to nothing is kept (tidied) so validation can name it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.ingest.normalise import CodeMatcher, clean_text, normalise_codes, normalise_counts

# -- one cell ------------------------------------------------------------------------------

YN = CodeMatcher(("Yes", "No", "Not applicable"), "Not applicable")
REVIEW = CodeMatcher(
    ("Sufficient review", "Insufficient review", "No review", "Not applicable"), "Not applicable"
)


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("Yes", "Yes"), ("Y", "Yes"), ("yes", "Yes"), ("YES ", "Yes"), ("TRUE", "Yes"),
        ("True", "Yes"), ("1", "Yes"), (1, "Yes"), (1.0, "Yes"), (True, "Yes"),
        ("\u00a0yes\u00a0", "Yes"), ("No", "No"), ("N", "No"), ("n", "No"), ("0", "No"),
        (0.0, "No"), ("FALSE", "No"), (False, "No"), ("no  ", "No"),
        ("N/A", "Not applicable"), ("NA", "Not applicable"), ("n/a", "Not applicable"),
        ("Not applicable", "Not applicable"), ("not-applicable", "Not applicable"),
        ("n.a.", "Not applicable"), ("NOT  APPLICABLE", "Not applicable"),
        ("not_applicable", "Not applicable"), (" N / A ", "Not applicable"),
        ("", None), ("   ", None), ("\u00a0", None), (None, None), (float("nan"), None),
        ("Yess", "Yess"), ("maybe", "maybe"),
    ],
)  # fmt: skip
def test_yes_no_variants(typed, canonical):
    assert YN.normalise(typed) == canonical


@pytest.mark.parametrize(
    ("typed", "canonical"),
    [
        ("sufficient review", "Sufficient review"), ("SUFFICIENT  REVIEW", "Sufficient review"),
        ("Sufficient-review", "Sufficient review"), ("no review", "No review"),
        ("n/a", "Not applicable"), ("Yes", "Yes"), ("Sufficent", "Sufficent"),
    ],
)  # fmt: skip
def test_review_variants(typed, canonical):
    # "Yes" is no review answer, so it must not be mapped to one.
    assert REVIEW.normalise(typed) == canonical


def test_category_codes_case_insensitive():
    m = CodeMatcher(("Typed", "Oral", "None"))
    assert [m.normalise(v) for v in ["typed", "ORAL ", "none", "n/a"]] == [
        "Typed", "Oral", "None", "n/a",
    ]  # fmt: skip


def test_counts():
    values, bad = normalise_counts(pd.Series(["3", 3.0, "3 ", 3, "", None, "2.5", "two", True]))
    assert values.tolist()[:4] == [3.0, 3.0, 3.0, 3.0]
    assert values.isna().tolist()[4:6] == [True, True]
    assert values.tolist()[6] == 2.5
    assert bad.tolist() == [False] * 7 + [True, True]


def test_clean_text():
    assert clean_text(1001.0) == "1001"
    assert clean_text("  a \u00a0 b ") == "a b"
    assert clean_text(1.5) == "1.5"


def test_dates_read_as_text_lose_a_midnight_time():
    # The workbook reader gives a date cell as "2014-01-02 00:00:00"; shown as the date.
    assert clean_text("2014-01-02 00:00:00") == "2014-01-02"
    assert clean_text("2014-01-02 10:30:00") == "2014-01-02 10:30:00"


# -- whole columns ---------------------------------------------------------------------------

YNN = ("Yes", "No", "Not applicable")


@pytest.mark.parametrize("dtype", [object, "str"])
def test_codes_column_is_categorical_with_unknown_values_kept(dtype):
    col = pd.Series(["yes", " No", None, "maybe", "N/A", "Yes", "maybe "], dtype=dtype)
    out = normalise_codes(col, YNN, "Not applicable")
    # Allowed codes first in declared order, then the one unmapped value.
    assert list(out.cat.categories) == ["Yes", "No", "Not applicable", "maybe"]
    assert out.cat.codes.tolist() == [0, 1, -1, 3, 2, 0, 3]
    assert out.index.equals(col.index)


def test_codes_column_keeps_true_apart_from_one():
    # factorize would merge True with 1 and False with 0; each still maps on its own merits.
    col = pd.Series([True, 1, "0", False, None, "TRUE"], dtype=object)
    out = normalise_codes(col, YNN, "Not applicable")
    assert out.astype(object).where(out.notna(), None).tolist() == [
        "Yes", "Yes", "No", "No", None, "Yes",
    ]  # fmt: skip


def test_codes_column_without_synonyms():
    col = pd.Series(["typed", "Y", None], dtype="str", index=[5, 6, 7])
    out = normalise_codes(col, ("Typed", "Oral"), None)
    # "Y" is no Yes/No list's answer here, so it stays as typed.
    assert list(out.cat.categories) == ["Typed", "Oral", "Y"]
    assert out.cat.codes.tolist() == [0, 2, -1]
    assert out.index.tolist() == [5, 6, 7]


def test_counts_from_text_column():
    values, bad = normalise_counts(pd.Series(["3", "2.5", "two", None, " 4 ", "inf"], dtype="str"))
    assert np.allclose(values.to_numpy()[[0, 1, 4]], [3.0, 2.5, 4.0])
    assert values.isna().tolist() == [False, False, True, True, False, True]
    assert bad.tolist() == [False, False, True, False, False, True]
