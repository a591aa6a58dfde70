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
    "Differences_om_grade",
    "Comparison_gender",
    "Differences_gender",
    "Comparison_ldu",
    "Breakdowns",
    "Sample_profile",
]
N = "(number)"


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
    assert "Synthetic data" in text and "invented" in text
    assert "Contact" in text
    assert books["internal"]["Cover"]["A1"].value.endswith("Norfolk and Suffolk (synthetic data)")


def test_synthetic_is_marked_in_every_title_and_a_note(books):
    wb = books["publication"]
    _, notes = _table_rows(wb["Notes"])
    # The synthetic note is the first every table references, so it is note 1.
    assert notes[0][:2] == [1, "Synthetic data"]
    for ws in wb.worksheets[3:]:
        assert "(synthetic data) [note 1]" in ws["A1"].value, ws.title


def test_real_data_is_not_marked_synthetic(findings, inst, tmp_path):
    wb = openpyxl.load_workbook(tables.write_tables(findings, inst, tmp_path / "r.xlsx"))
    words = " ".join(
        str(c.value) for ws in wb.worksheets for row in ws.iter_rows() for c in row if c.value
    )
    assert "synthetic" not in words.lower()


def test_notes_are_numbered_and_referenced_from_the_titles(books):
    wb = books["publication"]
    _, notes = _table_rows(wb["Notes"])
    assert [r[0] for r in notes] == list(range(1, len(notes) + 1))
    number = {r[1]: r[0] for r in notes}
    text = " ".join(r[2] for r in notes)
    for word in ("Wilson", "Newcombe", "Fisher", "Benjamini-Hochberg", "[c]", "[u]", "[z]"):
        assert word in text
    # Worked by hand: the Questions table relies on the synthetic, marker, base,
    # rounding and interval notes; the Differences table on the p-value notes.
    questions = wb["Questions"]["A1"].value
    for topic in ("Synthetic data", "Shorthand markers", "Relevant cases", "Rounding"):
        assert f"[note {number[topic]}]" in questions, topic
    assert f"[note {number['Confidence intervals']}]" in questions
    diffs = wb["Differences_om_grade"]["A1"].value
    for topic in ("Differences", "p-values", "Adjusted p-values"):
        assert f"[note {number[topic]}]" in diffs, topic
    assert f"[note {number['p-values']}]" not in questions
    # Every note is referenced from some table.
    titles = " ".join(ws["A1"].value for ws in wb.worksheets[3:])
    for n in number.values():
        assert f"[note {n}]" in titles, n


def test_contents_links_every_table(books):
    wb = books["internal"]
    _, rows = _table_rows(wb["Contents"])
    assert [r[0] for r in rows] == SHEETS[3:]
    ws = wb["Contents"]
    links = [c.hyperlink.location for c in ws["A"] if c.hyperlink]
    assert links == [f"'{s}'!A1" for s in SHEETS[3:]]


def test_numbers_are_numbers(books):
    header, rows = _table_rows(books["internal"]["Questions"])
    row = next(r for r in rows if r[2] == "d_police_checks")
    n, d, pct = (
        row[header.index(h)]
        for h in (
            f"Cases above the line {N}",
            f"Relevant cases {N}",
            "Percentage of relevant cases (%)",
        )
    )
    assert (n, d, pct) == (26, 40, 65.0)
    assert isinstance(n, int) and isinstance(d, int)
    lo = row[header.index("Lower 95% confidence limit (%)")]
    assert isinstance(lo, float) and round(lo, 1) == lo


def test_publication_replaces_suppressed_values_with_c(books):
    header, rows = _table_rows(books["publication"]["Questions"])
    over = next(r for r in rows if r[2] == "r_oversight")
    for h in (
        f"Cases above the line {N}",
        f"Relevant cases {N}",
        "Percentage of relevant cases (%)",
    ):
        assert over[header.index(h)] == "[c]"
    # 3 of 4: a base under 10 is of low reliability, [u] (the findings flag stays "low").
    assert over[header.index("Markers")] == "[u] [c]"
    # Internal keeps the value and marks it.
    header, rows = _table_rows(books["internal"]["Questions"])
    over = next(r for r in rows if r[2] == "r_oversight")
    assert over[header.index(f"Cases above the line {N}")] == 3
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
    assert rows[0][header.index(f"Cases where identified {N}")] == 59
    assert rows[3][header.index("Sufficient progress, of cases where identified (%)")] == "[c]"


def test_differences_are_tables_of_their_own(books):
    header, rows = _table_rows(books["internal"]["Comparison_om_grade"])
    assert [r[2] for r in rows] == ["PO", "PSO", "PO", "PSO"]
    assert not any("p-value" in h or "Difference" in h for h in header)
    header, rows = _table_rows(books["internal"]["Differences_om_grade"])
    assert [r[2] for r in rows] == ["PO - PSO", "PO - PSO"]
    # 13/16 - 4/7 = 81.25% - 57.14% = 24.1 points; p 0.04, adjusted 0.08.
    first = dict(zip(header, rows[0], strict=True))
    assert first["Difference (percentage points)"] == 24.1
    assert first["p-value (probability, 0 to 1)"] == 0.04
    assert first["Adjusted p-value (probability, 0 to 1)"] == 0.08
    assert first["Test"] == "Fisher"
    # No marker in any row: the Markers column is left out, not left empty.
    assert "Markers" not in header


def _multi_group(findings, p_value):
    """The fixture plus the LDU difference row an engine writes for three groups."""
    import pandas as pd

    row = {c: pd.NA for c in findings.columns} | {
        "trust": findings["trust"].iloc[0],
        "kind": "difference",
        "outcome": "O4",
        "criterion": "4.2",
        "measure_id": "r_rosh_review",
        "label": "Sufficient review of risk of harm assessment",
        "group_var": "ldu",
        "group": "Norwich | Ipswich | Lowestoft",
        "p_value": p_value,
        "p_adjusted": 0.0125,
        "flags": "",
        "method": "Pearson chi-square test; Benjamini-Hochberg across questions",
    }
    return pd.concat([findings, pd.DataFrame([row])], ignore_index=True)


def test_no_all_marker_or_empty_columns(findings, inst, tmp_path):
    path = tables.write_tables(_multi_group(findings, 0.0004), inst, tmp_path / "m.xlsx")
    wb = openpyxl.load_workbook(path)
    for ws in wb.worksheets[1:]:
        header, rows = _table_rows(ws)
        for j, h in enumerate(header):
            assert any(r[j] not in (None, "", "[x]", "[z]") for r in rows), (ws.title, h)
    # Three groups have no single difference: only the test's columns remain.
    header, rows = _table_rows(wb["Differences_ldu"])
    assert header == [
        "Question id",
        "Question",
        "Groups compared",
        "Test",
        "p-value (probability, 0 to 1)",
        "Adjusted p-value (probability, 0 to 1)",
    ]
    # p 0.0004 would read 0.000 at three decimals: it says <0.001; 0.0125 rounds up to 0.013.
    assert rows == [
        [
            "r_rosh_review",
            "Was there a sufficient review of the risk of harm assessment?",
            "Norwich | Ipswich | Lowestoft",
            "Pearson chi-square test",
            "<0.001",
            0.013,
        ]
    ]


def test_markers_x_and_z_follow_the_base(findings, inst, tmp_path):
    # A blank percentage is [z] on a base of 0 (the question applied to no case) and [x]
    # (not available) on any other base.
    import numpy as np

    f = findings.copy()
    zero = (f["kind"] == "question") & (f["measure_id"] == "d_police_checks")
    f.loc[zero, ["numerator", "denominator", "percent", "ci_low", "ci_high"]] = [0, 0] + [
        np.nan
    ] * 3
    gone = (f["kind"] == "question") & (f["measure_id"] == "d_constructive")
    f.loc[gone, ["ci_low", "ci_high"]] = np.nan
    wb = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "xz.xlsx"))
    header, rows = _table_rows(wb["Questions"])
    by_id = {r[2]: dict(zip(header, r, strict=True)) for r in rows}
    police, constructive = by_id["d_police_checks"], by_id["d_constructive"]
    assert police[f"Relevant cases {N}"] == 0
    assert police["Percentage of relevant cases (%)"] == "[z]"
    assert police["Lower 95% confidence limit (%)"] == "[z]"
    assert constructive["Percentage of relevant cases (%)"] == 71.2  # 52 of 73
    assert constructive["Lower 95% confidence limit (%)"] == "[x]"
    _, notes = _table_rows(wb["Notes"])
    key = next(r[2] for r in notes if r[1] == "Shorthand markers")
    assert "[x] Not available" in key and "[z] Not applicable" in key
    assert wb["Questions"]["A3"].value == (
        "Shorthand: [u] low reliability: fewer than 10 relevant cases, [x] not available, "
        "[z] not applicable."
    )


def test_headers_name_their_units(books):
    units = ("(number)", "(%)", "(percentage points)", "(probability, 0 to 1)")
    for wb in (books["internal"], books["publication"]):
        for ws in wb.worksheets[3:]:
            header, rows = _table_rows(ws)
            for j, h in enumerate(header):
                if any(isinstance(r[j], int | float) for r in rows):
                    assert h.endswith(units), (ws.title, h)


def test_print_settings(books):
    for ws in books["publication"].worksheets:
        setup = ws.page_setup
        assert setup.paperSize == 9, ws.title  # A4
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        # One page wide (1 is the default, which the file leaves out), any number tall.
        assert (setup.fitToWidth or 1, setup.fitToHeight) == (1, 0), ws.title
        if ws.title == "Cover":
            continue
        (table,) = ws.tables.values()
        header_row = int("".join(ch for ch in table.ref.split(":")[0] if ch.isdigit()))
        assert ws.print_title_rows == f"${header_row}:${header_row}", ws.title
    # Questions: widths 10+10+22+70+14*5+12 = 194 characters, so landscape.
    assert books["publication"]["Questions"].page_setup.orientation == "landscape"
    # Sample profile: 40+34+12+14+14+12 = 126 is wide too; the cover (72) is not.
    assert books["publication"]["Cover"].page_setup.orientation in (None, "portrait")
    assert books["publication"]["Questions"].column_dimensions["D"].width == pytest.approx(
        70, abs=1
    )


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
                assert cell.hyperlink is None, cell.coordinate


def test_text_gptables_would_interpret_stays_text(findings, inst, tmp_path):
    # gptables turns "[text](url)" into a live link and "$$id$$" into a note reference,
    # and refuses a text of no letters or digits: none of them may reach it as such.
    f = findings.copy()
    ldu = (f["group_var"] == "ldu") & (f["group"] == "Norwich")
    f.loc[ldu, "group"] = "[Norwich](https://evil.example) $$synthetic$$"
    other = (f["group_var"] == "ldu") & (f["group"] == "@SUM(1)")
    f.loc[other, "group"] = "-"
    wb = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "h.xlsx"))
    ws = wb["Comparison_ldu"]
    header, rows = _table_rows(ws)
    groups = [r[header.index("Group")] for r in rows]
    assert groups == [
        "[Norwich] (https://evil.example) $ $synthetic$ $",
        '\'=HYPERLINK("http://x")',
        "'- (as recorded)",
    ]
    assert not any(c.hyperlink for row in ws.iter_rows() for c in row)


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
    assert rows[-1][header.index(f"Cases where identified, interventions base {N}")] == "[c]"
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
    assert "[c]" not in cover and "Nothing is suppressed" in cover and "[u]" in cover
    _, notes = _table_rows(wb["Notes"])
    key = next(r[2] for r in notes if r[1] == "Shorthand markers")
    assert key.startswith("[u] Low reliability") and "[z] Not applicable" in key
    assert "[c]" not in key and "[x]" not in key
    assert wb["Questions"]["A3"].value == (
        "Shorthand: [u] low reliability: fewer than 10 relevant cases."
    )
    assert wb["Outcome_scores"]["A3"].value == "No shorthand markers are used in this table."
    assert "[c]" not in wb["Factors"]["A2"].value


def test_publication_notes_describe_suppression(books):
    _, notes = _table_rows(books["publication"]["Notes"])
    key = next(r[2] for r in notes if r[1] == "Shorthand markers")
    assert key.startswith("[c] Suppressed") and "[u] Low reliability" in key
    assert books["publication"]["Questions"]["A3"].value.startswith(
        "Shorthand: [c] suppressed to protect confidentiality, [u] low reliability"
    )


def test_percentages_round_half_up_to_one_decimal(findings, inst, tmp_path):
    # 9 of 16 is 56.25%: stored as 56.3 (round() gave the even 56.2).
    f = findings.copy()
    mask = (f["kind"] == "question") & (f["measure_id"] == "d_police_checks")
    f.loc[mask, ["numerator", "denominator", "percent"]] = [9, 16, 100 * 9 / 16]
    wb = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "r.xlsx"))
    header, rows = _table_rows(wb["Questions"])
    row = next(r for r in rows if r[2] == "d_police_checks")
    assert row[header.index("Percentage of relevant cases (%)")] == 56.3


def test_names_are_display_names(findings, inst, tmp_path):
    f = findings.assign(trust="newcastle-upon-tyne")
    wb = openpyxl.load_workbook(tables.write_tables(f, inst, tmp_path / "n.xlsx"))
    assert wb["Cover"]["A1"].value.endswith(", Newcastle upon Tyne")
    assert "oasys" not in " ".join(ws["A1"].value for ws in wb.worksheets)
    rosh = f[f["kind"] == "comparison"].assign(group_var="rosh_start", group="Low")
    wb = openpyxl.load_workbook(tables.write_tables(rosh, inst, tmp_path / "o.xlsx"))
    assert wb["Comparison_rosh_start"]["A1"].value.startswith(
        "Table 1: Comparison by OASys RoSH classification at start:"
    )


def test_libreoffice_prints_each_sheet_on_one_a4_page(books, tmp_path):
    # Every fixture table is short and fitted to the page width, so LibreOffice prints the
    # 14 sheets on 14 A4 pages (the workbook of a real trust printed as 467 pages before).
    import os
    import re
    import shutil
    import subprocess

    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        if os.environ.get("CI") == "true":
            pytest.fail("LibreOffice (soffice) is needed in CI for the print test")
        pytest.skip("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc")
    src = books["paths"]["publication"]
    subprocess.run(
        [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(src)],
        check=True,
        capture_output=True,
        timeout=300,
        env={**os.environ, "HOME": str(tmp_path)},  # a profile of its own, not the user's
    )
    pdf = (tmp_path / (src.stem + ".pdf")).read_bytes()
    # Each page object names its own size: /Type/Page ... /MediaBox[0 0 w h].
    boxes = re.findall(rb"/Type\s*/Page\b[^>]*?/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)", pdf)
    assert len(boxes) == len(SHEETS)
    for w, h in boxes:
        assert sorted((round(float(w)), round(float(h)))) == [595, 842]  # A4 in points


def test_note_numbers_ascend_in_every_title(books):
    import re

    for ws in books["publication"].worksheets[3:]:
        numbers = [int(n) for n in re.findall(r"\[note (\d+)\]", ws["A1"].value)]
        assert numbers == sorted(numbers) and numbers, ws.title


# -- ratings ------------------------------------------------------------------------------


def _rating_findings(flags: str = ""):
    """Hand-made rating rows of a probation unit: two standards and the overall."""
    import pandas as pd

    from analysis.engine.findings import conform

    rows = [
        # 35 of 50 = 70%: Good (65-79), worth 2 points; differs in 1 of 5 resamples.
        dict(kind="rating", measure_id="rating_2.1", label="Assessment", category="Good",
             numerator=35, denominator=50, percent=70.0, ci_low=56.25, ci_high=80.93,
             p_different=0.2, method="lowest key question: kq_2.1.1; Wilson", flags=flags),
        dict(kind="rating", measure_id="rating_2.2", label="Planning", category="",
             method="not rated"),
        dict(kind="rating", measure_id="rating_overall", label="Overall rating",
             category="", method="not rated: no rating for standard(s) 2.2"),
    ]  # fmt: skip
    return conform(pd.DataFrame(rows).assign(trust="wrenfield"))


def test_ratings_sheet_shows_each_rating_with_its_points_and_basis():
    from analysis import config
    from analysis.instrument import load_instrument

    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    [table] = [t for t in tables.build_tables(_rating_findings(), inst) if t.sheet == "Ratings"]
    assert table.title == "Table 1: Ratings of the standards"
    headers = [c.header for c in table.columns]
    assert headers[:5] == ["Standard", "Standard name", "Rating", "Points (number)", "Rests on"]
    assert headers[-1] == "Chance of a different rating (%)"
    assert table.rows[0] == [
        "2.1", "Assessment", "Good", 2,
        # The key question's wording, with the ids that trace it (report, findings.csv).
        "lowest key question, 2.1.1 (kq_2.1.1): Does assessment focus sufficiently on "
        "engaging the person on probation?",
        35, 50, 70.0, 56.25, 80.93, 20.0,
    ]  # fmt: skip
    # No rating: said in words; the numbers it would rest on are not available.
    assert table.rows[1][:4] == ["2.2", "Planning", "Not rated", "[x]"]
    assert table.rows[2][:3] == ["Overall", "Overall rating", "Not rated"]
    assert table.rows[2][3:5] == ["[x]", "sum of the standards' points"]
    assert set(table.rows[2][5:]) == {"[x]"}


def test_ratings_sheet_for_publication_withholds_a_suppressed_base():
    from analysis import config
    from analysis.instrument import load_instrument

    inst = load_instrument(config.INSTRUMENTS_DIR / "hmip-probation-2023.yaml")
    built = tables.build_tables(_rating_findings(flags="c"), inst, "publication")
    [table] = [t for t in built if t.sheet == "Ratings"]
    # The counts, percentage, interval and the chance of a different rating.
    assert table.rows[0][5:] == ["[c]"] * 6


def test_a_programme_without_ratings_has_no_ratings_sheet_or_note(tmp_path):
    path = tmp_path / "tables.xlsx"
    tables.write_tables(fixture_findings(), fixture_instrument(), path, "internal")
    book = openpyxl.load_workbook(path, read_only=True)
    assert "Ratings" not in book.sheetnames
    notes = [str(v) for row in book["Notes"].iter_rows(values_only=True) for v in row if v]
    assert not any("Ratings" == v for v in notes)
