"""Synthetic workbooks: always ingestible, deterministic, respecting skip rules."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers.instruments import ANSWER_SETS

from analysis import config
from analysis.cli import main
from analysis.ingest import read_cases
from analysis.instrument import load_instrument
from analysis.synthetic import generate as synth
from analysis.synthetic.profile import load_profile

TINY_INSTRUMENT = (
    """
id: tiny
version: "0.1"
title: Tiny
"""
    + ANSWER_SETS
    + """outcomes:
  - {id: O1, number: 1, name: One}
  - {id: O2, number: 2, name: Two}
stages:
  - {id: assessment, number: 1, name: Assessment}
criteria:
  - {id: "1.1", outcome: O1, stage: assessment, title: A}
  - {id: "2.1", outcome: O2, stage: assessment, title: B}
case_details:
  - {id: case_id, type: identifier, sensitive: true}
  - {id: trust, type: text, required: false}
  - {id: ldu, type: text}
  - {id: case_type, type: category, codes: [Community order, Licence]}
  - {id: om_grade, type: category, codes: [PO, PSO]}
  - {id: report_type, type: category, codes: [Typed, Oral, None]}
  - {id: n_offender_managers, type: count, min: 1, max: 20}
  - {id: notes, type: free_text, required: false, sensitive: true}
factor_items:
  identified: {id: "f_{id}_identified", text: "{label}?", criterion: "1.1", scored: false}
  interventions:
    id: "f_{id}_interventions"
    text: "{label} interventions?"
    criterion: "1.1"
    applies_when: {"f_{id}_identified": ["Yes"]}
factors:
  - {id: drugs, label: drugs}
questions:
  - {id: q_report, text: "Report good?", criterion: "1.1", applies_when: {report_type: [Typed]}}
  - {id: q_checks, text: "Checks?", criterion: "1.1"}
  - {id: q_review, text: "Review?", criterion: "2.1", answers: review}
  - {id: q_review_detail, text: "Review detail?", criterion: "2.1",
     applies_when: {q_review: [Sufficient review, Insufficient review]}}
  - {id: q_victim, text: "Victim?", criterion: "2.1", outcomes: [O1, O2],
     applies_when: {case_type: [Licence]}}
"""
)


def tiny_profile(n: int = 30, **extra) -> dict:
    prof = {
        "name": "Tiny (synthetic)",
        "slug": "tiny-trust",
        "instrument": None,
        "n_cases": n,
        "seed": 5,
        "ldus": {"North": 0.5, "South": 0.5},
        "mixes": {
            "om_grade": {"PO": 0.6, "PSO": 0.4},
            "case_type": {"Community order": 0.6, "Licence": 0.4},
            "report_type": {"Typed": 0.4, "Oral": 0.2, "None": 0.4},
        },
        "effects": {"om_grade": {"PO": 0.5, "PSO": -0.5}},
    }
    prof.update(extra)
    return prof


@pytest.fixture
def tiny_instrument(tmp_path: Path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_INSTRUMENT, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def default_instrument():
    return load_instrument()


#: The fictional 2013-14 trusts (the demo's eleven besides Norfolk & Suffolk).
SYNTHETIC = sorted(
    p.stem
    for p in config.PROFILES_DIR.glob("*.yaml")
    if p.stem != "norfolk-and-suffolk" and load_profile(p.stem).get("instrument") == "iaow-2013-14"
)
#: The demo organisations of the other programmes, with the instrument each is written for.
OTHER_PROGRAMMES = {"wrenfield": "hmip-probation-2023", "tarnbrook": "hmip-youth-2021"}


def test_eleven_synthetic_profiles_are_marked_and_sized():
    assert len(SYNTHETIC) == 11
    for name in SYNTHETIC:
        prof = load_profile(name)
        assert prof["synthetic"] is True
        assert "(synthetic)" in prof["name"]
        assert 50 <= prof["n_cases"] <= 90
        assert 2 <= len(prof["ldus"]) <= 5


def test_ingest_never_rejects_a_generated_workbook(tmp_path, default_instrument):
    """Two random seeds per shipped profile, with small samples to stay fast.

    (Fifty seeds over every profile are test_synth_constraints' check that each consistency
    rule holds; here the whole of ingest must accept what the generator writes, and each
    seed costs a calibration, about 2.5 s.) Ingest has a fixed cost per file of about a
    second, so the seeds' cases are checked in one stacked workbook (every rule ingest
    applies is per row, except unique case ids, kept unique by a per-seed prefix); a few
    are also ingested file by file.
    """
    rng = np.random.default_rng(2024)
    blocks = []
    for k in range(2 * len(SYNTHETIC)):
        name = SYNTHETIC[k % len(SYNTHETIC)]
        seed = int(rng.integers(0, 2**31))
        cases = synth.generate(name, seed=seed, n_cases=int(rng.integers(3, 12)))
        cases["case_id"] = f"S{k:02d}-" + cases["case_id"]
        blocks.append(cases)
        if k % 10 == 0:
            out = tmp_path / f"{name}-{k}.xlsx"
            synth.synthesise(name, out, seed=seed, n_cases=len(cases))
            assert len(read_cases(out, instrument=default_instrument)) == len(cases)
    stacked = pd.concat(blocks, ignore_index=True)
    out = synth.write_workbook(stacked, tmp_path / "stacked.xlsx", default_instrument)
    df = read_cases(out, instrument=default_instrument)
    assert len(df) == len(stacked)


def test_same_seed_same_bytes_different_seed_different_data(tmp_path):
    a, b, c = (tmp_path / f"{x}.xlsx" for x in "abc")
    synth.synthesise("carrow-moor", a, seed=11, n_cases=20)
    synth.synthesise("carrow-moor", b, seed=11, n_cases=20)
    synth.synthesise("carrow-moor", c, seed=12, n_cases=20)
    digest = [hashlib.sha256(p.read_bytes()).hexdigest() for p in (a, b, c)]
    assert digest[0] == digest[1]
    assert read_cases(a).drop(columns="source_row").equals(read_cases(b).drop(columns="source_row"))
    assert not read_cases(a).equals(read_cases(c))


def test_skip_rules_respected_on_real_instrument(default_instrument):
    inst = default_instrument
    cases = synth.generate("eastmere", seed=3, n_cases=60)
    for q in inst.questions.values():
        if not q.applies_when:
            continue
        na = inst.answer_set(q).na_code
        allowed = np.ones(len(cases), dtype=bool)
        for col, vals in q.applies_when.items():
            allowed &= cases[col].isin(vals).to_numpy()
        assert (cases.loc[~allowed, q.id] == na).all(), q.id


def test_skip_rules_on_tiny_instrument(tiny_instrument):
    inst = load_instrument(tiny_instrument)
    cases = synth.generate(tiny_profile(80), seed=1, instrument=inst)
    assert (cases.loc[cases.report_type != "Typed", "q_report"] == "Not applicable").all()
    assert (cases.loc[cases.case_type != "Licence", "q_victim"] == "Not applicable").all()
    closed = ~cases.q_review.isin(["Sufficient review", "Insufficient review"])
    assert (cases.loc[closed, "q_review_detail"] == "Not applicable").all()
    not_id = cases.f_drugs_identified != "Yes"
    assert (cases.loc[not_id, "f_drugs_interventions"] == "Not applicable").all()
    # Exact mixes: 40% licence of 80 cases.
    assert (cases.case_type == "Licence").sum() == 32
    assert cases.case_id.iloc[0] == "TT-0001"


def test_latent_quality_makes_po_cases_better(tiny_instrument):
    inst = load_instrument(tiny_instrument)
    prof = tiny_profile(400, effects={"om_grade": {"PO": 1.0, "PSO": -1.0}})
    cases = synth.generate(prof, seed=2, instrument=inst)
    rel = cases[cases.q_checks != "Not applicable"]
    rate = rel.groupby("om_grade").q_checks.apply(lambda s: (s == "Yes").mean())
    assert rate["PO"] > rate["PSO"] + 0.15


def test_workbook_format(tmp_path, tiny_instrument):
    inst = load_instrument(tiny_instrument)
    out = tmp_path / "t.xlsx"
    synth.write_workbook(synth.generate(tiny_profile(6), instrument=inst), out, inst)
    raw = pd.read_excel(out, sheet_name=config.CASES_SHEET, dtype=str, engine="openpyxl")
    assert list(raw.columns) == inst.columns
    assert raw["notes"].isna().all()
    assert not list(tmp_path.glob(".*tmp"))  # atomic: no temporary file left behind


def test_synthesise_cli(tmp_path, capsys):
    out = tmp_path / "x.xlsx"
    assert main(["synthesise", "--profile", "kestrel-downs", "--out", str(out), "--seed", "4"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert len(read_cases(out)) == 55
    assert main(["synthesise", "--profile", "kestrel-downs", "--out", str(tmp_path / "x.csv")]) == 2


@pytest.fixture
def two_profiles(tmp_path, monkeypatch):
    """Two shipped profiles copied to a folder the package reads; and an output folder."""
    profiles = tmp_path / "profiles"
    profiles.mkdir()
    for name in ("carrow-moor", "kestrel-downs"):
        text = (config.PROFILES_DIR / f"{name}.yaml").read_text(encoding="utf-8")
        (profiles / f"{name}.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(config, "PROFILES_DIR", profiles)
    return profiles, tmp_path / "raw"


def test_demo_data_skips_existing_unless_forced(two_profiles, capsys):
    _, out = two_profiles
    assert main(["demo-data", "--out", str(out), "--jobs", "1"]) == 0  # in this process
    assert sorted(p.name for p in out.glob("*.xlsx")) == ["carrow-moor.xlsx", "kestrel-downs.xlsx"]
    first = (out / "carrow-moor.xlsx").stat().st_mtime_ns
    one_by_one = {p.name: p.read_bytes() for p in out.glob("*.xlsx")}
    assert main(["demo-data", "--out", str(out)]) == 0
    assert "kept" in capsys.readouterr().out
    assert (out / "carrow-moor.xlsx").stat().st_mtime_ns == first
    # Rewritten in two processes at once: the same bytes as one after another.
    assert main(["demo-data", "--out", str(out), "--force", "--jobs", "2"]) == 0
    assert "wrote" in capsys.readouterr().out
    assert {p.name: p.read_bytes() for p in out.glob("*.xlsx")} == one_by_one
    assert (out / "carrow-moor.xlsx").stat().st_mtime_ns != first
    assert main(["demo-data", "--out", str(out), "--jobs", "0"]) == 2


def test_generator_follows_an_any_of_rule_and_ingest_accepts_it(tmp_path, tiny_instrument):
    from analysis.ingest import read_cases

    # q_either applies to licences OR cases whose checks were done (a detail and a question).
    text = tiny_instrument.read_text(encoding="utf-8") + (
        '  - {id: q_either, text: "Either?", criterion: "2.1",\n'
        '     applies_when: {any_of: [{case_type: [Licence]}, {q_checks: ["Yes"]}]}}\n'
    )
    path = tmp_path / "any.yaml"
    path.write_text(text, encoding="utf-8")
    inst = load_instrument(path)
    cases = synth.generate(tiny_profile(80), seed=4, instrument=inst)
    opens = (cases.case_type == "Licence") | (cases.q_checks == "Yes")
    assert (cases.loc[~opens, "q_either"] == "Not applicable").all()
    assert (cases.loc[opens, "q_either"] != "Not applicable").mean() > 0.5
    out = tmp_path / "any.xlsx"
    synth.write_workbook(cases, out, inst)
    assert len(read_cases(out, inst)) == 80


def test_demo_data_refreshes_untouched_stale_workbooks_but_never_edited_ones(two_profiles, capsys):
    profiles, out = two_profiles
    assert main(["demo-data", "--out", str(out)]) == 0
    capsys.readouterr()
    # A user edits one workbook; then a profile changes (as an instrument upgrade would).
    edited = out / "kestrel-downs.xlsx"
    edited.write_bytes(edited.read_bytes() + b"\0")
    before = edited.read_bytes()
    for name in ("carrow-moor", "kestrel-downs"):
        p = profiles / f"{name}.yaml"
        p.write_text(p.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert main(["demo-data", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "refreshed" in text and "carrow-moor.xlsx" in text.split("refreshed")[1]
    assert "kept" in text and "edited since written" in text and "--force to replace it" in text
    assert edited.read_bytes() == before  # the user's edits survive
    # Nothing changed since: both kept, nothing generated.
    assert main(["demo-data", "--out", str(out)]) == 0
    assert "refreshed" not in capsys.readouterr().out


def test_demo_workbooks_from_before_the_manifest_are_judged_by_their_save_stamp(
    two_profiles, capsys
):
    import openpyxl

    _, out = two_profiles
    assert main(["demo-data", "--out", str(out)]) == 0
    # One workbook opened and saved by another program (its save stamp changes).
    wb = openpyxl.load_workbook(out / "kestrel-downs.xlsx")
    wb.save(out / "kestrel-downs.xlsx")
    saved = (out / "kestrel-downs.xlsx").read_bytes()
    (out / ".demo-data.json").unlink()  # as written by a version without manifests
    capsys.readouterr()
    assert main(["demo-data", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "refreshed" in text.split("carrow-moor.xlsx")[0].splitlines()[-1]
    assert "kept" in text.split("kestrel-downs.xlsx")[0].splitlines()[-1]
    assert (out / "kestrel-downs.xlsx").read_bytes() == saved


def test_generated_workbooks_are_known_synthetic_even_once_edited(tmp_path, tiny_instrument):
    import openpyxl

    from analysis.instrument.template import write_template
    from analysis.synthetic.demo import is_synthetic

    inst = load_instrument(tiny_instrument)
    out = tmp_path / "t.xlsx"
    synth.write_workbook(synth.generate(tiny_profile(6), instrument=inst), out, inst)
    assert is_synthetic(out)
    # Saved again by another program (here openpyxl, as Excel would): still invented cases.
    wb = openpyxl.load_workbook(out)
    wb.active["A2"] = "edited"
    wb.save(out)
    assert is_synthetic(out)
    # A workbook made from the template, to be filled in with real cases, is not.
    blank = write_template(tmp_path / "blank.xlsx", inst)
    assert not is_synthetic(blank)
    assert not is_synthetic(tmp_path / "missing.xlsx")
