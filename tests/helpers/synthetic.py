"""What the synthetic-phase tests share: the tiny instrument on disk and a question spec."""

from __future__ import annotations

from pathlib import Path

from test_synth import TINY_INSTRUMENT

from analysis.instrument import Instrument, load_instrument
from analysis.synthetic.solve import QuestionSpec


def tiny_instrument(tmp_path: Path) -> Instrument:
    """The synthetic tests' tiny instrument, written to ``tmp_path`` and loaded."""
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_INSTRUMENT, encoding="utf-8")
    return load_instrument(path)


def spec(qid="q_checks", pool=60, prefer=45, rate=0.6, **kw) -> QuestionSpec:
    """A question spec with the defaults the solver and fitting tests work from."""
    return QuestionSpec(qid, pool=pool, prefer_relevant=prefer, prefer_rate=rate, **kw)
