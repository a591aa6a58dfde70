"""Markdown data dictionary."""

from __future__ import annotations

import pytest

from analysis import cli, config
from analysis.instrument import load_instrument
from analysis.instrument.dictionary import dictionary_name, render


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


@pytest.mark.parametrize(
    "programme", sorted(p.stem for p in (config.INSTRUMENTS_DIR).glob("*.yaml"))
)
def test_every_programme_has_its_committed_dictionary(programme):
    """`make dictionary` documents every programme file: the default keeps its name."""
    inst = load_instrument(config.INSTRUMENTS_DIR / f"{programme}.yaml")
    name = dictionary_name(inst)
    assert name == (
        "data-dictionary.md" if programme == "iaow-2013-14" else f"data-dictionary-{programme}.md"
    )
    committed = (config.DOCS_DIR / name).read_text(encoding="utf-8")
    assert committed == render(inst), "run `make dictionary` and commit the result"


def test_all_writes_one_dictionary_per_programme(tmp_path, capsys):
    assert cli.main(["dictionary", "--all", str(tmp_path)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "data-dictionary-hmip-probation-2023.md",
        "data-dictionary-hmip-youth-2021.md",
        "data-dictionary.md",
    ]
    youth = (tmp_path / "data-dictionary-hmip-youth-2021.md").read_text(encoding="utf-8")
    # The youth standards' sections, in its own words (standards, not outcomes).
    assert "## Standards\n" in youth and "## Outcomes\n" not in youth
    assert "## Summary: scored questions per standard\n" in youth
    assert "| Requires improvement | 1 | 50% or more and under 65% |" in youth
    assert (
        "| 2.1 | Court disposals: assessment | the lowest of its key questions | "
        "`kq_2.1.1`, `kq_2.1.2`, `kq_2.1.3` | court | yes |"
    ) in youth
    assert (
        "| 4.1 | Resettlement policy and provision | rated by inspectors (a separate input) |"
        in youth
    )
    assert "Good 19 points or more and 30 points or less" in youth
    assert "## Key questions\n" in youth and "## Samples\n" in youth
    # --all with --out is refused (exit 2).
    assert cli.main(["dictionary", "--all", str(tmp_path), "--out", str(tmp_path / "x")]) == 2


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
