"""The conda environment.yml and pyproject.toml must declare the same dependencies."""

import re
import tomllib

import yaml

from analysis import config

ROOT = config.PROJ_ROOT


def _split(req: str) -> tuple[str, str]:
    """'pandas>=2.2' -> ('pandas', '>=2.2'); names normalised as PEP 503 does."""
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return re.sub(r"[-_.]+", "-", m.group(1)).lower(), m.group(2).replace(" ", "")


def _pyproject() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return dict(_split(r) for r in reqs)


def _environment() -> tuple[dict[str, str], list[str], str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip, python = {}, [], ""
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep.get("pip", [])
            continue
        name, spec = _split(dep.replace("=", ">=", 1) if re.match(r"^[\w.-]+=[^=]", dep) else dep)
        if name == "python":
            python = spec
        elif name != "pip":
            conda[name] = spec
    return conda, pip, python


def test_environment_yml_matches_pyproject():
    conda, pip, _ = _environment()
    declared = _pyproject()
    assert set(conda) == set(declared), (
        f"only in environment.yml: {sorted(set(conda) - set(declared))}; "
        f"only in pyproject.toml: {sorted(set(declared) - set(conda))}"
    )
    mismatched = {n: (conda[n], declared[n]) for n in declared if conda[n] != declared[n]}
    assert not mismatched, f"version bounds differ (environment.yml, pyproject.toml): {mismatched}"
    assert any(p.replace(" ", "").startswith("-e.") for p in pip), (
        "environment.yml must pip install -e ."
    )


def test_python_version_matches():
    _, _, python = _environment()
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    assert python.lstrip(">=") == requires.lstrip(">="), (python, requires)
