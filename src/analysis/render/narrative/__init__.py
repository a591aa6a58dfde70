"""Report prose and tables drafted from the findings table, as HTML fragments.

The report notebook (``notebooks/10_report.ipynb``) is a thin sequence of calls
to these functions. Every number comes from the findings table and is worded by
:mod:`analysis.render.present`; every string that came from a user (organisation and
LDU names, group labels, instrument text) is HTML-escaped by the fragment templates
(:mod:`analysis.render.html`, autoescaping on), at the single point where it meets markup.

Rules kept throughout:

- suppressed cells (flag ``c`` or ``secondary``) show ``[c]`` and are never
  quoted in prose, and a cell's numerator is never shown next to a ``[c]``;
- small bases (flag ``low``) are marked ``[u]`` (low reliability) and are never chosen as a
  key strength or area for improvement, because one case moves them a lot;
- differences between groups are only reported as differences when they
  survive the Benjamini-Hochberg adjustment, and even then with a caveat.

One module per part of the report: :mod:`.chapters` (front matter and outcome
chapters), :mod:`.comparisons`, :mod:`.appendices`, and :mod:`.lookup` (what they read).
"""

from analysis.render.narrative.appendices import (
    appendix_heading,
    criteria_grid,
    disclosure_notes,
    methods,
    profile_columns,
    provenance_section,
    reproduction_section,
    sample_profile_intro,
    scoring_approach,
)
from analysis.render.narrative.chapters import (
    breakdown_questions,
    breakdown_table,
    contents,
    factor_table,
    key_findings,
    outcome_header,
    question_table,
    score_sentence,
    summary_table,
    title_block,
)
from analysis.render.narrative.comparisons import (
    comparison_section,
    comparison_vars,
    comparisons_intro,
    surviving_differences,
)
from analysis.render.narrative.lookup import (
    n_cases,
    outcome_phrase,
    question_rows,
    rows,
    score_row,
)

__all__ = [
    "appendix_heading",
    "breakdown_questions",
    "breakdown_table",
    "comparison_section",
    "comparison_vars",
    "comparisons_intro",
    "contents",
    "criteria_grid",
    "disclosure_notes",
    "factor_table",
    "key_findings",
    "methods",
    "n_cases",
    "outcome_header",
    "outcome_phrase",
    "profile_columns",
    "provenance_section",
    "question_rows",
    "question_table",
    "reproduction_section",
    "rows",
    "sample_profile_intro",
    "score_row",
    "score_sentence",
    "scoring_approach",
    "summary_table",
    "surviving_differences",
    "title_block",
]
