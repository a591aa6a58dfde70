import json
import math

import matplotlib.figure
import pandas as pd
import plotly.graph_objects as go
import pytest
from fixtures_findings import HOSTILE_LDUS, fixture_findings, fixture_instrument

from analysis.render import charts
from analysis.render.charts import DATA_COLUMNS, OKABE_ITO, Chart, static
from analysis.render.textsafe import safe_filename


@pytest.fixture(scope="module")
def findings():
    return fixture_findings()


@pytest.fixture(scope="module")
def inst():
    return fixture_instrument()


@pytest.fixture(scope="module")
def every_chart(findings, inst):
    return charts.all_charts(findings, inst)


def test_all_charts_in_report_order(every_chart):
    assert [c.id for c in every_chart] == [
        "outcome-summary",
        "data-summary-o1",
        "data-summary-o2",
        "data-summary-o3",
        "factors",
        "data-summary-o4",
        "breakdown-r_rosh_review",
        "breakdown-r_oversight",
        "data-summary-o5",
        "comparison-om_grade",
        "comparison-gender",
        "comparison-ldu",
        "profile-case_type",
        "profile-gender",
        "profile-rosh_start",
        "profile-ethnicity",
        "profile-principal_offence",
    ]


def test_iter_charts_builds_each_chart_only_when_asked(findings, inst, monkeypatch):
    # A stopped report asks for no more charts: the first one comes before any later chart
    # is built (here the comparison and profile builders would fail), and in full the
    # generator gives all_charts' charts in the same order.
    from analysis.render.charts import build

    def never(*args, **kwargs):
        raise AssertionError("built before it was asked for")

    monkeypatch.setattr(build, "comparison_chart", never)
    monkeypatch.setattr(build, "profile_chart", never)
    lazy = charts.iter_charts(findings, inst)
    assert next(lazy).id == "outcome-summary"
    assert next(lazy).id == "data-summary-o1"
    monkeypatch.undo()
    assert [c.id for c in charts.iter_charts(findings, inst)][:3] == [
        "outcome-summary",
        "data-summary-o1",
        "data-summary-o2",
    ]
    assert len(list(charts.iter_charts(findings, inst))) == 17


def test_every_chart_holds_aggregates_only(every_chart):
    for c in every_chart:
        assert list(c.data.columns) == DATA_COLUMNS, c.id
        assert c.kind in charts.KINDS
        assert c.title and c.subtitle and c.alt_text
        assert c.alt_text.endswith("."), c.id
        assert "case_id" not in c.data.columns
        assert c.id == safe_filename(c.id)


def test_outcome_summary(findings, inst):
    c = charts.outcome_summary(findings, inst)
    assert c.kind == "bars"
    assert c.labels == [
        "Assisting sentencing",
        "Delivering the sentence",
        "Reducing reoffending",
        "Protecting the public",
        "Work for victims",
    ]
    assert c.data["percent"].round(1).tolist() == [85.2, 77.0, 61.4, 66.1, 59.6]
    assert "85%" in c.title and "60%" in c.title
    assert "Assisting sentencing: 85%" in c.alt_text


def test_data_summary_bars_order_labels_and_gap(findings, inst):
    c = charts.data_summary(findings, inst, "O4")
    assert c.labels == [
        "Police checks on domestic abuse",
        "Sufficient review of risk of harm assessment",
        "Effective management oversight",
    ]
    d = c.data.set_index("label")
    assert d.loc["Police checks on domestic abuse", "text"] == "65% (26 of 40)"
    assert d.loc["Sufficient review of risk of harm assessment", "numerator"] == 22
    # Suppressed: a gap labelled [c], and no number anywhere in the chart's data.
    over = d.loc["Effective management oversight"]
    assert bool(over["suppressed"]) and over["text"] == "[c]"
    assert all(math.isnan(over[k]) for k in ("numerator", "denominator", "percent", "ci_low"))
    assert "66%" in c.title and "41%" in c.title
    assert "26 of 40" in c.alt_text and "22 of 54" in c.alt_text
    assert "[c]" in c.alt_text
    assert c.subtitle == "73 cases inspected; bases vary"
    assert "[c]" in c.footnote


def test_data_summary_unknown_outcome(findings, inst):
    with pytest.raises(ValueError, match="unknown outcome"):
        charts.data_summary(findings, inst, "O9")


def test_factor_chart_ordered_by_prevalence(findings, inst):
    c = charts.factor_chart(findings, inst)
    assert c.kind == "grouped" and c.intervals
    assert c.labels == [
        "thinking and behaviour (59 cases)",
        "alcohol misuse (32 cases)",
        "accommodation (28 cases)",
        "issues related to financial management (15 cases)",
    ]
    assert c.series == [
        "Sufficient interventions or services delivered",
        "Sufficient progress made",
    ]
    fin = c.data[c.data["label"].str.startswith("issues")].set_index("series")
    assert bool(fin.loc["Sufficient progress made", "suppressed"])
    assert fin.loc["Sufficient interventions or services delivered", "text"] == "33% (5 of 15)"
    assert "59 of 73" in c.title
    # Without the instrument, factors are recognised from their measure ids.
    bare = charts.factor_chart(findings)
    assert bare.labels == c.labels


def test_comparison_chart_error_bars_and_low_marker(findings, inst):
    c = charts.comparison_chart(findings, "om_grade", instrument=inst)
    assert c.kind == "grouped" and c.intervals
    assert c.series == ["PO", "PSO"]
    d = c.data.set_index(["label", "series"])
    pso = d.loc[("Checks made with children's services before sentence", "PSO")]
    assert bool(pso["low"]) and pso["text"].endswith("[u]")
    assert pso["ci_low"] < pso["percent"] < pso["ci_high"]
    assert "2 of 2 questions" in c.title
    assert "no difference was statistically significant" in c.title
    fig = c.to_plotly()
    bars = [t for t in fig.data if t.type == "bar"]
    assert all(t.error_x.array is not None for t in bars)
    shapes = list(bars[1].marker.pattern.shape)
    assert shapes[0] == "/"  # PSO's first bar has a low base


def test_comparison_chart_selected_questions(findings, inst):
    c = charts.comparison_chart(findings, "om_grade", ["r_rosh_review"], instrument=inst)
    assert c.labels == ["Sufficient review of risk of harm assessment"]
    with pytest.raises(ValueError):
        charts.comparison_chart(findings, "om_grade", ["nope"])
    with pytest.raises(ValueError):
        charts.comparison_chart(findings, "nope")


def test_comparison_suppressed_group_is_a_gap(findings):
    c = charts.comparison_chart(findings, "gender")
    fem = c.data[c.data["series"] == "Female"].iloc[0]
    assert fem["suppressed"] and math.isnan(fem["percent"])
    assert "suppressed" in c.title


def test_breakdown_chart_stacks_to_100(findings, inst):
    c = charts.breakdown_chart(findings, "r_rosh_review", inst)
    assert c.kind == "stacked"
    assert c.series == ["Sufficient review", "Insufficient review", "No review"]
    assert c.data["percent"].sum() == pytest.approx(100)
    assert "22 of 54" in c.title
    assert "pie" in charts.breakdown_chart.__doc__.lower()


def test_breakdown_with_a_suppressed_category_hides_the_whole_bar(findings):
    c = charts.breakdown_chart(findings, "r_oversight")
    assert c.data["suppressed"].all()
    assert c.data["percent"].isna().all() and c.data["numerator"].isna().all()
    assert "suppressed" in c.title
    assert "4 relevant" not in c.subtitle and "4 relevant" not in c.alt_text
    fig = c.to_plotly()
    assert all(x is None for t in fig.data for x in t.x)
    assert any(a.text == "[c]" for a in fig.layout.annotations)


def test_profile_chart(findings):
    c = charts.profile_chart(findings, "rosh_start")
    assert c.labels == ["Low", "Medium", "High", "Very high"]
    vh = c.data.set_index("label").loc["Very high"]
    assert vh["suppressed"] and vh["text"] == "[c]"
    assert "40 of 73" in c.title
    assert "40 of 73" in c.alt_text
    c = charts.profile_chart(findings, "case_type")
    assert c.labels == ["Community order", "Suspended sentence order", "Licence"]


def test_plotly_holds_only_aggregates(every_chart):
    allowed = {
        "name",
        "orientation",
        "y",
        "x",
        "text",
        "textposition",
        "insidetextanchor",
        "marker",
        "textfont",
        "error_x",
        "customdata",
        "hovertemplate",
        "type",
        "offsetgroup",
        "mode",
        "cliponaxis",
        "showlegend",
        "hoverinfo",
    }
    for c in every_chart:
        fig = c.to_plotly()
        assert isinstance(fig, go.Figure)
        blob = json.loads(fig.to_json())
        n_rows = len(c.data)
        for trace in blob["data"]:
            assert len(trace.get("x", [])) <= n_rows
            assert set(trace) <= allowed, (c.id, set(trace) - allowed)
        # 0 to 100%, with a sliver of headroom so a value label at 100% is in range
        # (plotly.js drops text points outside the axis range).
        lo, hi = blob["layout"]["xaxis"]["range"]
        assert lo == 0 and 100 < hi <= 102
        assert blob["layout"]["meta"]["alt_text"] == c.alt_text


def test_plotly_labels_sit_past_the_interval(findings):
    fig = charts.comparison_chart(findings, "om_grade").to_plotly()
    bars = [t for t in fig.data if t.type == "bar"]
    labels = [t for t in fig.data if t.type == "scatter"]
    assert len(bars) == len(labels) == 2
    for bar, lab in zip(bars, labels, strict=True):
        assert bar.offsetgroup == lab.offsetgroup
        for x, plus, pos in zip(bar.x, bar.error_x.array, lab.x, strict=True):
            assert pos > x + plus
    gender = charts.comparison_chart(findings, "gender").to_plotly()
    assert "[c]" in [t for t in gender.data if t.type == "scatter"][1].text


def test_plotly_never_carries_a_suppressed_value(findings, inst):
    fig = charts.data_summary(findings, inst, "O4").to_plotly()
    trace = fig.data[0]
    i = list(trace.y).index("Effective management oversight")
    assert trace.x[i] is None
    assert trace.customdata[i][0] == "suppressed [c]"
    assert trace.error_x.array is None or trace.error_x.array[i] is None
    assert 75.0 not in [x for x in trace.x if x is not None]


def test_plotly_hover_shows_n_of_n_and_interval(findings, inst):
    fig = charts.data_summary(findings, inst, "O4").to_plotly()
    trace = fig.data[0]
    assert trace.customdata[0][0] == "26 of 40"
    assert trace.customdata[0][1].endswith("%") and " to " in trace.customdata[0][1]
    assert "customdata[1]" in trace.hovertemplate


def test_plotly_escapes_hostile_labels(findings):
    fig = charts.comparison_chart(findings, "ldu").to_plotly()
    names = [t.name for t in fig.data]
    # quotes stay literal (plotly.js would show &quot; as typed); < > & are escaped
    assert '=HYPERLINK("http://x")' in names
    assert HOSTILE_LDUS[1] in names


def test_colours_are_okabe_ito(every_chart):
    palette = set(OKABE_ITO.values()) | {"#999999"}
    for c in every_chart:
        for t in c.to_plotly().data:
            if t.type == "bar":
                assert t.marker.color in palette


def test_matplotlib_bars_and_gap(findings, inst):
    c = charts.data_summary(findings, inst, "O4")
    fig = c.to_matplotlib()
    assert isinstance(fig, matplotlib.figure.Figure)
    ax = fig.axes[0]
    assert len(ax.patches) == 2  # the suppressed bar is not drawn
    texts = [t.get_text() for t in ax.texts]
    assert "[c]" in texts and "65% (26 of 40)" in texts
    assert ax.get_xlim() == (0, 100)
    assert ax.get_xlabel() and fig._suptitle.get_text().startswith("Protecting the public")


def test_matplotlib_error_bars(findings):
    fig = charts.comparison_chart(findings, "om_grade").to_matplotlib()
    ax = fig.axes[0]
    assert len(ax.containers) >= 4  # one errorbar container per bar
    assert ax.get_legend() is not None


def test_save_static_is_deterministic(every_chart, tmp_path):
    for c in every_chart[:3] + [every_chart[6], every_chart[9]]:
        first = charts.save_static(c, tmp_path / "a")
        second = charts.save_static(c, tmp_path / "b")
        assert [p.suffix for p in first] == [".png", ".svg"]
        for p, q in zip(first, second, strict=True):
            assert p.read_bytes() == q.read_bytes(), p.name
        assert b"<dc:date>" not in first[1].read_bytes()


def test_dollar_signs_do_not_trigger_mathtext(findings, tmp_path):
    f = findings.copy()
    f.loc[f["measure_id"] == "case_type", "category"] = ["Cost $5 and $10", "a_b^c", "{x}"]
    c = charts.profile_chart(f, "case_type")
    paths = charts.save_static(c, tmp_path)
    assert all(p.stat().st_size > 0 for p in paths)


def test_several_trusts_are_refused(findings):
    two = pd.concat([findings, findings.assign(trust="other")])
    with pytest.raises(ValueError, match="several organisations"):
        charts.outcome_summary(two)


def test_missing_kinds_are_left_out(findings, inst):
    only = findings[findings["kind"].isin(["question", "outcome_score", "sample"])]
    ids = [c.id for c in charts.all_charts(only, inst)]
    assert ids[0] == "outcome-summary"
    assert not any(i.startswith(("comparison", "profile", "factors", "breakdown")) for i in ids)


def test_chart_rejects_unknown_kind():
    with pytest.raises(ValueError):
        Chart("x", "t", "s", "a.", "pie", pd.DataFrame(columns=DATA_COLUMNS))


def test_suppressed_prevalence_claims_no_rank(findings, inst):
    f = findings.copy()
    f.loc[f["measure_id"] == "f_thinking_behaviour_identified", "flags"] = "c"
    c = charts.factor_chart(f, inst)
    assert c.labels[-1] == "thinking and behaviour ([c])"
    assert "most common" not in c.title
    assert "59" not in c.alt_text.split("thinking and behaviour")[1].split(";")[0]


def test_a_long_subtitle_is_rewrapped_to_stay_inside_the_figure(every_chart):
    import dataclasses

    words = " ".join(["WMWMWMWM"] * 11)  # 98 wide letters: 95 to a line overflows 9 inches
    chart = dataclasses.replace(every_chart[0], subtitle=words)
    fig = chart.to_matplotlib()
    fig.draw_without_rendering()

    def right_edge() -> float:
        (sub,) = fig.findobj(lambda a: getattr(a, "get_gid", lambda: None)() == "chart-subtitle")
        return sub.get_window_extent(fig.canvas.get_renderer()).x1

    assert right_edge() > fig.bbox.width  # wrapped at 95 characters it runs off the page
    assert static.refit_subtitle(fig) is True
    fig.draw_without_rendering()
    assert right_edge() <= fig.bbox.width
    assert static.refit_subtitle(fig) is False  # fits now: nothing to redo


def test_bar_labels_round_half_up(findings, inst):
    # 50 of 80 is 62.5%: the bar says 63%, as the report's tables do (":.0f" said 62%).
    f = findings.copy()
    mask = f["measure_id"] == "d_constructive"
    f.loc[mask, ["numerator", "denominator", "percent"]] = [50, 80, 100 * 50 / 80]
    c = charts.data_summary(f, inst, "O3")
    assert c.data.set_index("label").loc["Constructive interventions delivered", "text"] == (
        "63% (50 of 80)"
    )
    hover = c.to_plotly().data[0].customdata[0]
    assert hover[2] == "62.5%"  # the hover's one decimal comes from present, not plotly.js


def test_tied_factors_keep_declared_order_and_share_the_title(findings, inst):
    # alcohol misuse identified in 59 cases, as thinking and behaviour: declared order first.
    f = findings.copy()
    f.loc[f["measure_id"] == "f_alcohol_identified", ["numerator", "percent"]] = [59, 100 * 59 / 73]
    c = charts.factor_chart(f, inst)
    assert c.labels[:2] == ["thinking and behaviour (59 cases)", "alcohol misuse (59 cases)"]
    assert c.title.startswith(
        "Thinking and behaviour and alcohol misuse were the most common factors "
        "(59 of 73 cases each)"
    )


def test_footnote_explains_a_bar_without_a_figure(findings, inst):
    f = findings.copy()
    mask = f["measure_id"] == "d_police_checks"
    f.loc[mask, ["numerator", "denominator", "percent"]] = [0, 0, float("nan")]
    c = charts.data_summary(f, inst, "O4")
    assert c.data.set_index("label").loc["Police checks on domestic abuse", "text"] == "[z]"
    assert "[z] not applicable" in c.footnote
    assert c.footnote.startswith("[c] suppressed")  # markers in the table's order
