"""A small, hand-written findings table (and matching mini instrument) for tests.

Every kind of findings row appears at least once, with low bases, suppressed
cells (flag ``c``) and hostile LDU names (spreadsheet formulas), so renderers
and exporters can be tested without running the engine. Other test modules may
import :func:`fixture_findings` and :func:`fixture_instrument`.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

import pandas as pd
import yaml
from helpers.instruments import ANSWER_SETS

from analysis import config
from analysis.engine.findings import conform
from analysis.instrument import Instrument, load_instrument

TRUST = "norfolk-and-suffolk"
N_CASES = 73
#: LDU names that would run as formulas if a spreadsheet writer were careless.
HOSTILE_LDUS = ('=HYPERLINK("http://x")', "@SUM(1)")


def _iaow_presentation() -> str:
    """The 2013-14 file's ``presentation`` section, so the fixture reads as that programme."""
    raw = yaml.safe_load(config.DEFAULT_INSTRUMENT.read_text(encoding="utf-8"))
    return yaml.safe_dump({"presentation": raw["presentation"]}, sort_keys=False)


#: The mini instrument, with the 2013-14 file's words (its ``presentation`` section).
FIXTURE_INSTRUMENT_YAML = (
    """
id: fixture
version: "0.0.1"
title: Fixture instrument
source: tests/fixtures_findings.py
scoring: {outcome_method: question_mean}
"""
    + ANSWER_SETS
    + """  oversight:
    label: Oversight
    codes:
      - {code: "Effective oversight", scores: above}
      - {code: "Oversight made no difference", scores: below}
      - {code: "No oversight", scores: below}
      - {code: "Not applicable", scores: na}
outcomes:
  - {id: O1, number: 1, name: Assisting sentencing, short: Assisting sentencing}
  - {id: O2, number: 2, name: Delivering the sentence of the court, short: Delivering the sentence}
  - {id: O3, number: 3, name: Reducing the likelihood of reoffending, short: Reducing reoffending}
  - {id: O4, number: 4, name: Protecting the public by minimising the risk of harm to others,
     short: Protecting the public}
  - {id: O5, number: 5, name: Delivering effective work for victims, short: Work for victims}
stages:
  - {id: assessment, number: 1, name: Assessment and planning}
  - {id: delivery, number: 2, name: Delivery and review}
  - {id: outcomes, number: 3, name: Case outcomes}
  - {id: victim_work, number: 5, name: Victim work}
criteria:
  - {id: "1.1", outcome: O1, stage: assessment, title: Assessment and planning to inform sentencing}
  - {id: "2.2", outcome: O2, stage: delivery, title: Delivery and review of the sentence plan}
  - {id: "3.1", outcome: O3, stage: assessment, title: Assessment to reduce reoffending}
  - {id: "3.2", outcome: O3, stage: delivery, title: Delivery of interventions}
  - {id: "3.3", outcome: O3, stage: outcomes, title: Likelihood of reoffending is reduced}
  - {id: "4.1", outcome: O4, stage: assessment, title: Assessment of risk of harm}
  - {id: "4.2", outcome: O4, stage: delivery, title: Delivery to minimise harm}
  - {id: "5.5", outcome: O5, stage: victim_work, title: Victim contact and restorative justice}
case_details:
  - {id: case_id, label: Case identifier, type: identifier, sensitive: true}
  - {id: trust, label: Organisation inspected, type: text, required: false}
  - {id: ldu, label: Local delivery unit, type: text, compare: true}
  - {id: case_type, label: Type of case, type: category,
     codes: [Community order, Suspended sentence order, Licence]}
  - {id: gender, label: Gender, type: category, codes: [Male, Female], compare: true}
  - {id: ethnicity, label: Race and ethnicity, type: category,
     codes: [White, Black and minority ethnic, Not known]}
  - {id: rosh_start, label: OASys RoSH classification at start, type: category,
     codes: [Low, Medium, High, Very high, Not recorded]}
  - {id: principal_offence, label: Principal offence, type: category,
     codes: [Violence against the person, Burglary, Drug offences, Other offences]}
  - {id: om_grade, label: Offender manager grade, type: category, codes: [PO, PSO], compare: true}
  - {id: report_type, label: Report prepared for court, type: category, codes: [Typed, Oral, None]}
factor_items:
  identified:
    id: "f_{id}_identified"
    text: "Was {label} identified as a factor linked to the individual's offending?"
    short: "{label}: identified"
    criterion: "3.1"
    scored: false
  interventions:
    id: "f_{id}_interventions"
    text: "Were sufficient interventions delivered to address {label}?"
    short: "{label}: sufficient interventions"
    criterion: "3.2"
    applies_when: {"f_{id}_identified": ["Yes"]}
  progress:
    id: "f_{id}_progress"
    text: "Was sufficient progress made on {label}?"
    short: "{label}: sufficient progress"
    criterion: "3.3"
    applies_when: {"f_{id}_identified": ["Yes"]}
factor_table: {most_prevalent: 2}
factors:
  - {id: thinking_behaviour, label: thinking and behaviour}
  - {id: alcohol, label: alcohol misuse}
  - {id: accommodation, label: accommodation}
  - {id: finance, label: issues related to financial management}
questions:
  - {id: s_children_checks, text: "Before sentence, were checks made with children's services?",
     short: Checks made with children's services before sentence, criterion: "1.1", chart: O1,
     applies_when: {report_type: [Typed, Oral]}}
  - {id: s_report_quality, text: "Was the report of sufficient quality?",
     short: Report of sufficient quality, criterion: "1.1", chart: O1}
  - {id: d_first_appointment, text: "Was the first appointment timely?",
     short: First appointment timely, criterion: "2.2", chart: O2}
  - {id: d_constructive, text: "Were constructive interventions delivered?",
     short: Constructive interventions delivered, criterion: "3.2", chart: O3}
  - {id: d_police_checks, text: "Were checks made with the police about domestic abuse?",
     short: Police checks on domestic abuse, criterion: "4.1", chart: O4}
  - {id: r_rosh_review, text: "Was there a sufficient review of the risk of harm assessment?",
     short: Sufficient review of risk of harm assessment, criterion: "4.2", answers: review,
     chart: O4}
  - {id: r_oversight, text: "Did management oversight make a positive difference?",
     short: Effective management oversight, criterion: "4.2", answers: oversight, chart: O4}
  - {id: v_offer_8_weeks, text: "Was the victim offered contact within eight weeks?",
     short: Victim contact offered within eight weeks, criterion: "5.5", outcomes: [O4, O5],
     chart: O5, applies_when: {case_type: [Licence]}}
"""
    + _iaow_presentation()
)


def fixture_instrument() -> Instrument:
    """Load the mini instrument above (written to a temporary file, as the loader reads files).

    It carries the 2013-14 file's words (its ``presentation`` section).
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fixture.yaml"
        path.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
        return load_instrument(path)


def _wilson(n: int, d: int, z: float = 1.959964) -> tuple[float, float]:
    p = n / d
    centre = (p + z * z / (2 * d)) / (1 + z * z / d)
    half = z * math.sqrt(p * (1 - p) / d + z * z / (4 * d * d)) / (1 + z * z / d)
    return 100 * max(0.0, centre - half), 100 * min(1.0, centre + half)


def _prop(kind: str, measure_id: str, label: str, n: int, d: int, flags: str = "", **kw) -> dict:
    low, high = _wilson(n, d)
    if d < 10:
        flags = ";".join(f for f in ("low", flags) if f)
    return dict(
        kind=kind,
        measure_id=measure_id,
        label=label,
        numerator=n,
        denominator=d,
        percent=100 * n / d,
        ci_low=low,
        ci_high=high,
        flags=flags,
        method="wilson",
        **kw,
    )


def _count(kind: str, measure_id: str, label: str, category: str, n: int, d: int, flags: str = ""):
    return dict(
        kind=kind,
        measure_id=measure_id,
        label=label,
        category=category,
        numerator=n,
        denominator=d,
        percent=100 * n / d,
        flags=flags,
    )


QUESTIONS = {
    # qid: (outcome, criterion, label, n, N, flags)
    "s_children_checks": (
        "O1",
        "1.1",
        "Checks made with children's services before sentence",
        17,
        23,
        "",
    ),
    "s_report_quality": ("O1", "1.1", "Report of sufficient quality", 20, 23, ""),
    "d_first_appointment": ("O2", "2.2", "First appointment timely", 65, 73, ""),
    "d_constructive": ("O3", "3.2", "Constructive interventions delivered", 52, 73, ""),
    "d_police_checks": ("O4", "4.1", "Police checks on domestic abuse", 26, 40, ""),
    "r_rosh_review": ("O4", "4.2", "Sufficient review of risk of harm assessment", 22, 54, ""),
    "r_oversight": ("O4", "4.2", "Effective management oversight", 3, 4, "c"),
    "v_offer_8_weeks": ("O5", "5.5", "Victim contact offered within eight weeks", 12, 15, ""),
}

FACTORS = {
    # id: (label, identified, interventions n, progress n, progress flags)
    "thinking_behaviour": ("thinking and behaviour", 59, 28, 17, ""),
    "alcohol": ("alcohol misuse", 32, 16, 14, ""),
    "accommodation": ("accommodation", 28, 17, 12, ""),
    "finance": ("issues related to financial management", 15, 5, 3, "c"),
}


def fixture_findings() -> pd.DataFrame:
    """A conformed findings table covering every kind, for one organisation.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`analysis.engine.findings.FINDINGS_COLUMNS`. Suppressed cells keep their
        values (as an internal engine run would) but carry flag ``c``, so tests can check
        that renderers never show them.
    """
    rows: list[dict] = [
        dict(kind="sample", measure_id="n_cases", label="Cases inspected", numerator=N_CASES),
    ]
    for o, pct, label in [
        ("O1", 85.2, "Assisting sentencing"),
        ("O2", 77.0, "Delivering the sentence of the court"),
        ("O3", 61.4, "Reducing the likelihood of reoffending"),
        ("O4", 66.1, "Protecting the public by minimising the risk of harm to others"),
        ("O5", 59.6, "Delivering effective work for victims"),
    ]:
        rows.append(
            dict(kind="outcome_score", outcome=o, measure_id=f"score_{o}", label=label, percent=pct)
        )
    for crit, o, pct in [
        ("1.1", "O1", 85.2),
        ("2.2", "O2", 77.0),
        ("4.1", "O4", 65.0),
        ("4.2", "O4", 50.0),
    ]:
        rows.append(
            dict(
                kind="criterion_score",
                outcome=o,
                criterion=crit,
                measure_id=f"score_{crit}",
                label=f"Criterion {crit}",
                percent=pct,
            )
        )
    for qid, (o, crit, label, n, d, flags) in QUESTIONS.items():
        rows.append(_prop("question", qid, label, n, d, flags, outcome=o, criterion=crit))

    review = "Sufficient review of risk of harm assessment"
    for cat, n in [("Sufficient review", 22), ("Insufficient review", 14), ("No review", 18)]:
        rows.append(_count("breakdown", "r_rosh_review", review, cat, n, 54) | {"outcome": "O4"})
    oversight = "Effective management oversight"
    for cat, n, fl in [
        ("Effective oversight", 3, "low;c"),
        ("Oversight made no difference", 1, "low;c"),
        ("No oversight", 0, "low;c"),
    ]:
        rows.append(
            _count("breakdown", "r_oversight", oversight, cat, n, 4, fl) | {"outcome": "O4"}
        )

    for fid, (label, ident, n_int, n_prog, prog_flags) in FACTORS.items():
        rows.append(
            _prop("factor", f"f_{fid}_identified", f"{label}: identified", ident, N_CASES)
            | {"outcome": "O3", "criterion": "3.1"}
        )
        rows.append(
            _prop(
                "factor",
                f"f_{fid}_interventions",
                f"{label}: sufficient interventions",
                n_int,
                ident,
            )
            | {"outcome": "O3", "criterion": "3.2"}
        )
        rows.append(
            _prop(
                "factor",
                f"f_{fid}_progress",
                f"{label}: sufficient progress",
                n_prog,
                ident,
                prog_flags,
            )
            | {"outcome": "O3", "criterion": "3.3"}
        )

    comparisons = {
        "om_grade": {
            "s_children_checks": [("PO", 13, 16), ("PSO", 4, 7)],
            "r_rosh_review": [("PO", 15, 30), ("PSO", 7, 24)],
        },
        "gender": {
            "r_rosh_review": [("Male", 20, 48), ("Female", 2, 6)],
        },
        "ldu": {
            "r_rosh_review": [
                ("Norwich", 10, 20),
                (HOSTILE_LDUS[0], 7, 18),
                (HOSTILE_LDUS[1], 5, 16),
            ],
        },
    }
    for var, by_q in comparisons.items():
        for qid, groups in by_q.items():
            o, crit, label = QUESTIONS[qid][:3]
            for g, n, d in groups:
                flags = "c" if (var == "gender" and g == "Female") else ""
                rows.append(
                    _prop("comparison", qid, label, n, d, flags, outcome=o, criterion=crit)
                    | {"group_var": var, "group": g}
                )
            if len(groups) == 2:
                (ga, na, da), (gb, nb, db) = groups
                diff = 100 * (na / da - nb / db)
                rows.append(
                    dict(
                        kind="difference",
                        outcome=o,
                        criterion=crit,
                        measure_id=qid,
                        label=label,
                        group_var=var,
                        group=f"{ga} - {gb}",
                        percent=diff,
                        ci_low=diff - 30.0,
                        ci_high=diff + 25.0,
                        p_value=0.04 if var == "om_grade" and qid == "s_children_checks" else 0.31,
                        p_adjusted=0.08 if var == "om_grade" else 0.31,
                        flags="c" if var == "gender" else "",
                        method="newcombe; fisher; bh",
                    )
                )

    profile = {
        ("case_type", "Type of case"): [
            ("Community order", 32),
            ("Suspended sentence order", 17),
            ("Licence", 24),
        ],
        ("gender", "Gender"): [("Male", 62), ("Female", 11)],
        ("rosh_start", "OASys RoSH classification at start"): [
            ("Low", 10),
            ("Medium", 40),
            ("High", 20),
            ("Very high", 3),
        ],
        ("ethnicity", "Race and ethnicity"): [
            ("White", 66),
            ("Black and minority ethnic", 5),
            ("Not known", 2),
        ],
        ("principal_offence", "Principal offence"): [
            ("Violence against the person", 27),
            ("Burglary", 9),
            ("Drug offences", 12),
            ("Other offences", 25),
        ],
    }
    for (col, label), cats in profile.items():
        for cat, n in cats:
            flags = "c" if n < 5 else ""
            rows.append(_count("profile", col, label, cat, n, N_CASES, flags))

    df = pd.DataFrame(rows)
    df["trust"] = TRUST
    return conform(df)
