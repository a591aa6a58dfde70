"""Profiles: checks on reading them, their answer rates and their published-figures file."""

from __future__ import annotations

import pytest
from test_synth import TINY_INSTRUMENT, tiny_profile

from analysis import config
from analysis.instrument import load_instrument
from analysis.synthetic.profile import (
    ProfileError,
    load_profile,
    profile_instrument,
    published_path,
    question_rates,
)


def test_profile_errors():
    with pytest.raises(ProfileError, match="sum to"):
        load_profile(tiny_profile(10, ldus={"A": 3, "B": 3}))
    with pytest.raises(ProfileError, match="unknown rate keys"):
        load_profile(tiny_profile(10, questions={"q_checks": {True: 0.5}}))
    with pytest.raises(ProfileError, match="no profile"):
        load_profile("no-such-profile")


def test_defaults_are_filled_in():
    prof = load_profile(tiny_profile(10))
    assert prof["defaults"] == {"above": 0.7, "na": 0.05, "prevalence": 0.4}
    assert prof["case_id_prefix"] == "TT"  # tiny-trust
    assert prof["synthetic"] is True and prof["targets"] == {}


def test_question_rates(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_INSTRUMENT, encoding="utf-8")
    inst = load_instrument(path)
    prof = load_profile(
        tiny_profile(
            10,
            outcomes={"O1": 0.9, "O2": 0.5},
            defaults={"na": 0.1, "na_gated": 0.02},
            questions={"q_checks": {"above": 0.3}},
        )
    )
    # q_victim counts towards O1 and O2 (mean 0.7) and has a skip rule (na_gated).
    victim = question_rates(prof, inst, inst.questions["q_victim"])
    assert victim == pytest.approx({"above": 0.7, "na": 0.02, "prevalence": 0.4})
    # q_checks: its own override beats its outcome's level; no skip rule, so the plain na.
    checks = question_rates(prof, inst, inst.questions["q_checks"])
    assert checks == pytest.approx({"above": 0.3, "na": 0.1, "prevalence": 0.4})


def test_profile_instrument_is_loaded_once(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_INSTRUMENT, encoding="utf-8")
    prof = {"instrument": str(path)}
    assert profile_instrument(prof) is profile_instrument(prof)


def test_published_path(tmp_path, monkeypatch):
    published = tmp_path / "published"
    published.mkdir()
    (published / "x.yaml").write_text("figures: []\n", encoding="utf-8")
    monkeypatch.setattr(config, "PUBLISHED_DIR", published)
    assert published_path({}) is None
    # As written in the shipped profiles: relative to the published folder's parent.
    assert published_path({"calibrate_to": "published/x.yaml"}) == published / "x.yaml"
    # Anything else that names an existing file in the published folder.
    assert published_path({"calibrate_to": "x.yaml"}) == published / "x.yaml"
    assert published_path({"calibrate_to": "old/place/x.yaml"}) == published / "x.yaml"
    # Not found: the first place looked, so the error names it.
    assert published_path({"calibrate_to": "published/y.yaml"}) == published / "y.yaml"
    elsewhere = tmp_path / "elsewhere.yaml"
    assert published_path({"calibrate_to": str(elsewhere)}) == elsewhere
