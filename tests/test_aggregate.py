"""The aggregate: orchestration (analysis.pipeline.aggregate), HTML (analysis.render.aggregate).

Two hand-made organisations of four cases each (``tests/helpers/pooling.py``) are
analysed and written as trusts' outputs; the pooled figures themselves are checked
in ``test_pooling.py``. Expected values are worked out by hand from the answers.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML
from helpers.pooling import TRUSTS, two_trust_cases

from analysis import config
from analysis.engine import pooling
from analysis.engine import run as engine
from analysis.engine.findings import FindingsContext, read_context
from analysis.errors import UserError
from analysis.instrument import load_instrument
from analysis.pipeline import aggregate
from analysis.render import aggregate as aggregate_html


def _write_trust(inst, outputs, trust, audience="internal", **options):
    cases = two_trust_cases(trust, inst)
    findings = engine.analyse(cases, inst, trust, audience=audience, **options)
    context = FindingsContext.for_run(inst, audience=audience, **options)
    engine.write_findings(findings, outputs / trust, context)
    return findings


@pytest.fixture
def two_trusts(tmp_path, monkeypatch):
    """Findings (with their contexts) and processed cases of trust-a and trust-b."""
    inst_path = tmp_path / "fixture.yaml"
    inst_path.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    inst = load_instrument(inst_path)
    outputs, processed = tmp_path / "outputs", tmp_path / "processed"
    processed.mkdir()
    monkeypatch.setattr(config, "OUTPUTS_DIR", outputs)
    monkeypatch.setattr(config, "PROCESSED_DIR", processed)
    for t in TRUSTS:
        two_trust_cases(t, inst).to_parquet(processed / f"{t}.parquet", index=False)
        _write_trust(inst, outputs, t)
    return inst, inst_path, outputs


def _row(df, kind, measure_id, **kw):
    m = (df["kind"] == kind) & (df["measure_id"] == measure_id)
    for k, v in kw.items():
        m &= df[k] == v
    rows = df[m]
    assert len(rows) == 1, (kind, measure_id, kw, len(rows))
    return rows.iloc[0]


def _pooled(two_trusts, **kw):
    inst, _, outputs = two_trusts
    f = aggregate.load_findings(list(TRUSTS), inst, outputs)
    cases = aggregate.load_cases(list(TRUSTS))
    return pooling.build_findings(f, inst, cases=cases, **kw)


# -- reading the organisations' findings ---------------------------------------------------


def test_publication_findings_are_recomputed_unsuppressed(two_trusts):
    inst, _, outputs = two_trusts
    published = _write_trust(inst, outputs, "trust-a", audience="publication")
    r = _row(published, "question", "s_report_quality")
    assert pd.isna(r["numerator"])  # suppressed in trust-a's own findings (3 of 4)
    internal = _pooled(two_trusts)
    r = _row(internal.query("trust == 'aggregate'"), "question", "s_report_quality")
    assert (r["numerator"], r["denominator"]) == (4, 7)


def test_findings_of_another_instrument_are_refused(two_trusts, tmp_path):
    inst, _, outputs = two_trusts
    other_path = tmp_path / "other.yaml"
    other_path.write_text(FIXTURE_INSTRUMENT_YAML.replace("id: fixture", "id: other", 1))
    other = load_instrument(other_path)
    assert other.sha256 != inst.sha256
    _write_trust(other, outputs, "trust-b")
    with pytest.raises(UserError, match="trust-b: the findings were computed with instrument"):
        aggregate.load_findings(list(TRUSTS), inst, outputs)


def test_findings_of_another_outcome_method_are_refused(two_trusts):
    inst, _, outputs = two_trusts
    _write_trust(inst, outputs, "trust-b", outcome_method="criterion_mean")
    with pytest.raises(UserError, match="trust-b: findings computed with outcome_method"):
        aggregate.load_findings(list(TRUSTS), inst, outputs)


def test_findings_without_context_are_refused(two_trusts):
    inst, _, outputs = two_trusts
    (outputs / "trust-a" / "findings.meta.json").unlink()
    with pytest.raises(UserError, match="no findings context"):
        aggregate.load_findings(list(TRUSTS), inst, outputs)


# -- building and writing ----------------------------------------------------------------------


def test_build_writes_outputs(two_trusts):
    _, inst_path, outputs = two_trusts
    out = aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert out == outputs / "aggregate" / "findings.csv"
    csv = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(csv["trust"]) == {"aggregate", "trust-a", "trust-b"}
    assert (outputs / "aggregate" / "funnel.csv").exists()
    assert (outputs / "aggregate" / "charts" / "funnel_O4.png").exists()
    assert (outputs / "aggregate" / "tables.xlsx").exists()
    # Identical on a rerun (no timestamps in findings or their context).
    first = out.read_bytes()
    meta = (outputs / "aggregate" / "findings.meta.json").read_bytes()
    aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert out.read_bytes() == first
    assert (outputs / "aggregate" / "findings.meta.json").read_bytes() == meta


def test_aggregate_writes_its_own_context(two_trusts):
    inst, inst_path, outputs = two_trusts
    aggregate.build(
        None, audience="publication", instrument=inst_path, outputs_dir=outputs, report=False
    )
    meta = json.loads((outputs / "aggregate" / "findings.meta.json").read_text())
    assert meta == {
        "audience": "publication",
        "confidence_level": 0.95,
        "instrument_id": "fixture",
        "instrument_sha256": inst.sha256,
        "instrument_version": inst.version,
        "low_threshold": 10,
        "outcome_method": "question_mean",
        "suppression_threshold": 5,
    }
    # The organisations' own findings stay internal: the aggregate's audience is its own.
    assert read_context(outputs / "trust-a").audience == "internal"


def test_build_replaces_the_folder_whole_keeping_the_batch_summary(two_trusts, capsys):
    _, inst_path, outputs = two_trusts
    final = outputs / "aggregate"
    final.mkdir()
    (final / "stale.txt").write_text("from an older version")
    (final / "batch-summary.json").write_text("[]\n")
    killed = outputs / ".aggregate.build-4242-0badcafe"  # an aggregate run killed outright
    killed.mkdir()
    aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert not (final / "stale.txt").exists()
    assert (final / "batch-summary.json").read_text() == "[]\n"
    assert sorted(p.name for p in outputs.iterdir()) == ["aggregate", "trust-a", "trust-b"]
    assert f"removed {killed}, left by an interrupted run (pid 4242)" in capsys.readouterr().err


def test_a_failed_build_leaves_the_previous_aggregate(two_trusts, monkeypatch):
    _, inst_path, outputs = two_trusts
    aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    before = (outputs / "aggregate" / "findings.csv").read_bytes()

    def broken(*args, **kwargs):
        raise RuntimeError("the funnel table could not be written")

    monkeypatch.setattr(aggregate, "funnel_table", broken)
    with pytest.raises(RuntimeError):
        aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert (outputs / "aggregate" / "findings.csv").read_bytes() == before
    assert sorted(p.name for p in outputs.iterdir()) == ["aggregate", "trust-a", "trust-b"]


def test_needs_two_trusts(two_trusts):
    with pytest.raises(UserError):
        aggregate.build(["trust-a"], outputs_dir=two_trusts[2], report=False)


def test_load_or_build_returns_the_aggregate_context(two_trusts):
    inst, inst_path, outputs = two_trusts
    aggregate.build(
        None, audience="publication", instrument=inst_path, outputs_dir=outputs, report=False
    )
    agg, loaded, context = aggregate.load_or_build(None, inst_path)
    assert loaded.sha256 == inst.sha256
    assert context.audience == "publication"
    assert set(agg["trust"]) == {"aggregate", "trust-a", "trust-b"}
    with pytest.raises(UserError, match="computed with instrument fixture"):
        aggregate.load_or_build(None, None)  # the default instrument is another one


# -- the aggregate report's HTML ---------------------------------------------------------------


def test_score_table(two_trusts):
    inst = two_trusts[0]
    t = aggregate_html.outcome_score_table(_pooled(two_trusts), inst)
    assert list(t["organisation"]) == ["Trust A", "Trust B", "All organisations (pooled)"]
    assert t.loc[0, "O4"].startswith("75%")  # police 2/4, review 4/4
    assert t.loc[1, "O4"].startswith("67%")  # police 4/4, review 1/3
    assert t.loc[2, "O4"].startswith("73%")  # pooled: (6/8 + 5/7) / 2


def test_score_table_html_marks_the_pooled_row(two_trusts):
    html = aggregate_html.score_table_html(_pooled(two_trusts), two_trusts[0])
    assert "<tr class='total'><th scope='row'>All organisations (pooled)</th>" in html
    assert html.count("<tr class='total'>") == 1


def test_intro_words_the_audience(two_trusts):
    inst = two_trusts[0]
    agg = _pooled(two_trusts)
    internal = aggregate_html.intro_html(agg, inst, "internal")
    assert "case inspections of 2 organisations (8 cases in all)" in internal
    assert "nothing is suppressed" in internal
    assert "Organisations: Trust A, Trust B." in internal  # names, not slugs
    published = aggregate_html.intro_html(agg, inst, "publication")
    assert "Small cells are suppressed [c] for publication." in published


def test_build_records_each_input_in_provenance(two_trusts):
    from analysis.pipeline import provenance

    _, inst_path, outputs = two_trusts
    provenance.write_provenance({"input_sha256": "a" * 64, "synthetic": True}, outputs / "trust-a")
    aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    record = provenance.read_provenance(outputs / "aggregate")
    assert record["inputs"] == {
        "trust-a": {"input_sha256": "a" * 64, "synthetic": True},
        "trust-b": {"input_sha256": None, "synthetic": False},  # no provenance of its own
    }
    assert "findings.csv" in record["outputs"]
    html = aggregate_html.provenance_html(record)
    assert "Input of Trust A (sha256)" in html and "a" * 64 + " (synthetic)" in html
    assert "Input of Trust B (sha256)" in html
    assert "trust-a" not in html  # named, never by slug


def test_title_block_marks_synthetic_inputs(two_trusts):
    inst = two_trusts[0]
    agg = _pooled(two_trusts)
    record = {"inputs": {"trust-a": {"synthetic": True}, "trust-b": {"synthetic": False}}}
    shown = aggregate_html.title_block_html(agg, inst, "internal", record)
    assert 'class="synthetic-banner"' in shown and "2 organisations" in shown
    real = {"inputs": {"trust-a": {"synthetic": False}}}
    assert "synthetic-banner" not in aggregate_html.title_block_html(agg, inst, "internal", real)


# -- damaged, copied and duplicated organisations (issue 13: R18, R22) --------------------------


def test_truncated_findings_are_refused_naming_the_file(two_trusts):
    _, inst_path, outputs = two_trusts
    path = outputs / "trust-b" / "findings.parquet"
    path.write_bytes(path.read_bytes()[:100])  # the footer (and its magic bytes) cut off
    with pytest.raises(UserError) as err:
        aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    text = str(err.value)
    assert f"{path} cannot be read as findings" in text
    assert "run the report for 'trust-b' again" in text and "--trust trust-b" in text
    assert not (outputs / "aggregate").exists()


def test_a_copied_folder_whose_findings_name_another_organisation_is_refused(two_trusts):
    import shutil

    _, inst_path, outputs = two_trusts
    shutil.copytree(outputs / "trust-a", outputs / "trust-c")  # says trust-a inside
    with pytest.raises(UserError) as err:
        aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert "the findings are those of 'trust-a', not of the folder's organisation 'trust-c'" in (
        str(err.value)
    )


def test_the_same_workbook_under_two_names_is_refused(two_trusts):
    from analysis.pipeline import provenance

    _, inst_path, outputs = two_trusts
    for t in TRUSTS:
        provenance.write_provenance({"input_sha256": "b" * 64}, outputs / t)
    with pytest.raises(UserError) as err:
        aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)
    assert "'trust-a', 'trust-b' were reported from the same workbook (sha256 bbbbbbbbbbbb" in (
        str(err.value)
    )
    # Different workbooks: built.
    provenance.write_provenance({"input_sha256": "c" * 64}, outputs / "trust-b")
    aggregate.build(None, instrument=inst_path, outputs_dir=outputs, report=False)


# -- ratings by organisation ---------------------------------------------------------------


def _rated_aggregate(flags: str = "") -> pd.DataFrame:
    """Two youth services' hand-made rating rows (and a pooled score row, never rated)."""
    from analysis.engine.findings import conform

    def rating(trust, sid, label, category, **kw):
        return dict(trust=trust, kind="rating", measure_id=f"rating_{sid}", label=label,
                    category=category, **kw)  # fmt: skip

    rows = [
        # Listed out of order: organisations by name, standards as the instrument declares.
        rating("wrenfield", "overall", "Overall rating", "Good", numerator=20.0,
               p_different=0.1),
        rating("wrenfield", "2.1", "Court disposals: assessment", "Good", numerator=35,
               denominator=50, percent=70.0, p_different=0.2, flags=flags),
        rating("wrenfield", "1.1", "Governance and leadership", "Outstanding",
               method="rated by inspectors (organisation-level evidence, a separate input)"),
        # 13 of 24 = 54.17%: Requires improvement; 0.4175 of resamples differ: 42%.
        rating("ashby-vale", "2.1", "Court disposals: assessment", "Requires improvement",
               numerator=13, denominator=24, percent=100 * 13 / 24, p_different=0.4175),
        rating("ashby-vale", "1.1", "Governance and leadership", "",
               method="rated by inspectors (organisation-level evidence, a separate input)"),
        dict(trust="aggregate", kind="outcome_score", outcome="S21", measure_id="score_S21",
             percent=60.0),
    ]  # fmt: skip
    return conform(pd.DataFrame(rows))


def test_ratings_by_organisation_one_row_per_organisation_and_standard():
    youth = load_instrument(config.INSTRUMENTS_DIR / "hmip-youth-2021.yaml")
    agg = _rated_aggregate()
    assert aggregate_html.has_ratings(agg)
    assert not aggregate_html.has_ratings(agg[agg["kind"] != "rating"])
    table = aggregate_html.ratings_by_organisation(agg, youth)
    assert table[["organisation", "standard", "rating", "rests", "p"]].values.tolist() == [
        ["Ashby Vale", "1.1 Governance and leadership", "", "rated by inspectors", ""],
        ["Ashby Vale", "2.1 Court disposals: assessment", "Requires improvement",
         "54% (13 of 24)", "42%"],
        ["Wrenfield", "1.1 Governance and leadership", "Outstanding", "rated by inspectors", ""],
        ["Wrenfield", "2.1 Court disposals: assessment", "Good", "70% (35 of 50)", "20%"],
        ["Wrenfield", "Overall rating", "Good", "20 points", "10%"],
    ]  # fmt: skip
    assert table["overall"].tolist() == [False, False, False, False, True]
    html = aggregate_html.ratings_table_html(agg, youth)
    assert '<span class="rating rating-requires_improvement">Requires improvement</span>' in html
    assert '<span class="rating rating-none">Not rated</span>' in html
    assert html.count("<tr") == 6  # the header and five rows
    # A suppressed base: the rating is shown, the figures it rests on are not.
    hidden = aggregate_html.ratings_by_organisation(_rated_aggregate(flags="c"), youth)
    assert hidden.iloc[3][["rating", "rests", "p"]].tolist() == ["Good", "[c]", ""]


def test_sections_have_ratings_only_when_asked():
    youth = load_instrument(config.INSTRUMENTS_DIR / "hmip-youth-2021.yaml")
    anchors = [a for a, _ in aggregate_html.sections(youth, comparisons=False, ratings=True)]
    assert anchors[:3] == ["scores", "ratings", "funnels"]
    assert "ratings" not in dict(aggregate_html.sections(youth, comparisons=False))


def test_aggregate_tables_have_a_ratings_sheet_by_organisation(tmp_path):
    from analysis.render import tables

    youth = load_instrument(config.INSTRUMENTS_DIR / "hmip-youth-2021.yaml")
    agg = _rated_aggregate()
    pooled = pooling.pooled_rows(agg)
    built = tables.build_tables(pooled, youth, by_organisation=agg)
    [table] = [t for t in built if t.sheet == "Ratings_by_organisation"]
    assert table.title == "Table 2: Ratings of the standards, by organisation"
    assert [c.header for c in table.columns[:4]] == ["Organisation", "Standard",
                                                     "Standard name", "Rating"]  # fmt: skip
    assert [r[:4] for r in table.rows] == [
        ["Ashby Vale", "1.1", "Governance and leadership", "Not rated"],
        ["Ashby Vale", "2.1", "Court disposals: assessment", "Requires improvement"],
        ["Wrenfield", "1.1", "Governance and leadership", "Outstanding"],
        ["Wrenfield", "2.1", "Court disposals: assessment", "Good"],
        ["Wrenfield", "Overall", "Overall rating", "Good"],
    ]
    # Points: Requires improvement 1, Outstanding 3, Good 2; the overall's sum, 20.
    assert [r[4] for r in table.rows] == ["[x]", 1, 3, 2, 20]
    assert not any(t.sheet.startswith("Ratings") for t in tables.build_tables(pooled, youth))
