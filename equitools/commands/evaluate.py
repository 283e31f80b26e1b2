"""``equitools evaluate CHECKPOINT DATA``: error metrics table and a parity plot PNG."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..ranges import COUNT, argument
from .data import add_read_options, read_data
from .output import add_output_option


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoint", help="model file (model.pt), run folder, or training checkpoint (.ckpt)")
    parser.add_argument("data", help="data file: rMD17/MD17 .npz, QM9 CSV/folder, or anything ase.io reads")
    add_read_options(parser)
    parser.add_argument(
        "--target", default=None, metavar="NAME", help="QM9: the property the model predicts (default U0)"
    )
    parser.add_argument(
        "--model",
        default=None,
        metavar="NAME",
        help="the architecture the checkpoint must hold, e.g. tensornet (default: any)",
    )
    parser.add_argument(
        "--limit",
        type=argument(COUNT),
        default=None,
        metavar="N",
        help="evaluate the first N frames only (default: all)",
    )
    parser.add_argument(
        "--batch-size", type=argument(COUNT), default=64, metavar="N", help="frames per batch (default 64)"
    )
    add_output_option(parser, "evaluation", "folder for parity.png and metrics.json")


def run(args: argparse.Namespace) -> int:
    from equitools.train.module import TrainingDivergedError

    try:
        metrics = evaluate_files(args)
    except (ValueError, OSError, TrainingDivergedError) as err:
        print(f"equitools evaluate: error: {err}", file=sys.stderr)
        return 1
    print(format_table(metrics))
    print(f"parity plot: {Path(args.output) / 'parity.png'}")
    return 0


def evaluate_files(args: argparse.Namespace) -> dict:
    """Evaluate the model of ``args.checkpoint`` on ``args.data``; write metrics.json and
    parity.png to ``args.output``; the metrics."""
    from equitools.atomic import atomic_write_text
    from equitools.train.checkpoint import load_potential
    from equitools.train.data import SelectTarget
    from equitools.train.evaluate import error_metrics, predict
    from equitools.train.io import writable_folder
    from equitools.train.plots import plot_parity

    model = load_potential(args.checkpoint, model=args.model)
    path = Path(args.data)
    dataset, fmt = read_data(path, args)
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
        raise ValueError(
            f"{args.checkpoint} on {path}: the metrics are not finite ({', '.join(bad)}); the model's "
            "weights or the data hold NaN or inf"
        )
    metrics = {
        **errors,
        "n_frames": len(dataset),
        "model": model.model_name,
        "checkpoint": str(args.checkpoint),
        "data": str(path),
        "unit": unit,
    }
    out = writable_folder(args.output, "--output")
    atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=2))
    plot_parity(reference, predicted, out / "parity.png", unit=unit, title=f"{model.model_name} on {path.name}")
    return metrics


def format_table(metrics: dict) -> str:
    """Metrics as a text table (MAE and RMSE in milli-units)."""
    unit = metrics.get("unit", "eV")
    rows = [
        f"{metrics['model']} on {metrics['data']} ({metrics['n_frames']} frames)",
        f"{'quantity':<10} {'MAE':>12} {'RMSE':>12}  unit",
    ]
    for key, label in (("energy", f"m{unit}"), ("forces", f"m{unit}/Å")):
        if f"{key}_mae" in metrics:
            rows.append(f"{key:<10} {metrics[key + '_mae']:12.3f} {metrics[key + '_rmse']:12.3f}  {label}")
    return "\n".join(rows)
