"""Check candidate HMI Probation rating rules against tests/data/published_ratings.csv.

A research note in code, not part of the package: the rating-step test proper is written against
the engine. It applies each candidate rule to every usable row and prints what it reproduces, then
prints the range of band limits the rows allow, so a reader sees which limits the data pin down.

Run: ``.venv/bin/python scripts/check_published_ratings.py``
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

CSV = Path(__file__).resolve().parents[1] / "tests" / "data" / "published_ratings.csv"
ORDER = ["Inadequate", "Requires improvement", "Good", "Outstanding"]

# Candidate overall bands on the 0-36 scale: lowest points of each rating above Inadequate.
OVERALL_CANDIDATES = {
    "declared (0-6 / 7-18 / 19-30 / 31-36)": (7, 19, 31),
    "as in the brief (0-5 / 6-15 / 16-25 / 26-36)": (6, 16, 26),
}
POINTS = {"Inadequate": 0, "Requires improvement": 1, "Good": 2, "Outstanding": 3}
# Standard bands on the lowest key-question percentage (lower limits, inclusive).
STANDARD_BANDS = (50, 65, 80)


def band(value: float, lower_limits: tuple[int, int, int]) -> str:
    """Rating for ``value`` given the inclusive lower limits of RI, Good and Outstanding."""
    rank = sum(value >= limit for limit in lower_limits)
    return ORDER[rank]


def main() -> int:
    """Print what each candidate rule reproduces; return the exit status."""
    rows = list(csv.DictReader(CSV.open(encoding="utf-8")))
    usable = [r for r in rows if r["status"] == "usable"]
    overall = [r for r in usable if r["level"] == "overall" and r["points"]]
    standard = [r for r in usable if r["level"] == "standard"]
    print(
        f"{len(rows)} rows; {len(usable)} usable; {len(overall)} overall, {len(standard)} standard"
    )

    for label, limits in OVERALL_CANDIDATES.items():
        misses = [r for r in overall if band(int(r["points"]), limits) != r["published_rating"]]
        print(f"overall rule {label}: reproduces {len(overall) - len(misses)}/{len(overall)}")
        for r in misses:
            got = band(int(r["points"]), limits)
            print(f"    miss: {r['organisation']} {r['publication_date']} {r['points']}/36 ")
            print(f"          published {r['published_rating']}, rule gives {got}")

    # What the data pin down: for each rating, the points observed.
    for rating in ORDER:
        pts = sorted(int(r["points"]) for r in overall if r["published_rating"] == rating)
        if pts:
            print(f"  {rating:21} points observed {pts[0]}..{pts[-1]} (n={len(pts)})")

    # Overall points from the standard ratings, where a report's whole table was read.
    by_org: dict[tuple[str, str], list[dict[str, str]]] = {}
    for r in standard:
        by_org.setdefault((r["organisation"], r["publication_date"]), []).append(r)
    for (org, date), rows_ in sorted(by_org.items()):
        counted = [r for r in rows_ if r["counts_to_overall"] == "yes"]
        if not counted:
            continue
        total = sum(POINTS[r["published_rating"]] for r in counted)
        match = [r for r in overall if (r["organisation"], r["publication_date"]) == (org, date)]
        published = f"{match[0]['points']}/36 {match[0]['published_rating']}" if match else "none"
        got = band(total, OVERALL_CANDIDATES["declared (0-6 / 7-18 / 19-30 / 31-36)"])
        print(f"points from {len(counted)} standard ratings, {org} {date}: {total} -> {got}")
        print(f"    published: {published}")

    for r in standard:
        pcts = [float(r[k]) for k in ("kq1_pct", "kq2_pct", "kq3_pct") if r[k]]
        if not pcts:
            continue
        got = band(min(pcts), STANDARD_BANDS)
        flag = "ok" if got == r["published_rating"] else "MISS"
        print(f"standard {flag}: {r['organisation']} {r['standard_id']} min {min(pcts)} -> {got}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
