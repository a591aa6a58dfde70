"""Reading findings cells (flags, numbers that may be missing) and the findings' context."""

import json
import math

import pandas as pd
import pytest

from analysis.engine.findings import FindingsContext, flag_set, number, read_context
from analysis.errors import UserError


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


# -- the context -------------------------------------------------------------------------


def test_context_for_a_run_records_the_instrument_and_resolves_the_method(tiny_instrument):
    ctx = FindingsContext.for_run(tiny_instrument, audience="publication", low_threshold=8)
    assert (ctx.audience, ctx.low_threshold, ctx.suppression_threshold) == ("publication", 8, 5)
    assert ctx.confidence_level == 0.95
    assert (ctx.instrument_id, ctx.instrument_version) == ("tiny", "0.1.0")
    assert ctx.instrument_sha256 == tiny_instrument.sha256
    assert ctx.outcome_method == "question_mean"  # the instrument's, since none was asked for
    other = FindingsContext.for_run(tiny_instrument, outcome_method="criterion_mean")
    assert other.outcome_method == "criterion_mean"


def test_context_json_is_sorted_and_round_trips(tiny_instrument):
    ctx = FindingsContext.for_run(tiny_instrument)
    text = ctx.to_json()
    assert text.endswith("}\n")
    keys = list(json.loads(text))
    assert keys == sorted(keys) and len(keys) == 8
    assert FindingsContext.from_json(text) == ctx
    assert FindingsContext.for_run(tiny_instrument).to_json() == text  # no timestamps


def test_unknown_audience_is_refused():
    with pytest.raises(UserError, match="audience must be one of internal, publication"):
        FindingsContext(audience="everyone")


@pytest.mark.parametrize("text", ["{not json", "[]", '{"audience": "internal"}'])
def test_unreadable_context_is_a_user_error(text):
    with pytest.raises(UserError, match="meta.json"):
        FindingsContext.from_json(text, "x/findings.meta.json")


def test_read_context(tmp_path, tiny_instrument):
    with pytest.raises(UserError, match="no findings context"):
        read_context(tmp_path)
    ctx = FindingsContext.for_run(tiny_instrument, audience="publication")
    (tmp_path / "findings.meta.json").write_text(ctx.to_json())
    assert read_context(tmp_path) == ctx


def test_check_instrument(tiny_instrument, any_of_instrument):
    ctx = FindingsContext.for_run(tiny_instrument)
    ctx.check_instrument(tiny_instrument)
    with pytest.raises(UserError, match="computed with instrument tiny 0.1.0"):
        ctx.check_instrument(any_of_instrument)  # same id, another file
    FindingsContext().check_instrument(any_of_instrument)  # no instrument recorded: no check
