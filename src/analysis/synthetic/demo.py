"""Write the demo workbooks: Norfolk & Suffolk plus eleven fictional trusts.

``python -m analysis demo-data [--out DIR] [--force]``

Every profile in ``src/analysis/synthetic/profiles`` becomes ``<DIR>/<slug>.xlsx`` (default
``data/raw``). Each workbook is generated from its profile's seed, so the files are the
same on every machine.

A manifest beside them (``.demo-data.json``) records, per workbook, the hash of the file
as written and a fingerprint of what it was generated from (its profile, the instruments,
the published figures and the generator's code). On a later run a workbook is

- written when it is missing;
- **refreshed** when it is exactly as written but its inputs have changed (a new
  instrument version would otherwise make the demo data fail its own validation);
- kept when it is up to date, and kept (with a note) when it was edited since it was
  written: a user's own edits are never overwritten by accident. A workbook with no record
  (written before the manifest existed) counts as unedited only while it still carries the
  generator's save stamp, which any program that saves it replaces.

``--force`` rewrites every demo workbook. The workbooks are generated in parallel, one
process per core (``--jobs N``; 1: one after another); each comes from its own profile and
seed, so the bytes are the same either way.

A profile that gives the inspectors' ratings of its domain-one standards
(``standard_ratings``: the youth demo, tarnbrook) also gets ``<DIR>/<slug>.ratings.yaml``
(invented, and its first line says so), which ``make report`` and ``make batch`` pass to
``--standard-ratings``; it is written, refreshed or kept by the same rules.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import re
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import yaml

from analysis import config
from analysis.errors import UserError
from analysis.fileio import atomic_path, sha256_file
from analysis.synthetic.generate import FIXED_TIME, GENERATOR_STAMP, synthesise
from analysis.synthetic.profile import load_profile

#: The manifest of demo workbooks written (hidden: bookkeeping, not data).
MANIFEST = ".demo-data.json"
#: The code that decides a demo workbook's bytes, relative to the package.
GENERATOR_CODE = ("synthetic", "synthetic/case_model.yaml", "instrument", "engine/wording.py")


def _hash_files(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        h.update(f.name.encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()


def shared_inputs_hash() -> str:
    """Hash of what every demo workbook is generated from besides its profile.

    The instruments, the published figures and the generator's code: read once per run,
    not once per workbook.
    """
    files = [
        f
        for folder in (config.INSTRUMENTS_DIR, config.PUBLISHED_DIR)
        for f in sorted(folder.glob("*.yaml"))
    ]
    return _hash_files(files + generator_code_files())


def generator_code_files() -> list[Path]:
    """The generator's Python files, in a stable order."""
    out: list[Path] = []
    for rel in GENERATOR_CODE:
        p = config.PACKAGE_DIR / rel
        out += sorted(p.rglob("*.py")) if p.is_dir() else [p]
    return out


def inputs_fingerprint(profile: Path, shared: str | None = None) -> str:
    """Hash of everything one demo workbook is generated from: its profile and the shared part."""
    return _hash_files([profile]) + ":" + (shared or shared_inputs_hash())


def demo_profiles() -> list[Path]:
    """Every shipped profile, Norfolk & Suffolk first, then by name."""
    paths = sorted(config.PROFILES_DIR.glob("*.yaml"))
    return sorted(paths, key=lambda p: (p.stem != config.DEFAULT_TRUST, p.stem))


def _as_generated(path: Path) -> bool:
    """Whether a workbook still carries the generator's own save stamp.

    The generator stamps ``lastModifiedBy = GENERATOR_STAMP`` and a fixed 2014 modified time;
    Excel, openpyxl and the like overwrite both when they save, so an edited workbook fails.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            core = zf.read("docProps/core.xml")[:4096].decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    by = re.search(r"<cp:lastModifiedBy>([^<]*)</cp:lastModifiedBy>", core)
    when = re.search(r"<dcterms:modified[^>]*>([^<]*)</dcterms:modified>", core)
    stamp = FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%S")
    return bool(by and when and by.group(1) == GENERATOR_STAMP and when.group(1).startswith(stamp))


def is_synthetic(path: str | Path) -> bool:
    """Whether a workbook was written by the generator, edited since or not: synthetic cases.

    The generator writes ``GENERATOR_STAMP`` as the workbook's author (``dc:creator``), which
    Excel and LibreOffice keep when they save an edited copy; a workbook made from the
    template (:mod:`analysis.instrument.template`) has no such author. Unlike
    :func:`_as_generated`, an edited demo workbook still counts: its cases are still invented.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            core = zf.read("docProps/core.xml")[:4096].decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile):
        return False
    author = re.search(r"<dc:creator>([^<]*)</dc:creator>", core)
    return bool(author and author.group(1) == GENERATOR_STAMP)


def default_jobs() -> int:
    """Processes for the demo workbooks: the cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def _synthesise_all(todo: list[tuple[Path, Path]], jobs: int) -> None:
    """Generate each (profile, workbook) of ``todo``, in up to ``jobs`` processes."""
    if jobs <= 1 or len(todo) <= 1:
        for profile, target in todo:
            synthesise(profile, target)
        return
    # Fresh interpreters ("spawn"): a forked copy of a process that runs threads can hang.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(min(jobs, len(todo)), mp_context=context) as pool:
        for future in [pool.submit(synthesise, profile, target) for profile, target in todo]:
            future.result()  # the first failure is raised, as it would be one at a time


def write_demo_data(
    out_dir: str | Path | None = None, force: bool = False, jobs: int | None = None
) -> list[tuple[str, Path, str]]:
    """Write one workbook per profile.

    Parameters
    ----------
    out_dir
        Folder for the workbooks (default ``data/raw``).
    force
        Rewrite every demo workbook, edited or not.
    jobs
        Processes generating workbooks at once (default :func:`default_jobs`; 1: in this
        process, one after another). The workbooks are the same bytes either way.

    Returns
    -------
    list of (slug, path, action)
        ``action`` says what was done: ``wrote``, ``refreshed (...)`` or ``kept (...)``.
    """
    out = Path(out_dir) if out_dir else config.RAW_DIR
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / MANIFEST
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        manifest = {}
    done = []
    todo: list[tuple[Path, Path, str]] = []
    shared = shared_inputs_hash()
    for path in demo_profiles():
        prof = load_profile(path)
        target = out / f"{prof['slug']}.xlsx"
        fingerprint = inputs_fingerprint(path, shared)
        record = manifest.get(target.name) or {}
        if target.exists() and not force:
            if record:
                untouched = record.get("sha256") == sha256_file(target)
            else:  # written before manifests existed: trust the workbook's own properties
                untouched = _as_generated(target)
            if not untouched:
                done.append((prof["slug"], target, "kept (edited since written, or not ours)"))
                continue
            if record.get("inputs") == fingerprint:
                done.append((prof["slug"], target, "kept (up to date)"))
                continue
            action = "refreshed (its profile, instrument or generator changed)"
        else:
            action = "wrote"
        todo.append((path, target, fingerprint))
        done.append((prof["slug"], target, action))
    _synthesise_all([(p, t) for p, t, _ in todo], default_jobs() if jobs is None else jobs)
    for _, target, fingerprint in todo:
        manifest[target.name] = {"sha256": sha256_file(target), "inputs": fingerprint}
    for path in demo_profiles():
        prof = load_profile(path)
        if prof.get("standard_ratings"):
            done.append(_write_ratings(prof, out, manifest, force))
    with atomic_path(manifest_path) as tmp:
        tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return done


#: The first lines of a demo ratings file: what it is, so nobody takes it for a real one.
RATINGS_HEADER = (
    "# SYNTHETIC: invented ratings of the domain-one standards of {name}, a fictional\n"
    "# organisation, written by `python -m analysis demo-data` from its profile (not any real\n"
    "# inspection's). Pass it to `python -m analysis report --standard-ratings`.\n"
)


def ratings_text(prof: dict) -> str:
    """The demo ratings file of a profile with ``standard_ratings``: marked synthetic."""
    body = yaml.safe_dump(
        {str(k): str(v) for k, v in prof["standard_ratings"].items()}, sort_keys=False
    )
    return RATINGS_HEADER.format(name=prof["name"]) + body


def _write_ratings(prof: dict, out: Path, manifest: dict, force: bool) -> tuple[str, Path, str]:
    target = out / f"{prof['slug']}.ratings.yaml"
    text = ratings_text(prof)
    record = manifest.get(target.name) or {}
    if target.exists() and not force:
        if record.get("sha256") != sha256_file(target):
            return prof["slug"], target, "kept (edited since written, or not ours)"
        if target.read_text(encoding="utf-8") == text:
            return prof["slug"], target, "kept (up to date)"
        action = "refreshed (its profile changed)"
    else:
        action = "wrote"
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    manifest[target.name] = {"sha256": sha256_file(target)}
    return prof["slug"], target, action


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis demo-data``."""
    parser.add_argument("--out", type=Path, help="folder for the workbooks (default: data/raw)")
    parser.add_argument("--force", action="store_true", help="overwrite existing workbooks")
    parser.add_argument(
        "--jobs",
        type=int,
        help="workbooks generated at once (default: one per core; 1: one after another)",
    )


def cli(args: argparse.Namespace) -> int:
    """Run ``demo-data``."""
    if args.jobs is not None and args.jobs < 1:
        raise UserError(f"--jobs {args.jobs}: give 1 or more (1: one workbook after another)")
    for _slug, path, action in write_demo_data(args.out, args.force, args.jobs):
        verb, _, why = action.partition(" ")
        note = "; --force to replace it" if why.startswith("(edited") else ""
        print(f"{verb} {path}" + (f" {why}" if why else "") + note)
    return 0
