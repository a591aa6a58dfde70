"""Synthetic case workbooks from a trust profile.

Real case data is confidential, so the suite ships profiles of trusts and writes
workbooks in exactly the format inspectors fill in (sheet ``cases``, header row 1 =
instrument column ids, canonical answer codes, one row per case).

``python -m analysis synthesise --profile PROFILE --out data/raw/X.xlsx [--seed N]``

The profile format is described in :mod:`analysis.synthetic.profile`.

The generator samples a joint model, not independent columns (``case_model.yaml`` beside
this module holds its shared parameters, each with its reason; a profile may override them):

- **Offender managers.** Each (LDU, grade) cell gets offender managers of about
  ``cases_per_om`` cases each, and each manager an effect drawn with spread ``om_sd``; a
  case's latent quality is its manager's effect plus the profile's group effects plus its
  own noise (``quality_sd``), so one manager's cases correlate. The managers are internal
  (the workbook format has no such column); :func:`generate` leaves them in
  ``cases.attrs["offender_manager"]``.
- **Case mix.** ``associate`` gives higher-RoSH cases mostly to POs; ``propensity`` makes
  the unscored facts follow the details (MAPPA eligibility from offence and sentence,
  approved-premises residents on licence, victim contact in violent and sexual cases).
- **Consistency.** Questions are answered in column order, so every skip rule
  (``applies_when``) sees the answers it depends on, and every consistency rule of the
  instrument is enforced when the last column it reads is answered
  (:mod:`analysis.synthetic.constraints`).

A profile with ``calibrate_to`` or ``targets`` is answered by
:func:`analysis.synthetic.calibrate.calibrated_answers` instead, which hits exact counts
and keeps them while enforcing the rules. Output is deterministic for a given seed, down
to the workbook's bytes.
"""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path
from analysis.instrument import ABOVE, BELOW, Instrument, declared_programme
from analysis.synthetic.assign import applies_mask
from analysis.synthetic.calibrate import Calibration, calibrated_answers
from analysis.synthetic.constraints import (
    answer_order,
    banned_codes,
    resample,
    rules_of,
    with_rule_gates,
)
from analysis.synthetic.profile import (
    ProfileError,
    load_profile,
    profile_instrument,
    question_rates,
)
from analysis.synthetic.solve import largest_remainder

#: Written as the workbook's author and lastModifiedBy: the stamp that marks it as unedited
#: generator output (kept as the pre-subpackage module name, so older demo data still matches).
GENERATOR_STAMP = "analysis.synth"
#: Fixed workbook timestamp, so a given seed gives identical bytes.
FIXED_TIME = dt.datetime(2014, 1, 1, 0, 0, 0)
#: The generator's shared joint-model parameters (offender managers, case mix).
CASE_MODEL = Path(__file__).with_name("case_model.yaml")
_MODEL_CACHE: dict[tuple[int, int], dict[str, Any]] = {}


def case_model(prof: dict[str, Any] | None = None) -> dict[str, Any]:
    """The joint-model parameters: ``case_model.yaml``, with a profile's own entries on top."""
    st = CASE_MODEL.stat()
    key = (st.st_size, st.st_mtime_ns)
    if key not in _MODEL_CACHE:
        _MODEL_CACHE[key] = yaml.safe_load(CASE_MODEL.read_text(encoding="utf-8")) or {}
    base = _MODEL_CACHE[key]
    prof = prof or {}
    return {
        "offender_managers": {
            **(base.get("offender_managers") or {}),
            **(prof.get("offender_managers") or {}),
        },
        "associate": {**(base.get("associate") or {}), **(prof.get("associate") or {})},
        "propensity": {**(base.get("propensity") or {}), **(prof.get("propensity") or {})},
    }


# -- case details --------------------------------------------------------------------------


def allocate(mix: dict[Any, float | int], n: int) -> list[tuple[str, int]]:
    """Exact counts per value: ints as given, proportions by largest remainder."""
    keys = [str(k) for k in mix]
    vals = list(mix.values())
    if all(isinstance(v, int) for v in vals):
        return list(zip(keys, vals, strict=True))
    return list(zip(keys, largest_remainder(n, [float(v) for v in vals]), strict=True))


def case_details(prof: dict[str, Any], inst: Instrument, rng: np.random.Generator) -> pd.DataFrame:
    """Case-detail columns with the profile's exact mixes, shuffled over the cases."""
    n = int(prof["n_cases"])
    df = pd.DataFrame(index=range(n))
    width = max(4, len(str(n)))
    df[inst.identifier_column] = [f"{prof['case_id_prefix']}-{i + 1:0{width}d}" for i in range(n)]
    # `ldus` (the 2013-14 profiles' name for the ldu mix) is optional: not every programme
    # has local delivery units.
    mixes = {**({"ldu": prof["ldus"]} if "ldus" in prof else {}), **prof["mixes"]}
    associate = {
        col: spec
        for col, spec in case_model(prof)["associate"].items()
        if col in mixes and (spec if isinstance(spec, str) else spec.get("by")) in mixes
    }
    # Columns an association depends on are drawn first.
    order = [c for c in inst.case_details if c in mixes]
    order.sort(key=lambda c: 1 if c in associate else 0)
    for col in order:
        if col not in inst.case_details:
            raise ProfileError(f"profile mixes name unknown column {col!r}")
        det = inst.case_details[col]
        pairs = allocate(mixes[col], n)
        if det.codes:
            bad = [k for k, _ in pairs if k not in det.codes]
            if bad:
                raise ProfileError(f"{col}: unknown values {bad} (allowed: {list(det.codes)})")
        values = [k for k, c in pairs for _ in range(c)]
        if col in associate:
            # First listed value goes to the cases highest on the associated column.
            spec = associate[col]
            if isinstance(spec, str):  # the short form: the column's codes in order
                spec = {"by": spec, "strength": 1 / 0.9}
            other = spec["by"]
            codes = list(spec.get("order") or inst.case_details[other].codes)
            codes = codes or sorted(df[other].unique())
            rank = np.array([codes.index(v) if v in codes else 0 for v in df[other]], float)
            key = float(spec.get("strength", 1.0)) * rank + rng.normal(0, 1.0, n)
            idx = np.argsort(-key, kind="stable")
            col_vals = np.empty(n, dtype=object)
            col_vals[idx] = values
            df[col] = col_vals
        else:
            df[col] = rng.permutation(np.array(values, dtype=object))
    for col, det in inst.case_details.items():
        if col in df.columns or det.type in ("identifier", "free_text"):
            continue
        if col == "trust":
            df[col] = prof["slug"]
        elif det.codes:
            df[col] = rng.choice(np.array(det.codes, dtype=object), n)
        elif det.type == "count":
            lo, hi = det.min or 0, min(det.max or 5, (det.min or 0) + 4)
            df[col] = rng.integers(lo, hi + 1, n)
        elif det.type == "date":
            # A date within a year of the inspection year's start, as ISO text (ingest reads it).
            days = rng.integers(0, 365, n)
            df[col] = (np.datetime64("2024-01-01") + days).astype(str).astype(object)
        elif det.required:
            df[col] = "Unknown"
    for col, det in inst.case_details.items():
        if det.type == "count" and col in df.columns:
            df[col] = df[col].astype(int)
    return df


def offender_managers(
    prof: dict[str, Any], details: pd.DataFrame, rng: np.random.Generator
) -> np.ndarray:
    """An internal offender manager per case: about ``cases_per_om`` per (LDU, grade) cell."""
    per = max(1, int(case_model(prof)["offender_managers"].get("cases_per_om", 4)))
    cells = [details[c].astype(str) for c in ("ldu", "om_grade") if c in details.columns]
    key = pd.Series(
        ["|".join(t) for t in zip(*cells, strict=True)] if cells else [""] * len(details)
    )
    out = np.empty(len(details), dtype=object)
    for cell in sorted(key.unique()):
        idx = np.flatnonzero(key.to_numpy() == cell)
        k = max(1, int(np.ceil(len(idx) / per)))
        # Deal the cell's cases round the managers in a random order: sizes differ by one at most.
        owner = np.arange(len(idx)) % k
        out[rng.permutation(idx)] = [f"{cell}|OM{j + 1}" for j in owner]
    return out


def latent_quality(
    prof: dict[str, Any],
    details: pd.DataFrame,
    rng: np.random.Generator,
    managers: np.ndarray | None = None,
) -> np.ndarray:
    """Per-case latent quality: offender-manager effect, profile group effects and noise."""
    q = rng.normal(0, float(prof.get("quality_sd", 1.0)), len(details))
    if managers is not None:
        sd = float(case_model(prof)["offender_managers"].get("om_sd", 0.0))
        names = sorted(set(managers))
        effect = dict(zip(names, rng.normal(0, sd, len(names)), strict=True))
        q = q + np.array([effect[m] for m in managers], dtype=float)
    for col, eff in (prof.get("effects") or {}).items():
        if col in details.columns:
            q = q + details[col].astype(str).map({str(k): v for k, v in eff.items()}).fillna(0)
    return np.asarray(q, dtype=float)


def propensities(prof: dict[str, Any], details: pd.DataFrame) -> dict[str, Any]:
    """Question id -> per-case logit shift of "Yes" (``propensity``).

    A shift read from case details only is an array; one that also reads answers (a column
    that is not a detail, such as ``d_compliance_action``) is a function of the cases
    answered so far, called when its question is answered (answer order puts it later).
    """
    out: dict[str, Any] = {}
    for qid, spec in case_model(prof)["propensity"].items():
        effects = {c: e for c, e in spec.items() if isinstance(e, dict)}
        if all(c in details.columns for c in effects):
            out[qid] = _shift(effects, details)
        else:
            out[qid] = _Reads(effects, [c for c in effects if c not in details.columns])
    return out


class _Reads:
    """A propensity that reads earlier answers: called on the cases answered so far."""

    def __init__(self, effects: dict[str, Any], reads: list[str]):
        self.effects, self.reads = effects, reads

    def __call__(self, cases: Any) -> np.ndarray:
        return _shift(self.effects, cases)


def propensity_reads(propensity: dict[str, Any] | None) -> dict[str, list[str]]:
    """Question id -> the answer columns its propensity reads (for the answer order)."""
    return {q: p.reads for q, p in (propensity or {}).items() if isinstance(p, _Reads)}


def _shift(effects: dict[str, Any], cases: Any) -> np.ndarray:
    n = len(next(iter(cases.values())) if isinstance(cases, dict) else cases)
    shift = np.zeros(n)
    for col, eff in effects.items():
        if col in cases:
            m = {str(k): float(v) for k, v in eff.items()}
            vals = pd.Series(np.asarray(cases[col], dtype=object)).astype(str)
            shift += vals.map(m).fillna(0.0).to_numpy(dtype=float)
    return shift


# -- stochastic answers ------------------------------------------------------------------


def _logit(p: float) -> float:
    p = min(max(p, 1e-3), 1 - 1e-3)
    return float(np.log(p / (1 - p)))


def stochastic_answers(
    prof: dict[str, Any],
    inst: Instrument,
    details: pd.DataFrame,
    quality: np.ndarray,
    rng: np.random.Generator,
    rules: tuple = (),
    propensity: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """Answer every question case by case, in dependency order, obeying skip and other rules."""
    # Plain arrays while answering: a DataFrame column insert per question is slow.
    data: dict[str, np.ndarray] = {c: details[c].to_numpy(dtype=object) for c in details}
    n = len(details)
    propensity = propensity or {}
    reads = propensity_reads(propensity)
    for q in (inst.questions[qid] for qid in answer_order(inst, rules, reads=reads)):
        rates = question_rates(prof, inst, q)
        if q.answers == "count":
            lo, hi = q.min or 0, min(q.max or 5, (q.min or 0) + 5)
            data[q.id] = rng.integers(lo, hi + 1, n)
            continue
        aset = inst.answer_set(q)
        na = aset.na_code
        allowed = applies_mask(data, q)
        out = np.full(n, na, dtype=object)
        codes = [c for c in aset.code_values if c != na]
        above = [c for c in codes if c in aset.codes_scoring(ABOVE)]
        below = [c for c in codes if c in aset.codes_scoring(BELOW)]
        relevant = allowed & (rng.random(n) >= rates["na"]) if na else allowed
        if na is None:
            relevant = np.ones(n, dtype=bool)
        if above and below:
            p = rates["above"] if q.scored else rates["prevalence"]
            # Unscored gates (was X identified?) are not judgements of quality.
            prop = propensity.get(q.id, 0.0)
            prop = prop(data) if callable(prop) else prop
            shift = quality if q.scored else 0.3 * quality + prop
            prob = 1 / (1 + np.exp(-(_logit(p) + shift)))
            good = rng.random(n) < prob
            pick_above = np.array(above, dtype=object)[rng.integers(0, len(above), n)]
            # Worse codes (later in the set) are likelier for lower-quality cases.
            base = np.array([float((rates.get("below") or {}).get(c, 1.0)) for c in below])
            w = base[None, :] * np.exp(
                -np.arange(len(below))[None, :] * (0.6 + 0.4 * quality[:, None])
            )
            cum = np.cumsum(w / w.sum(axis=1, keepdims=True), axis=1)
            idx = (rng.random(n)[:, None] > cum).sum(axis=1).clip(0, len(below) - 1)
            pick_below = np.array(below, dtype=object)[idx]
            out = np.where(relevant, np.where(good, pick_above, pick_below), out)
        else:
            pick = np.array(codes, dtype=object)[rng.integers(0, len(codes), n)]
            out = np.where(relevant, pick, out)
        if rules:
            banned = banned_codes(rules, q.id, aset.code_values, data, n, inst)
            answer = np.array([c != na for c in aset.code_values])
            banned |= ~allowed[:, None] & answer[None, :]
            if banned.any():
                classes = {c.code: c.scores or "" for c in aset.codes}
                out = resample(out, aset.code_values, banned, classes, rng)
        data[q.id] = out
    cases = pd.DataFrame(data, index=details.index)
    for c in details:
        cases[c] = details[c]  # keep the details' own dtypes (counts stay integers)
    return cases


# -- generation ------------------------------------------------------------------------


def generate(
    profile: str | Path | dict,
    seed: int | None = None,
    instrument: Instrument | None = None,
    n_cases: int | None = None,
    return_calibration: bool = False,
    rules: tuple = (),
) -> pd.DataFrame | tuple[pd.DataFrame, Calibration | None]:
    """Generate the cases of a profile.

    Parameters
    ----------
    profile
        A profile name, path or mapping.
    seed
        Overrides the profile's seed.
    instrument
        Overrides the profile's instrument.
    n_cases
        Overrides the number of cases (mixes given as counts are rescaled), for tests.
    return_calibration
        Also return the :class:`~analysis.synthetic.calibrate.Calibration` (None when uncalibrated).
    rules
        Consistency rules to respect besides the instrument's own (tests).

    Returns
    -------
    pandas.DataFrame
        Every instrument column in order (free text blank), canonical codes. ``attrs``
        holds the internal ``offender_manager`` and ``latent_quality`` of each case.
    """
    prof = load_profile(profile)
    if n_cases is not None and n_cases != prof["n_cases"]:
        prof = _rescale(prof, n_cases)
    inst = instrument or profile_instrument(prof)
    seed = int(prof["seed"] if seed is None else seed)
    rng = np.random.default_rng(seed)
    details = case_details(prof, inst, rng)
    managers = offender_managers(prof, details, rng)
    quality = latent_quality(prof, details, rng, managers)
    props = propensities(prof, details)
    rules = rules_of(inst, rules)
    # "Then not applicable" rules answer as gates (the output keeps the instrument's columns).
    answering = with_rule_gates(inst, rules)
    cal = None
    if prof.get("calibrate_to") or prof.get("targets"):
        cases, cal = calibrated_answers(
            prof, answering, details, quality, rng, rules=rules, propensity=props
        )
    else:
        cases = stochastic_answers(prof, answering, details, quality, rng, rules, props)
    missing = [c for c in inst.columns if c not in cases.columns]
    if missing:
        cases = pd.concat([cases, pd.DataFrame(None, index=cases.index, columns=missing)], axis=1)
    cases = cases[inst.columns].copy()
    cases.attrs = {"offender_manager": list(managers), "latent_quality": list(quality)}
    return (cases, cal) if return_calibration else cases


def _rescale(prof: dict[str, Any], n: int) -> dict[str, Any]:
    """A copy of ``prof`` with ``n`` cases: count mixes become proportions."""
    prof = dict(prof)
    prof["n_cases"] = n

    def props(mix):
        if all(isinstance(v, int) for v in mix.values()):
            return {k: float(v) for k, v in mix.items()}
        return mix

    if "ldus" in prof:
        prof["ldus"] = props(prof["ldus"])
    prof["mixes"] = {k: props(v) for k, v in prof["mixes"].items()}
    prof["targets"] = {}
    prof["calibrate_to"] = None
    return prof


def write_workbook(cases: pd.DataFrame, path: str | Path, inst: Instrument) -> Path:
    """Write cases as a workbook users would fill in, atomically and reproducibly.

    Sheet ``cases``, header row 1 = instrument column ids, one row per case. The file is
    written next to ``path`` and moved into place, so a reader never sees half a file.
    """
    import xlsxwriter

    path = Path(path)
    with atomic_path(path) as tmp:
        wb = xlsxwriter.Workbook(
            str(tmp), {"strings_to_numbers": False, "strings_to_formulas": False}
        )
        # A fixed creation time keeps the bytes identical for a given seed.
        wb.set_properties(
            {"created": FIXED_TIME, "author": GENERATOR_STAMP, "title": "Case workbook"}
        )
        ws = wb.add_worksheet(config.CASES_SHEET)
        bold = wb.add_format({"bold": True})
        cols = list(inst.columns)
        for j, c in enumerate(cols):
            ws.write_string(0, j, c, bold)
        for i, row in enumerate(cases[cols].itertuples(index=False), start=1):
            for j, v in enumerate(row):
                if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
                    continue
                if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                    ws.write_number(i, j, int(v))
                else:
                    ws.write_string(i, j, str(v))
        ws.freeze_panes(1, 1)
        ws.set_column(0, len(cols) - 1, 14)
        if declared_programme(inst) is not None:
            # The programme the cases were made for, read by report and batch
            # (analysis.ingest.declared_instrument); the default's workbooks are unchanged.
            settings = wb.add_worksheet("settings")
            settings.write_string(0, 0, "instrument")
            settings.write_string(0, 1, inst.id)
        wb.close()
    return path


def synthesise(
    profile: str | Path | dict,
    out: str | Path,
    seed: int | None = None,
    n_cases: int | None = None,
    return_calibration: bool = False,
) -> Path | tuple[Path, Calibration | None]:
    """Generate a profile's cases and write its workbook; returns the path written."""
    prof = load_profile(profile)
    inst = profile_instrument(prof)
    cases, cal = generate(
        prof, seed=seed, instrument=inst, n_cases=n_cases, return_calibration=True
    )
    path = write_workbook(cases, out, inst)
    return (path, cal) if return_calibration else path


# -- command line ---------------------------------------------------------------------


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis synthesise``."""
    parser.add_argument(
        "--profile",
        required=True,
        help="profile name (src/analysis/synthetic/profiles) or YAML path",
    )
    parser.add_argument("--out", required=True, type=Path, help="workbook to write (.xlsx)")
    parser.add_argument("--seed", type=int, help="random seed (default: the profile's)")


def cli(args: argparse.Namespace) -> int:
    """Run ``synthesise``."""
    if args.out.suffix.lower() != ".xlsx":
        raise UserError(f"--out must be an .xlsx file, not {args.out.name!r}")
    path = synthesise(args.profile, args.out, seed=args.seed)
    prof = load_profile(args.profile)
    print(f"wrote {path} ({prof['n_cases']} cases, profile {prof['slug']})")
    return 0


__all__ = [
    "allocate",
    "case_details",
    "generate",
    "case_model",
    "latent_quality",
    "offender_managers",
    "propensities",
    "stochastic_answers",
    "synthesise",
    "write_workbook",
]
