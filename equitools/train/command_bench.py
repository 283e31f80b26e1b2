"""``equitools bench [NAME ...]``: run the benchmark scripts of the checkout's ``benchmarks/``
folder (``bench_*.py`` and ``*/run.py``), each in its own process; results land in
``benchmarks/results/``."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from equitools.paths import PROJECT_ROOT


def discover(root: Path = PROJECT_ROOT / "benchmarks") -> dict[str, Path]:
    """``{name: script}``: ``bench_<name>.py`` files and ``<name>/run.py`` folders under ``root``."""
    if not root.is_dir():
        raise FileNotFoundError(f"no benchmarks folder at {root} (benchmarks ship with the source checkout)")
    found = {p.stem.removeprefix("bench_"): p for p in sorted(root.glob("bench_*.py"))}
    found.update({p.parent.name: p for p in sorted(root.glob("*/run.py"))})
    return found


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", help="benchmarks to run (default: all); see --list")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")


def run(args: argparse.Namespace) -> int:
    try:
        scripts = discover()
    except FileNotFoundError as err:
        print(f"equitools bench: error: {err}", file=sys.stderr)
        return 1
    if args.list:
        print("\n".join(f"{name:<12} {path}" for name, path in scripts.items()))
        return 0
    unknown = [n for n in args.names if n not in scripts]
    if unknown:
        print(f"equitools bench: error: unknown benchmark(s) {unknown}; available: {list(scripts)}", file=sys.stderr)
        return 1
    failed = []
    for name in args.names or list(scripts):
        print(f"== {name}: {scripts[name]}", flush=True)
        if subprocess.run([sys.executable, str(scripts[name])], cwd=PROJECT_ROOT).returncode != 0:
            failed.append(name)
    if failed:
        print(f"equitools bench: failed: {failed}", file=sys.stderr)
    return 1 if failed else 0
