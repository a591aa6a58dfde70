"""Load an instrument file: read the YAML, expand the factor items, check it is coherent.

Factor item templates become ordinary questions; every reference must resolve (criteria,
outcomes, answer sets, skip-rule columns and values), ids must be unique and skip rules
must not form a cycle. Questions are put in an order where every skip rule names a
column before it. See ``docs/instrument-format.md``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

import yaml

from analysis import config
from analysis.fileio import read_small_file
from analysis.instrument.model import (
    ABOVE,
    BELOW,
    NA,
    AnswerAlias,
    AnswerCode,
    AnswerSet,
    CaseDetail,
    Criterion,
    DateCondition,
    Factor,
    Instrument,
    InstrumentError,
    Outcome,
    Question,
    Stage,
    answer_key,
)
from analysis.instrument.presentation import load_presentation
from analysis.instrument.rules import check_rules, parse_rules
from analysis.instrument.standards import apply_samples, check_sections, parse_sections

#: Refuse instrument files larger than this (bytes): the IAOW file is ~80 kB.
MAX_INSTRUMENT_BYTES = 5 * 1024**2

#: What an answer code may score as (None: a descriptive category).
_SCORES = {ABOVE, BELOW, NA, None}


def _tuple(v: Any, where: str = "") -> tuple:
    if v is None:
        return ()
    items = v if isinstance(v, (list, tuple)) else [v]
    for x in items:
        # YAML 1.1 reads unquoted Yes/No/On/Off as booleans: a silent skip-rule mismatch.
        if isinstance(x, bool):
            raise InstrumentError(f'{where}: value {x!r} is a YAML boolean; quote it, e.g. "Yes"')
    return tuple(str(x) for x in items)


#: Keys each kind of entry may carry; anything else is a typo the loader refuses.
_QUESTION_KEYS = {
    "id",
    "text",
    "short",
    "criterion",
    "answers",
    "outcomes",
    "scored",
    "applies_when",
    "chart",
    "min",
    "max",
    "description",
    "source",
}
_DETAIL_KEYS = {
    "id",
    "label",
    "type",
    "required",
    "codes",
    "min",
    "max",
    "sensitive",
    "description",
    "compare",
    "source",
}


#: Top-level sections of an instrument file; anything else is refused, never ignored
#: (``consistency``, the consistency rules, and ``presentation``, the report's words, are
#: read by their own modules).
_TOP_KEYS = {
    "id",
    "version",
    "wording",
    "title",
    "source",
    "scoring",
    "languages",
    "answer_aliases",
    "answer_sets",
    "outcomes",
    "stages",
    "criteria",
    "case_details",
    "factor_items",
    "factor_table",
    "factors",
    "questions",
    "consistency",
    "presentation",
    "key_questions",
    "ratings",
    "samples",
}
_OUTCOME_KEYS = {"id", "number", "name", "short", "phrase", "source"}
_STAGE_KEYS = {"id", "number", "name"}
_CRITERION_KEYS = {"id", "outcome", "stage", "title", "case_assessed", "source"}
_SET_KEYS = {"label", "codes", "aliases"}
_CODE_KEYS = {"code", "scores", "label"}
_FACTOR_KEYS = {"id", "label"}
_SCORING_KEYS = {"outcome_method"}
#: Case-detail types (a ``date`` is read as a date and refused when it is not one).
DETAIL_TYPES = ("identifier", "category", "text", "count", "free_text", "date")


def _known_keys(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise InstrumentError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(allowed)})")


#: Key of ``applies_when`` holding alternatives (a column may not have this id).
ANY_OF = "any_of"
#: Key of ``applies_when`` holding date comparisons (a column may not have this id).
DATES = "dates"
_DATE_KEYS = {"column", "before", "on_or_before", "after", "on_or_after", "within_days", "of"}


def _date_conditions(spec: Any, where: str) -> tuple[DateCondition, ...]:
    """``applies_when: dates``: a list of date comparisons, all of which must hold.

    Each is ``{column: a, before: b}`` (or ``on_or_before``, ``after``, ``on_or_after``) or
    ``{column: a, within_days: N, of: b}``.
    """
    if spec is None:
        return ()
    if not isinstance(spec, list) or not spec:
        raise InstrumentError(f"{where}: applies_when {DATES} must be a list of comparisons")
    out = []
    for i, c in enumerate(spec, start=1):
        at = f"{where}: applies_when {DATES} {i}"
        if not isinstance(c, dict):
            raise InstrumentError(f"{at}: must be a mapping such as {{column: a, before: b}}")
        _known_keys(c, _DATE_KEYS, at)
        ops = [k for k in ("before", "on_or_before", "after", "on_or_after") if k in c]
        if "within_days" in c:
            days = c["within_days"]
            if (
                ops
                or "of" not in c
                or isinstance(days, bool)
                or not isinstance(days, int)
                or days < 0
            ):
                raise InstrumentError(
                    f"{at}: within_days needs a whole number of days >= 0 and of: <date column>, "
                    "and no other comparison"
                )
            out.append(DateCondition(str(c.get("column")), "within_days", str(c["of"]), days))
            continue
        if len(ops) != 1 or "of" in c or "column" not in c:
            raise InstrumentError(
                f"{at}: give column and exactly one of before, on_or_before, after, on_or_after "
                "(or within_days with of)"
            )
        out.append(DateCondition(str(c["column"]), ops[0], str(c[ops[0]])))
    return tuple(out)


def _applies(
    spec: Any, where: str
) -> tuple[dict[str, tuple[str, ...]], tuple[dict[str, tuple[str, ...]], ...]]:
    """``applies_when``: its conditions (all must hold) and its ``any_of`` alternatives."""
    if spec is None:
        return {}, ()
    if not isinstance(spec, dict):
        raise InstrumentError(f"{where}: applies_when must be a mapping of column -> values")
    spec = dict(spec)
    spec.pop(DATES, None)  # read by _date_conditions
    any_of = spec.pop(ANY_OF, None)
    plain = {str(k): _tuple(v, f"{where}: applies_when {k}") for k, v in spec.items()}
    if any_of is None:
        return plain, ()
    if (
        not isinstance(any_of, list)
        or len(any_of) < 2
        or not all(isinstance(a, dict) and a for a in any_of)
    ):
        raise InstrumentError(
            f"{where}: applies_when {ANY_OF} must be a list of two or more mappings of "
            "column -> values (the question applies when any one of them holds)"
        )
    alts = tuple(
        {str(k): _tuple(v, f"{where}: applies_when {ANY_OF} {k}") for k, v in a.items()}
        for a in any_of
    )
    return plain, alts


def _format_rule(rule: dict[str, Any], fid: str) -> dict[str, Any]:
    """A factor template's skip rule with ``{id}`` filled into its column names."""
    out: dict[str, Any] = {}
    for k, v in rule.items():
        if k == ANY_OF and isinstance(v, list):
            out[k] = [
                {c.format(id=fid): vals for c, vals in a.items()} if isinstance(a, dict) else a
                for a in v
            ]
        else:
            out[k.format(id=fid)] = v
    return out


def load_instrument(path: str | Path | None = None) -> Instrument:
    """Load, expand and check an instrument file.

    Parameters
    ----------
    path
        A YAML instrument file; the package's default instrument when omitted.

    Returns
    -------
    Instrument
        With factor items expanded into questions.

    Raises
    ------
    InstrumentError
        If the file is missing, is not YAML, or is incoherent.
    """
    path = Path(path) if path else config.DEFAULT_INSTRUMENT
    blob = _read_bounded(path)
    try:
        # libyaml's safe loader when built in: the same YAML, six times faster to read.
        raw = yaml.load(blob, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise InstrumentError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InstrumentError(f"{path}: expected a mapping at the top level")
    try:
        return _build(raw, path, hashlib.sha256(blob).hexdigest())
    except (KeyError, TypeError) as exc:
        raise InstrumentError(f"{path}: missing or malformed entry {exc}") from None
    except InstrumentError as exc:
        # Every refusal names the file (the section checks name it already).
        msg = str(exc)
        raise InstrumentError(msg if msg.startswith(f"{path}:") else f"{path}: {msg}") from None


def _wording_path(ref: Any, path: Path) -> Path | None:
    """The wording scale file an instrument names (``wording:``), beside the instrument.

    Only its existence is checked here: the scale is read and checked by
    ``analysis.engine.wording.load_scale``, which interprets it.
    """
    if ref is None:
        return None
    if not isinstance(ref, str) or not ref.strip():
        raise InstrumentError(f"{path}: wording: expected a file name, got {ref!r}")
    target = Path(ref) if Path(ref).is_absolute() else path.parent / ref
    if not target.is_file():
        raise InstrumentError(f"{path}: wording: no scale file {target}")
    return target


def _read_bounded(path: Path) -> bytes:
    """The bytes of an instrument file: a regular file of at most :data:`MAX_INSTRUMENT_BYTES`."""
    hint = "an instrument is a small YAML file (is this the right file?)"
    return read_small_file(path, MAX_INSTRUMENT_BYTES, "instrument", hint, InstrumentError)


#: Keys of one group of answer aliases.
_ALIAS_KEYS = {"language", "source", "answers"}
_LANGUAGE_ID = re.compile(r"[a-z]{2,3}")


def _languages(spec: Any) -> dict[str, str]:
    """``languages``: ISO 639 id -> name, e.g. ``{en: English, cy: Welsh}``."""
    if spec is None:
        return {}
    if not isinstance(spec, dict):
        raise InstrumentError("languages must be a mapping of language id -> name")
    out = {}
    for k, v in spec.items():
        if not isinstance(k, str) or not _LANGUAGE_ID.fullmatch(k):
            raise InstrumentError(
                f"languages: {k!r} is not a language id (two or three lowercase letters, "
                "ISO 639, e.g. en, cy)"
            )
        out[k] = str(v)
    return out


def _alias_groups(
    spec: Any, where: str, languages: dict[str, str], codes: set[str]
) -> tuple[AnswerAlias, ...]:
    """Aliases from a list of groups ``{language, source, answers: {code: [alias, ...]}}``.

    Every group must cite its source and name a declared language (or ``null`` for a
    spelling that means the same in every language), and every code must be one of ``codes``.
    """
    if spec is None:
        return ()
    if not isinstance(spec, list):
        raise InstrumentError(f"{where}: must be a list of alias groups")
    out = []
    for i, group in enumerate(spec, start=1):
        at = f"{where} group {i}"
        if not isinstance(group, dict):
            raise InstrumentError(f"{at}: must be a mapping with language, source and answers")
        _known_keys(group, _ALIAS_KEYS, at)
        lang = group.get("language")
        if lang is not None and lang not in languages:
            raise InstrumentError(
                f"{at}: language {lang!r} is not declared under languages "
                f"({', '.join(languages) or 'none declared'})"
            )
        source = group.get("source")
        if not isinstance(source, str) or not source.strip():
            raise InstrumentError(f"{at}: every alias must cite its source (source: ...)")
        answers = group.get("answers")
        if not isinstance(answers, dict) or not answers:
            raise InstrumentError(f"{at}: answers must map codes to lists of aliases")
        for code, texts in answers.items():
            code = str(code)
            if code not in codes:
                raise InstrumentError(f"{at}: {code!r} is not an answer code here")
            for text in _tuple(texts, f"{at}: {code}"):
                if not answer_key(text):
                    raise InstrumentError(f"{at}: {code}: an alias may not be blank")
                out.append(AnswerAlias(text=text, code=code, language=lang, source=source.strip()))
    return tuple(out)


def _build(raw: dict[str, Any], path: Path, sha: str) -> Instrument:
    _known_keys(raw, _TOP_KEYS, "top level")
    _known_keys(raw.get("scoring") or {}, _SCORING_KEYS, "scoring")
    for section, keys in (
        ("outcomes", _OUTCOME_KEYS),
        ("stages", _STAGE_KEYS),
        ("criteria", _CRITERION_KEYS),
        ("factors", _FACTOR_KEYS),
    ):
        for entry in raw.get(section) or []:
            _known_keys(entry, keys, f"{section} entry {entry.get('id')}")
    languages = _languages(raw.get("languages"))
    answer_sets = {}
    for sid, spec in raw["answer_sets"].items():
        _known_keys(spec, _SET_KEYS, f"answer set {sid}")
        for c in spec["codes"]:
            _known_keys(c, _CODE_KEYS, f"answer set {sid}: code {c.get('code')!r}")
        codes = tuple(
            AnswerCode(code=str(c["code"]), scores=c.get("scores"), label=c.get("label"))
            for c in spec["codes"]
        )
        for c in codes:
            if c.scores not in _SCORES:
                raise InstrumentError(f"answer set {sid}: code {c.code!r} scores {c.scores!r}")
        aliases = _alias_groups(
            spec.get("aliases"), f"answer set {sid}: aliases", languages, {c.code for c in codes}
        )
        answer_sets[sid] = AnswerSet(
            id=sid, label=spec.get("label", sid), codes=codes, aliases=aliases
        )

    outcomes = {
        o["id"]: Outcome(
            id=o["id"],
            number=int(o["number"]),
            name=o["name"],
            short=o.get("short", o["name"]),
            phrase=" ".join(str(o.get("phrase", "")).split()),
            source=" ".join(str(o.get("source", "")).split()),
        )
        for o in raw["outcomes"]
    }
    stages = {
        s["id"]: Stage(id=s["id"], number=int(s["number"]), name=s["name"])
        for s in raw.get("stages", [])
    }
    criteria = {}
    for c in raw["criteria"]:
        cid = str(c["id"])
        criteria[cid] = Criterion(
            id=cid,
            outcome=c["outcome"],
            stage=c["stage"],
            title=c["title"],
            case_assessed=bool(c.get("case_assessed", True)),
            source=" ".join(str(c.get("source", "")).split()),
        )

    case_details = {}
    for d in raw["case_details"]:
        _known_keys(d, _DETAIL_KEYS, f"case detail {d.get('id')}")
        if d.get("id") in (ANY_OF, DATES):
            raise InstrumentError(
                f"a case detail may not be called {d.get('id')!r} (a skip-rule keyword)"
            )
        if d.get("type", "category") not in DETAIL_TYPES:
            raise InstrumentError(
                f"case detail {d.get('id')}: type {d.get('type')!r} is not one of "
                f"{', '.join(DETAIL_TYPES)}"
            )
        case_details[d["id"]] = CaseDetail(
            id=d["id"],
            label=d.get("label", d["id"]),
            type=d.get("type", "category"),
            required=bool(d.get("required", True)),
            codes=_tuple(d.get("codes"), f"case detail {d['id']}: codes"),
            min=d.get("min"),
            max=d.get("max"),
            sensitive=bool(d.get("sensitive", False)),
            description=d.get("description", ""),
            compare=bool(d.get("compare", False)),
            source=" ".join(str(d.get("source", "")).split()),
        )
        cd = case_details[d["id"]]
        if cd.compare and (cd.type not in ("category", "text") or cd.sensitive):
            raise InstrumentError(
                f"case detail {cd.id}: compare: true needs a non-sensitive category or text "
                f"detail (this one is {'sensitive' if cd.sensitive else cd.type})"
            )

    questions: dict[str, Question] = {}

    def add(q: Question) -> None:
        if q.id in (ANY_OF, DATES):
            raise InstrumentError(f"a question may not be called {q.id!r} (a skip-rule keyword)")
        if q.id in questions or q.id in case_details:
            raise InstrumentError(f"duplicate column id {q.id!r}")
        questions[q.id] = q

    def make_question(spec: dict[str, Any], **extra: Any) -> Question:
        qid = str(spec["id"])
        _known_keys(spec, _QUESTION_KEYS, f"question {qid}")
        crit = str(spec["criterion"])
        if crit not in criteria:
            raise InstrumentError(f"question {qid}: unknown criterion {crit!r}")
        scored = bool(spec.get("scored", True))
        outs = _tuple(spec.get("outcomes"), f"question {qid}: outcomes") or (
            (criteria[crit].outcome,) if scored else ()
        )
        rule = _applies(spec.get("applies_when"), qid)
        when = spec.get("applies_when")
        dates = _date_conditions(when.get(DATES) if isinstance(when, dict) else None, qid)
        return Question(
            id=qid,
            text=spec["text"],
            criterion=crit,
            answers=spec.get("answers", "yn"),
            outcomes=outs,
            scored=scored,
            applies_when=rule[0],
            applies_any=rule[1],
            short=spec.get("short", ""),
            chart=spec.get("chart"),
            min=spec.get("min"),
            max=spec.get("max"),
            description=spec.get("description", ""),
            source=" ".join(str(spec.get("source", "")).split()),
            applies_dates=dates,
            **extra,
        )

    for spec in raw.get("questions", []):
        add(make_question(spec))

    factors = {}
    templates = raw.get("factor_items", {})
    for f in raw.get("factors", []):
        items = {}
        for item, tmpl in templates.items():
            spec = {
                k: (v.format(label=f["label"], id=f["id"]) if isinstance(v, str) else v)
                for k, v in tmpl.items()
            }
            if isinstance(tmpl.get("applies_when"), dict):
                spec["applies_when"] = _format_rule(tmpl["applies_when"], f["id"])
            spec["id"] = tmpl["id"].format(id=f["id"])
            add(make_question(spec, factor=f["id"], factor_item=item))
            items[item] = spec["id"]
        factors[f["id"]] = Factor(id=f["id"], label=f["label"], items=items)

    sections = parse_sections(raw, path)
    questions = _dependency_order(apply_samples(questions, sections["samples"], case_details))
    inst = Instrument(
        id=str(raw["id"]),
        version=str(raw["version"]),
        title=raw.get("title", raw["id"]),
        source=raw.get("source", ""),
        path=path,
        sha256=sha,
        outcome_method=raw.get("scoring", {}).get("outcome_method", "question_mean"),
        answer_sets=answer_sets,
        outcomes=outcomes,
        stages=stages,
        criteria=criteria,
        case_details=case_details,
        questions=questions,
        factors=factors,
        factor_table=raw.get("factor_table", {}),
        languages=languages,
        wording_path=_wording_path(raw.get("wording"), path),
        consistency=parse_rules(raw.get("consistency")),
        raw=raw,
        **sections,
    )
    inst.presentation = load_presentation(raw.get("presentation"), outcomes, case_details)
    every_code = {v for c in inst.coded_columns() for v in inst.allowed_values(c)}
    inst.answer_aliases = _alias_groups(
        raw.get("answer_aliases"), "answer_aliases", languages, every_code
    )
    _check(inst)
    _check_aliases(inst)
    check_sections(inst)
    check_rules(inst)
    return inst


def _check_aliases(inst: Instrument) -> None:
    """Within one language a spelling may mean one answer only, and never another code.

    The same spelling may mean different answers in different languages (``Na``: Welsh No,
    English N/A): ingest then asks which language the workbook is in. A spelling declared
    for every language (``language: null``) must not collide with any other meaning.
    """
    for column in inst.coded_columns():
        codes = {answer_key(c): c for c in inst.allowed_values(column)}
        meaning: dict[tuple[str, str | None], AnswerAlias] = {}
        for a in inst.aliases(column):
            key = answer_key(a.text)
            code = codes.get(key)
            if code is not None and code != a.code:
                raise InstrumentError(
                    f"alias {a.text!r} ({a.code}) is spelt like the code {code!r} of {column}"
                )
            for lang in (a.language,) if a.language is not None else (None, *inst.languages):
                other = meaning.get((key, lang)) or meaning.get((key, None))
                if other is not None and other.code != a.code:
                    raise InstrumentError(
                        f"alias {a.text!r} means {a.code!r} and {other.code!r} in "
                        f"{lang or other.language or 'every language'} ({column}); "
                        "one spelling must mean one answer"
                    )
            meaning.setdefault((key, a.language), a)


def _check(inst: Instrument) -> None:
    """Every reference in the file must resolve; raise on the first incoherence."""
    if inst.outcome_method not in ("question_mean", "criterion_mean"):
        raise InstrumentError(f"unknown scoring.outcome_method {inst.outcome_method!r}")
    for c in inst.criteria.values():
        if c.outcome not in inst.outcomes:
            raise InstrumentError(f"criterion {c.id}: unknown outcome {c.outcome!r}")
        if inst.stages and c.stage not in inst.stages:
            raise InstrumentError(f"criterion {c.id}: unknown stage {c.stage!r}")
    for q in inst.questions.values():
        if q.answers != "count" and q.answers not in inst.answer_sets:
            raise InstrumentError(f"question {q.id}: unknown answer set {q.answers!r}")
        for o in q.outcomes:
            if o not in inst.outcomes:
                raise InstrumentError(f"question {q.id}: unknown outcome {o!r}")
        if q.scored:
            aset = inst.answer_sets.get(q.answers)
            if aset is None or not aset.codes_scoring(ABOVE):
                raise InstrumentError(f"question {q.id}: scored but its answers have no 'above'")
        for rule in (q.applies_when, *q.applies_any):
            for col, values in rule.items():
                if col not in inst.questions and col not in inst.case_details:
                    raise InstrumentError(f"question {q.id}: applies_when names unknown {col!r}")
                if col in inst.date_columns:
                    raise InstrumentError(
                        f"question {q.id}: applies_when {col} is a date: compare it under "
                        f"{DATES} (before, after, within_days ...), not with values"
                    )
                allowed = inst.allowed_values(col)
                bad = [v for v in values if allowed and v not in allowed]
                if bad:
                    raise InstrumentError(f"question {q.id}: applies_when {col} has unknown {bad}")
        for d in q.applies_dates:
            for col in (d.column, d.other):
                if col not in inst.date_columns:
                    raise InstrumentError(
                        f"question {q.id}: applies_when {DATES} names {col!r}, which is not a "
                        "case detail of type date"
                    )
        aset = inst.answer_sets.get(q.answers)
        if q.has_rule and aset is not None and aset.na_code is None:
            raise InstrumentError(f"question {q.id}: has a skip rule but no 'na' answer")
        if q.chart is not None and q.chart not in inst.outcomes:
            raise InstrumentError(f"question {q.id}: chart {q.chart!r} is not an outcome id")
    _ = inst.identifier_column  # raises unless exactly one case detail is the identifier


def _dependency_order(questions: dict[str, Question]) -> dict[str, Question]:
    """Order questions so every skip rule names a column that comes before it.

    Declared order is kept wherever the skip rules allow (a stable topological
    sort), so a question may depend on a factor item declared further down the
    file. The workbook's columns, validation and the generator all follow this
    order, which guarantees a gate is known before the questions it governs.

    Raises
    ------
    InstrumentError
        If skip rules form a cycle.
    """
    deps = {
        qid: [c for c in q.rule_columns if c in questions and c != qid]
        for qid, q in questions.items()
    }
    for qid, q in questions.items():
        if qid in q.rule_columns:
            raise InstrumentError(f"question {qid}: applies_when names the question itself")
    ordered: dict[str, Question] = {}
    pending = list(questions)
    while pending:
        ready = [qid for qid in pending if all(d in ordered for d in deps[qid])]
        if not ready:
            raise InstrumentError(f"skip rules form a cycle among: {', '.join(pending)}")
        nxt = ready[0]  # earliest declared question whose gates are all placed
        ordered[nxt] = questions[nxt]
        pending.remove(nxt)
    return ordered


def declared_programme(inst: Instrument) -> str | None:
    """The id a workbook's ``settings`` sheet names for ``inst``, or None.

    An instrument of ``src/analysis/instrument/programmes/`` other than the default is
    named (``instrument | <id>``) by the workbooks written for it (the template, the demo
    data), so that ``report`` and ``batch`` read them against it; the default programme's
    workbooks, and those of an instrument file kept elsewhere, name none.
    """
    path = Path(inst.path).resolve()
    if path == config.DEFAULT_INSTRUMENT.resolve():
        return None
    if path.parent != config.INSTRUMENTS_DIR.resolve() or path.stem != inst.id:
        return None
    return inst.id
