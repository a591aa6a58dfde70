"""No 2013-14 wording in another programme's report, tables or charts.

The words for a judgement that work was sufficient ("above the line", "done well enough")
come from the instrument's ``presentation`` section (``done_well``, ``above_line``,
``judged_above_line``, ``judgements_column``); the 2013-14 file declares today's words,
so Norfolk & Suffolk's outputs keep them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import openpyxl
import pytest

from analysis import config, engine
from analysis.ingest import read_cases
from analysis.instrument import load_instrument
from analysis.render import charts, narrative, tables
from analysis.synthetic import generate as synth

#: Phrases only the 2013-14 programme uses (its reports' words), case-insensitive.
ONLY_2013_14 = re.compile(
    r"above the line|done well enough|well enough|adult offending|\boutcomes?\b|appendix 5 \(",
    re.IGNORECASE,
)
PROGRAMMES = {"wrenfield": "hmip-probation-2023", "tarnbrook": "hmip-youth-2021"}


#: What a reader never sees: markup, styles, and identifiers such as ``id="outcome-1"`` or
#: a chart's ``"chart_id":"outcome-summary"`` (names in the code, not words of the report).
HIDDEN = re.compile(r"<style.*?</style>|<[^>]+>|\boutcome-[a-z0-9-]+", re.IGNORECASE | re.DOTALL)


def _leaks(texts: list[str]) -> list[str]:
    """Each 2013-14 phrase found in what a reader sees, with its context."""
    found = set()
    for text in texts:
        seen = HIDDEN.sub(" ", text)
        for m in ONLY_2013_14.finditer(seen):
            found.add(f"{m.group(0)!r} in: {seen[max(m.start() - 60, 0) : m.end() + 60]}")
    return sorted(found)


def _xlsx_texts(path) -> list[str]:
    book = openpyxl.load_workbook(path, read_only=True)
    out = [ws.title for ws in book.worksheets]
    for ws in book.worksheets:
        out += [str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None]
    return out


@pytest.mark.parametrize(("trust", "programme"), sorted(PROGRAMMES.items()))
def test_prose_tables_and_charts_of_other_programmes_use_their_own_words(
    tmp_path, trust, programme
):
    inst = load_instrument(config.INSTRUMENTS_DIR / f"{programme}.yaml")
    path = synth.synthesise(trust, tmp_path / f"{trust}.xlsx", n_cases=30)
    findings = engine.analyse(read_cases(path, instrument=inst, trust=trust), inst, trust)
    texts = [
        narrative.summary_table(findings, inst),
        narrative.scoring_approach(findings, inst),
        narrative.comparisons_intro(narrative.comparison_vars(findings, inst), inst),
    ]
    for unit in inst.outcomes:
        texts += [
            narrative.outcome_header(findings, inst, unit),
            narrative.question_table(findings, inst, unit),
        ]
    texts += [narrative.comparison_section(findings, inst, gv) for gv in
              narrative.comparison_vars(findings, inst)]  # fmt: skip
    rated = charts.ratings_chart(findings, inst)
    assert rated is not None  # both programmes rate standards from the cases
    for chart in [*charts.all_charts(findings, inst), rated]:
        texts += [chart.title, chart.subtitle, chart.alt_text, chart.x_title, chart.y_title]
        texts += [chart.source, *chart.labels]
    texts.append(narrative.ratings_table(findings, inst))
    tables.write_tables(findings, inst, tmp_path / "tables.xlsx", "internal")
    texts += _xlsx_texts(tmp_path / "tables.xlsx")
    # The words of the chapters that were checked are there: the check is not vacuous.
    joined = "\n".join(texts)
    assert "judged sufficient" in joined and "Sufficient judgements (n of N)" in joined
    assert _leaks(texts) == []


@pytest.mark.parametrize(
    ("programme", "heading"),
    [("hmip-probation-2023", "Key questions"), ("hmip-youth-2021", "Key questions"),
     ("iaow-2013-14", "Criteria")],
)  # fmt: skip
def test_the_criteria_appendix_is_named_in_the_programmes_words(programme, heading):
    """The report's appendix of criteria (the 2013-14 word) lists key questions elsewhere."""
    w = load_instrument(config.INSTRUMENTS_DIR / f"{programme}.yaml").presentation
    assert w.say("criteria_heading") == heading
    # Declared in each file, with a source (2013-14's is its neutral word, "Criteria").
    assert w.phrases["criteria_heading"].source


def test_the_2013_14_programme_keeps_todays_words():
    w = load_instrument().presentation
    assert w.say("done_well") == "done well enough"
    assert w.say("above_line") == "above the line"
    assert w.say("judged_above_line") == "judged above the line"
    assert w.say("judgements_column") == "Judgements above the line (n of N)"
    # Declared in the file (with a source), not left to the neutral wording.
    assert {"done_well", "above_line", "judged_above_line", "judgements_column"} <= set(w.phrases)


@pytest.mark.notebooks
def test_a_probation_report_and_its_tables_hold_no_2013_14_phrase(tmp_path):
    """The whole report of a synthetic probation unit: its HTML (prose, charts) and tables."""
    (tmp_path / "raw").mkdir()
    book = synth.synthesise("wrenfield", tmp_path / "raw" / "wrenfield.xlsx", n_cases=20)
    env = dict(os.environ)
    env.update(
        ANALYSIS_RAW_DIR=str(tmp_path / "raw"),
        ANALYSIS_PROCESSED_DIR=str(tmp_path / "processed"),
        ANALYSIS_OUTPUTS_DIR=str(tmp_path / "outputs"),
    )
    run = subprocess.run(
        [sys.executable, "-m", "analysis", "report", str(book), "--trust", "wrenfield"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    out = tmp_path / "outputs" / "wrenfield"
    html = (out / "report.html").read_text(encoding="utf-8")
    # The report's own appendix numbering ("Appendix 5: Small bases") is not 2013-14's.
    assert _leaks([html]) == []
    assert "Sufficient judgements (n of N)" in html
    assert "Appendix 3: Key questions" in html and "Appendix 3: Criteria" not in html
    assert _leaks(_xlsx_texts(out / "tables.xlsx")) == []
