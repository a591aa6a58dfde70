"""Engine: scores, breakdowns, factors, comparisons and the one findings table.

The public face of the engine: other phases import its names from here
(``from analysis.engine import analyse, band, quantifier``). Names are resolved lazily
(PEP 562), so importing this package loads no engine module, and a name loads only the
module that defines it: the wording functions do not pull in scipy, statsmodels or the
scoring code, which keeps command start-up fast.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the engine module that defines it (one sorted entry per line, so that
#: additions merge cleanly). A name must not be a module's name too: once that module is
#: imported, the package attribute would be the module, not the name.
_EXPORTS: dict[str, str] = {
    "AUDIENCES": "disclosure",
    "Explorer": "explore",
    "FINDINGS_COLUMNS": "findings",
    "KINDS": "findings",
    "analyse": "run",
    "apply_disclosure": "disclosure",
    "band": "wording",
    "conform": "findings",
    "empty_findings": "findings",
    "flag_set": "findings",
    "judgement_matrix": "scoring",
    "number": "findings",
    "percent_text": "wording",
    "quantifier": "wording",
    "wilson": "stats",
    "write_findings": "run",
}

__all__ = list(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Import the module behind a public name on first use (PEP 562)."""
    try:
        module = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}") from None
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later look-ups find it without coming here
    return value


def __dir__() -> list[str]:
    """The module's attributes and every public name, loaded or not."""
    return sorted(set(globals()) | set(__all__))
