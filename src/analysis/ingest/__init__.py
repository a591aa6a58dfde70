"""Ingest: file guards, readers, normalisation and validation of case workbooks.

The public face of the package: every other phase imports these names from here, never
from the modules behind them (:mod:`~analysis.ingest.read` holds the entry points).
"""

from analysis.ingest.guards import DEFAULT_LIMITS, Limits
from analysis.ingest.organisation import (
    PROGRAMME_ID,
    Organisation,
    declared_instrument,
    organisation_of,
    programme_file,
)
from analysis.ingest.problems import IngestError, Problem
from analysis.ingest.ratings import (
    is_ratings_file,
    named_organisation,
    ratings_file,
    read_standard_ratings,
)
from analysis.ingest.read import (
    IngestResult,
    check_trust,
    ingest_file,
    print_warnings,
    read_cases,
)

__all__ = [
    "DEFAULT_LIMITS",
    "PROGRAMME_ID",
    "IngestError",
    "IngestResult",
    "Limits",
    "Organisation",
    "Problem",
    "check_trust",
    "declared_instrument",
    "ingest_file",
    "print_warnings",
    "is_ratings_file",
    "named_organisation",
    "organisation_of",
    "programme_file",
    "ratings_file",
    "read_cases",
    "read_standard_ratings",
]
