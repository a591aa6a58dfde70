"""The rating step against real published results (issue 16, point 5).

``tests/data/published_ratings.csv`` (collected and cited row by row in
``docs/programmes-sources.md``) holds the youth justice inspections' published overall
ratings with their points out of 36, and one whole published ratings table (East Sussex
2024). The rating rules declared in an instrument file must reproduce every usable one:

- overall step: each published points total, placed in the declared overall bands, gives
  the published overall rating (81 reports);
- standards to points: the points of East Sussex's twelve counted standard ratings sum to
  its published total (25) and band to its published rating (Good).

No published standard rating could be read with the key-question percentages it rests on
(``docs/programmes-sources.md``: every ``kq*_pct`` is blank), so the percentage-to-standard
step has no published test data; the hand-worked tests in ``tests/test_ratings.py`` cover it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from analysis import config
from analysis.engine.ratings import rating_rows
from analysis.engine.scoring import judgement_matrix
from analysis.instrument import load_instrument

DATA = Path(__file__).parent / "data"
PUBLISHED = DATA / "published_ratings.csv"
FIXTURE = DATA / "instruments" / "youth-2021-ratings.yaml"


def youth_rating_files() -> list[Path]:
    """The test's rules file, and every shipped youth programme that declares ratings."""
    files = [FIXTURE]
    for path in sorted((config.PACKAGE_DIR / "instrument" / "programmes").glob("*youth*.yaml")):
        if load_instrument(path).ratings is not None:
            files.append(path)
    return files


@pytest.fixture(scope="module")
def published() -> pd.DataFrame:
    df = pd.read_csv(PUBLISHED, dtype=str, keep_default_na=False)
    return df[(df["programme"] == "youth") & (df["status"] == "usable")]


@pytest.fixture(scope="module", params=youth_rating_files(), ids=lambda p: p.stem)
def youth(request):
    return load_instrument(request.param)


def test_the_data_file_has_what_the_test_needs(published):
    overall = published[(published["level"] == "overall") & (published["points"] != "")]
    assert len(overall) == 81
    assert set(overall["points_max"]) == {"36"}
    # every row cites its source: an address, or where it was read (a council's report)
    assert ((published["source_url"] != "") | (published["via"] != "")).all()


def test_every_published_overall_rating_is_reproduced_from_its_points(youth, published):
    overall = published[(published["level"] == "overall") & (published["points"] != "")]
    r = youth.ratings
    assert len(r.overall_standards) * max(lvl.points for lvl in r.scale) == 36
    wrong = []
    for row in overall.itertuples(index=False):
        got = r.overall_rating(float(row.points))
        want = r.rating_of_label(row.published_rating)
        assert want is not None, row.published_rating
        if got != want:
            wrong.append(f"{row.organisation} {row.publication_date}: {row.points}/36 -> {got}")
    assert wrong == [], wrong


def test_a_published_ratings_table_sums_to_its_published_total(youth, published):
    std = published[published["level"] == "standard"]
    r = youth.ratings
    for (org, date), rows in std.groupby(["organisation", "publication_date"]):
        counted = rows[rows["counts_to_overall"] == "yes"]
        # the standards that count are the instrument's; resettlement (not counted) is not
        assert set(counted["standard_id"]) == set(r.overall_standards), org
        assert set(rows.loc[rows["counts_to_overall"] == "no", "standard_id"]).isdisjoint(
            r.overall_standards
        )
        total = sum(r.points(r.rating_of_label(x)) for x in counted["published_rating"])
        head = published[
            (published["level"] == "overall")
            & (published["organisation"] == org)
            & (published["publication_date"] == date)
        ].iloc[0]
        # East Sussex: 5 Outstanding, 4 Good, 2 RI, 1 Inadequate = 15 + 8 + 2 + 0 = 25
        assert total == float(head["points"]), org
        assert r.overall_rating(total) == r.rating_of_label(head["published_rating"]), org


def test_the_engine_gives_the_same_overall_rating_from_a_published_table(published):
    # East Sussex 2024 through the engine: the five inspector-rated standards from the table,
    # and cases whose one key question per standard sits mid-band of the published rating
    # (the percentages are not published; these are chosen: Outstanding 9/10, Good 7/10,
    # RI 6/10, Inadequate 3/10). The engine's overall row must be 25 points, Good.
    inst = load_instrument(FIXTURE)
    r = inst.ratings
    std = published[
        (published["level"] == "standard") & (published["organisation"] == "East Sussex")
    ]
    rating = {row.standard_id: r.rating_of_label(row.published_rating) for row in std.itertuples()}
    yes = {"outstanding": 9, "good": 7, "requires_improvement": 6, "inadequate": 3}
    standards = r.by_id
    given = {s: rating[s] for s in standards if standards[s].rests_on == "inspectors"}
    rows = []
    for sample, code in (("court", "Court disposal"), ("out_of_court", "Out-of-court disposal")):
        qs = {
            inst.key_questions[standards[s].key_questions[0]].question: yes[rating[s]]
            for s in standards
            if standards[s].sample == sample
        }
        for i in range(10):
            row = {"case_id": f"{sample}{i}", "disposal": code}
            row.update({q: "Not applicable" for q in inst.questions})
            row.update({q: "Yes" if i < k else "No" for q, k in qs.items()})
            rows.append(row)
    cases = pd.DataFrame(rows)
    out = rating_rows(judgement_matrix(cases, inst), cases, inst, given).set_index("measure_id")
    for sid, want in rating.items():
        assert out.loc[f"rating_{sid}", "category"] == r.levels[want].label, sid
    assert out.loc["rating_overall", "numerator"] == 25
    assert out.loc["rating_overall", "category"] == "Good"
