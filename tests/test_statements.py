"""Published statements: rounding, verbal bands, loading and resolving conflicts."""

from __future__ import annotations

import pytest
from helpers.synthetic import tiny_instrument

from analysis.synthetic.statements import (
    SPEC_COUNT,
    SPEC_PERCENT,
    Statement,
    codes_for,
    known_phrase,
    members,
    percent_band,
    rate_band,
    read_published,
    resolve,
    round_half_up,
    statements_from_published,
    statements_from_targets,
    verbal_ok,
)

S = Statement


@pytest.fixture
def inst(tmp_path):
    return tiny_instrument(tmp_path)


def test_round_half_up_and_percent_rules():
    assert round_half_up(62.5) == 63  # 20/32: the report prints 63%
    assert round_half_up(64.4999) == 64
    assert S("a", "question", "q", percent=63).accepts(20, 32)
    # Banker's rounding (62.5 -> 62) only where the source notes it.
    assert not S("a", "question", "q", percent=62).accepts(20, 32)
    assert S("a", "question", "q", percent=62, note="banker's rounding").accepts(20, 32)


def test_verbal_bands_exclude_what_the_phrase_excludes():
    # "most" is 75% to 90%, both ends included (Education Scotland).
    assert verbal_ok("most", 3, 4) and verbal_ok("most", 9, 10) and not verbal_ok("most", 10, 11)
    # No quantity word stands for none of the cases; "not always" is never every case.
    assert not verbal_ok("few", 0, 9) and verbal_ok("few", 1, 9)
    assert verbal_ok("not always", 1, 3) and not verbal_ok("not always", 3, 3)
    # "less than half" excludes half, "the majority" excludes it too: 1/2 is neither.
    assert not verbal_ok("less than half", 1, 2) and not verbal_ok("the majority", 1, 2)
    assert verbal_ok("many", 9, 9)  # a band reaching 100% includes it unless 'almost'


def test_verbal_bands():
    assert verbal_ok("just under two-thirds", 27, 42)  # 64.3%
    assert not verbal_ok("almost three-quarters", 27, 42)
    assert verbal_ok("almost all", 13, 14) and not verbal_ok("almost all", 14, 14)
    assert verbal_ok("all but one", 19, 20)
    assert verbal_ok("great majority", 8, 9)  # written without "the" in the report
    assert verbal_ok("more than one-third", 7, 20) and not verbal_ok("more than one-third", 1, 3)


def test_percent_bands_come_from_the_wording_reading_bands():
    # "the great majority" is read as Education Scotland's "most", 75% to 90% (the ladder
    # writes it for [85, 90) only); the report also drops the "the".
    assert percent_band("great majority") == (75.0, 90.0)
    assert percent_band("all") == (100.0, 100.0)
    assert known_phrase("most") and not known_phrase("umpteen")
    with pytest.raises(KeyError):
        percent_band("umpteen")


def test_statements_from_published_fill_defaults():
    pub = {
        "figures": [
            {
                "id": "po",
                "kind": "comparison",
                "measure": "q_checks",
                "percent": 81,
                "group_var": "om_grade",
                "group": "PO",
            },
            {"measure": "q_checks", "numerator": 22, "denominator": 54.0, "percent": float("nan")},
        ]
    }
    po, second = statements_from_published(pub)
    assert (po.fid, po.kind, po.percent, po.group_var, po.group) == (
        "po",
        "comparison",
        81.0,
        "om_grade",
        "PO",
    )
    # No id: numbered by position; no kind: a question; NaN percent: none given.
    assert (second.fid, second.kind, second.numerator, second.denominator) == (
        "fig2",
        "question",
        22,
        54,
    )
    assert second.percent is None
    assert po.specificity == SPEC_PERCENT and second.specificity == SPEC_COUNT


def test_read_published_reads_the_yaml_file(tmp_path):
    path = tmp_path / "pub.yaml"
    path.write_text(
        "figures:\n  - {id: a, measure: q_checks, numerator: 9, denominator: 18}\n",
        encoding="utf-8",
    )
    (a,) = read_published(path)
    assert (a.fid, a.measure, a.numerator, a.denominator) == ("a", "q_checks", 9, 18)


def test_statements_from_targets():
    got = statements_from_targets(
        {
            "q_report": [12, 15],
            "f_drugs_interventions": [
                {"numerator": 9, "denominator": 18},
                {"group_var": "om_grade", "group": "PO", "numerator": 7, "denominator": 10},
            ],
        }
    )
    assert [(s.fid, s.kind, s.numerator, s.denominator, s.group) for s in got] == [
        ("target:q_report", "question", 12, 15, None),
        ("target:f_drugs_interventions", "question", 9, 18, None),
        ("target:f_drugs_interventions:2", "comparison", 7, 10, "PO"),
    ]


def test_resolve_drops_the_less_specific_statement():
    """3 of 10 is 30%, not 'half' [48%, 52%): the verbal statement goes, with the arithmetic."""

    def feasible(sts):
        return [
            (a, d) for d in range(1, 11) for a in range(d + 1) if all(s.accepts(a, d) for s in sts)
        ]

    count = S("c", "question", "q", numerator=3, denominator=10)
    verbal = S("v", "question", "q", verbal="half")
    sols, kept, incs = resolve([count, verbal], feasible, "q")
    assert sols == [(3, 10)] and kept == [count]
    assert [(i.figure_ids, i.dropped) for i in incs] == [(["c", "v"], ["v"])]
    assert "3/10 = 30.0%, outside 'half' (48-52%)" in incs[0].reason


def test_members_and_codes_for(inst):
    assert members("PO|pso", ["PO", "PSO"]) == ["PO", "PSO"]
    assert members(["PSO"], ["PO", "PSO"]) == ["PSO"]
    assert members("rest", ["PO", "PSO"]) == [] and members(None, ["PO"]) == []
    with pytest.raises(ValueError, match="unknown group"):
        members("SPO", ["PO", "PSO"])
    q = inst.questions["q_review"]
    assert codes_for(inst, q, None) == ("Sufficient review", "Insufficient review", "No review")
    assert codes_for(inst, q, "below") == ("Insufficient review", "No review")
    # "of the reviews undertaken": every relevant answer except "No review".
    assert codes_for(inst, q, "reviewed") == ("Sufficient review", "Insufficient review")
    assert codes_for(inst, q, "no review|Sufficient review") == ("No review", "Sufficient review")
    with pytest.raises(ValueError, match="unknown category"):
        codes_for(inst, q, "Partial review")


def test_rate_band_intersects_what_each_statement_allows():
    # 'most' is 75%-90%; 80% prints for 79.5%-80.5%; together 0.795-0.805.
    both = [S("v", "question", "q", verbal="most"), S("p", "question", "q", percent=80)]
    assert rate_band(both) == pytest.approx((0.795, 0.805))
    assert rate_band([S("c", "question", "q", numerator=9, denominator=18)]) == (0.5, 0.5)
    # Group figures and breakdowns do not bound the question's own share.
    grouped = S("g", "comparison", "q", percent=81, group_var="om_grade", group="PO")
    assert rate_band([grouped, S("b", "breakdown", "q", verbal="many", category="No")]) is None
    # Bands that do not meet: None (resolve settles the conflict).
    assert (
        rate_band([S("a", "question", "q", verbal="few"), S("b", "question", "q", verbal="most")])
        is None
    )
