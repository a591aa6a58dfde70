"""The notebooks: thin, parameterised, committed without outputs, and runnable."""

from __future__ import annotations

import ast
import io
import json
import subprocess
import sys
import tokenize
from pathlib import Path

import pytest
from fixtures_findings import FIXTURE_INSTRUMENT_YAML, fixture_findings, fixture_instrument
from helpers.workbooks import grid, valid_rows, write_xlsx

from analysis import config
from analysis.engine import run as engine
from analysis.engine.findings import FindingsContext

NOTEBOOKS = sorted(config.NOTEBOOKS_DIR.glob("*.ipynb"))
EXPECTED = [
    "01_ingest.ipynb",
    "02_outcome_scores.ipynb",
    "03_reoffending_factors.ipynb",
    "04_comparisons.ipynb",
    "05_sample_profile.ipynb",
    "10_report.ipynb",
    "90_explore.ipynb",
]
PAPERMILL = Path(sys.executable).with_name("papermill")


def _load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _parameters_cells(nb: dict) -> list[dict]:
    return [c for c in nb["cells"] if "parameters" in c.get("metadata", {}).get("tags", [])]


def _source(cell: dict) -> str:
    src = cell["source"]
    return "".join(src) if isinstance(src, list) else src


MINE = [config.NOTEBOOKS_DIR / name for name in EXPECTED]


def test_expected_notebooks_exist_in_pipeline_order():
    names = [p.name for p in NOTEBOOKS]
    assert [n for n in names if n in EXPECTED] == EXPECTED
    assert all(n[:2].isdigit() and n[2] == "_" for n in names), "notebooks are numbered"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path):
    nb = _load(path)
    for cell in nb["cells"]:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [], f"{path.name}: a cell has outputs"
            assert cell["execution_count"] is None, f"{path.name}: a cell has an execution count"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_one_parameters_cell_of_typed_commented_literals(path):
    cells = _parameters_cells(_load(path))
    assert len(cells) == 1, f"{path.name}: expected exactly one cell tagged 'parameters'"
    src = _source(cells[0])
    tree = ast.parse(src)
    assert tree.body, "empty parameters cell"
    for node in tree.body:
        assert isinstance(node, ast.AnnAssign), f"{path.name}: {ast.unparse(node)} is not typed"
        assert isinstance(node.value, ast.Constant), f"{path.name}: {node.target.id} not a literal"
        assert node.lineno == node.end_lineno, f"{path.name}: keep {node.target.id} on one line"
        line = src.splitlines()[node.lineno - 1]
        assert "#" in line, f"{path.name}: parameter {node.target.id} has no comment"
    names = {n.target.id: n.value.value for n in tree.body}
    if path.name in EXPECTED[1:6]:
        assert {"trust", "instrument_path", "out_dir"} <= set(names)
    # The audience is the findings' (their context), never a notebook parameter.
    assert "audience" not in names, f"{path.name}: audience comes from the findings' context"
    if "trust" in names:
        assert names["trust"] == config.DEFAULT_TRUST  # defaults point at the demo trust


def _without_comments(src: str) -> str:
    toks = tokenize.generate_tokens(io.StringIO(src).readline)
    return tokenize.untokenize((t.type, t.string) for t in toks if t.type != tokenize.COMMENT)


@pytest.mark.parametrize("path", MINE, ids=lambda p: p.name)
def test_thin_and_path_free(path):
    code = "\n".join(
        _without_comments(_source(c)) for c in _load(path)["cells"] if c["cell_type"] == "code"
    )
    assert "from src" not in code and "import src" not in code
    assert "from analysis" in code
    for bad in ("/work/", "data/raw", "outputs/", '.csv"', "read_csv("):
        assert bad not in code, f"{path.name}: {bad!r} (paths come from analysis.config)"
    for cell in _load(path)["cells"]:
        if cell["cell_type"] == "code":
            ast.parse(_source(cell))
            assert "def " not in _source(cell) or path.name == "90_explore.ipynb"


@pytest.mark.parametrize("path", MINE, ids=lambda p: p.name)
def test_papermill_help_notebook_documents_parameters(path):
    out = subprocess.run(
        [str(PAPERMILL), "--help-notebook", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    assert "trust: str" in out
    assert "slug of the organisation" in out


# -- execution -------------------------------------------------------------------------------


@pytest.fixture
def isolated_dirs(tmp_path, monkeypatch):
    """Point the kernel's analysis.config at temporary folders (it reads them at import)."""
    dirs = {name: tmp_path / name for name in ("raw", "processed", "outputs")}
    for d in dirs.values():
        d.mkdir()
    monkeypatch.setenv("ANALYSIS_RAW_DIR", str(dirs["raw"]))
    monkeypatch.setenv("ANALYSIS_PROCESSED_DIR", str(dirs["processed"]))
    monkeypatch.setenv("ANALYSIS_OUTPUTS_DIR", str(dirs["outputs"]))
    return dirs


def _execute(name: str, out: Path, **parameters) -> dict:
    import papermill as pm

    pm.execute_notebook(
        str(config.NOTEBOOKS_DIR / name),
        str(out),
        parameters=parameters,
        kernel_name="python3",
        progress_bar=False,
        cwd=str(config.NOTEBOOKS_DIR),
    )
    return _load(out)


def _html_outputs(nb: dict) -> str:
    parts = []
    for cell in nb["cells"]:
        for o in cell.get("outputs", []):
            html = o.get("data", {}).get("text/html", "")
            parts.append("".join(html) if isinstance(html, list) else html)
    return "\n".join(parts)


@pytest.mark.notebooks
@pytest.mark.parametrize(
    "name",
    [
        "02_outcome_scores.ipynb",
        "03_reoffending_factors.ipynb",
        "04_comparisons.ipynb",
        "05_sample_profile.ipynb",
        "10_report.ipynb",
    ],
)
def test_findings_notebooks_run_on_a_findings_table(tmp_path, isolated_dirs, name):
    out = isolated_dirs["outputs"] / "fixture"
    engine.write_findings(fixture_findings(), out, FindingsContext.for_run(fixture_instrument()))
    inst = tmp_path / "fixture.yaml"
    inst.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    nb = _execute(name, tmp_path / name, out_dir=str(out), instrument_path=str(inst))
    assert not [o for c in nb["cells"] for o in c.get("outputs", []) if o["output_type"] == "error"]
    if name == "10_report.ipynb":
        # The findings' context is internal: the report says so, and nothing else (the
        # publication case: test_report_banner_follows_the_findings_context). One run of the
        # report notebook serves both checks (it was executed twice on the same input).
        html = _html_outputs(nb)
        assert "Internal version" in html and "Publication version" not in html


@pytest.mark.notebooks
def test_ingest_and_explore_notebooks_build_what_they_need(tmp_path, isolated_dirs):
    from analysis.instrument import load_instrument

    inst = load_instrument()
    rows = valid_rows(inst, 24)
    for i, r in enumerate(rows):
        r["case_id"] = f"ZZCASE-{i:04d}"
        r["notes"] = "SECRETNOTE"
    write_xlsx(isolated_dirs["raw"] / f"{config.DEFAULT_TRUST}.xlsx", grid(rows))
    # 90 runs first: with no processed cases yet, it must ingest the workbook itself.
    nb90 = _execute("90_explore.ipynb", tmp_path / "90.ipynb")
    nb01 = _execute("01_ingest.ipynb", tmp_path / "01.ipynb")
    # 02 with defaults: no findings yet, so it builds them from data/raw/<trust>.xlsx.
    nb02 = _execute("02_outcome_scores.ipynb", tmp_path / "02.ipynb")
    for nb in (nb90, nb01, nb02):
        text = json.dumps(nb)  # cells and widget state
        assert "ZZCASE" not in text and "SECRETNOTE" not in text
    # The filtered view lives in an Output widget: its first rendering is in the widget state.
    assert "24 of 24 cases selected" in json.dumps(nb90)
    assert "Summary of scores" in _html_outputs(nb02)
    assert (isolated_dirs["outputs"] / config.DEFAULT_TRUST / "findings.csv").exists()


@pytest.mark.notebooks
@pytest.mark.parametrize(("audience", "banner"), [("publication", "Publication version")])
def test_report_banner_follows_the_findings_context(tmp_path, isolated_dirs, audience, banner):
    # The internal banner is checked on test_findings_notebooks_run_on_a_findings_table's run.
    out = isolated_dirs["outputs"] / "fixture"
    context = FindingsContext.for_run(fixture_instrument(), audience=audience)
    engine.write_findings(fixture_findings(), out, context)
    inst = tmp_path / "fixture.yaml"
    inst.write_text(FIXTURE_INSTRUMENT_YAML, encoding="utf-8")
    nb = _execute(
        "10_report.ipynb", tmp_path / "10.ipynb", out_dir=str(out), instrument_path=str(inst)
    )
    html = _html_outputs(nb)
    assert banner in html
    other = {"Publication version", "Internal version"} - {banner}
    assert not any(b in html for b in other)


@pytest.mark.notebooks
@pytest.mark.parametrize(
    ("trust", "words"),
    [
        ("wrenfield", "Inspection of probation services in Wrenfield"),
        ("tarnbrook", "Inspection of youth justice services in Tarnbrook"),
    ],
)
def test_every_notebook_runs_on_the_other_programmes(tmp_path, isolated_dirs, trust, words):
    """With only ``trust`` set, each notebook finds the programme its workbook names."""
    from analysis.synthetic import generate as synth

    synth.synthesise(trust, isolated_dirs["raw"] / f"{trust}.xlsx", n_cases=24)
    outputs = {}
    for name in [p.name for p in MINE]:  # 01 first: it ingests; 02 builds the findings
        nb = _execute(name, tmp_path / name, trust=trust)
        outs = [o for c in nb["cells"] for o in c.get("outputs", [])]
        errors = [o for o in outs if o["output_type"] == "error"]
        assert not errors, (name, errors)
        outputs[name] = _html_outputs(nb)
    assert words in outputs["10_report.ipynb"]
    assert "Outcome 1" not in outputs["10_report.ipynb"]
    assert "Ratings" in outputs["10_report.ipynb"]
