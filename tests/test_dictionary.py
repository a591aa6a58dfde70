"""Markdown data dictionary."""

from __future__ import annotations

from analysis import cli
from analysis.instrument.dictionary import render


def test_tiny_sections(tiny_instrument):
    md = render(tiny_instrument)
    for heading in [
        "# Data dictionary: Tiny test instrument",
        "## Outcomes",
        "## Criteria grid",
        "## Case details",
        "## Questions",
        "### Outcome 1: Assisting sentencing",
        "#### 1.1 Assessment to inform sentencing",
        "## Factors",
        "## Summary: scored questions per outcome",
    ]:
        assert heading + "\n" in md, heading
    assert "| Outcome | Assessment | Delivery |" in md
    assert "| `case_type` | Type of case | category | yes | Community order, Licence |" in md
    assert "| `n_oms` | Number of offender managers | count | yes | whole number 1 to 5 |" in md


def test_tiny_question_rows(tiny_instrument):
    md = render(tiny_instrument)
    assert (
        "| `q_typed` | Was the typed report sufficient? | Yes (above the line); No (below the "
        "line); Not applicable (not counted) | only when `report_type` is Typed; otherwise Not "
        "applicable | O1 |"
    ) in md
    assert (
        "| `q_contacts` | How many contacts were missed? | whole number 0 to 50 | always "
        "| not scored |" in md
    )
    assert "| `q_review` |" in md and "Sufficient review (above the line)" in md
    assert "| `alcohol` | alcohol misuse | `f_alcohol_identified` | `f_alcohol_progress` |" in md
    # q_review counts towards O1 and O2; f_alcohol_progress towards O2 (its criterion's outcome).
    assert "| O1 | Assisting sentencing | 2 |" in md
    assert "| O2 | Protecting the public | 2 |" in md


def test_default_instrument_lists_every_question(default_instrument):
    md = render(default_instrument)
    for qid in default_instrument.questions:
        assert f"| `{qid}` |" in md, qid
    for cid in default_instrument.case_details:
        assert f"| `{cid}` |" in md, cid
    for o, n in default_instrument.summary().items():
        assert f"| {o} | {default_instrument.outcomes[o].name} | {n} |" in md


def test_pipes_escaped(tmp_path, tiny_instrument_path):
    from analysis.instrument import load_instrument

    text = tiny_instrument_path.read_text().replace(
        "Was the typed report sufficient?", "Was the report | sufficient?"
    )
    p = tmp_path / "pipe.yaml"
    p.write_text(text)
    assert "Was the report \\| sufficient?" in render(load_instrument(p))


def test_cli_stdout_and_file(tmp_path, tiny_instrument_path, capsys):
    assert cli.main(["dictionary", "--instrument", str(tiny_instrument_path)]) == 0
    assert capsys.readouterr().out.startswith("# Data dictionary: Tiny test instrument")
    out = tmp_path / "dict.md"
    assert (
        cli.main(["dictionary", "--instrument", str(tiny_instrument_path), "--out", str(out)]) == 0
    )
    assert out.read_text().startswith("# Data dictionary")


def test_cli_bad_instrument(tmp_path, capsys):
    assert cli.main(["dictionary", "--instrument", str(tmp_path / "none.yaml")]) == 2
    assert "cannot read instrument" in capsys.readouterr().err


def test_committed_data_dictionary_is_current():
    # The README links docs/data-dictionary.md; regenerate with `make dictionary`.
    from analysis import config
    from analysis.instrument import load_instrument
    from analysis.instrument.dictionary import render

    committed = (config.DOCS_DIR / "data-dictionary.md").read_text(encoding="utf-8")
    assert committed == render(load_instrument()), "run `make dictionary` and commit the result"


def test_any_of_rule_in_the_dictionary(any_of_instrument):
    text = render(any_of_instrument)
    assert "only when `case_type` is Licence, or `q_typed` is Yes; otherwise Not applicable" in text


def test_compared_details_are_marked(default_instrument):
    text = render(default_instrument)
    grade = next(line for line in text.splitlines() if line.startswith("| `om_grade`"))
    ethnicity = next(line for line in text.splitlines() if line.startswith("| `ethnicity`"))
    assert "results are compared between its groups" in grade
    assert "compared" not in ethnicity


def test_consistency_rules_listed_by_kind(default_instrument):
    md = render(default_instrument)
    n = len(default_instrument.consistency)
    assert "## Consistency rules\n" in md
    assert f"{n} rules (" in md
    assert "### victims-children\n" in md
    assert (
        "| `visor-needs-mappa` | error | `p_mappa_eligible` is No | `p_visor_required` must be "
        '"No" |'
    ) in md
    for r in default_instrument.consistency:
        assert f"| `{r.id}` |" in md


def test_no_rules_section_without_rules(tiny_instrument):
    assert "## Consistency rules" not in render(tiny_instrument)
