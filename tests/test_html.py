"""Every HTML fragment escapes hostile user-supplied names (render/html.py and its templates)."""

from __future__ import annotations

from html.parser import HTMLParser

import pandas as pd
import pytest
from fixtures_findings import fixture_findings, fixture_instrument

from analysis.engine.pooling import AGGREGATE
from analysis.render import aggregate, charts, export, narrative
from analysis.render.html import render

#: Hostile names: an element, attribute breakouts with both quotes, an entity, a formula.
HOSTILE = (
    "<script>alert(1)</script>",
    '" onmouseover="alert(2)',
    "' onfocus='alert(3)",
    "Tom & Jerry &amp;",
    "=cmd|' /C calc'!A0",
)
NAME = " ".join(HOSTILE)

#: Every attribute the fragments themselves write.
ALLOWED_ATTRIBUTES = {
    "class",
    "id",
    "href",
    "scope",
    "colspan",
    "role",
    "tabindex",  # a table's scrolling region is focusable, to scroll it from the keyboard
    "aria-label",
    export.CHART_MARKER,
}


class _Parsed(HTMLParser):
    """The elements, attributes and text of a fragment, as a browser would read them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Parsed:
    p = _Parsed()
    p.feed(html)
    p.close()
    return p


def _assert_inert(html: str, scripts: int = 0) -> str:
    """No injected element or attribute; returns the decoded text for the caller's checks."""
    p = _parse(html)
    assert p.tags.count("script") == scripts
    assert {k for k, _ in p.attributes} <= ALLOWED_ATTRIBUTES
    assert not any(v and "alert(" in v for k, v in p.attributes if k != "aria-label")
    return "".join(p.text)


@pytest.fixture(scope="module")
def inst():
    return fixture_instrument()


@pytest.fixture(scope="module")
def findings():
    f = fixture_findings()
    ldu = f["group_var"] == "ldu"
    f.loc[ldu & (f["group"] == "Norwich"), "group"] = NAME
    f.loc[f["kind"] == "breakdown", "category"] = NAME
    f.loc[f["method"] != "", "method"] = NAME
    return f


def _fragments(findings: pd.DataFrame, inst) -> dict[str, str]:
    out = {
        "title_block": narrative.title_block(NAME, inst, "internal", findings),
        "contents": narrative.contents(inst, [("x", NAME)]),
        "summary_table": narrative.summary_table(findings, inst),
        "comparisons_intro": narrative.comparisons_intro(instrument=inst),
        "factor_table": narrative.factor_table(findings, inst),
        "appendix_heading": narrative.appendix_heading("appendix-x", NAME, NAME),
        "sample_profile_intro": narrative.sample_profile_intro(findings, NAME),
        "scoring_approach": narrative.scoring_approach(findings, inst),
        "criteria_grid": narrative.criteria_grid(inst),
        "methods": narrative.methods(findings),
        "disclosure_notes": narrative.disclosure_notes(findings, "publication"),
        "provenance_section": narrative.provenance_section(
            {"input_file": NAME, "parameters": {"trust": NAME}}
        ),
        "reproduction_section": narrative.reproduction_section(
            pd.DataFrame(
                {c: [NAME] for c in ("figure_id", "section", "published", "reproduced", "status")}
            )
        ),
    }
    for o in inst.outcomes:
        out[f"outcome_header {o}"] = narrative.outcome_header(findings, inst, o)
        out[f"question_table {o}"] = narrative.question_table(findings, inst, o)
        for q in narrative.breakdown_questions(findings, inst, o):
            out[f"breakdown_table {q}"] = narrative.breakdown_table(findings, inst, q)
    for gv in narrative.comparison_vars(findings, inst):
        out[f"comparison_section {gv}"] = narrative.comparison_section(findings, inst, gv)
    return out


def test_narrative_fragments_escape_hostile_names(findings, inst):
    fragments = _fragments(findings, inst)
    shown = {k: _assert_inert(html) for k, html in fragments.items()}
    for key in (
        "title_block",
        "contents",
        "appendix_heading",
        "sample_profile_intro",
        "provenance_section",
        "reproduction_section",
        "comparison_section ldu",
        "methods",
    ):
        assert NAME in shown[key], key  # shown to the reader as the very text it was
    assert any(NAME in shown[k] for k in fragments if k.startswith("breakdown_table"))


def test_aggregate_fragments_escape_hostile_names(findings, inst):
    f = fixture_findings()
    agg = pd.concat([f.assign(trust=NAME), f.assign(trust=AGGREGATE)], ignore_index=True)
    intro = _assert_inert(aggregate.intro_html(agg, inst, "internal"))
    # Named as the reports name organisations (capitalised words), still only text.
    assert f"Organisations: {aggregate.display_name(NAME)}." in intro
    table = _assert_inert(aggregate.score_table_html(agg, inst))
    assert aggregate.display_name(NAME) in table


def test_chart_html_escapes_hostile_names(findings, inst):
    chart = charts.all_charts(findings, inst)[0]
    chart.title = chart.alt_text = NAME
    text = _assert_inert(export.chart_html(chart), scripts=1)
    assert NAME in text


def test_markup_passes_through_and_strings_do_not():
    note = render("note.html.j2", text="<b>bold</b>")
    assert note == '<p class="note">&lt;b&gt;bold&lt;/b&gt;</p>'
    header = render(
        "outcome_header.html.j2", number=1, name="a", sentence="b", key_findings="<i>x</i>"
    )
    assert "&lt;i&gt;x&lt;/i&gt;" in header


def test_missing_values_print_as_nothing():
    assert render("note.html.j2", text=None) == '<p class="note"></p>'
