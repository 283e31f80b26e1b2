"""``equitools demo``: the end-to-end job on a fresh machine, with nothing downloaded.

Trains a small TensorNet on the embedded GFN2-xTB ethanol set (``data/ethanol_xtb_500K.npz``)
for a few minutes on CPU, evaluates it on held-out frames (metrics + parity plot), runs a short
NVE molecular dynamics with it through the ASE calculator (energy drift, temperature), and
prints a report. Everything goes to the output folder.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .output import add_output_option
from .progress import add_progress_option, show_progress

QUICK = {"hidden_channels": 8, "num_rbf": 8, "n_train": 40, "n_val": 10, "n_test": 20, "max_epochs": 2, "md_steps": 20}
FULL = {
    "hidden_channels": 32,
    "num_rbf": 16,
    "n_train": 800,
    "n_val": 100,
    "n_test": 100,
    "max_epochs": 10_000,
    "md_steps": 1000,
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_output_option(parser, "equitools-demo", "output folder, must not hold a run yet")
    parser.add_argument(
        "--minutes", type=float, default=3.0, metavar="MIN", help="training time budget, minutes (default 3 min)"
    )
    parser.add_argument("--quick", action="store_true", help="seconds instead of minutes: a tiny model, 2 epochs")
    parser.add_argument("--seed", type=int, default=0, metavar="N", help="seed of split, training and MD (default 0)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        metavar="N",
        help="torch CPU threads (default 1: small molecules gain little from more)",
    )
    add_progress_option(parser)


def demo_config(
    output: Path, minutes: float, quick: bool, seed: int = 0, progress: bool = True, threads: int = 1
) -> dict:
    """The resolved training config of the demo."""
    from equitools.train import resolve_config

    s = QUICK if quick else FULL
    return resolve_config(
        {
            "model": {
                "model": "tensornet",
                "hidden_channels": s["hidden_channels"],
                "num_layers": 2,
                "num_rbf": s["num_rbf"],
                "cutoff": 4.5,
            },
            "data": {
                "format": "embedded",
                "n_train": s["n_train"],
                "n_val": s["n_val"],
                "n_test": s["n_test"],
                "batch_size": 16,
                "val_batch_size": 100,
                "seed": seed,
            },
            "training": {
                "max_epochs": s["max_epochs"],
                "max_time": minutes,
                "lr": 2e-3,
                "lr_warmup_steps": 100,
                "lr_patience": 10,
                "lr_factor": 0.7,
                "early_stopping_patience": 40,
                "energy_weight": 0.1,
                "force_weight": 0.9,
                "ema_decay": 0.99,
                "seed": seed,
            },
            "trainer": {
                "accelerator": "cpu",
                "progress_bar": progress,
                "log_every_n_steps": 10,
                "num_threads": threads,
            },
            "output": {"dir": str(output / "run")},
        },
        source="demo",
    )


def run(args: argparse.Namespace) -> int:
    try:
        report = run_demo(
            Path(args.output), args.minutes, args.quick, args.seed, progress=show_progress(args), threads=args.threads
        )
    except (FileExistsError, FileNotFoundError, ValueError) as err:
        print(f"equitools demo: error: {err}", file=sys.stderr)
        return 1
    print(report)
    return 0


def run_demo(
    output: Path, minutes: float = 3.0, quick: bool = False, seed: int = 0, progress: bool = True, threads: int = 1
) -> str:
    """Train, evaluate, simulate; returns the text report (also in ``output/report.txt``)."""
    import torch
    from ase import Atoms

    from equitools.atomic import atomic_write_text
    from equitools.calculators import EquiCalculator, run_md
    from equitools.calculators.plots import plot_md
    from equitools.models import load
    from equitools.train import load_datasets, predict, train
    from equitools.train.evaluate import error_metrics
    from equitools.train.plots import plot_parity

    config = demo_config(output, minutes, quick, seed, progress, threads)
    metrics = train(config)
    model = load(output / "run" / "model.pt")
    splits, _ = load_datasets(config["data"], torch.float32)
    reference, predicted = predict(model, splits["test"])
    test = error_metrics(reference, predicted)
    plot_parity(reference, predicted, output / "parity.png", title="TensorNet on held-out ethanol (GFN2-xTB)")
    start = splits["test"][0]
    atoms = Atoms(numbers=start.z.numpy(), positions=start.pos.double().numpy())
    md = run_md(
        atoms,
        EquiCalculator(model),
        steps=(QUICK if quick else FULL)["md_steps"],
        timestep_fs=0.5,
        temperature_K=300.0,
        integrator="verlet",
        interval=5,
        trajectory=output / "md.traj",
        seed=seed,
    )
    plot_md(md, output / "md_energy.png")
    summary = {
        "training": {k: metrics[k] for k in ("epochs", "global_steps", "wall_time_s", "parameters")},
        "test": test,
        "n_test": len(splits["test"]),
        "md": md.summary(),
    }
    atomic_write_text(output / "report.json", json.dumps(summary, indent=2))
    text = format_report(summary, output)
    atomic_write_text(output / "report.txt", text + "\n")
    return text


def format_report(summary: dict, output: Path) -> str:
    """The demo's report as text."""
    t, e, md = summary["training"], summary["test"], summary["md"]
    return "\n".join(
        [
            "equitools demo — TensorNet on ethanol (GFN2-xTB, 500 K), CPU",
            f"  trained {t['parameters']:,} parameters for {t['epochs']} epochs ({t['global_steps']} steps) "
            f"in {t['wall_time_s']:.0f} s",
            f"  test ({summary['n_test']} frames): energy MAE {e['energy_mae']:.2f} meV, "
            f"RMSE {e['energy_rmse']:.2f} meV;"
            f" forces MAE {e['forces_mae']:.1f} meV/Å, RMSE {e['forces_rmse']:.1f} meV/Å",
            f"  NVE MD: {md['steps']} steps × {md['timestep_fs']} fs, T = {md['temperature_mean_K']:.0f} ± "
            f"{md['temperature_std_K']:.0f} K, energy drift {md['drift_meV_per_atom_ps']:+.3f} meV/atom/ps",
            f"  outputs in {output}: run/model.pt, run/learning_curves.png, parity.png, md.traj, md_energy.png, "
            "report.json",
        ]
    )
