"""The reports on any screen and on paper, measured in headless Chromium.

- no sideways page scroll at 390 px (a phone) or 1440 px (a desktop), for the trust and the
  aggregate report: ``document.documentElement.scrollWidth <= window.innerWidth``;
- every value label of every interactive chart lies inside its chart's SVG, bars at 100%
  with their "[u]" caveat included (plotly.js drops text outside the axis range);
- printed, every page is A4 (MediaBox 595 x 842 pt).

Skipped without Chromium, except on CI (``CI=true``), where that is a failure.
"""

from __future__ import annotations

import json
import re

import nbformat
import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML, fixture_findings
from helpers import browser
from helpers.pooling import TRUSTS, two_trust_cases

from analysis import config
from analysis.engine import run as engine
from analysis.engine.findings import FindingsContext
from analysis.instrument import load_instrument
from analysis.pipeline import aggregate, provenance
from analysis.render import charts
from analysis.render.export import chart_html, export_html
from analysis.render.pdf import write_pdf

pytestmark = pytest.mark.browser

WIDTHS = (390, 1440)
#: A4 in PostScript points.
A4 = (595, 842)


@pytest.fixture(scope="module")
def trust_report(tmp_path_factory):
    """The trust report of the fixture findings (notebook executed, exported)."""
    import papermill as pm

    browser.chromium()  # skip (or fail on CI) before the slow part
    tmp = tmp_path_factory.mktemp("trust")
    engine.write_findings(fixture_findings(), tmp)
    inst = tmp / "fixture.yaml"
    inst.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    provenance.write_provenance({"synthetic": True, "parameters": {}}, tmp)
    pm.execute_notebook(
        str(config.NOTEBOOKS_DIR / "10_report.ipynb"),
        str(tmp / "report.ipynb"),
        parameters={"out_dir": str(tmp), "instrument_path": str(inst)},
        kernel_name="python3",
        progress_bar=False,
    )
    return export_html(tmp / "report.ipynb", tmp / "report.html", title="Trust").path


@pytest.fixture(scope="module")
def aggregate_report(tmp_path_factory):
    """The aggregate report of two hand-made organisations, one of them synthetic."""
    browser.chromium()
    tmp = tmp_path_factory.mktemp("aggregate")
    inst_path = tmp / "fixture.yaml"
    inst_path.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    inst = load_instrument(inst_path)
    outputs, processed = tmp / "outputs", tmp / "processed"
    processed.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(config, "OUTPUTS_DIR", outputs)
        mp.setattr(config, "PROCESSED_DIR", processed)
        for t in TRUSTS:
            cases = two_trust_cases(t, inst)
            cases.to_parquet(processed / f"{t}.parquet", index=False)
            findings = engine.analyse(cases, inst, t)
            engine.write_findings(findings, outputs / t, FindingsContext.for_run(inst))
            # Each organisation's own input (one sha256 under two names is refused as a copy).
            sha = ("ab", "cd")[TRUSTS.index(t)] * 32
            record = {"input_sha256": sha, "synthetic": t == TRUSTS[0]}
            provenance.write_provenance(record, outputs / t)
        return aggregate.build(None, instrument=inst_path, outputs_dir=outputs)


def _full_bars_page(tmp_path):
    """A page of comparison charts whose bars are all at 100%, small bases marked [u]."""
    df = fixture_findings()
    cmp = (df["kind"] == "comparison") & ~df["flags"].str.contains("c", na=False)
    df.loc[cmp, "numerator"] = df.loc[cmp, "denominator"]
    df.loc[cmp, ["percent", "ci_high"]] = 100.0
    df.loc[cmp, "ci_low"] = 80.0
    df.loc[cmp, "flags"] = "low"
    inst_path = tmp_path / "fixture.yaml"
    inst_path.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    inst = load_instrument(inst_path)
    drawn = [charts.comparison_chart(df, v, instrument=inst) for v in ("om_grade", "ldu")]
    assert all("[u]" in t for c in drawn for t in c.data["text"] if t.startswith("100%"))
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            outputs=[
                nbformat.v4.new_output("display_data", data={"text/html": chart_html(c)})
                for c in drawn
            ]
        )
    ]
    nb_path = tmp_path / "full.ipynb"
    nbformat.write(nb, str(nb_path))
    return export_html(nb_path, tmp_path / "full.html", title="Full bars").path, drawn


@pytest.mark.parametrize("width", WIDTHS)
def test_trust_report_never_scrolls_sideways(trust_report, tmp_path, width):
    m = browser.measure(trust_report, width, tmp_path)
    assert m["vw"] == width  # the page really was laid out at this width
    assert m["sw"] <= m["vw"], f"page is {m['sw']} px wide at {width} px: {m['wide']}"
    assert m["charts"] > 5


@pytest.mark.parametrize("width", WIDTHS)
def test_aggregate_report_never_scrolls_sideways(aggregate_report, tmp_path, width):
    m = browser.measure(aggregate_report, width, tmp_path)
    assert m["vw"] == width
    assert m["sw"] <= m["vw"], f"page is {m['sw']} px wide at {width} px: {m['wide']}"
    assert m["charts"] >= 1


@pytest.mark.parametrize("width", WIDTHS)
def test_every_value_label_lies_inside_its_chart(tmp_path, width):
    page, drawn = _full_bars_page(tmp_path)
    m = browser.measure(page, width, tmp_path)
    expected = sum(len(c.data) for c in drawn)
    assert m["labels"] == expected  # none dropped (plotly.js hides text outside the range)
    assert m["outside"] == []


def test_trust_report_labels_inside_charts(trust_report, tmp_path):
    m = browser.measure(trust_report, 390, tmp_path)
    assert m["labels"] > 20
    assert m["outside"] == []


def test_synthetic_banner_in_both_reports(trust_report, aggregate_report):
    for page in (trust_report, aggregate_report):
        html = page.read_text(encoding="utf-8")
        assert 'class="synthetic-banner"' in html
        assert "invented cases" in html


def test_aggregate_report_names_contents_and_provenance(aggregate_report):
    html = aggregate_report.read_text(encoding="utf-8")
    assert 'nav aria-label="Contents"' in html or 'aria-label="Contents"' in html
    assert 'id="appendix-provenance"' in html
    assert "Trust A" in html and "Trust B" in html  # display names
    assert not re.search(r">[^<]*trust-a[^<]*<", html)  # no slug in the visible text
    record = json.loads((aggregate_report.parent / "provenance.json").read_text())
    assert record["inputs"]["trust-a"]["synthetic"] is True
    assert record["inputs"]["trust-b"]["synthetic"] is False
    assert record["inputs"]["trust-a"]["input_sha256"] == "ab" * 32


def _page_boxes(pdf: bytes) -> list[tuple[float, float]]:
    """The MediaBox (width, height, in points) of every page of a PDF."""
    text = pdf.decode("latin-1")
    n_pages = len(re.findall(r"/Type\s*/Page(?![s\w])", text))
    boxes = re.findall(r"/MediaBox\s*\[\s*0\s+0\s+([\d.]+)\s+([\d.]+)\s*\]", text)
    assert n_pages > 1 and len(boxes) >= n_pages, (n_pages, len(boxes))
    return [(float(w), float(h)) for w, h in boxes]


@pytest.mark.parametrize("which", ["trust", "aggregate"])
def test_print_is_a4(trust_report, aggregate_report, tmp_path, which):
    html = trust_report if which == "trust" else aggregate_report
    pdf = write_pdf(html, tmp_path / "report.pdf")
    boxes = _page_boxes(pdf.read_bytes())
    assert all(round(w) == A4[0] and round(h) == A4[1] for w, h in boxes), set(boxes)
