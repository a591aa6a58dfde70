"""A run's charts, built once: the pipeline stages them, the report notebook reads them.

``python -m analysis report`` needs every chart twice: as static files (``charts/*.png|svg``,
drawn in the pipeline's process) and as interactive figures (in the notebook's kernel).
Building them from the findings (:func:`analysis.render.charts.all_charts`) took a second
to three of CPU per organisation on each side (issue 15). The pipeline now builds them once
and writes them, as JSON, into its build folder (:data:`STAGED`) for the notebook, which
reads them through :func:`analysis.pipeline.report.place_charts`.

The file is the pipeline's own: it names the findings file it was built from (its sha256),
is only read when that file is unchanged, and is removed before the outputs are committed,
so users never see it. A notebook run by hand, with no such file beside the findings,
builds the charts itself as before. The charts are built in the pipeline's side thread
while the kernel starts: the notebook waits for them while :data:`PENDING` exists.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from analysis.fileio import atomic_path

if TYPE_CHECKING:
    import threading

    import pandas as pd

    from analysis.instrument import Instrument

#: The staged charts, in the run's build folder (removed before the outputs are committed).
STAGED = ".charts.json"
#: Present while the pipeline is still building the charts.
PENDING = ".charts.pending"
#: Longest the notebook waits for the pipeline's charts before building its own (seconds).
WAIT_LIMIT = 600.0
#: The findings file the charts were built from, checked before they are used.
FINDINGS_FILE = "findings.csv"


def _findings_digest(folder: Path) -> str | None:
    try:
        return hashlib.sha256((folder / FINDINGS_FILE).read_bytes()).hexdigest()
    except OSError:
        return None


def encode(chart: Any) -> dict[str, Any]:
    """One :class:`~analysis.render.charts.Chart` as JSON-ready values (its frame as records).

    Floats go through :mod:`json` as ``repr`` does, so every number reads back exactly
    (NaN as ``NaN``).
    """
    values = {f.name: getattr(chart, f.name) for f in dataclasses.fields(chart) if f.name != "data"}
    split = chart.data.to_dict(orient="split")
    return {**values, "columns": split["columns"], "rows": split["data"]}


def decode(spec: dict[str, Any]) -> Any:
    """The :class:`~analysis.render.charts.Chart` :func:`encode` wrote."""
    import pandas as pd

    from analysis.render.charts import Chart
    from analysis.render.charts.model import frame

    spec = dict(spec)
    columns, rows = spec.pop("columns"), spec.pop("rows")
    data = frame(dict(zip(columns, row, strict=True)) for row in rows)
    if list(data.columns) != list(columns):  # a frame with other columns: kept as written
        data = pd.DataFrame(rows, columns=columns)
    return Chart(**spec, data=data)


def stageable(charts: list[Any]) -> bool:
    """Whether every chart is a plain :class:`~analysis.render.charts.Chart` (JSON round-trips)."""
    from analysis.render.charts import Chart

    return all(type(c) is Chart for c in charts)


def mark_pending(build: Path) -> None:
    """Say that the charts are on their way (before the notebook starts)."""
    (build / PENDING).touch()


def write(build: Path, charts: list[Any]) -> None:
    """Stage ``charts`` for the notebook, then clear :data:`PENDING`.

    Charts that would not read back as they are (another class) are not staged: the
    notebook then builds its own.
    """
    try:
        if not stageable(charts):
            return
        doc = {"findings_sha256": _findings_digest(build), "charts": [encode(c) for c in charts]}
        try:
            text = json.dumps(doc, ensure_ascii=False)
        except (TypeError, ValueError):
            return  # a value JSON cannot hold (a builder's numpy scalar): the notebook builds
        with atomic_path(build / STAGED) as tmp:
            tmp.write_text(text, encoding="utf-8")
    finally:
        done(build)


def done(build: Path) -> None:
    """Clear :data:`PENDING` (the charts are staged, or will not be)."""
    (build / PENDING).unlink(missing_ok=True)


def remove(build: Path) -> None:
    """Remove the staged charts, once the notebook has run: they are not an output."""
    done(build)
    (build / STAGED).unlink(missing_ok=True)


def load(folder: str | Path | None, findings: pd.DataFrame, instrument: Instrument) -> list[Any]:
    """The charts staged in ``folder`` for these findings, else :func:`all_charts`' own.

    Waits (at most :data:`WAIT_LIMIT` seconds) while the pipeline is still building them.
    """
    from analysis.render import charts

    if folder:
        folder = Path(folder)
        deadline = time.monotonic() + WAIT_LIMIT
        while (folder / PENDING).exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        staged = folder / STAGED
        if staged.is_file():
            doc = json.loads(staged.read_text(encoding="utf-8"))
            if doc.get("findings_sha256") == _findings_digest(folder):
                return [decode(spec) for spec in doc["charts"]]
    return charts.all_charts(findings, instrument)


def write_tables_and_charts(
    findings: pd.DataFrame,
    inst: Instrument,
    build: Path,
    audience: str,
    synthetic: bool = False,
    stop: threading.Event | None = None,
) -> dict[str, float]:
    """Build the charts once, write ``tables.xlsx`` and ``charts/``; return each part's seconds.

    The charts are staged for the notebook, which waits for them (:func:`write`, :func:`load`).
    ``synthetic``: a demo workbook. ``stop`` set (Ctrl-C, SIGTERM) ends it before the next
    chart: the run waits for this writer before removing its build (issue 13, R03).
    """
    from analysis.render import charts, tables  # heavy: not for the notebooks' imports

    def stopped() -> bool:
        return stop is not None and stop.is_set()

    times, t = {}, time.monotonic()
    try:
        # One chart built at a time, and only while not stopped: a stop waits for the chart
        # in hand, not for every chart to be built first (R03b: seconds on a loaded machine).
        built: list = []
        pending = charts.iter_charts(findings, inst)
        while not stopped() and (chart := next(pending, None)) is not None:
            built.append(chart)
        if not stopped():
            write(build, built)
    finally:
        done(build)  # built or not, the notebook stops waiting
    times["charts_build"], t = time.monotonic() - t, time.monotonic()
    if stopped():  # the run's build is removed: no tables.xlsx (seconds, and no stop point)
        return times
    tables.write_tables(findings, inst, build / "tables.xlsx", audience, synthetic=synthetic)
    times["tables"], t = time.monotonic() - t, time.monotonic()
    (build / "charts").mkdir()
    for chart in built:
        if stopped():
            break
        charts.save_static(chart, build / "charts")
    rated = charts.ratings_chart(findings, inst)
    if rated is not None and not stopped():
        rated.save_static(build / "charts")  # its bars in their ratings' colours
    times["static_charts"] = time.monotonic() - t
    return times
