"""Gate questions: each base the report defines ("where merited / required / relevant") is a
recorded fact, its dependent is Not applicable exactly when the gate says No, and the demo
data records the published base.

The skip-rule cases are worked out by hand from the instrument's declared rules; the
published bases are the report's own numbers (O4 2.5 and friends), read here from the
report's wording, not from the generator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers.synthetic import tiny_instrument

from analysis import config
from analysis.ingest import read_cases
from analysis.instrument import load_instrument
from analysis.synthetic.bounds import AtLeast, split_for_needs
from analysis.synthetic.generate import generate
from analysis.synthetic.solve import Solution

#: gate -> (its dependents, the base the report publishes for them).
GATES = {
    # O4 2.5: "We judged there were 25 cases that merited an initial home visit."
    "p_home_visit_merited": (("p_home_visit_initial",), 25),
    # O4 2.5: "There were 27 cases where either a repeat visit or a visit due to a change in
    # risk was required."
    "p_home_visit_repeat_required": (("p_home_visit_repeat",), 27),
    # O4 2.7: "used effectively in 13 of the 17 relevant cases".
    "p_cp_procedures_relevant": (("p_cp_procedures",), 17),
    # O4 3.3: "22 of a relevant 32" (multi-agency work).
    "p_multiagency_relevant": (("p_multiagency",), 32),
    # O4 3.3: "26 of a relevant 40" (police domestic abuse checks).
    "p_police_da_checks_relevant": (("p_police_da_checks",), 40),
    # O4 3.3: "30 of a relevant 45" (checks with Children's Services).
    "p_cs_checks_needed": (("p_cs_checks",), 45),
}


@pytest.fixture(scope="module")
def inst():
    return load_instrument()


@pytest.fixture(scope="module")
def norfolk(inst):
    """The Norfolk & Suffolk demo cases: the session's demo workbook when `make test` wrote
    one (generating them costs about a minute), else generated here."""
    demo = config.RAW_DIR / "norfolk-and-suffolk.xlsx"
    if demo.is_file():
        return read_cases(demo, instrument=inst, trust="norfolk-and-suffolk")
    return generate("norfolk-and-suffolk", instrument=inst)


def _applies(inst, qid: str, frame: pd.DataFrame) -> list[bool]:
    q = inst.questions[qid]

    def member(col: str, allowed: tuple[str, ...]) -> np.ndarray:
        return frame[col].astype(str).isin(allowed).to_numpy()

    return q.rule_mask(member, len(frame)).tolist()


def test_home_visit_gate_is_asked_in_high_rosh_or_child_protection_cases(inst):
    # By hand: A high RoSH, B child protection, C neither, D both.
    frame = pd.DataFrame(
        {
            "rosh_start": ["High", "Low", "Medium", "Very high"],
            "p_cp_issues": ["No", "Yes", "No", "Yes"],
            "p_home_visit_merited": ["Yes", "No", "Not applicable", "Yes"],
        }
    )
    assert _applies(inst, "p_home_visit_merited", frame) == [True, True, False, True]
    # The visit itself is judged only where the gate says Yes (A and D), not in B (No).
    assert _applies(inst, "p_home_visit_initial", frame) == [True, False, False, True]
    assert not inst.questions["p_home_visit_merited"].scored


@pytest.mark.parametrize("gate", sorted(GATES))
def test_each_gate_is_unscored_and_opens_its_dependents(inst, gate):
    deps, _ = GATES[gate]
    assert not inst.questions[gate].scored
    assert inst.questions[gate].criterion
    for d in deps:
        assert inst.questions[d].applies_when.get(gate) == ("Yes",), d
        judged = [r for r in inst.consistency if r.then_column == d and r.when == {gate: ("Yes",)}]
        assert judged, f"no rule says {d} is judged where {gate} is Yes"
        assert "Not applicable" not in judged[0].allowed


@pytest.mark.parametrize("gate", sorted(GATES))
def test_demo_data_records_the_published_base(norfolk, gate):
    deps, base = GATES[gate]
    yes = norfolk[gate] == "Yes"
    assert int(yes.sum()) == base
    for d in deps:
        # Not applicable exactly where the gate does not say Yes.
        assert ((norfolk[d] != "Not applicable") == yes).all(), d


def test_a_gate_whose_dependent_fills_it_keeps_that_group_base_exactly(tmp_path):
    # Tiny gate f_drugs_identified, 10 cases (6 PO, 4 PSO), 5 Yes. Its dependent needs at
    # least 2 Yes in each grade; where the dependent answers every PO case the gate opens
    # (exact PO 2), the gate holds exactly 2 PO Yes, so the other 3 go to PSO (by hand).
    inst = tiny_instrument(tmp_path)
    q = inst.questions["f_drugs_identified"]
    cases = pd.DataFrame({"om_grade": ["PO"] * 6 + ["PSO"] * 4})
    mask = np.ones(10, dtype=bool)
    sol = Solution({"Yes": 5, "No": 5}, 5, 10)
    needs = {"om_grade": {"PO": 2, "PSO": 2}}
    out = split_for_needs(inst, q, sol, cases, mask, needs, [], None, {"om_grade": {"PO": 2}})
    assert out.groups["om_grade"] == {"PO": (6, 2), "PSO": (4, 3)}
    # Exact bases that cannot add up (2 + 2 != 5) fall back to the floors.
    out = split_for_needs(
        inst, q, sol, cases, mask, needs, [], None, {"om_grade": {"PO": 2, "PSO": 2}}
    )
    split = out.groups["om_grade"]
    assert split["PO"][1] >= 2 and split["PSO"][1] >= 2
    assert split["PO"][1] + split["PSO"][1] == 5


def test_at_least_with_a_maximum_is_exact():
    need = AtLeast(fid="need:PO", kind="comparison", measure="g", minimum=3, maximum=3)
    assert need.accepts(3, 10)
    assert not need.accepts(2, 10) and not need.accepts(4, 10)
    assert AtLeast(fid="f", kind="comparison", measure="g", minimum=3).accepts(9, 10)
