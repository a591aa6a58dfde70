"""test_agreement's checks on the odd-numbered half of the demo trusts, with their aggregate.

A module of its own so that pytest-xdist (``--dist loadfile``) runs it in another worker
than test_agreement.py's even-numbered half: see that module's docstring.
"""

from __future__ import annotations

from test_agreement import *  # noqa: F403 (the same tests and fixtures)
from test_agreement import inst, rendered  # noqa: F401 (the fixtures, named)

PART = 1
