"""environment.yml, pyproject.toml and the lock must agree on the dependencies."""

import re
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from analysis import config

ROOT = config.PROJ_ROOT
LOCK = ROOT / "requirements" / "lock.txt"


def _split(req: str) -> tuple[str, str]:
    """'pandas>=2.2' -> ('pandas', '>=2.2'); names normalised as PEP 503 does."""
    m = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", req)
    assert m, req
    return re.sub(r"[-_.]+", "-", m.group(1)).lower(), m.group(2).replace(" ", "")


def _declared() -> list[str]:
    """Every requirement of pyproject.toml: dependencies and all optional ones."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    reqs = list(data["project"]["dependencies"])
    for extra in data["project"].get("optional-dependencies", {}).values():
        reqs += extra
    return reqs


def _pyproject() -> dict[str, str]:
    return dict(_split(r) for r in _declared())


def _lock() -> dict[str, list[tuple[Requirement, int]]]:
    """The lock's pins by normalised name, each with its number of hashes.

    A name pinned more than once is pinned per platform or Python (environment markers).
    """
    pins: dict[str, list[tuple[Requirement, int]]] = {}
    current: list[tuple[Requirement, int]] | None = None
    for line in LOCK.read_text().splitlines():
        text = line.strip()
        if text.startswith("--hash=sha256:"):
            req, hashes = current[-1]
            current[-1] = (req, hashes + 1)
        elif text and not text.startswith("#"):
            req = Requirement(text.rstrip("\\ "))
            current = pins.setdefault(canonicalize_name(req.name), [])
            current.append((req, 0))
    return pins


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


def test_lock_pins_every_declared_dependency_within_its_bounds():
    pins = _lock()
    declared = {canonicalize_name(r.name): r for r in map(Requirement, _declared())}
    missing = sorted(set(declared) - set(pins))
    assert not missing, f"declared but not in {LOCK.name} (run `make lock`): {missing}"
    outside = {
        str(pin): str(req)
        for name, req in declared.items()
        for pin, _ in pins[name]
        if not req.specifier.contains(next(iter(pin.specifier)).version, prereleases=True)
    }
    assert not outside, f"pinned outside pyproject.toml's bounds (run `make lock`): {outside}"


def test_lock_pins_exact_versions_with_hashes():
    loose = [
        str(pin)
        for versions in _lock().values()
        for pin, hashes in versions
        if hashes == 0 or [s.operator for s in pin.specifier] != ["=="]
    ]
    assert not loose, f"not pinned with == and a hash: {loose}"


def test_lock_resolves_for_the_declared_python():
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    makefile = (ROOT / "Makefile").read_text()
    assert f"--python-version {requires.lstrip('>=')} " in makefile, requires
