"""``equitools bench``: the benchmark suites of the checkout's ``benchmarks/`` folder
(``bench_<name>.py`` and ``<name>/run.py``), each run in its own process.

Without arguments it lists the suites with the run time each script's docstring states (its
``Run time on 2 CPU cores:`` line); ``equitools bench NAME ...`` or ``--all`` runs them. A run
writes a new file under ``benchmarks/results/runs/``; ``--save`` overwrites the suite's tracked
file in ``benchmarks/results/`` instead."""

from __future__ import annotations

import argparse
import ast
import subprocess
import sys
import textwrap
from pathlib import Path

from equitools.paths import PROJECT_ROOT

ROOT = PROJECT_ROOT / "benchmarks"
RUN_TIME = "Run time on 2 CPU cores:"


def discover(root: Path = ROOT) -> dict[str, Path]:
    """``{name: script}``: ``bench_<name>.py`` files and ``<name>/run.py`` folders under ``root``."""
    if not root.is_dir():
        raise FileNotFoundError(f"no benchmarks folder at {root} (benchmarks ship with the source checkout)")
    found = {p.stem.removeprefix("bench_"): p for p in sorted(root.glob("bench_*.py"))}
    found.update({p.parent.name: p for p in sorted(root.glob("*/run.py"))})
    return dict(sorted(found.items()))


def describe(script: Path) -> tuple[str, str]:
    """``(summary, run time)`` from the docstring of ``script``: its first sentence, and the text
    after ``Run time on 2 CPU cores:`` ("not stated" without that line)."""
    doc = (ast.get_docstring(ast.parse(script.read_text(encoding="utf-8"))) or "").replace("``", "")
    summary = " ".join(doc.split("\n\n")[0].split())
    summary = summary.split(". ")[0].rstrip(".") + "."
    times = [line.strip()[len(RUN_TIME) :].strip() for line in doc.splitlines() if line.strip().startswith(RUN_TIME)]
    return summary, times[0].rstrip(".") if times else "not stated"


def listing(scripts: dict[str, Path]) -> str:
    """The suites, their run times and summaries, and how to run them."""
    width = max(map(len, scripts)) + 2
    lines = [f"Benchmark suites in {ROOT}, with their run time on 2 CPU cores:", ""]
    for name, script in scripts.items():
        summary, time = describe(script)
        lines.append(f"  {name:<{width}}{time}")
        lines += textwrap.wrap(summary, 100, initial_indent=" " * (width + 2), subsequent_indent=" " * (width + 2))
    lines += [
        "",
        "Run some:  equitools bench NAME ... [--quick] [--save]",
        "Run all:   equitools bench --all [--quick] [--save]",
        "A run writes a new JSON file under benchmarks/results/runs/;",
        "with --save it overwrites the suite's tracked file in benchmarks/results/ instead.",
    ]
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("names", nargs="*", metavar="NAME", help="suites to run (default: list them and exit)")
    parser.add_argument("--all", action="store_true", help="run every suite, one after the other")
    parser.add_argument("--list", action="store_true", help="list the suites and exit (the default)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="pass --quick to the scripts: fewer repeats and smaller cases (default: full runs)",
    )
    parser.add_argument(
        "--save",
        action="store_true",
        help="pass --save to the scripts: overwrite their tracked files in benchmarks/results/ "
        "(default: new files under benchmarks/results/runs/)",
    )


def run(args: argparse.Namespace) -> int:
    try:
        scripts = discover()
    except FileNotFoundError as err:
        print(f"equitools bench: error: {err}", file=sys.stderr)
        return 1
    if args.all and args.names:
        print("equitools bench: error: give suite NAMEs or --all, not both", file=sys.stderr)
        return 2
    names = list(scripts) if args.all else args.names
    if args.list or not names:
        print(listing(scripts))
        return 0
    unknown = [n for n in names if n not in scripts]
    if unknown:
        print(f"equitools bench: error: unknown benchmark(s) {unknown}; available: {list(scripts)}", file=sys.stderr)
        return 1
    passed = [*(["--quick"] if args.quick else []), *(["--save"] if args.save else [])]
    failed = []
    for name in names:
        print(f"== {name}: {scripts[name]} {' '.join(passed)}", flush=True)
        if subprocess.run([sys.executable, str(scripts[name]), *passed], cwd=PROJECT_ROOT).returncode != 0:
            failed.append(name)
    if failed:
        print(f"equitools bench: failed: {failed}", file=sys.stderr)
    return 1 if failed else 0
