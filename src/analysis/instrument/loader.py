"""Load an instrument file: read the YAML, expand the factor items, check it is coherent.

Factor item templates become ordinary questions; every reference must resolve (criteria,
outcomes, answer sets, skip-rule columns and values), ids must be unique and skip rules
must not form a cycle. Questions are put in an order where every skip rule names a
column before it. See ``docs/instrument-format.md``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import yaml

from analysis import config
from analysis.instrument.model import (
    ABOVE,
    BELOW,
    NA,
    AnswerCode,
    AnswerSet,
    CaseDetail,
    Criterion,
    Factor,
    Instrument,
    InstrumentError,
    Outcome,
    Question,
    Stage,
)

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
}


def _known_keys(spec: dict[str, Any], allowed: set[str], where: str) -> None:
    unknown = sorted(set(spec) - allowed)
    if unknown:
        raise InstrumentError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(allowed)})")


#: Key of ``applies_when`` holding alternatives (a column may not have this id).
ANY_OF = "any_of"


def _applies(
    spec: Any, where: str
) -> tuple[dict[str, tuple[str, ...]], tuple[dict[str, tuple[str, ...]], ...]]:
    """``applies_when``: its conditions (all must hold) and its ``any_of`` alternatives."""
    if spec is None:
        return {}, ()
    if not isinstance(spec, dict):
        raise InstrumentError(f"{where}: applies_when must be a mapping of column -> values")
    spec = dict(spec)
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
    try:
        blob = path.read_bytes()
    except OSError as exc:
        raise InstrumentError(f"cannot read instrument {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(blob)
    except yaml.YAMLError as exc:
        raise InstrumentError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise InstrumentError(f"{path}: expected a mapping at the top level")
    try:
        return _build(raw, path, hashlib.sha256(blob).hexdigest())
    except (KeyError, TypeError) as exc:
        raise InstrumentError(f"{path}: missing or malformed entry {exc}") from None


def _build(raw: dict[str, Any], path: Path, sha: str) -> Instrument:
    answer_sets = {}
    for sid, spec in raw["answer_sets"].items():
        codes = tuple(
            AnswerCode(code=str(c["code"]), scores=c.get("scores"), label=c.get("label"))
            for c in spec["codes"]
        )
        for c in codes:
            if c.scores not in _SCORES:
                raise InstrumentError(f"answer set {sid}: code {c.code!r} scores {c.scores!r}")
        answer_sets[sid] = AnswerSet(id=sid, label=spec.get("label", sid), codes=codes)

    outcomes = {
        o["id"]: Outcome(
            id=o["id"], number=int(o["number"]), name=o["name"], short=o.get("short", o["name"])
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
        )

    case_details = {}
    for d in raw["case_details"]:
        _known_keys(d, _DETAIL_KEYS, f"case detail {d.get('id')}")
        if d.get("id") == ANY_OF:
            raise InstrumentError(
                f"a case detail may not be called {ANY_OF!r} (a skip-rule keyword)"
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
        )
        cd = case_details[d["id"]]
        if cd.compare and (cd.type not in ("category", "text") or cd.sensitive):
            raise InstrumentError(
                f"case detail {cd.id}: compare: true needs a non-sensitive category or text "
                f"detail (this one is {'sensitive' if cd.sensitive else cd.type})"
            )

    questions: dict[str, Question] = {}

    def add(q: Question) -> None:
        if q.id == ANY_OF:
            raise InstrumentError(f"a question may not be called {ANY_OF!r} (a skip-rule keyword)")
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

    questions = _dependency_order(questions)
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
        raw=raw,
    )
    _check(inst)
    return inst


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
                allowed = inst.allowed_values(col)
                bad = [v for v in values if allowed and v not in allowed]
                if bad:
                    raise InstrumentError(f"question {q.id}: applies_when {col} has unknown {bad}")
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
