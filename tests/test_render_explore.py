"""The explore view's widgets and callbacks, driven without a browser."""

from __future__ import annotations

import pandas as pd
import pytest
from test_explore import NA, TINY

from analysis import config
from analysis.instrument import load_instrument
from analysis.render import explore, present


@pytest.fixture
def inst(tmp_path):
    p = tmp_path / "x.yaml"
    # A long label, to check that no filter truncates it.
    p.write_text(
        TINY.replace("{id: gender,", "{id: gender, label: Gender of the person on probation,")
    )
    return load_instrument(p)


@pytest.fixture
def cases():
    # 24 cases: 12 PO (a1 all Yes), 12 PSO (a1 all No); a2 Yes for the first 16.
    n = 24
    return pd.DataFrame(
        {
            "case_id": [f"c{i}" for i in range(n)],
            "om_grade": ["PO"] * 12 + ["PSO"] * 12,
            "gender": ["Male", "Female"] * 12,
            "a1": ["Yes"] * 12 + ["No"] * 12,
            "a2": ["Yes"] * 16 + [NA] * 8,
        }
    )


def _labels(widget) -> list[str]:
    out = []
    for child in getattr(widget, "children", ()):
        if hasattr(child, "value") and isinstance(child.value, str):
            out.append(child.value)
        out += _labels(child)
    return out


def test_low_base_rule_is_present_s():
    assert present.is_low_base(config.LOW_BASE_THRESHOLD - 1)
    assert not present.is_low_base(config.LOW_BASE_THRESHOLD)
    assert not present.is_low_base(float("nan"))


def test_first_view_and_full_labels(inst, cases):
    v = explore.view(cases, inst)
    assert "24 of 24 cases selected" in v.summary.value
    labels = " ".join(_labels(v.widget()))
    assert "Gender of the person on probation" in labels  # whole, above its filter
    assert v.filters["gender"].description == ""  # no truncated description beside it
    assert v.compare_by.value == "om_grade"
    assert v.group_a.value == ("PO",) and v.group_b.value == ("PSO",)
    # a1 is 100% against 0%: Fisher p = 2 / C(24, 12), far below the FDR level; a2 is
    # 100% in both (no "below" at all), which no test can tell apart.
    assert "1 question tested" in v.differences_out.value
    assert "1 differ at a false discovery rate of 5%" in v.differences_out.value


def test_a_filter_change_recomputes_and_warns_of_small_bases(inst, cases):
    v = explore.view(cases, inst)
    v.filters["om_grade"].value = ("PO",)
    assert "12 of 24 cases selected" in v.summary.value
    v.filters["gender"].value = ("Female",)
    # 6 cases: a small selection, and every figure on it carries [u].
    assert "6 of 24 cases selected" in v.summary.value
    assert present.LOW.symbol in v.summary.value
    assert "100% (6 of 6) [u]" in v.question_out.value
    assert "A group has no selected cases" in v.differences_out.value
    # The PSO group is filtered out: no figure, so no [u] either.
    assert "<td>PSO</td><td>no relevant cases</td>" in v.question_out.value


def test_reset_puts_every_filter_back_in_one_recompute(inst, cases):
    v = explore.view(cases, inst)
    v.filters["om_grade"].value = ("PSO",)
    v.filters["gender"].value = ()
    assert "0 of 24 cases selected" in v.summary.value
    calls = []
    v.refresh = lambda: calls.append(1)  # count recomputes
    v.on_reset()
    assert calls == [1]
    assert v.selected() == {"om_grade": ("PO", "PSO"), "gender": ("Male", "Female")}


def test_question_and_groups_callbacks(inst, cases):
    v = explore.view(cases, inst)
    v.question.value = "a2"
    assert "<h4>a2 A2</h4>" in v.question_out.value
    # a2 applies to 16 cases: PO 12 of 12, PSO 4 of 4 [u].
    assert "100% (4 of 4) [u]" in v.question_out.value
    v.compare_by.value = "gender"
    assert (v.group_a.value, v.group_b.value) == (("Male",), ("Female",))
    assert "Male against Female" in v.differences_out.value
    v.group_b.value = ("Male", "Female")
    assert "in both groups" in v.differences_out.value


def test_pooled_view_names_organisations(inst, cases):
    pooled = pd.concat([cases.assign(trust="lowbridge-city"), cases.assign(trust="eastmere")])
    v = explore.view(pooled, inst)
    assert "48 of 48 cases selected" in v.summary.value
    assert v.filters["trust"].options[0] == ("Eastmere", "eastmere")
    assert "Lowbridge City" in v.question_out.value
    assert "lowbridge-city" not in v.question_out.value


def test_pooled_cases_are_every_organisation_stacked(tmp_path, monkeypatch, inst, cases):
    from analysis.pipeline import report

    raw, processed = tmp_path / "raw", tmp_path / "processed"
    raw.mkdir()
    processed.mkdir()
    monkeypatch.setattr(config, "RAW_DIR", raw)
    monkeypatch.setattr(config, "PROCESSED_DIR", processed)
    for slug in ("eastmere", "carrow-moor"):
        cases.to_parquet(processed / f"{slug}.parquet")
    assert report.pooled_trusts() == ["carrow-moor", "eastmere"]
    pooled = report.load_pooled_cases(inst)
    assert len(pooled) == 48
    assert pooled["trust"].tolist() == ["carrow-moor"] * 24 + ["eastmere"] * 24
    assert "case_id" not in pooled.columns  # identifiers dropped on load
    for p in processed.iterdir():
        p.unlink()
    with pytest.raises(Exception, match="no organisations to pool"):
        report.load_pooled_cases(inst)
