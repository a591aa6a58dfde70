"""The engine end to end on a tiny instrument: contents, determinism, files and CLI."""

import json

import pandas as pd
import pyarrow.parquet as pq
import pytest
from helpers.instruments import ANSWER_SETS

from analysis import config
from analysis.cli import main
from analysis.engine import run as engine_run
from analysis.engine.findings import (
    FINDINGS_COLUMNS,
    PARQUET_CONTEXT_KEY,
    FindingsContext,
    read_context,
)
from analysis.engine.run import analyse, write_findings
from analysis.errors import UserError
from analysis.instrument import load_instrument

TINY = (
    """
id: tinye
version: "0"
"""
    + ANSWER_SETS
    + """outcomes:
  - {id: O1, number: 1, name: One}
  - {id: O2, number: 2, name: Two}
criteria:
  - {id: "1.1", outcome: O1, stage: s, title: C11}
  - {id: "2.1", outcome: O2, stage: s, title: C21}
case_details:
  - {id: case_id, type: identifier, sensitive: true}
  - {id: trust, type: text, required: false}
  - {id: ldu, type: text, compare: true}
  - {id: gender, type: category, codes: [Male, Female], compare: true}
  - {id: om_grade, type: category, codes: [PO, PSO], compare: true}
  - {id: notes, type: free_text, required: false, sensitive: true}
questions:
  - {id: a1, text: A1, criterion: "1.1"}
  - {id: a2, text: A2, criterion: "1.1", outcomes: [O1, O2]}
  - {id: b1, text: B1, criterion: "2.1", answers: review}
"""
)
NA = "Not applicable"


@pytest.fixture
def inst_path(tmp_path):
    p = tmp_path / "e.yaml"
    p.write_text(TINY)
    return p


@pytest.fixture
def inst(inst_path):
    return load_instrument(inst_path)


@pytest.fixture
def cases():
    return pd.DataFrame(
        {
            "case_id": ["ID-SECRET-1", "ID-SECRET-2", "ID-SECRET-3", "ID-SECRET-4"],
            "trust": "t",
            "ldu": ["North", "North", "South", "South"],
            "gender": ["Male", "Female", "Male", "Male"],
            "om_grade": ["PO", "PSO", "PO", "PSO"],
            "notes": ["free text about a person"] * 4,
            "a1": ["Yes", "Yes", "No", "Yes"],
            "a2": ["Yes", "No", NA, "Yes"],
            "b1": ["Sufficient review", "No review", "Insufficient review", "Sufficient review"],
        }
    )


def test_analyse_contents(inst, cases):
    df = analyse(cases, inst, "t")
    assert list(df.columns) == FINDINGS_COLUMNS
    assert set(df["trust"]) == {"t"}
    kinds = list(dict.fromkeys(df["kind"]))
    assert kinds == [
        "sample",
        "profile",
        "outcome_score",
        "criterion_score",
        "question",
        "breakdown",
        "comparison",
        "difference",
    ]
    s = df[df["kind"] == "outcome_score"].set_index("measure_id")
    # O1: (a1 3/4 + a2 2/3) / 2 = 17/24; O2: (a2 2/3 + b1 2/4) / 2 = 7/12
    assert s.loc["score_O1", "percent"] == pytest.approx(100 * 17 / 24)
    assert s.loc["score_O2", "percent"] == pytest.approx(100 * 7 / 12)
    assert set(df.loc[df["kind"] == "comparison", "group_var"]) == {"om_grade", "ldu", "gender"}
    assert "low" in set(df.loc[df["kind"] == "question", "flags"])


def test_no_identifiers_or_free_text(inst, cases, tmp_path):
    paths = write_findings(analyse(cases, inst, "t"), tmp_path / "out")
    text = paths["csv"].read_text()
    assert "ID-SECRET" not in text and "free text" not in text


def test_byte_identical_runs(inst, cases, tmp_path):
    a = write_findings(analyse(cases, inst, "t"), tmp_path / "a")
    b = write_findings(analyse(cases, inst, "t"), tmp_path / "b")
    assert a["csv"].read_bytes() == b["csv"].read_bytes()
    assert a["parquet"].read_bytes() == b["parquet"].read_bytes()
    assert a["meta"].read_bytes() == b["meta"].read_bytes()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [
        "findings.csv",
        "findings.meta.json",
        "findings.parquet",
    ]
    back = pd.read_parquet(a["parquet"])
    assert list(back.columns) == FINDINGS_COLUMNS and len(back) == len(pd.read_csv(a["csv"]))


def test_publication_suppresses(inst, cases):
    df = analyse(cases, inst, "t", audience="publication")
    q = df[df["kind"] == "question"]
    # Every base here is 3 or 4 (< 10): all question cells suppressed, rows kept.
    assert q["flags"].str.contains("c").all()
    assert q["numerator"].isna().all() and q["denominator"].notna().all()
    with pytest.raises(UserError):
        analyse(cases, inst, "t", audience="everyone")


def test_options(inst, cases):
    df = analyse(cases, inst, "t", comparisons=("missing_column",), outcome_method="criterion_mean")
    assert "comparison" not in set(df["kind"])
    assert df.loc[df["measure_id"] == "score_O1", "method"].iloc[0].startswith("criterion_mean")


def test_cli_missing_processed(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    assert main(["analyse", "--trust", "nowhere"]) == 2
    assert "ingest" in capsys.readouterr().err


def test_cli_writes_findings(monkeypatch, tmp_path, capsys, cases, inst_path):
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    (tmp_path / "processed").mkdir()
    cases.to_parquet(tmp_path / "processed" / "t.parquet")
    rc = main(["analyse", "--trust", "t", "--instrument", str(inst_path)])
    out = capsys.readouterr().out
    assert rc == 0
    assert (tmp_path / "outputs" / "t" / "findings.csv").exists()
    assert (tmp_path / "outputs" / "t" / "findings.parquet").exists()
    assert "O1" in out and "71%" in out and "findings.csv" in out


def test_cli_records_the_findings_context(monkeypatch, tmp_path, cases, inst_path, inst):
    monkeypatch.setattr(config, "PROCESSED_DIR", tmp_path / "processed")
    monkeypatch.setattr(config, "OUTPUTS_DIR", tmp_path / "outputs")
    (tmp_path / "processed").mkdir()
    cases.to_parquet(tmp_path / "processed" / "t.parquet")
    argv = ["analyse", "--trust", "t", "--instrument", str(inst_path), "--audience", "publication"]
    argv += ["--low-threshold", "3", "--suppression-threshold", "2"]
    assert main(argv) == 0
    meta = tmp_path / "outputs" / "t" / "findings.meta.json"
    text = meta.read_text()
    assert json.loads(text) == {
        "audience": "publication",
        "confidence_level": 0.95,
        "instrument_id": "tinye",
        "instrument_sha256": inst.sha256,
        "instrument_version": "0",
        "low_threshold": 3,
        "outcome_method": "question_mean",
        "suppression_threshold": 2,
    }
    assert list(json.loads(text)) == sorted(json.loads(text))  # sorted keys
    assert read_context(tmp_path / "outputs" / "t").low_threshold == 3


def test_parquet_metadata_carries_the_context(inst, cases, tmp_path):
    context = FindingsContext.for_run(inst, audience="publication")
    paths = write_findings(analyse(cases, inst, "t", audience="publication"), tmp_path, context)
    stored = pq.read_schema(paths["parquet"]).metadata[PARQUET_CONTEXT_KEY]
    assert stored.decode() == paths["meta"].read_text() == context.to_json()
    # The CSV holds the table alone.
    assert paths["csv"].read_text().splitlines()[0] == ",".join(FINDINGS_COLUMNS)


def test_findings_and_context_are_replaced_together_or_not_at_all(
    inst, cases, tmp_path, monkeypatch
):
    out = tmp_path / "out"
    before = write_findings(analyse(cases, inst, "t"), out, FindingsContext.for_run(inst))
    old = {k: p.read_bytes() for k, p in before.items()}

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(engine_run.pq, "write_table", broken)
    publication = FindingsContext.for_run(inst, audience="publication")
    with pytest.raises(OSError, match="disk full"):
        write_findings(analyse(cases, inst, "t", audience="publication"), out, publication)
    assert {k: p.read_bytes() for k, p in before.items()} == old
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in before.values())
