"""``equitools train CONFIG [section.key=value ...] [--resume [CKPT]]``: train from a YAML config."""

from __future__ import annotations

import argparse
import sys

from .progress import add_progress_option, show_progress


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="YAML config (see configs/)")
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="section.key=value",
        help="override config entries, e.g. training.lr=1e-4 output.dir=runs/a",
    )
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        default=None,
        metavar="CKPT",
        help="continue the run in output.dir (its checkpoints/last.ckpt) or from CKPT (default: a new run)",
    )
    add_progress_option(parser)


def run(args: argparse.Namespace) -> int:
    from equitools.train.config import load_config
    from equitools.train.module import TrainingDivergedError
    from equitools.train.run import train

    try:
        overrides = [*args.overrides, *([] if show_progress(args) else ["trainer.progress_bar=false"])]
        config = load_config(args.config, overrides)
        metrics = train(config, resume=args.resume)
    except (ValueError, OSError, TrainingDivergedError) as err:  # ConfigError is a ValueError
        print(f"equitools train: error: {err}", file=sys.stderr)
        return 1
    if metrics:
        print(format_report(metrics, config["output"]["dir"]))
    return 0


def format_report(metrics: dict, out: str) -> str:
    """A short text report of a finished run."""
    units = metrics["units"]
    lines = [
        f"trained {metrics['model']} ({metrics['parameters']:,} parameters) for {metrics['epochs']} epochs "
        f"in {metrics['wall_time_s']:.0f} s",
        f"data: {metrics['data']['source']}  sizes {metrics['data']['sizes']}",
        "test metrics:",
    ]
    for key, value in metrics["test"].items():
        if key != "loss":
            unit = units["forces"] if key.startswith("forces") else units["energy"]
            lines.append(f"  {key:<12} {value:10.3f} {unit}")
    lines += [
        f"model:   {out}/model.pt",
        f"metrics: {out}/metrics.json",
        f"logs:    {out}/logs (tensorboard --logdir {out}/logs/tensorboard)",
    ]
    return "\n".join(lines)
