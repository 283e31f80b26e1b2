"""Layer study (issue #15): do the new layers buy accuracy per epoch, and at what step cost?

Three pairs, each a baseline and a variant that differ in one key, trained on rMD17 ethanol and
aspirin with the accuracy benchmark's data protocol (split 01: 950 train / 50 validation frames
from the train file, the 1,000-frame test file for testing; ``accuracy/run.py``'s ``run_one``
with its CPU-sized models and short-budget schedule), the same seeds and the same number of
epochs within a pair, one thread per run, two runs at a time:

* TensorNet ``max_rank: 2`` (the paper's I/A/S) vs ``max_rank: 3`` (ICTs of ranks 0…3);
* eSCN without vs with ``node_interaction: gaunt`` (Gaunt self-interaction x ⊗ x);
* FreeCG without vs with ``node_interaction: gaunt``.

Reported: the validation force MAE after every epoch (plot: one panel per molecule ×
architecture), the test energy / force MAE after the last epoch, parameter counts, and the step
time (forward + forces' backward + Adam step on 32 aspirin frames, ``bench_models``' training step)
of the two models of a pair timed side by side in one process, alternating which goes first,
reported as the ratio variant / baseline (best round of each; every round kept in the JSON).

    python benchmarks/study_layers.py --save     # the study (18 min on 2 shared cores)
    python benchmarks/study_layers.py --quick    # smoke run: ethanol, 1 epoch, tiny models (< 1 min)
    python benchmarks/study_layers.py --architectures freecg --seed 1   # another training seed

Writes a new ``benchmarks/results/runs/study_layers-<UTC time>.json`` and the curves beside it
(``.png``); ``--save``: the tracked ``benchmarks/results/study_layers.json`` and
``benchmarks/study_layers.png``. A markdown table goes to stdout.

Run time on 2 CPU cores: about 18 min (--quick: under 1 min).

Choices: eSCN runs smaller than ``CPU_MODELS`` (L = 3 instead of 4; ``SIZES``) so that its
epochs fit the time; the number of epochs per architecture (``EPOCHS``)
was chosen from the measured cost of an epoch. Each run is trained once: the differences carry
the noise of one seed.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import platform
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from equitools.atomic import atomic_write_text
from equitools.paths import PROJECT_ROOT, shared_data_dir
from equitools.train.plots import pyplot, save_figure

sys.path.insert(0, str(PROJECT_ROOT / "benchmarks"))
from accuracy.run import CPU_MODELS, run_one  # noqa: E402
from bench_models import _setup_equitools, load_frames  # noqa: E402
from outputs import add_output_options, output_path  # noqa: E402
from timing import best_time  # noqa: E402

PLOT = PROJECT_ROOT / "benchmarks" / "study_layers.png"
TASKS = ["rmd17-ethanol", "rmd17-aspirin"]
# architecture → (baseline, variant), each (label, model keys)
PAIRS = {
    "tensornet": (("max_rank 2", {"max_rank": 2}), ("max_rank 3", {"max_rank": 3})),
    "escn": (("no node interaction", {"node_interaction": "none"}), ("gaunt", {"node_interaction": "gaunt"})),
    "freecg": (("no node interaction", {"node_interaction": "none"}), ("gaunt", {"node_interaction": "gaunt"})),
}
EPOCHS = {"tensornet": 10, "escn": 3, "freecg": 5}
# changes to the accuracy benchmark's CPU_MODELS (eSCN's epoch on aspirin: ~120 s at L = 4, ~85 s at 3)
SIZES = {"tensornet": {}, "escn": {"lmax": 3}, "freecg": {}}
QUICK_SIZES = {
    "tensornet": {"hidden_channels": 16, "num_rbf": 8},
    "escn": {"sphere_channels": 8, "hidden_channels": 16, "edge_channels": 16, "lmax": 2, "mmax": 1, "num_rbf": 8},
    "freecg": {"hidden_channels": 16, "num_layers": 1, "num_heads": 2, "num_groups": 4, "num_rbf": 8},
}
NO_TIME_LIMIT = 600.0  # minutes: the runs stop at their epoch count, never at the clock
STEP_FRAMES, STEP_ROUNDS, STEP_REPEATS = 32, 3, 2


def model_keys(arch: str, sizes: dict, which: int) -> dict:
    """The model keys of one side of a pair (0 baseline, 1 variant) on top of ``CPU_MODELS``."""
    return {**sizes[arch], **PAIRS[arch][which][1]}


def train_job(arch: str, which: int, task: str, epochs: int, sizes: dict, root: str, seed: int | None) -> dict:
    """Train one side of a pair for ``epochs`` epochs (1 thread; ``seed``: the training seed, None:
    the config's); ``run_one``'s record."""
    keys = model_keys(arch, sizes, which)
    overrides = [f"training.max_epochs={epochs}", *(f"model.{k}={v}" for k, v in keys.items())]
    if seed is not None:
        overrides.append(f"training.seed={seed}")
    result = run_one(arch, task, NO_TIME_LIMIT, 1, Path(root), overrides, tag=f"{arch}-{which}")
    result.pop("budget_minutes")
    result.update(
        variant=PAIRS[arch][which][0],
        which="variant" if which else "baseline",
        epochs_requested=epochs,
        architecture={**CPU_MODELS[arch], **keys},
    )
    return result


def step_job(arch: str, sizes: dict, frames: int, rounds: int, repeats: int) -> dict:
    """Step time (forward + forces' backward + Adam step, 1 thread) of both sides of a pair on
    ``frames`` aspirin frames, alternating which goes first each round; seconds."""
    torch.set_num_threads(1)
    data = load_frames(frames)
    steps, params = [], []
    for which in (0, 1):
        size = {**CPU_MODELS[arch], **model_keys(arch, sizes, which)}
        model, step, _, _ = _setup_equitools(f"equitools-{arch}", data, "cpu", size=size)
        optimiser = torch.optim.Adam(model.parameters(), lr=1e-3)

        def train_step(model=model, step=step, optimiser=optimiser):
            optimiser.zero_grad(set_to_none=True)
            step()
            optimiser.step()

        train_step()  # warm-up
        steps.append(train_step)
        params.append(sum(p.numel() for p in model.parameters()))
    times: list[list[float]] = [[], []]
    for r in range(rounds):
        for which in (0, 1) if r % 2 == 0 else (1, 0):
            times[which].append(best_time(steps[which], repeats))
    return {
        "architecture": arch,
        "frames": frames,
        "parameters": params,
        "step_s": [min(t) for t in times],
        "step_s_rounds": times,
        "ratio": min(times[1]) / min(times[0]),
        "ratio_rounds": [v / b for b, v in zip(*times)],
    }


def pair_summary(results: list[dict], steps: dict) -> list[dict]:
    """One row per (task, architecture): both sides' numbers and the variant / baseline ratios."""
    rows = []
    for task in TASKS:
        for arch in PAIRS:
            side = {r["which"]: r for r in results if r["task"] == task and r["model"] == arch and "error" not in r}
            if len(side) < 2:
                continue
            base, var = side["baseline"], side["variant"]
            vb, vv = base["curve"]["value"], var["curve"]["value"]
            rows.append(
                {
                    "task": task,
                    "architecture": arch,
                    "variant": var["variant"],
                    "epochs": [base["epochs"], var["epochs"]],
                    "parameters": [base["parameters"], var["parameters"]],
                    "val_forces_mae_last": [vb[-1], vv[-1]],
                    "epochs_variant_better": sum(v < b for b, v in zip(vb, vv)),
                    "test_energy_mae": [base["test"]["energy_mae"], var["test"]["energy_mae"]],
                    "test_forces_mae": [base["test"]["forces_mae"], var["test"]["forces_mae"]],
                    "test_forces_ratio": var["test"]["forces_mae"] / base["test"]["forces_mae"],
                    "step_ratio": steps.get(arch, {}).get("ratio"),
                }
            )
    return rows


def table(rows: list[dict], steps: dict, frames: int) -> str:
    """The markdown table: baseline and variant of every pair on every molecule."""
    lines = [
        "| molecule | model | params | epochs | val force MAE, last epoch (meV/Å) | test energy MAE (meV) "
        f"| test force MAE (meV/Å) | step, {frames} aspirin frames (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        step = steps.get(row["architecture"], {}).get("step_s")
        for i, label in enumerate((PAIRS[row["architecture"]][0][0], row["variant"])):
            ratio = ""
            if i and row["step_ratio"] is not None:
                ratio = f" ({row['step_ratio']:.2f}×)"
            force = f"{row['test_forces_mae'][i]:.1f}" + (f" ({row['test_forces_ratio']:.2f}×)" if i else "")
            lines.append(
                f"| {row['task'].removeprefix('rmd17-')} | {row['architecture']} {label} | "
                f"{row['parameters'][i]:,} | {row['epochs'][i]} | {row['val_forces_mae_last'][i]:.1f} | "
                f"{row['test_energy_mae'][i]:.1f} | {force} | " + (f"{step[i]:.3f}{ratio}" if step else "—") + " |"
            )
    return "\n".join(lines)


def plot(results: list[dict], output: Path) -> Path:
    """Validation force MAE per epoch: one panel per molecule × architecture, baseline vs variant."""
    plt = pyplot()
    tasks = [t for t in TASKS if any(r["task"] == t for r in results)]
    archs = [a for a in PAIRS if any(r["model"] == a for r in results)]
    fig, axes = plt.subplots(len(tasks), len(archs), figsize=(4.0 * len(archs), 3.1 * len(tasks)), squeeze=False)
    for row, task in zip(axes, tasks):
        for ax, arch in zip(row, archs):
            for r in (r for r in results if r["task"] == task and r["model"] == arch and "curve" in r):
                style = "--" if r["which"] == "baseline" else "-"
                epochs = [e + 1 for e in r["curve"]["epoch"]]
                ax.plot(epochs, r["curve"]["value"], style, marker="o", ms=3, label=r["variant"])
            ax.set_title(f"{task.removeprefix('rmd17-')}: {arch}", fontsize=10)
            ax.set_xlabel("epoch")
            ax.xaxis.get_major_locator().set_params(integer=True)
            ax.set_ylabel("validation force MAE (meV/Å)")
            ax.set_yscale("log")
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    fig.tight_layout()
    return save_figure(fig, output)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--architectures", nargs="*", default=list(PAIRS), choices=list(PAIRS))
    parser.add_argument("--tasks", nargs="*", default=TASKS, choices=TASKS)
    parser.add_argument("--jobs", type=int, default=2, help="runs at a time (each on 1 thread)")
    parser.add_argument("--seed", type=int, default=None, help="training seed (default: the configs', 12345)")
    parser.add_argument("--runs", default=None, help="keep the training runs in this folder (default: temporary)")
    parser.add_argument("--quick", action="store_true", help="smoke run: ethanol, 1 epoch, tiny models")
    add_output_options(parser, "study_layers")
    args = parser.parse_args()
    if shared_data_dir() is None:
        raise SystemExit("benchmarks/study_layers.py needs the real data: set EQUITOOLS_DATA (../shared/data)")
    epochs, sizes = dict(EPOCHS), SIZES
    frames, rounds = STEP_FRAMES, STEP_ROUNDS
    if args.quick:
        args.tasks, epochs, sizes = ["rmd17-ethanol"], dict.fromkeys(PAIRS, 1), QUICK_SIZES
        frames, rounds = 4, 1
    started = time.time()
    results, steps = [], {}
    # the slowest first (aspirin, eSCN, FreeCG); both sides of a pair next to each other
    order = sorted(args.tasks, key=lambda t: t != "rmd17-aspirin")
    archs = [a for a in ("escn", "freecg", "tensornet") if a in args.architectures]
    with (
        tempfile.TemporaryDirectory() as tmp,
        ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool,
    ):
        root = args.runs or tmp
        futures = {}
        for task in order:
            for arch in archs:
                for which in (0, 1):
                    job = pool.submit(train_job, arch, which, task, epochs[arch], sizes, root, args.seed)
                    futures[job] = (task, arch, which)
        timing = {pool.submit(step_job, arch, sizes, frames, rounds, STEP_REPEATS): arch for arch in archs}
        for job, (task, arch, which) in futures.items():
            try:
                results.append(job.result())
            except Exception as err:  # one failed run must not sink the study
                side = ("baseline", "variant")[which]
                results.append({"model": arch, "task": task, "which": side, "error": f"{type(err).__name__}: {err}"})
            brief = {k: v for k, v in results[-1].items() if k not in ("curve", "architecture")}
            print(f"[{time.time() - started:6.0f} s] {json.dumps(brief, default=str)}", flush=True)
        for job, arch in timing.items():
            try:
                steps[arch] = job.result()
            except Exception as err:
                steps[arch] = {"architecture": arch, "error": f"{type(err).__name__}: {err}"}
            print(f"[{time.time() - started:6.0f} s] step time {json.dumps(steps[arch])}", flush=True)
    ok = [r for r in results if "error" not in r]
    rows = pair_summary(ok, {a: s for a, s in steps.items() if "error" not in s})
    command = " ".join(["python benchmarks/study_layers.py", *sys.argv[1:]])
    report = {
        "command": command,
        "training_seed": args.seed if args.seed is not None else "the configs' (12345)",
        "date": time.strftime("%Y-%m-%d"),
        "wall_s": round(time.time() - started, 1),
        "machine": {"cpu": platform.processor() or platform.machine(), "torch": torch.__version__, "threads": 1},
        "protocol": "rMD17 split 01: 950 train / 50 val from the train file, test = the 1,000-frame test file; "
        "accuracy/run.py's run_one (CPU_MODELS + SIZES, short-budget schedule), same seeds and epochs per pair, "
        "1 thread per run, two runs at a time. Step: forward + forces' backward + Adam step on "
        f"{frames} aspirin frames, 1 thread, the pair alternating, best of {rounds} rounds x {STEP_REPEATS}.",
        "epochs": {a: epochs[a] for a in archs},
        "sizes": {a: {**CPU_MODELS[a], **sizes[a]} for a in archs},
        "pairs": {a: [PAIRS[a][0][0], PAIRS[a][1][0]] for a in archs},
        "summary": rows,
        "step_time": steps,
        "results": results,
    }
    out = output_path(args, "study_layers")
    figure = PLOT if args.save and args.output is None else out.with_suffix(".png")
    atomic_write_text(out, json.dumps(report, indent=2))
    if ok:
        plot(ok, figure)
    print(table(rows, {a: s for a, s in steps.items() if "error" not in s}, frames))
    print(f"wrote {out} and {figure} ({report['wall_s']} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
