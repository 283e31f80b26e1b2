"""``equitools evaluate CHECKPOINT DATA``: error metrics table and a parity plot PNG."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..ranges import COUNT, argument

FORMATS = ("auto", "rmd17", "md17", "extxyz", "qm9")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="model file (model.pt), run folder, or training checkpoint (.ckpt)")
    parser.add_argument("data", help="data file: rMD17/MD17 .npz, QM9 CSV/folder, or anything ase.io reads")
    parser.add_argument("--format", choices=FORMATS, default="auto", help="data format (default: guessed)")
    parser.add_argument("--target", default=None, help="QM9: the property the model predicts (default U0)")
    parser.add_argument("--energy-unit", default="eV", help="extxyz: the file's energy unit")
    parser.add_argument("--model", default=None, help="the architecture the checkpoint must hold")
    parser.add_argument("--limit", type=argument(COUNT), default=None, help="evaluate the first N frames only")
    parser.add_argument("--batch-size", type=argument(COUNT), default=64, help="frames per batch (default 64)")
    parser.add_argument("-o", "--output", default="evaluation", help="folder for parity.png and metrics.json")


def run(args: argparse.Namespace) -> int:
    from .module import TrainingDivergedError

    try:
        metrics = evaluate_files(args)
    except (ValueError, OSError, TrainingDivergedError) as err:
        print(f"equitools evaluate: error: {err}", file=sys.stderr)
        return 1
    print(format_table(metrics))
    print(f"parity plot: {Path(args.output) / 'parity.png'}")
    return 0


def evaluate_files(args: argparse.Namespace) -> dict:
    from equitools.data.command import guess_format, load

    from .checkpoint import load_potential
    from .data import SelectTarget
    from .evaluate import error_metrics, predict
    from ..atomic import atomic_write_text
    from .io import writable_folder
    from .plots import plot_parity

    model = load_potential(args.checkpoint, model=args.model)
    path = Path(args.data)
    if not path.exists():
        raise FileNotFoundError(f"no data file at {path}")
    fmt = guess_format(path) if args.format == "auto" else args.format
    dataset = load(path, fmt, **({"energy_unit": args.energy_unit} if fmt == "extxyz" else {}))
    unit = "eV"
    if fmt == "qm9":
        target = args.target or "U0"
        if target not in dataset.targets:
            raise ValueError(f"--target {target!r} is not a QM9 target; valid: {list(dataset.targets)}")
        dataset.transform, unit = SelectTarget(target), dataset.units[target]
    if args.limit is not None:
        dataset = dataset[: args.limit]
    reference, predicted = predict(model, dataset, args.batch_size)
    errors = error_metrics(reference, predicted)
    bad = [f"{key} is {value}" for key, value in errors.items() if not math.isfinite(value)]
    if bad:
        raise ValueError(f"{args.checkpoint} on {path}: the metrics are not finite ({', '.join(bad)}); the model's "
                         "weights or the data hold NaN or inf")
    metrics = {**errors, "n_frames": len(dataset), "model": model.model_name, "checkpoint": str(args.checkpoint),
               "data": str(path), "unit": unit}
    out = writable_folder(args.output, "--output")
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    plot_parity(reference, predicted, out / "parity.png", unit=unit, title=f"{model.model_name} on {path.name}")
    return metrics


def format_table(metrics: dict) -> str:
    """Metrics as a text table (MAE and RMSE in milli-units)."""
    unit = metrics.get("unit", "eV")
    rows = [f"{metrics['model']} on {metrics['data']} ({metrics['n_frames']} frames)",
            f"{'quantity':<10} {'MAE':>12} {'RMSE':>12}  unit"]
    for key, label in (("energy", f"m{unit}"), ("forces", f"m{unit}/Å")):
        if f"{key}_mae" in metrics:
            rows.append(f"{key:<10} {metrics[key + '_mae']:12.3f} {metrics[key + '_rmse']:12.3f}  {label}")
    return "\n".join(rows)
