"""Where a benchmark script writes its results: a new file per run under ``results/runs/``
(git-ignored), the tracked ``results/<name>.json`` only with ``--save``, or the file its
output option names."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"


def add_output_options(parser: argparse.ArgumentParser, name: str, *flags: str) -> None:
    """``--save`` and the output option ``flags`` (default ``--output``) for ``results/<name>.json``."""
    parser.add_argument(
        "--save",
        action="store_true",
        help=f"overwrite the tracked results/{name}.json (default: a new results/runs/{name}-<UTC time>.json)",
    )
    parser.add_argument(
        *(flags or ("--output",)),
        dest="output",
        type=Path,
        default=None,
        metavar="FILE",
        help="write the results to FILE instead",
    )


def output_path(args: argparse.Namespace, name: str) -> Path:
    """The results file of this run (its folder created): ``args.output``, else the tracked
    ``results/<name>.json`` with ``args.save``, else a new ``results/runs/<name>-<UTC time>.json``."""
    if args.output is not None:
        path = args.output
    elif args.save:
        path = RESULTS / f"{name}.json"
    else:
        path = RESULTS / "runs" / f"{name}-{time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def write_results(args: argparse.Namespace, name: str, report: dict, indent: int = 2) -> Path:
    """Write ``report`` as JSON to :func:`output_path` (through ``equitools.atomic.atomic_write``:
    an interrupted run never leaves half a file) and return the path."""
    from equitools.atomic import atomic_write

    out = output_path(args, name)
    atomic_write(out, lambda f: f.write((json.dumps(report, indent=indent) + "\n").encode()))
    return out


def machine() -> dict:
    """Where a benchmark ran: platform, CPUs, torch and e3nn versions, load average, date."""
    import e3nn
    import torch

    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "e3nn": e3nn.__version__,
        "load_average": os.getloadavg(),
        "date": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
