"""YAML shared by the tiny hand-written test instruments.

Each test file keeps its own outcomes, criteria, case details and questions next
to the expectations worked out from them; only the answer sets, identical in all
of them, live here.
"""

#: The ``answer_sets`` block: ``yn`` and the four-way ``review`` set.
ANSWER_SETS = """\
answer_sets:
  yn:
    label: Yes / No / Not applicable
    codes:
      - {code: "Yes", scores: above}
      - {code: "No", scores: below}
      - {code: "Not applicable", scores: na}
  review:
    label: Review
    codes:
      - {code: "Sufficient review", scores: above}
      - {code: "Insufficient review", scores: below}
      - {code: "No review", scores: below}
      - {code: "Not applicable", scores: na}
"""
