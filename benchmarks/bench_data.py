"""Data-path throughput (frames per second), equitools side by side with its peers, one process.

    python benchmarks/bench_data.py            # everything (about two minutes on 2 cores)
    python benchmarks/bench_data.py --quick    # fewer repeats and frames

Sections, each with the peer it is compared to (ratio = peer time / equitools time):

  load rMD17      RMD17 (parse, validate, kcal/mol -> eV, write cache; then a cache hit) vs
                  torch_geometric's own MD17("revised aspirin") processing of the same frames in
                  the release layout, offline, and its reload of the processed file
  load extxyz     ExtXYZ (cold, cache hit) vs plain ``ase.io.read(path, ":")``
  load QM9 CSV    QM9 on the 3,000-molecule qm9pack CSV (cold, cache hit) vs pandas.read_csv +
                  ast.literal_eval per row (how qm9pack's own helpers read it); torch_geometric's
                  QM9 cannot process offline from these files (it needs gdb9.sdf and RDKit)
  iterate         dataset -> DataLoader batches of 32 (equitools vs torch_geometric MD17)
  graph molecules radius graph, 5 Å, 1,000 aspirin frames: RadiusGraph on batches of 64 and
                  per frame vs ase.neighborlist.neighbor_list and vesin per frame
                  (torch_geometric's RadiusGraph needs the compiled torch-cluster: not installed)
  graph periodic  216-atom silicon, 5 Å, 20 rattled frames: RadiusGraph (vesin) vs ase

Times are the minimum over repeats. Results: a new ``benchmarks/results/runs/bench_data-<UTC
time>.json`` (``--save``: the tracked ``benchmarks/results/bench_data.json``) and a markdown table
on stdout. Needs the real data folder (``$EQUITOOLS_DATA``).

Run time on 2 CPU cores: about 2 min (--quick: about 1 min).
"""

from __future__ import annotations

import argparse
import ast
import os
import platform
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from outputs import add_output_options, write_results
from timing import best_time


def row(section: str, method: str, frames: int, seconds: float, peer: str | None = None) -> dict:
    return {
        "section": section,
        "method": method,
        "frames": frames,
        "seconds": seconds,
        "frames_per_s": frames / seconds,
        "peer": peer,
    }


def bench_rmd17(data: Path, tmp: Path, repeats: int) -> list[dict]:
    from torch_geometric.datasets import MD17 as PygMD17
    from torch_geometric.loader import DataLoader

    from equitools.data import RMD17

    train = np.load(data / "rmd17" / "rmd17_aspirin_train_01.npz")
    test = np.load(data / "rmd17" / "rmd17_aspirin_test_01.npz")
    keys = ("nuclear_charges", "coords", "energies", "forces")
    release = tmp / "release"
    (release / "npz_data").mkdir(parents=True)
    (release / "splits").mkdir()
    np.savez(
        release / "npz_data" / "rmd17_aspirin.npz",
        **{k: train[k] if k == "nuclear_charges" else np.concatenate([train[k], test[k]]) for k in keys},
    )
    np.savetxt(release / "splits" / "index_train_01.csv", np.arange(1000), fmt="%d")
    np.savetxt(release / "splits" / "index_test_01.csv", np.arange(1000, 2000), fmt="%d")
    pyg_root = tmp / "pyg"
    (pyg_root / "raw" / "rmd17").mkdir(parents=True)
    shutil.copytree(release / "npz_data", pyg_root / "raw" / "rmd17" / "npz_data")
    n = 2000

    def cold():
        cache = tmp / "cache-cold"
        shutil.rmtree(cache, ignore_errors=True)
        RMD17(release, "aspirin", "all", cache_dir=cache)

    rows = [
        row("load rMD17", "equitools RMD17, cold (parse + validate + cache)", n, best_time(cold, repeats)),
        row(
            "load rMD17",
            "torch_geometric MD17 process (force_reload)",
            n,
            best_time(lambda: PygMD17(str(pyg_root), "revised aspirin", force_reload=True), repeats),
        ),
    ]
    RMD17(release, "aspirin", "all", cache_dir=tmp / "cache")
    rows += [
        row(
            "load rMD17",
            "equitools RMD17, cache hit",
            n,
            best_time(lambda: RMD17(release, "aspirin", "all", cache_dir=tmp / "cache"), repeats),
        ),
        row(
            "load rMD17",
            "torch_geometric MD17, processed reload",
            n,
            best_time(lambda: PygMD17(str(pyg_root), "revised aspirin"), repeats),
        ),
    ]
    ours = RMD17(release, "aspirin", "all", cache_dir=tmp / "cache")
    theirs = PygMD17(str(pyg_root), "revised aspirin")
    for name, dataset in (("equitools RMD17", ours), ("torch_geometric MD17", theirs)):
        rows.append(
            row(
                "iterate",
                f"{name} -> DataLoader(batch_size=32)",
                n,
                best_time(lambda d=dataset: [b for b in DataLoader(d, batch_size=32)], repeats),
            )
        )
    return rows


def bench_extxyz(data: Path, tmp: Path, repeats: int) -> list[dict]:
    import ase.io

    from equitools.data import ExtXYZ

    path = data / "extxyz" / "rmd17_aspirin_train.xyz"
    n = 1200

    def cold():
        shutil.rmtree(tmp / "cache-x", ignore_errors=True)
        ExtXYZ(path, cache_dir=tmp / "cache-x")

    rows = [
        row("load extxyz", "equitools ExtXYZ, cold", n, best_time(cold, repeats)),
        row("load extxyz", "ase.io.read(':')", n, best_time(lambda: ase.io.read(path, ":"), repeats)),
    ]
    rows.append(
        row(
            "load extxyz",
            "equitools ExtXYZ, cache hit",
            n,
            best_time(lambda: ExtXYZ(path, cache_dir=tmp / "cache-x"), repeats),
        )
    )
    return rows


def pandas_qm9(path: Path) -> list:
    """The plain way: pandas + ast.literal_eval per row into ase Atoms (qm9pack's approach)."""
    import pandas as pd
    from ase import Atoms

    df = pd.read_csv(path)
    return [
        Atoms(symbols=ast.literal_eval(e), positions=ast.literal_eval(x)) for e, x in zip(df["Elements"], df["XYZ_Ang"])
    ]


def bench_qm9(data: Path, tmp: Path, repeats: int) -> list[dict]:
    from equitools.data import QM9

    path = data / "qm9" / "qm9_sample_3000.csv"
    n = 3000

    def cold():
        shutil.rmtree(tmp / "cache-q", ignore_errors=True)
        QM9(path, cache_dir=tmp / "cache-q")

    rows = [row("load QM9 CSV", "equitools QM9, cold (parse + 19 targets + cache)", n, best_time(cold, repeats))]
    try:
        rows.append(
            row(
                "load QM9 CSV",
                "pandas + ast.literal_eval -> ase.Atoms",
                n,
                best_time(lambda: pandas_qm9(path), repeats),
            )
        )
    except ImportError as exc:
        rows.append({"section": "load QM9 CSV", "method": "pandas baseline", "unavailable": str(exc)})
    rows.append(
        row(
            "load QM9 CSV",
            "equitools QM9, cache hit",
            n,
            best_time(lambda: QM9(path, cache_dir=tmp / "cache-q"), repeats),
        )
    )
    return rows


def bench_graphs(data: Path, repeats: int, frames: int) -> list[dict]:
    import vesin
    from ase import Atoms
    from ase.neighborlist import neighbor_list
    from torch_geometric.data import Batch

    from equitools.data import RMD17, RadiusGraph

    cutoff = 5.0
    ds = RMD17(data / "rmd17", "aspirin", "train", use_cache=False)
    items = [ds[k] for k in range(frames)]
    batches = [Batch.from_data_list(items[k : k + 64]) for k in range(0, frames, 64)]
    atoms = [Atoms(numbers=d.z.numpy(), positions=d.pos.double().numpy()) for d in items]
    transform = RadiusGraph(cutoff)
    nl = vesin.NeighborList(cutoff=cutoff, full_list=True)
    edges = {
        "ours": sum(transform(b.clone()).edge_index.shape[1] for b in batches),
        "ase": sum(len(neighbor_list("i", a, cutoff)) for a in atoms),
    }
    assert edges["ours"] == edges["ase"], edges
    rows = [
        row(
            "graph molecules",
            "equitools RadiusGraph, batches of 64",
            frames,
            best_time(lambda: [transform(b.clone()) for b in batches], repeats),
        ),
        row(
            "graph molecules",
            "equitools RadiusGraph, per frame",
            frames,
            best_time(lambda: [transform(d.clone()) for d in items], repeats),
        ),
        row(
            "graph molecules",
            "ase.neighborlist.neighbor_list, per frame",
            frames,
            best_time(lambda: [neighbor_list("ij", a, cutoff) for a in atoms], repeats),
        ),
        row(
            "graph molecules",
            "vesin, per frame",
            frames,
            best_time(lambda: [nl.compute(a.positions, np.zeros((3, 3)), False, "ij") for a in atoms], repeats),
        ),
    ]
    try:
        import torch_cluster  # noqa: F401
    except ImportError:
        rows.append(
            {
                "section": "graph molecules",
                "method": "torch_geometric RadiusGraph",
                "unavailable": "needs the compiled torch-cluster extension, not installed here",
            }
        )
    return rows


def bench_periodic(repeats: int) -> list[dict]:
    from ase.build import bulk
    from ase.neighborlist import neighbor_list
    from torch_geometric.data import Data

    from equitools.data import RadiusGraph

    cutoff, n = 5.0, 20
    crystals = []
    for k in range(n):
        a = bulk("Si", cubic=True).repeat(3)
        a.rattle(0.05, seed=k)
        crystals.append(a)
    items = [
        Data(pos=torch.tensor(a.positions), cell=torch.tensor(a.cell.array)[None], pbc=torch.tensor(a.pbc)[None])
        for a in crystals
    ]
    transform = RadiusGraph(cutoff)
    assert transform(items[0].clone()).edge_index.shape[1] == len(neighbor_list("i", crystals[0], cutoff))
    return [
        row(
            "graph periodic",
            "equitools RadiusGraph (vesin), 216-atom Si",
            n,
            best_time(lambda: [transform(d.clone()) for d in items], repeats),
        ),
        row(
            "graph periodic",
            "ase.neighborlist.neighbor_list, 216-atom Si",
            n,
            best_time(lambda: [neighbor_list("ijS", a, cutoff) for a in crystals], repeats),
        ),
    ]


PEERS = {
    "equitools RMD17, cold (parse + validate + cache)": "torch_geometric MD17 process (force_reload)",
    "equitools RMD17, cache hit": "torch_geometric MD17, processed reload",
    "equitools RMD17 -> DataLoader(batch_size=32)": "torch_geometric MD17 -> DataLoader(batch_size=32)",
    "equitools ExtXYZ, cold": "ase.io.read(':')",
    "equitools ExtXYZ, cache hit": "ase.io.read(':')",
    "equitools QM9, cold (parse + 19 targets + cache)": "pandas + ast.literal_eval -> ase.Atoms",
    "equitools QM9, cache hit": "pandas + ast.literal_eval -> ase.Atoms",
    "equitools RadiusGraph, batches of 64": "ase.neighborlist.neighbor_list, per frame",
    "equitools RadiusGraph, per frame": "ase.neighborlist.neighbor_list, per frame",
    "equitools RadiusGraph (vesin), 216-atom Si": "ase.neighborlist.neighbor_list, 216-atom Si",
}


def add_ratios(rows: list[dict]) -> None:
    """``speedup`` = peer seconds per frame / ours, for every equitools row with a measured peer."""
    by_method = {r["method"]: r for r in rows if "seconds" in r}
    for r in rows:
        peer = by_method.get(PEERS.get(r["method"], ""))
        if peer is not None:
            r["peer"] = peer["method"]
            r["speedup"] = (peer["seconds"] / peer["frames"]) / (r["seconds"] / r["frames"])


def table(rows: list[dict]) -> str:
    lines = ["| section | method | frames | frames/s | vs peer |", "|---|---|---:|---:|---|"]
    for r in rows:
        if "unavailable" in r:
            lines.append(f"| {r['section']} | {r['method']} | – | – | not run: {r['unavailable']} |")
            continue
        ratio = f"{r['speedup']:.1f}× {r['peer']}" if "speedup" in r else ""
        lines.append(f"| {r['section']} | {r['method']} | {r['frames']} | {r['frames_per_s']:,.0f} | {ratio} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 repeat, 256 frames for molecular graphs")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default 1, like the peers)")
    add_output_options(parser, "bench_data", "--output", "--out")
    args = parser.parse_args(argv)

    from equitools.paths import shared_data_dir

    data = shared_data_dir()
    if data is None:
        print("bench_data: the real data folder is missing (set EQUITOOLS_DATA)", file=sys.stderr)
        return 1
    torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else 3
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        rows += bench_rmd17(data, tmp, repeats)
        rows += bench_extxyz(data, tmp, repeats)
        rows += bench_qm9(data, tmp, repeats)
    rows += bench_graphs(data, repeats, 256 if args.quick else 1000)
    rows += bench_periodic(repeats)
    add_ratios(rows)

    import ase
    import torch_geometric
    import vesin

    report = {
        "benchmark": "data loading and neighbour-graph throughput (frames per second)",
        "command": "python benchmarks/bench_data.py" + (" --quick" if args.quick else ""),
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "torch_threads": args.threads,
            "torch": torch.__version__,
            "torch_geometric": torch_geometric.__version__,
            "ase": ase.__version__,
            "vesin": vesin.__version__,
        },
        "repeats": repeats,
        "rows": rows,
    }
    out = write_results(args, "bench_data", report, indent=1)
    print(table(rows))
    print(f"\nwritten to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
