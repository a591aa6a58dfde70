"""Render an instrument as a readable markdown data dictionary.

``python -m analysis dictionary [--instrument PATH] [--out FILE]`` lists the outcomes,
the criteria grid, the case details with their codes, every question grouped by
outcome and criterion (id, wording, answers and how they score, skip rule, outcomes
it counts towards), the factors, the consistency rules (grouped by kind, each with its
severity, conditions, what must follow and its source), and the number of scored
questions per outcome.
"""

from __future__ import annotations

import sys
from pathlib import Path

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


def render(inst: Instrument) -> str:
    """The whole data dictionary as markdown text."""
    out: list[str] = [f"# Data dictionary: {inst.title}", ""]
    out += [
        f"- Instrument: `{inst.id}` version {inst.version}",
        f"- File: `{inst.path.name}` (sha256 `{inst.sha256[:12]}`)",
        f"- Outcome scores: {inst.outcome_method.replace('_', ' ')}",
    ]
    if inst.source:
        out.append(f"- Source: {' '.join(str(inst.source).split())}")
    out.append("")

    out += _spellings(inst)

    out += ["## Outcomes", ""]
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
        out += [f"### Outcome {o.number}: {o.name}", ""]
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

    if inst.consistency:
        out += _rules(inst)

    out += ["## Summary: scored questions per outcome", ""]
    summary = inst.summary()
    out += _table(
        ["Outcome", "Name", "Scored questions"],
        [[o.id, o.name, summary[o.id]] for o in inst.outcomes.values()],
    )
    n_scored = sum(1 for q in inst.questions.values() if q.scored)
    out += [
        f"{len(inst.questions)} questions in all, {n_scored} scored; a question may count "
        "towards more than one outcome.",
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


def add_cli(parser) -> None:
    """Arguments of ``python -m analysis dictionary``."""
    parser.add_argument("--instrument", type=Path, help="instrument YAML (default: the package's)")
    parser.add_argument("--out", type=Path, help="markdown file to write (default: print)")


def cli(args) -> int:
    """Print the dictionary, or write it to ``--out``."""
    text = write_dictionary(args.out, args.instrument)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(f"wrote {args.out}")
    return 0
