"""No-slowdown check: a training step of the same models at two git revisions, side by side.

    python benchmarks/ab_revisions.py BASE [NEW] [--models equitools-tensornet,...] [--rounds 4]

Each revision is unpacked with ``git archive`` into a temporary folder; every round runs one
subprocess per (revision, model), alternating which revision goes first, and each subprocess
times ``--steps`` training steps (energy + forces + loss + backward, 32 rMD17 aspirin frames,
float32, the sizes of ``bench_models.SIZES``) after one warm-up step, keeping its best. The
ratio NEW/BASE of the best over rounds is printed per model (< 1: NEW is faster), with every
round's ratio, since the machine may be shared. NEW defaults to the working tree.

Run time on 2 CPU cores: about 1 min per model and round.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKER = """
import json, sys, time
sys.path.insert(0, {root!r}); sys.path.insert(0, {root!r} + "/benchmarks")
import torch
torch.set_num_threads({threads})
import bench_models
model, step, _, _ = bench_models._setup_equitools({name!r}, bench_models.load_frames(32), "cpu")
step(); model.zero_grad()
times = []
for _ in range({steps}):
    start = time.perf_counter(); step(); times.append(time.perf_counter() - start); model.zero_grad()
print(json.dumps(min(times)))
"""


def unpack(revision: str, folder: Path) -> Path:
    """The tree of ``revision`` under ``folder`` (the working tree itself for ``None``)."""
    if revision is None:
        return ROOT
    target = folder / revision.replace("/", "_")
    target.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


def step_seconds(root: Path, name: str, steps: int, threads: int) -> float:
    code = WORKER.format(root=str(root), name=name, steps=steps, threads=threads)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root)
    if result.returncode != 0:
        raise SystemExit(f"{name} at {root}: {result.stderr.strip().splitlines()[-1]}")
    return float(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("base", help="the reference revision (e.g. a commit or tag)")
    parser.add_argument("new", nargs="?", default=None, help="the revision to compare (default: the working tree)")
    parser.add_argument("--models", default="equitools-tensornet,equitools-escn,equitools-freecg")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        roots = {"base": unpack(args.base, Path(folder)), "new": unpack(args.new, Path(folder))}
        report = {}
        for name in args.models.split(","):
            rounds = []
            for r in range(args.rounds):
                order = ("base", "new") if r % 2 == 0 else ("new", "base")
                seconds = {side: step_seconds(roots[side], name, args.steps, args.threads) for side in order}
                rounds.append(seconds)
                print(f"{name} round {r + 1}: base {seconds['base']:.3f} s, new {seconds['new']:.3f} s", flush=True)
            best = {side: min(r[side] for r in rounds) for side in ("base", "new")}
            report[name] = {"best": best, "ratio": best["new"] / best["base"], "rounds": rounds}
    print(f"\n| model | {args.base} s/step | {args.new or 'working tree'} s/step | new/base (best) | per round |")
    print("|---|---|---|---|---|")
    for name, r in report.items():
        per_round = ", ".join(f"{x['new'] / x['base']:.2f}" for x in r["rounds"])
        print(f"| {name} | {r['best']['base']:.3f} | {r['best']['new']:.3f} | {r['ratio']:.2f} | {per_round} |")
    print(json.dumps({"base": args.base, "new": args.new, "threads": args.threads, "models": report}))


if __name__ == "__main__":
    main()
