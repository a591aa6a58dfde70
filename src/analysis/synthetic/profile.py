"""Trust profiles: reading and checking them, their instrument and their answer rates.

A profile describes one trust for the synthetic-data generator
(:mod:`analysis.synthetic.generate`): its size, its case mixes, how well each outcome's
work is done and, for a calibrated profile, the published figures to hit
(:mod:`analysis.synthetic.calibrate`).

Profile format (YAML)
---------------------
::

    name: Fenmarsh and Rivermouth (synthetic)   # display name
    slug: fenmarsh-and-rivermouth               # organisation slug (written in `trust`)
    synthetic: true                             # false only for a real trust's demo data
    instrument: iaow-2013-14                    # optional: name or path of the instrument
    n_cases: 64
    seed: 7                                     # default seed; --seed overrides
    case_id_prefix: FR                          # case ids FR-0001, FR-0002, ...
    ldus: {Fenmarsh: 30, Rivermouth: 34}        # optional: the `ldu` column's mix (the same as
                                                # mixes: {ldu: ...}); ints = exact counts (sum =
                                                # n_cases), floats = weights (largest remainder)
    mixes:                                      # same rule: exact counts or proportions
      om_grade: {PO: 36, PSO: 28}
      gender: {Male: 0.88, Female: 0.12}
      case_type: {...}; ethnicity: {...}; rosh_start: {...}; principal_offence: {...}
      report_type: {...}; n_offender_managers: {1: 0.3, 2: 0.5, 3: 0.2}
    associate: {om_grade: rosh_start}           # optional: give the first listed value of
                                                # om_grade to the cases highest in rosh_start
                                                # (long form and defaults: case_model.yaml)
    offender_managers: {cases_per_om: 4, om_sd: 0.8}   # optional: overrides case_model.yaml
    propensity: {p_mappa_eligible: {case_type: {Licence: 2}}}   # optional: the same
    defaults:                                   # every question unless overridden
      above: 0.7        # share above the line among relevant cases (scored questions)
      na: 0.05          # share not applicable among cases the skip rules allow
      na_gated: 0.0     # the same for questions with a skip rule (the rule says when)
      prevalence: 0.4   # share answered with the first code ("Yes") by unscored gate questions
    outcomes: {O1: 0.85, O2: 0.75}              # performance level of each outcome's questions
    questions:                                  # per-question overrides (keys: above, na,
      p_oversight: {above: 0.3, na: 0.6}        # na_gated, prevalence, below)
      d_plan_review: {below: {No review: 2, Insufficient review: 1}}  # below-code weights
    effects:                                    # latent-quality shifts (logit units)
      om_grade: {PO: 0.4, PSO: -0.4}            # e.g. PO cases better than PSO cases
      ldu: {Rivermouth: -0.5}
    quality_sd: 1.0                             # spread of the per-case latent quality
    calibrate_to: published/norfolk-and-suffolk-2014.yaml   # optional (see published_path)
    targets: {s_children_checks: {numerator: 9, denominator: 18}}   # optional exact counts
    standard_ratings: {"1.1": good, "1.2": requires_improvement}   # optional: the inspectors'
                                                # ratings of the domain-one standards, which
                                                # demo-data writes as <slug>.ratings.yaml
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import yaml

from analysis import config
from analysis.errors import UserError
from analysis.instrument import Instrument, Question, load_instrument

_PROFILE_KEYS = {
    "name",
    "slug",
    "synthetic",
    "instrument",
    "n_cases",
    "seed",
    "case_id_prefix",
    "ldus",
    "mixes",
    "associate",
    "offender_managers",
    "propensity",
    "defaults",
    "outcomes",
    "questions",
    "effects",
    "quality_sd",
    "calibrate_to",
    "targets",
    "standard_ratings",
    "description",
    "notes",
}


class ProfileError(UserError):
    """A profile file is missing or malformed."""


def profile_path(name_or_path: str | Path) -> Path:
    """Resolve a profile given as a path or as a name in ``src/analysis/synthetic/profiles``."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    for cand in (config.PROFILES_DIR / f"{name_or_path}.yaml", config.PROFILES_DIR / str(p)):
        if cand.exists():
            return cand
    known = ", ".join(sorted(x.stem for x in config.PROFILES_DIR.glob("*.yaml")))
    raise ProfileError(f"no profile {name_or_path!r} (known profiles: {known or 'none'})")


def load_profile(name_or_path: str | Path | dict) -> dict[str, Any]:
    """Load and check a profile (a mapping, a path or a profile name).

    Returns
    -------
    dict
        The profile with defaults filled in.

    Raises
    ------
    ProfileError
        If the file is missing, not YAML, or has unknown keys or impossible counts.
    """
    if isinstance(name_or_path, dict):
        raw = dict(name_or_path)
        where = raw.get("slug", "profile")
    else:
        path = profile_path(name_or_path)
        where = str(path)
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ProfileError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(raw, dict):
            raise ProfileError(f"{path}: expected a mapping")
        raw["_path"] = str(path)
    unknown = set(raw) - _PROFILE_KEYS - {"_path"}
    if unknown:
        raise ProfileError(f"{where}: unknown keys {sorted(unknown)}")
    for key in ("name", "slug", "n_cases"):
        if key not in raw:
            raise ProfileError(f"{where}: missing {key!r}")
    n = int(raw["n_cases"])
    if n < 1:
        raise ProfileError(f"{where}: n_cases must be at least 1")
    prof = {
        "synthetic": True,
        "seed": 0,
        "case_id_prefix": "".join(w[0] for w in str(raw["slug"]).split("-")).upper()[:4],
        "mixes": {},
        "associate": {},
        "defaults": {},
        "outcomes": {},
        "questions": {},
        "effects": {},
        "quality_sd": 1.0,
        "targets": {},
        **raw,
    }
    prof["defaults"] = {"above": 0.7, "na": 0.05, "prevalence": 0.4, **(raw.get("defaults") or {})}
    rate_keys = {"above", "na", "na_gated", "prevalence", "below"}
    for qid, over in [("defaults", prof["defaults"]), *(prof["questions"] or {}).items()]:
        bad = [k for k in (over or {}) if k not in rate_keys]
        if bad:
            # YAML 1.1 reads a bare `yes:` key as True: name the allowed keys plainly.
            raise ProfileError(
                f"{where}: {qid} has unknown rate keys {bad} (use {sorted(rate_keys)})"
            )
    if "ldus" in prof and "ldu" in (prof["mixes"] or {}):
        raise ProfileError(f"{where}: give the ldu mix once, as ldus or as mixes: ldu")
    ldus = [("ldus", prof["ldus"])] if "ldus" in prof else []
    for col, mix in [*ldus, *prof["mixes"].items()]:
        if not isinstance(mix, dict) or not mix:
            raise ProfileError(f"{where}: {col} must map values to counts or weights")
        if all(isinstance(v, int) for v in mix.values()) and sum(mix.values()) != n:
            raise ProfileError(f"{where}: {col} counts sum to {sum(mix.values())}, not n_cases={n}")
    return prof


_INSTRUMENTS: dict[tuple[str, int, int], Instrument] = {}


def profile_instrument(prof: dict[str, Any]) -> Instrument:
    """The instrument a profile is written against (the default one when unnamed).

    Loaded instruments are cached by path, size and modification time: parsing the YAML
    dominates the cost of a small synthetic workbook.
    """
    spec = prof.get("instrument")
    p = Path(spec) if spec else config.DEFAULT_INSTRUMENT
    if spec and not p.exists():
        p = config.INSTRUMENTS_DIR / f"{spec}.yaml"
    try:
        st = p.stat()
    except OSError:
        return load_instrument(p)  # raises a clear InstrumentError
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _INSTRUMENTS:
        _INSTRUMENTS[key] = load_instrument(p)
    return _INSTRUMENTS[key]


def question_rates(prof: dict[str, Any], inst: Instrument, q: Question) -> dict[str, float]:
    """The profile's rates for one question: above, na, prevalence (and below weights)."""
    d = prof["defaults"]
    rates = {"above": d["above"], "na": d["na"], "prevalence": d["prevalence"]}
    levels = [prof["outcomes"][o] for o in q.outcomes if o in (prof.get("outcomes") or {})]
    if levels:
        rates["above"] = float(np.mean(levels))
    if q.has_rule:
        # A skip rule already says when the question applies: prefer "all the gate allows".
        rates["na"] = d.get("na_gated", 0.0)
    rates.update(prof["questions"].get(q.id) or {})
    return rates


def published_path(prof: dict[str, Any]) -> Path | None:
    """The published-figures file a profile is calibrated to (``calibrate_to``), if any.

    A relative reference is looked up beside the ``published`` folder
    (``published/<file>.yaml``), then by file name inside it; when neither exists, the
    first candidate is returned, so reading it names the path that was meant.
    """
    ref = prof.get("calibrate_to")
    if not ref:
        return None
    path = Path(ref)
    if path.is_absolute():
        return path
    cands = [config.PUBLISHED_DIR.parent / path, config.PUBLISHED_DIR / path.name]
    return next((c for c in cands if c.exists()), cands[0])
