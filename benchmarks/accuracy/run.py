"""Accuracy under a CPU time budget: each available model trained on real rMD17 (aspirin,
ethanol; split 01, 950 train / 50 val, tested on the 1,000-frame test file) and on the QM9
sample (U0), beside the published numbers of TensorNet, MACE and FreeCG.

    python benchmarks/accuracy/run.py [--minutes 4] [--models tensornet escn freecg] [--threads 1]
    python benchmarks/accuracy/run.py --quick    # 1 minute per model, rMD17 ethanol only

The published numbers come from runs of days on GPUs with the full recipes (and 110k QM9
molecules); the rows measured here use the same data protocol with CPU-sized models and a fixed
wall-clock budget per run, so they show how far a few minutes of CPU get, not the models' limits.
Writes a new ``benchmarks/results/runs/accuracy-<UTC time>.json`` and the learning curves beside
it (``.png``); ``--save``: the tracked ``benchmarks/results/accuracy.json`` and
``benchmarks/accuracy/learning_curves.png``.

Run time on 2 CPU cores: about 40 min (--quick: about 4 min).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

from equitools.atomic import atomic_write_text
from equitools.paths import PROJECT_ROOT, shared_data_dir
from equitools.train import load_config, train
from equitools.train.plots import pyplot, read_epoch_metrics, save_figure

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from outputs import add_output_options, output_path  # noqa: E402

CURVES = PROJECT_ROOT / "benchmarks" / "accuracy" / "learning_curves.png"

# CPU-sized architectures (the published ones are in configs/; too slow for minutes of CPU)
CPU_MODELS = {
    "tensornet": {"hidden_channels": 64, "num_layers": 2, "num_rbf": 32, "cutoff": 4.5},
    "escn": {
        "sphere_channels": 32,
        "hidden_channels": 64,
        "edge_channels": 32,
        "num_layers": 2,
        "lmax": 4,
        "mmax": 2,
        "num_rbf": 32,
        "cutoff": 5.0,
    },
    "freecg": {"hidden_channels": 64, "num_layers": 3, "num_heads": 4, "num_groups": 8, "num_rbf": 16, "cutoff": 5.0},
}
TASKS = {
    "rmd17-aspirin": {"config": "rmd17/{model}/aspirin.yaml", "overrides": []},
    "rmd17-ethanol": {"config": "rmd17/{model}/ethanol.yaml", "overrides": []},
    "qm9-U0": {
        "config": "qm9/{model}/U0.yaml",
        "overrides": ["data.path=null", "data.n_train=2500", "data.n_val=250", "data.n_test=250", "data.batch_size=32"],
    },
}
# short-budget schedule: the published warm-up/patience assume thousands of epochs
BUDGET_TRAINING = [
    "training.lr_warmup_steps=100",
    "training.lr_patience=5",
    "training.early_stopping_patience=30",
    "training.ema_decay=0.99",
]

# Published test MAEs: energy meV (QM9: meV), forces meV/Å. "checked": seen in a source during this work;
# False: quoted from the paper's table from memory, to be checked against the paper before citing.
PUBLISHED = {
    "rmd17-aspirin": [
        {
            "model": "TensorNet 2L",
            "energy": 2.4,
            "forces": 8.9,
            "checked": True,
            "source": "Simeon & De Fabritiis, NeurIPS 2023, arXiv:2306.06482, Table 1",
        },
        {
            "model": "MACE",
            "energy": 2.2,
            "forces": 6.6,
            "checked": True,
            "source": "Batatia et al., NeurIPS 2022, arXiv:2206.07697, rMD17 table",
        },
        {
            "model": "FreeCG",
            "energy": None,
            "forces": None,
            "checked": False,
            "source": "Shao et al., ICLR 2025, arXiv:2407.02263, rMD17 table (numbers not retrieved)",
        },
    ],
    "rmd17-ethanol": [
        {
            "model": "TensorNet 2L",
            "energy": None,
            "forces": None,
            "checked": False,
            "source": "Simeon & De Fabritiis, NeurIPS 2023, arXiv:2306.06482, Table 1 (numbers not retrieved)",
        },
        {
            "model": "MACE",
            "energy": 0.4,
            "forces": 2.1,
            "checked": True,
            "source": "Batatia et al., NeurIPS 2022, arXiv:2206.07697, rMD17 table",
        },
        {
            "model": "FreeCG",
            "energy": None,
            "forces": None,
            "checked": False,
            "source": "Shao et al., ICLR 2025, arXiv:2407.02263, rMD17 table (numbers not retrieved)",
        },
    ],
    "qm9-U0": [
        {
            "model": "TensorNet 3L (110k train)",
            "energy": 3.9,
            "forces": None,
            "checked": False,
            "source": "Simeon & De Fabritiis, NeurIPS 2023, arXiv:2306.06482, QM9 table",
        },
        {
            "model": "FreeCG (110k train)",
            "energy": None,
            "forces": None,
            "checked": False,
            "source": "Shao et al., ICLR 2025, arXiv:2407.02263, QM9 table (numbers not retrieved)",
        },
    ],
}


def available_models(requested: list[str]) -> list[str]:
    """The requested models whose layer module is in this checkout."""
    return [m for m in requested if importlib.util.find_spec(f"equitools.nn.{m}") is not None]


def run_one(
    model: str, task: str, minutes: float, threads: int, root: Path, overrides: list[str] = (), tag: str | None = None
) -> dict:
    """Train ``model`` on ``task`` for ``minutes`` of wall clock; the run's metrics. ``overrides``:
    config overrides applied last (``model.max_rank=3``, ``training.max_epochs=5``); ``tag``: the
    run's folder name under ``root/task`` (default: ``model``)."""
    spec = TASKS[task]
    out = root / task / (tag or model)
    overrides = [
        *spec["overrides"],
        *BUDGET_TRAINING,
        f"training.max_time={minutes}",
        f"trainer.num_threads={threads}",
        "trainer.accelerator=cpu",
        "trainer.progress_bar=false",
        f"output.dir={out}",
        *(f"model.{k}={v}" for k, v in CPU_MODELS[model].items()),
        *overrides,
    ]
    config = load_config(PROJECT_ROOT / "configs" / spec["config"].format(model=model), overrides)
    started = time.time()
    metrics = train(config, plots=False)
    curve = read_epoch_metrics(out / "logs" / "csv")
    key = "val_forces_mae" if "val_forces_mae" in curve else "val_energy_mae"
    keep = [i for i, v in enumerate(curve[key]) if v == v]
    return {
        "model": model,
        "task": task,
        "budget_minutes": minutes,
        "wall_time_s": round(time.time() - started, 1),
        "epochs": metrics["epochs"],
        "steps": metrics["global_steps"],
        "parameters": metrics["parameters"],
        "test": metrics["test"],
        "n_test": metrics["data"]["sizes"]["test"],
        "architecture": CPU_MODELS[model],
        "curve": {
            "metric": key,
            "epoch": [int(curve["epoch"][i]) for i in keep],
            "value": [float(curve[key][i]) for i in keep],
        },
    }


def plot_curves(results: list[dict], output: Path) -> Path:
    plt = pyplot()
    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.3 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        for r in (r for r in results if r["task"] == task and "curve" in r):
            ax.plot([e + 1 for e in r["curve"]["epoch"]], r["curve"]["value"], marker=".", label=r["model"])
            metric = r["curve"]["metric"]
        ax.set_title(f"{task} ({results[0]['budget_minutes']} min CPU each)", fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("validation " + ("force MAE (meV/Å)" if metric == "val_forces_mae" else "energy MAE (meV)"))
        ax.set_yscale("log")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, output)


def table(results: list[dict]) -> str:
    """A markdown table: measured rows, then the published ones."""
    lines = [
        "| task | model | budget | epochs | test energy MAE (meV) | test force MAE (meV/Å) |",
        "|---|---|---|---|---|---|",
    ]
    for task in TASKS:
        for r in (r for r in results if r["task"] == task):
            if "error" in r:
                lines.append(f"| {task} | {r['model']} (equitools) | — | — | failed: {r['error'][:60]} | |")
                continue
            forces = f"{r['test']['forces_mae']:.1f}" if "forces_mae" in r["test"] else "—"
            lines.append(
                f"| {task} | {r['model']} (equitools, {r['parameters']:,} params) | {r['budget_minutes']} min "
                f"CPU | {r['epochs']} | {r['test']['energy_mae']:.1f} | {forces} |"
            )
        for p in PUBLISHED[task]:
            fmt = lambda v: "n/a" if v is None else f"{v}"  # noqa: E731
            mark = "" if p["checked"] else " †"
            lines.append(
                f"| {task} | {p['model']} (published{mark}) | GPU, full recipe | — | {fmt(p['energy'])} | "
                f"{fmt(p['forces'])} |"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=4.0, help="training wall clock per (model, task)")
    parser.add_argument("--models", nargs="*", default=list(CPU_MODELS))
    parser.add_argument("--tasks", nargs="*", default=list(TASKS))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--runs", default=None, help="keep the runs in this folder (default: a temporary one)")
    parser.add_argument("--quick", action="store_true", help="1 minute per model, on rMD17 ethanol only")
    add_output_options(parser, "accuracy")
    args = parser.parse_args()
    if args.quick:
        args.minutes, args.tasks = 1.0, ["rmd17-ethanol"]
    if shared_data_dir() is None:
        raise SystemExit("benchmarks/accuracy needs the real data: set EQUITOOLS_DATA (see ../shared/data/README.md)")
    models = available_models(args.models)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(args.runs or tmp)
        for task in args.tasks:
            for model in models:
                print(f"== {model} on {task}: {args.minutes} min", flush=True)
                try:
                    results.append(run_one(model, task, args.minutes, args.threads, root))
                except Exception as err:  # a model under construction must not sink the others
                    results.append({"model": model, "task": task, "error": f"{type(err).__name__}: {err}"})
                print(json.dumps({k: v for k, v in results[-1].items() if k != "curve"}, default=str), flush=True)
    missing = sorted(set(args.models) - set(models))
    report = {
        "command": "python benchmarks/accuracy/run.py " + f"--minutes {args.minutes} --threads {args.threads}",
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "torch": torch.__version__,
            "threads": args.threads,
        },
        "protocol": "rMD17 split 01: 950 train / 50 val from the train file, test = the 1,000-frame test file; "
        "QM9 sample (3,000 molecules): 2,500 / 250 / 250, target U0. Published configs with "
        "CPU-sized architectures and a short-budget schedule (see CPU_MODELS, BUDGET_TRAINING).",
        "models_not_in_checkout": missing,
        "results": results,
        "published": PUBLISHED,
        "published_note": "† quoted from the paper's table, not re-checked in this run; n/a: not retrieved",
    }
    out = output_path(args, "accuracy")
    curves = CURVES if args.save and args.output is None else out.with_suffix(".png")
    atomic_write_text(out, json.dumps(report, indent=2))
    ok = [r for r in results if "error" not in r]
    if ok:
        plot_curves(ok, curves)
    print(table(results))
    print(f"wrote {out} and {curves}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
