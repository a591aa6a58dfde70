import openpyxl
import pytest
from fixtures_findings import HOSTILE_LDUS, fixture_findings, fixture_instrument

from analysis.render import tables

SHEETS = [
    "Cover",
    "Contents",
    "Notes",
    "Outcome_scores",
    "Criterion_scores",
    "Questions",
    "Factors",
    "Comparison_om_grade",
    "Comparison_gender",
    "Comparison_ldu",
    "Breakdowns",
    "Sample_profile",
]


@pytest.fixture(scope="module")
def findings():
    return fixture_findings()


@pytest.fixture(scope="module")
def inst():
    return fixture_instrument()


@pytest.fixture(scope="module")
def books(findings, inst, tmp_path_factory):
    out = tmp_path_factory.mktemp("tables")
    paths = {
        aud: tables.write_tables(findings, inst, out / f"{aud}.xlsx", aud, synthetic=True)
        for aud in ("internal", "publication")
    }
    return {aud: openpyxl.load_workbook(p) for aud, p in paths.items()} | {"paths": paths}


def _table_rows(ws):
    """(header, data rows) of the sheet's one Excel table."""
    (table,) = ws.tables.values()
    rows = list(ws[table.ref])
    header = [c.value for c in rows[0]]
    return header, [[c.value for c in r] for r in rows[1:]]


def test_sheet_names(books):
    assert books["internal"].sheetnames == SHEETS
    assert books["publication"].sheetnames == SHEETS


def test_layout_follows_the_guidance(books):
    for wb in (books["internal"], books["publication"]):
        for ws in wb.worksheets:
            assert not ws.merged_cells.ranges, ws.title
            assert isinstance(ws["A1"].value, str) and ws["A1"].value, ws.title
            for row in ws.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", (ws.title, cell.coordinate)
            if ws.title == "Cover":
                assert not ws.tables
                continue
            assert len(ws.tables) == 1, ws.title
            (table,) = ws.tables.values()
            first_row = int("".join(ch for ch in table.ref.split(":")[0] if ch.isdigit()))
            # Only plain text above the single header row; no blank rows inside the table.
            for r in range(1, first_row):
                assert isinstance(ws.cell(r, 1).value, str)
                assert all(ws.cell(r, c).value is None for c in range(2, ws.max_column + 1))
            header, rows = _table_rows(ws)
            assert all(isinstance(h, str) and h for h in header)
            assert len(set(header)) == len(header)
            assert rows, ws.title
            for r in rows:
                assert any(v not in (None, "") for v in r), ws.title
            assert ws.column_dimensions["A"].width > 0


def test_cover_mentions_source_instrument_and_synthetic(books):
    text = " ".join(str(c.value) for c in books["internal"]["Cover"]["A"] if c.value)
    assert "fixture" in text and "0.0.1" in text
    assert "synthetic" in text.lower()
    assert "Contact" in text


def test_notes_explain_markers_and_methods(books):
    _, rows = _table_rows(books["publication"]["Notes"])
    topics = {r[0] for r in rows}
    assert {"[c]", "[low]", "[z]"} <= topics
    text = " ".join(r[1] for r in rows)
    for word in ("Wilson", "Newcombe", "Fisher", "Benjamini-Hochberg"):
        assert word in text


def test_contents_links_every_table(books):
    wb = books["internal"]
    _, rows = _table_rows(wb["Contents"])
    assert [r[0] for r in rows] == SHEETS[2:]
    ws = wb["Contents"]
    links = [c.hyperlink.location for c in ws["A"] if c.hyperlink]
    assert len(links) == len(SHEETS) - 2


def test_numbers_are_numbers(books):
    header, rows = _table_rows(books["internal"]["Questions"])
    row = next(r for r in rows if r[2] == "d_police_checks")
    n, d, pct = (
        row[header.index(h)]
        for h in ("Cases above the line (n)", "Relevant cases (N)", "Percentage (%)")
    )
    assert (n, d, pct) == (26, 40, 65.0)
    assert isinstance(n, int) and isinstance(d, int)
    lo = row[header.index("95% CI lower (%)")]
    assert isinstance(lo, float) and round(lo, 1) == lo


def test_publication_replaces_suppressed_values_with_c(books):
    header, rows = _table_rows(books["publication"]["Questions"])
    over = next(r for r in rows if r[2] == "r_oversight")
    for h in ("Cases above the line (n)", "Relevant cases (N)", "Percentage (%)"):
        assert over[header.index(h)] == "[c]"
    assert "[c]" in over[header.index("Markers")] and "[low]" in over[header.index("Markers")]
    # Internal keeps the value and marks it.
    header, rows = _table_rows(books["internal"]["Questions"])
    over = next(r for r in rows if r[2] == "r_oversight")
    assert over[header.index("Cases above the line (n)")] == 3
    assert "[c]" in over[header.index("Markers")]


def test_factor_table_layout(books):
    header, rows = _table_rows(books["publication"]["Factors"])
    assert [r[1] for r in rows] == [
        "thinking and behaviour",
        "alcohol misuse",
        "accommodation",
        "issues related to financial management",
    ]
    assert [r[0] for r in rows] == ["Most prevalent factors"] * 2 + ["Other common factors"] * 2
    assert rows[0][header.index("Cases where identified (n)")] == 59
    assert rows[3][header.index("Sufficient progress (%)")] == "[c]"


def test_comparison_table_has_differences_and_z(books):
    header, rows = _table_rows(books["internal"]["Comparison_om_grade"])
    diff = next(r for r in rows if r[header.index("Row type")] == "Difference")
    assert diff[header.index("Group")] == "PO - PSO"
    assert diff[header.index("Cases above the line (n)")] == "[z]"
    assert diff[header.index("Adjusted p-value (Benjamini-Hochberg)")] == pytest.approx(0.08)
    grp = next(r for r in rows if r[header.index("Row type")] == "Group")
    assert grp[header.index("p-value (Fisher exact)")] == "[z]"


def test_formula_injection_is_inert(books):
    for aud in ("internal", "publication"):
        ws = books[aud]["Comparison_ldu"]
        header, rows = _table_rows(ws)
        groups = [r[header.index("Group")] for r in rows]
        for hostile in HOSTILE_LDUS:
            assert "'" + hostile in groups
        for row in ws.iter_rows():
            for cell in row:
                assert cell.data_type in ("s", "n"), cell.coordinate


def test_rewrite_is_byte_identical(findings, inst, books, tmp_path):
    for aud, first in books["paths"].items():
        again = tables.write_tables(findings, inst, tmp_path / "again.xlsx", aud, synthetic=True)
        assert again.read_bytes() == first.read_bytes(), aud


def test_bad_audience_and_several_trusts(findings, inst, tmp_path):
    import pandas as pd

    with pytest.raises(ValueError, match="audience"):
        tables.write_tables(findings, inst, tmp_path / "x.xlsx", "press")
    two = pd.concat([findings, findings.assign(trust="other")])
    with pytest.raises(ValueError, match="several organisations"):
        tables.write_tables(two, inst, tmp_path / "x.xlsx")


def test_tables_without_optional_kinds(findings, inst, tmp_path):
    only = findings[findings["kind"].isin(["question", "sample"])]
    wb = openpyxl.load_workbook(tables.write_tables(only, inst, tmp_path / "q.xlsx"))
    assert wb.sheetnames == ["Cover", "Contents", "Notes", "Questions", "Sample_profile"]


def test_suppressed_prevalence_in_factor_table(findings, inst, tmp_path):
    f = findings.copy()
    f.loc[f["measure_id"] == "f_thinking_behaviour_identified", "flags"] = "c"
    pub = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "p.xlsx", "publication"))
    header, rows = _table_rows(pub["Factors"])
    assert rows[-1][:3] == ["[c]", "thinking and behaviour", "[c]"]
    # Its items' bases equal the prevalence, so they are withheld as well.
    assert rows[-1][header.index("Cases where identified, interventions base (N)")] == "[c]"
    assert rows[0][0] == "Most prevalent factors"
    internal = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "i.xlsx"))
    header, rows = _table_rows(internal["Factors"])
    assert rows[0][1:3] == ["thinking and behaviour", 59]


def _internal_engine_like(findings):
    """The fixture as an internal engine run writes it: no suppression flags, only low."""
    import pandas as pd

    f = findings.copy()
    f["flags"] = f["flags"].str.replace(r"(^|;)(c|secondary)(?=;|$)", "", regex=True)
    f["flags"] = f["flags"].str.strip(";")
    return pd.DataFrame(f)


def test_internal_cover_and_notes_describe_only_markers_that_occur(findings, inst, tmp_path):
    path = tables.write_tables(_internal_engine_like(findings), inst, tmp_path / "i.xlsx")
    wb = openpyxl.load_workbook(path)
    cover = " ".join(str(c.value) for c in wb["Cover"]["A"] if c.value)
    assert "[c]" not in cover and "Nothing is suppressed" in cover and "[low]" in cover
    _, notes = _table_rows(wb["Notes"])
    assert [r[0] for r in notes[:2]] == ["[low]", "[z]"]
    for ws in wb.worksheets[3:]:
        assert ws["A3"].value == (
            "Markers: [low] fewer than 10 relevant cases, [z] not applicable; see the Notes sheet."
        )
    assert "[c]" not in wb["Factors"]["A2"].value


def test_publication_notes_describe_suppression(books):
    _, notes = _table_rows(books["publication"]["Notes"])
    assert [r[0] for r in notes[:3]] == ["[c]", "[low]", "[z]"]
    assert (
        "[c] suppressed to protect confidentiality" in books["publication"]["Questions"]["A3"].value
    )


def test_percentages_round_half_up_to_one_decimal(findings, inst, tmp_path):
    # 9 of 16 is 56.25%: stored as 56.3 (round() gave the even 56.2).
    f = findings.copy()
    mask = (f["kind"] == "question") & (f["measure_id"] == "d_police_checks")
    f.loc[mask, ["numerator", "denominator", "percent"]] = [9, 16, 100 * 9 / 16]
    wb = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "r.xlsx"))
    header, rows = _table_rows(wb["Questions"])
    row = next(r for r in rows if r[2] == "d_police_checks")
    assert row[header.index("Percentage (%)")] == 56.3


def test_names_are_display_names(findings, inst, tmp_path):
    f = findings.assign(trust="newcastle-upon-tyne")
    wb = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "n.xlsx"))
    assert wb["Cover"]["A1"].value.endswith(", Newcastle upon Tyne")
    rosh = f[f["kind"] == "comparison"].assign(group_var="rosh_start", group="Low")
    wb = openpyxl.load_workbook(tables.write_tables(rosh, inst, tmp_path / "o.xlsx"))
    assert wb["Comparison_rosh_start"]["A1"].value.startswith(
        "Table 1: Comparison by OASys RoSH classification at start:"
    )
