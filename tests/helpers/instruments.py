"""YAML shared by the tiny hand-written test instruments.

Each test file keeps its own outcomes, criteria, case details and questions next
to the expectations worked out from them; only the answer sets, identical in all
of them, live here, with the languages and aliases answers may be written in.
"""

#: ``languages`` and ``answer_aliases`` (English, Welsh and language-free spellings), then
#: the ``answer_sets`` block: ``yn`` and the four-way ``review`` set.
ANSWER_SETS = """\
languages: {en: English, cy: Welsh}
answer_aliases:
  - language: null
    source: test fixture (Excel TRUE/FALSE cells; 1/0 tallies)
    answers: {"Yes": ["TRUE", "1"], "No": ["FALSE", "0"]}
  - language: en
    source: test fixture (printed yes/no forms; OED N/A)
    answers: {"Yes": ["Y"], "No": ["N"], "Not applicable": ["N/A", "NA", "n.a."]}
  - language: cy
    source: test fixture (BBC Learn Welsh grammar, Atebion)
    answers:
      "Yes": ["Ie", "Do"]
      "No": ["Na", "Naddo", "Nac ydy"]
      "Not applicable": ["Amherthnasol"]
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
