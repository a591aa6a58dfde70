"""Instrument: the programme's questions, answer sets and rules, read from data files.

The public face of the package: every other phase imports these names from here, never
from the modules behind them.
"""

from analysis.instrument.loader import declared_programme, load_instrument
from analysis.instrument.model import (
    ABOVE,
    BELOW,
    NA,
    AnswerAlias,
    AnswerCode,
    AnswerSet,
    CaseDetail,
    ConsistencyRule,
    Criterion,
    Factor,
    Instrument,
    InstrumentError,
    Outcome,
    Question,
    Stage,
    answer_key,
)
from analysis.instrument.presentation import PHRASES, Phrase, Presentation

__all__ = [
    "ABOVE",
    "BELOW",
    "NA",
    "AnswerAlias",
    "AnswerCode",
    "AnswerSet",
    "CaseDetail",
    "ConsistencyRule",
    "Criterion",
    "Factor",
    "Instrument",
    "InstrumentError",
    "Outcome",
    "PHRASES",
    "Phrase",
    "Presentation",
    "Question",
    "Stage",
    "answer_key",
    "declared_programme",
    "load_instrument",
]
