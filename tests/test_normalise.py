"""Reading typed answers as codes, cell by cell and column by column.

Expected values are worked by hand from the rules in analysis.ingest.normalise: a value is
a code only when it is the code itself or a declared alias (case and spaces ignored, then
the separators - _ . / , ignored); anything else is refused and kept (tidied) so validation
can name it; a spelling that means different codes in two declared languages is refused
unless the workbook's language settles it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analysis.ingest.normalise import (
    CodeMatcher,
    clean_text,
    normalise_codes,
    normalise_counts,
    parse_count,
    show,
)
from analysis.instrument import AnswerAlias


def aliases(language: str | None, **codes: list[str]) -> list[AnswerAlias]:
    """Aliases of one language; keyword names are codes with spaces as underscores."""
    return [
        AnswerAlias(text, code.replace("_", " "), language, "test")
        for code, texts in codes.items()
        for text in texts
    ]


NEUTRAL = aliases(None, Yes=["TRUE", "1"], No=["FALSE", "0"])
ENGLISH = aliases("en", Yes=["Y"], No=["N"], Not_applicable=["N/A", "NA", "n.a."])
WELSH = aliases("cy", Yes=["Ie", "Do"], No=["Na", "Naddo", "Nac ydy"])
LANGUAGES = {"en": "English", "cy": "Welsh"}
YNN = ("Yes", "No", "Not applicable")

# -- one cell ------------------------------------------------------------------------------

YN = CodeMatcher(YNN, NEUTRAL + ENGLISH)
REVIEW = CodeMatcher(
    ("Sufficient review", "Insufficient review", "No review", "Not applicable"), NEUTRAL + ENGLISH
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


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("Yes?", "Yes"), ("(no)", "No"), ("yes!", "Yes"), ("*Y*", "Yes"),
        ("N/A?", "Not applicable"), ("1_0", None), ("1e1", None), ("Yes/No", None), ("Ys", "Yes"),
    ],
)  # fmt: skip
def test_junk_is_refused_with_a_hint(typed, hint):
    # A question mark, brackets or an asterisk carry a doubt or a note: not an answer.
    assert YN.read(clean_text(typed)).code is None
    assert YN.normalise(typed) == typed
    why = YN.why_not(typed)
    assert why.startswith("is not an allowed answer (allowed: Yes, No, Not applicable)")
    assert (f"did you mean {hint!r}?" in why) if hint else ("did you mean" not in why)


def test_separators_join_words_but_do_not_make_an_answer():
    assert YN.normalise("Yes.") == "Yes"  # a full stop is no doubt
    assert YN.normalise("N.") == "No"
    assert REVIEW.normalise("Sufficient, review") == "Sufficient review"


@pytest.mark.parametrize(
    ("typed", "hint"),
    [("-1", "Yes"), (-1, "Yes"), ("-0", "No"), ("1.", "Yes"), ("1/", "Yes"), ("-No", "No"),
     ("Y/", "Yes"), ("/Yes", "Yes"), ("0,", "No")],
)  # fmt: skip
def test_a_separator_that_changes_the_token_is_refused(typed, hint):
    # "-1" is minus one, not the tally 1; "1." and "Y/" are cut short: none is an answer.
    # The separator rule would strip each of them to an alias, so they must be refused.
    assert YN.read(clean_text(typed)).code is None
    why = YN.why_not(typed)
    assert why.startswith("is not an allowed answer (allowed: Yes, No, Not applicable)")
    assert f"did you mean {hint!r}?" in why


def test_separators_between_letters_still_join():
    assert [YN.normalise(v) for v in ["Y.E.S.", "N.A.", "n/a", "No.", "1", 1.0, "0"]] == [
        "Yes", "Not applicable", "Not applicable", "No", "Yes", "Yes", "No",
    ]  # fmt: skip


# -- languages -------------------------------------------------------------------------------


def bilingual(language: str | None = None) -> CodeMatcher:
    return CodeMatcher(YNN, NEUTRAL + ENGLISH + WELSH, language, LANGUAGES)


@pytest.mark.parametrize(
    ("typed", "code"),
    [("Ie", "Yes"), ("do", "Yes"), ("Naddo", "No"), ("nac  ydy", "No"), ("NAC\u00a0YDY", "No"),
     ("N/A", "Not applicable"), ("n.a.", "Not applicable"), ("Y", "Yes")],
)  # fmt: skip
def test_unambiguous_aliases_of_either_language(typed, code):
    assert bilingual().normalise(typed) == code


@pytest.mark.parametrize("typed", ["Na", "NA", "na", " na "])
def test_na_is_ambiguous_between_welsh_and_english(typed):
    m = bilingual()
    reading = m.read(clean_text(typed))
    assert reading.code is None
    assert {(x.code, x.language) for x in reading.meanings} == {
        ("No", "cy"),
        ("Not applicable", "en"),
    }
    why = m.why_not(typed)
    assert why.startswith("is ambiguous: ")
    assert "in Welsh (cy) 'Na' means 'No'" in why
    assert "in English (en) 'NA' means 'Not applicable'" in why
    assert "--language" in why and "'settings'" in why


def test_declared_language_settles_the_ambiguity():
    welsh, english = bilingual("cy"), bilingual("en")
    assert welsh.read("Na").code == "No" and welsh.read("Na").by_language == "cy"
    assert english.read("Na").code == "Not applicable"
    # What is not ambiguous is read the same whatever the language.
    assert welsh.read("N/A").code == "Not applicable" and welsh.read("N/A").by_language is None
    assert english.read("Naddo").code == "No"


def test_an_answer_of_another_language_says_so():
    english = bilingual("en")
    ie = english.read("Ie")
    assert ie.code == "Yes" and ie.foreign == "cy" and ie.by_language is None
    assert bilingual("cy").read("Ie").foreign is None
    assert bilingual().read("Ie").foreign is None  # undeclared: no language to differ from
    assert english.read("Y").foreign is None and english.read("TRUE").foreign is None


def test_loose_match_is_ambiguous_too():
    # "N_A" matches N/A, NA and Na only once its separator is ignored.
    assert bilingual().read("N_A").code is None
    assert bilingual("cy").read("N_A").code == "No"


def test_aliases_only_reach_columns_holding_their_code():
    m = CodeMatcher(("Sufficient review", "No review"), NEUTRAL + ENGLISH + WELSH)
    assert m.normalise("Na") == "Na" and m.normalise("1") == "1"


def test_settled_values_are_reported_once():
    col = pd.Series(["Na", "Na", "Ie", None, "NA"], dtype="str")
    out, settled = normalise_codes(col, bilingual("cy"))
    assert out.astype(object).where(out.notna(), None).tolist() == [
        "No", "No", "Yes", None, "No",
    ]  # fmt: skip
    assert sorted(settled) == ["NA", "Na"]


# -- counts, text, quoting -----------------------------------------------------------------


def test_counts():
    values, bad = normalise_counts(pd.Series(["3", 3.0, "3 ", 3, "", None, "2.5", "two", True]))
    assert values.tolist()[:4] == [3.0, 3.0, 3.0, 3.0]
    assert values.isna().tolist()[4:6] == [True, True]
    assert values.tolist()[6] == 2.5
    assert bad.tolist() == [False] * 7 + [True, True]


@pytest.mark.parametrize(
    "typed",
    ["1_0", "1e1", "1E3", "\u0663", "\uff13", "+3", "0x10", "1,000", "inf", "nan", "3.", ".5",
     "\u00bd", "2 3"],
)  # fmt: skip
def test_counts_are_plain_decimal_numbers(typed):
    # float() accepts most of these; no officer means them as a count.
    values, bad = normalise_counts(pd.Series([typed], dtype=object))
    assert bad.tolist() == [True] and values.isna().all()


@pytest.mark.parametrize(("typed", "number"), [("3.0", 3.0), ("-1", -1.0), (" 12 ", 12.0)])
def test_counts_typed_plainly(typed, number):
    assert parse_count(typed) == number


def test_clean_text():
    assert clean_text(1001.0) == "1001"
    assert clean_text("  a \u00a0 b ") == "a b"
    assert clean_text(1.5) == "1.5"


def test_clean_text_composes_accents():
    # "Môn" typed with a combining circumflex (NFD) is the same text as with "ô" (NFC).
    assert clean_text("Mo\u0302n") == "M\u00f4n" == clean_text("M\u00f4n")


def test_dates_read_as_text_lose_a_midnight_time():
    # The workbook reader gives a date cell as "2014-01-02 00:00:00"; shown as the date.
    assert clean_text("2014-01-02 00:00:00") == "2014-01-02"
    assert clean_text("2014-01-02 10:30:00") == "2014-01-02 10:30:00"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [("Yes ", "'Yes '"), ("Yes?", "'Yes?'"), ("3", "3"), (" 3", "' 3'"), (3, "3"), (None, "blank"),
     ("", "blank"), ("\u00a0", "'\\xa0'"), ("x" * 70, repr("x" * 57 + "..."))],
)  # fmt: skip
def test_values_are_shown_exactly_as_typed(typed, shown):
    assert show(typed) == shown


# -- whole columns ---------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [object, "str"])
def test_codes_column_is_categorical_with_unknown_values_kept(dtype):
    col = pd.Series(["yes", " No", None, "maybe", "N/A", "Yes", "maybe "], dtype=dtype)
    out, _ = normalise_codes(col, YN)
    # Allowed codes first in declared order, then the one unmapped value.
    assert list(out.cat.categories) == ["Yes", "No", "Not applicable", "maybe"]
    assert out.cat.codes.tolist() == [0, 1, -1, 3, 2, 0, 3]
    assert out.index.equals(col.index)


def test_codes_column_keeps_true_apart_from_one():
    # factorize would merge True with 1 and False with 0; each still maps on its own merits.
    col = pd.Series([True, 1, "0", False, None, "TRUE"], dtype=object)
    out, _ = normalise_codes(col, YN)
    assert out.astype(object).where(out.notna(), None).tolist() == [
        "Yes", "Yes", "No", "No", None, "Yes",
    ]  # fmt: skip


def test_codes_column_without_synonyms():
    col = pd.Series(["typed", "Y", None], dtype="str", index=[5, 6, 7])
    out, _ = normalise_codes(col, CodeMatcher(("Typed", "Oral")))
    # "Y" is no Yes/No list's answer here, so it stays as typed.
    assert list(out.cat.categories) == ["Typed", "Oral", "Y"]
    assert out.cat.codes.tolist() == [0, 2, -1]
    assert out.index.tolist() == [5, 6, 7]


def test_counts_from_text_column():
    values, bad = normalise_counts(pd.Series(["3", "2.5", "two", None, " 4 ", "inf"], dtype="str"))
    assert np.allclose(values.to_numpy()[[0, 1, 4]], [3.0, 2.5, 4.0])
    assert values.isna().tolist() == [False, False, True, True, False, True]
    assert bad.tolist() == [False, False, True, False, False, True]
