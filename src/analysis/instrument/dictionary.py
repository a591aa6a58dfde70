"""Render an instrument as a readable markdown data dictionary.

``python -m analysis dictionary [--instrument PATH] [--out FILE]`` lists the outcomes,
the criteria grid, the case details with their codes, every question grouped by
outcome and criterion (id, wording, answers and how they score, skip rule, outcomes
it counts towards), the factors, the consistency rules (grouped by kind, each with its
severity, conditions, what must follow and its source), and the number of scored
questions per outcome; an instrument with key questions, samples or ratings also has
those sections. ``--all DIR`` writes one dictionary per programme file of the package.
"""

from __future__ import annotations

import sys
from pathlib import Path

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.instrument import ABOVE, BELOW, NA, Instrument, load_instrument

_SCORE_WORDS = {
    ABOVE: "above the line",
    BELOW: "below the line",
    NA: "not counted",
    None: "category",
}


def _cell(text: object) -> str:
    """Text safe inside a markdown table cell."""
    return str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").strip()


def _table(header: list[str], rows: list[list[object]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines + [""]


def _answers(inst: Instrument, q) -> str:
    aset = inst.answer_set(q)
    if aset is None:
        lo = q.min if q.min is not None else 0
        return f"whole number {lo}" + (f" to {q.max}" if q.max is not None else " or more")
    return "; ".join(f"{c.code} ({_SCORE_WORDS.get(c.scores, c.scores)})" for c in aset.codes)


def _skip(inst: Instrument, q) -> str:
    if not q.has_rule:
        return "always"
    aset = inst.answer_set(q)
    rule = q.full_rule_text(lambda c: f"`{c}`")
    return f"only when {rule}; otherwise {aset.na_code if aset and aset.na_code else 'blank'}"


def _rules(inst: Instrument) -> list[str]:
    """The consistency rules by kind: every case must satisfy each one."""
    kinds: dict[str, list] = {}
    for r in inst.consistency:
        kinds.setdefault(r.kind, []).append(r)
    n_err = sum(r.severity == "error" for r in inst.consistency)
    out = [
        "## Consistency rules",
        "",
        f"{len(inst.consistency)} rules ({n_err} errors, {len(inst.consistency) - n_err} "
        "warnings). Ingest checks every case against every rule: when the conditions hold "
        "and the `then` question applies by its own skip rule, the answer must be one of the "
        "codes listed. Errors stop the ingest; warnings are printed and counted in "
        "`provenance.json`. See docs/instrument-format.md.",
        "",
        "| Kind | Rules |",
        "|---|---|",
        *(f"| {k} | {len(v)} |" for k, v in kinds.items()),
        "",
    ]
    for kind, rules in kinds.items():
        out += [f"### {kind}", ""]
        out += _table(
            ["Id", "Severity", "When", "Then", "Why", "Source"],
            [
                [
                    f"`{r.id}`",
                    r.severity,
                    r.when_text(lambda c: f"`{c}`"),
                    r.then_text(lambda c: f"`{c}`"),
                    r.message,
                    r.source,
                ]
                for r in rules
            ],
        )
    return out


def _spellings(inst: Instrument) -> list[str]:
    """The languages and aliases answers may be written in, each with its source."""
    groups: dict[tuple, list[str]] = {}
    scopes = [("every answer set", inst.answer_aliases)] + [
        (f"answer set `{a.id}`", a.aliases) for a in inst.answer_sets.values() if a.aliases
    ]
    for scope, aliases in scopes:
        for a in aliases:
            groups.setdefault((scope, a.language, a.code, a.source), []).append(a.text)
    if not groups and not inst.languages:
        return []
    out = ["## Answer spellings", ""]
    if inst.languages:
        names = ", ".join(f"{n} (`{k}`)" for k, n in inst.languages.items())
        out += [
            f"Answers may be written in: {names}. Besides each code itself (in any case and "
            "spacing), ingest reads these spellings; a spelling that means different answers "
            "in two languages is read only when the workbook's language is declared.",
            "",
        ]
    rows = [
        [scope, inst.languages.get(lang, lang) if lang else "any", code, ", ".join(texts), src]
        for (scope, lang, code, src), texts in groups.items()
    ]
    out += _table(["Applies to", "Language", "Code", "Spellings", "Source"], rows)
    return out


def _standards(inst: Instrument) -> list[str]:
    """Key questions, samples and ratings: only for an instrument that declares them."""
    out: list[str] = []
    if inst.key_questions:
        out += ["## Key questions", ""]
        rows = []
        for kq in inst.key_questions.values():
            if kq.combine == "judged":
                how = f"judged in `{kq.question}`"
            else:
                rule = f"at least {kq.at_least}" if kq.combine == "at_least" else kq.combine
                how = f"sufficient when {rule} of " + ", ".join(f"`{p}`" for p in kq.prompts)
            rows.append([f"`{kq.id}`", kq.criterion or "", kq.text, how])
        out += _table(["Id", "Number", "Key question", "Judgement"], rows)
    if inst.samples is not None:
        smp = inst.samples
        n_questions = {g.id: 0 for g in smp.groups}
        for q in inst.questions:
            if (g := inst.sample_of(q)) is not None:
                n_questions[g] += 1
        out += [
            "## Samples",
            "",
            f"The case detail `{smp.column}` says which sample a case is in.",
            "",
        ]
        out += _table(
            ["Id", "Code", "Label", "Criteria", "Questions"],
            [
                [f"`{g.id}`", g.code, g.label, ", ".join(g.criteria), n_questions[g.id]]
                for g in smp.groups
            ],
        )
    r = inst.ratings
    if r is not None:
        out += ["## Ratings", ""]
        out += _table(
            ["Rating", "Points", "Bands (percentage rested on)"],
            [
                [
                    lvl.label,
                    "" if lvl.points is None else lvl.points,
                    "; ".join(b.text() for b in r.bands.ranges if b.rating == lvl.id),
                ]
                for lvl in r.scale
            ],
        )
        rounding = (
            f"rounded half up to {r.bands.decimals} decimal places before banding"
            if r.bands.round_before_banding
            else "not rounded before banding"
        )
        out += [f"Percentages are {rounding}.", ""]
        words = {
            "lowest_key_question": "the lowest of its key questions",
            "mean": "the mean of its key questions",
            "measure": "one measure",
            "inspectors": "rated by inspectors (a separate input)",
        }
        rows = []
        for st in r.standards:
            on = ", ".join(f"`{k}`" for k in st.key_questions) or (
                f"`{st.measure}`" if st.measure else ""
            )
            counted = "yes" if st.id in r.overall_standards else "no"
            rows.append([st.id, st.title, words[st.rests_on], on, st.sample or "", counted])
        out += _table(
            ["Standard", "Title", "Rests on", "Key questions", "Sample", "In the overall"], rows
        )
        if r.overall is not None:
            bands = "; ".join(
                f"{r.levels[b.rating].label} {b.text(' points')}" for b in r.overall.ranges
            )
            out += [f"Overall rating: the sum of the standards' points; {bands}.", ""]
    return out


def render(inst: Instrument) -> str:
    """The whole data dictionary as markdown text."""
    pres = inst.presentation
    unit = pres.Unit if pres is not None else "Outcome"  # "Outcome", "Standard"
    units = pres.units if pres is not None else "outcomes"
    out: list[str] = [f"# Data dictionary: {inst.title}", ""]
    out += [
        f"- Instrument: `{inst.id}` version {inst.version}",
        f"- File: `{inst.path.name}` (sha256 `{inst.sha256[:12]}`)",
        f"- {unit} scores: {inst.outcome_method.replace('_', ' ')}",
    ]
    if inst.source:
        out.append(f"- Source: {' '.join(str(inst.source).split())}")
    out.append("")

    out += _spellings(inst)

    out += [f"## {units.capitalize()}", ""]
    out += _table(
        ["Id", "Number", "Name", "Short name"],
        [[o.id, o.number, o.name, o.short] for o in inst.outcomes.values()],
    )

    out += ["## Criteria grid", ""]
    stages = list(inst.stages.values())
    if stages:
        rows = []
        for o in inst.outcomes.values():
            row: list[object] = [f"{o.number}. {o.short}"]
            for s in stages:
                cells = [
                    f"{c.id} {c.title}" + ("" if c.case_assessed else " (not from cases)")
                    for c in inst.criteria.values()
                    if c.outcome == o.id and c.stage == s.id
                ]
                row.append("; ".join(cells))
            rows.append(row)
        out += _table(["Outcome", *(s.name for s in stages)], rows)
    else:
        out += _table(
            ["Criterion", "Outcome", "Title"],
            [[c.id, c.outcome, c.title] for c in inst.criteria.values()],
        )

    out += ["## Case details", ""]
    rows = []
    for d in inst.case_details.values():
        if d.codes:
            allowed = ", ".join(d.codes)
        elif d.type == "count":
            allowed = f"whole number {d.min if d.min is not None else 0}" + (
                f" to {d.max}" if d.max is not None else " or more"
            )
        else:
            allowed = ""
        notes = [d.description] if d.description else []
        if (d.sensitive or d.type in ("identifier", "free_text")) and (
            "never exported" not in d.description.lower()
        ):
            notes.append("never exported")
        if d.compare:
            notes.append("results are compared between its groups")
        rows.append(
            [f"`{d.id}`", d.label, d.type, "yes" if d.required else "no", allowed, "; ".join(notes)]
        )
    out += _table(["Id", "Label", "Type", "Required", "Codes / range", "Notes"], rows)

    out += ["## Questions", ""]
    for o in inst.outcomes.values():
        crits = [c for c in inst.criteria.values() if c.outcome == o.id]
        qs_by_crit = {
            c.id: [q for q in inst.questions.values() if q.criterion == c.id] for c in crits
        }
        if not any(qs_by_crit.values()):
            continue
        heading = (
            pres.say("unit_heading", number=o.number, name=o.name)
            if pres is not None
            else f"Outcome {o.number}: {o.name}"
        )
        out += [f"### {heading}", ""]
        for c in crits:
            qs = qs_by_crit[c.id]
            if not qs:
                continue
            out += [f"#### {c.id} {c.title}", ""]
            out += _table(
                ["Id", "Question", "Answers (scoring)", "Asked", "Counts towards"],
                [
                    [
                        f"`{q.id}`",
                        q.text,
                        _answers(inst, q),
                        _skip(inst, q),
                        ", ".join(q.outcomes) if q.scored else "not scored",
                    ]
                    for q in qs
                ],
            )

    if inst.factors:
        out += ["## Factors", ""]
        items = list(next(iter(inst.factors.values())).items)
        out += _table(
            ["Id", "Factor", *(i.capitalize() for i in items)],
            [
                [f"`{f.id}`", f.label, *(f"`{f.items.get(i, '')}`" for i in items)]
                for f in inst.factors.values()
            ],
        )

    out += _standards(inst)

    if inst.consistency:
        out += _rules(inst)

    out += [f"## Summary: scored questions per {unit.lower()}", ""]
    summary = inst.summary()
    out += _table(
        [unit, "Name", "Scored questions"],
        [[o.id, o.name, summary[o.id]] for o in inst.outcomes.values()],
    )
    n_scored = sum(1 for q in inst.questions.values() if q.scored)
    out += [
        f"{len(inst.questions)} questions in all, {n_scored} scored; a question may count "
        f"towards more than one {unit.lower()}.",
        "",
    ]
    return "\n".join(out)


def write_dictionary(
    out: str | Path | None, instrument: Instrument | str | Path | None = None
) -> str:
    """Render the dictionary; write it to ``out`` (atomically) when given. Returns the text."""
    inst = instrument if isinstance(instrument, Instrument) else load_instrument(instrument)
    text = render(inst)
    if out is not None:
        out = Path(out)
        if not out.parent.exists():
            raise UserError(f"folder {out.parent} does not exist")
        with atomic_path(out) as tmp:
            tmp.write_text(text, encoding="utf-8")
    return text


def dictionary_name(inst: Instrument) -> str:
    """The dictionary's file name, ``data-dictionary-<instrument id>.md``.

    The default instrument's is ``data-dictionary.md`` (the name the README links).
    """
    default = load_instrument()
    return "data-dictionary.md" if inst.id == default.id else f"data-dictionary-{inst.id}.md"


def write_all(out_dir: str | Path) -> list[Path]:
    """One dictionary per programme file of the package (``instrument/programmes/``).

    The default instrument's keeps its name, ``data-dictionary.md``; every other
    programme's is ``data-dictionary-<instrument id>.md``. Returns the paths written.
    """
    out_dir = Path(out_dir)
    if not out_dir.is_dir():
        raise UserError(f"folder {out_dir} does not exist")
    written = []
    for path in sorted(config.INSTRUMENTS_DIR.glob("*.yaml")):
        inst = load_instrument(path)
        target = out_dir / dictionary_name(inst)
        write_dictionary(target, inst)
        written.append(target)
    return written


def add_cli(parser) -> None:
    """Arguments of ``python -m analysis dictionary``."""
    parser.add_argument("--instrument", type=Path, help="instrument YAML (default: the package's)")
    parser.add_argument("--out", type=Path, help="markdown file to write (default: print)")
    parser.add_argument(
        "--all",
        type=Path,
        metavar="DIR",
        help="write one dictionary per programme file into DIR (data-dictionary.md for the "
        "default instrument, data-dictionary-<id>.md for the others)",
    )


def cli(args) -> int:
    """Print the dictionary, or write it to ``--out``; ``--all DIR``: every programme's."""
    if getattr(args, "all", None) is not None:
        if args.out is not None or args.instrument is not None:
            raise UserError(
                "--all writes every programme's dictionary: without --out or --instrument"
            )
        for p in write_all(args.all):
            print(f"wrote {p}")
        return 0
    text = write_dictionary(args.out, args.instrument)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.out}")
    return 0
