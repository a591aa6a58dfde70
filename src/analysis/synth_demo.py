"""Write the demo workbooks: Norfolk & Suffolk plus eleven fictional trusts.

``python -m analysis demo-data [--out DIR] [--force]``

Every profile in ``src/analysis/profiles`` becomes ``<DIR>/<slug>.xlsx`` (default
``data/raw``). Existing workbooks are kept unless ``--force`` is given, so a user's own
edits to a demo file are never overwritten by accident. Each workbook is generated from
its profile's seed, so the files are the same on every machine.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from analysis import config


def demo_profiles() -> list[Path]:
    """Every shipped profile, Norfolk & Suffolk first, then by name."""
    paths = sorted(config.PROFILES_DIR.glob("*.yaml"))
    return sorted(paths, key=lambda p: (p.stem != config.DEFAULT_TRUST, p.stem))


def write_demo_data(
    out_dir: str | Path | None = None, force: bool = False
) -> list[tuple[str, Path, str]]:
    """Write one workbook per profile.

    Parameters
    ----------
    out_dir
        Folder for the workbooks (default ``data/raw``).
    force
        Overwrite workbooks that already exist.

    Returns
    -------
    list of (slug, path, action)
        ``action`` is ``wrote`` or ``kept``.
    """
    from analysis.synth import load_profile, synthesise

    out = Path(out_dir) if out_dir else config.RAW_DIR
    out.mkdir(parents=True, exist_ok=True)
    done = []
    for path in demo_profiles():
        prof = load_profile(path)
        target = out / f"{prof['slug']}.xlsx"
        if target.exists() and not force:
            done.append((prof["slug"], target, "kept"))
            continue
        synthesise(path, target)
        done.append((prof["slug"], target, "wrote"))
    return done


def add_cli(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``python -m analysis demo-data``."""
    parser.add_argument("--out", type=Path, help="folder for the workbooks (default: data/raw)")
    parser.add_argument("--force", action="store_true", help="overwrite existing workbooks")


def cli(args: argparse.Namespace) -> int:
    """Run ``demo-data``."""
    for _slug, path, action in write_demo_data(args.out, args.force):
        note = "" if action == "wrote" else " (exists; --force to overwrite)"
        print(f"{action} {path}{note}")
    return 0
