"""Speed and memory of a training step of every potential, side by side with the peers.

One step = energy + forces (-dE/dpos, create_graph) + MSE loss on both + gradient of every
parameter, on one batch of 32 rMD17 aspirin frames (672 atoms). Models, float32, at their
published sizes:

* equitools TensorNet (128 channels, 2 layers, 32 RBF, 5 Å) and **torchmd-net's TensorNet** with
  the same width, layers, RBF and cutoff;
* equitools FreeCG at its published size (256 channels, 9 layers, 8 heads, 32 × 8 groups, 5 Å)
  and at a reduced size (128 channels, 4 layers, 16 × 8 groups), and eSCN at a small size (L 4,
  m 2, 32/64/32 channels, 2 layers, 5 Å); eSCN's published OC20 size (L 6, m 2, 128/256
  channels, 8 layers, 8 Å; 157 M parameters) needs about 10 s and 5 GB per aspirin frame, so it
  runs on its own, on 2 frames, beside MACE on the same 2 frames (last command below);
* **mace-torch's MACE** at its published rMD17 size (256x0e+256x1o+256x2e, correlation 3,
  2 layers, max_ell 3, 8 Bessel, 5 Å);
* **fairchem-core's eSCN-MD backbone** (``fairchem.core.models.uma.escn_md.eSCNMDBackbone`` +
  ``MLP_EFS_Head``, the UMA architecture without mixture of experts; built from arguments, no
  checkpoint) beside equitools' eSCN at matched sizes: L 4, m 2, 2 layers, 32 or 64 sphere
  channels, 64 hidden, 32 edge channels, 64 Gaussian distance functions, 5 Å; energy-conserving
  forces. Its graph is equitools' (every pair of a frame closer than 5 Å), given as ``edge_index``.

The peers pin other e3nn versions, so they live in separate environments that this script
creates on first use, with the same torch as the project, from the sections of
``benchmarks/requirements-bench.txt``: ``.venv-bench`` beside the project (torchmd-net,
mace-torch, which pins e3nn 0.4.4) and ``.venv-bench/fairchem`` (fairchem-core, which needs
e3nn >= 0.5). Each model runs in its own subprocess (so threads and peak
memory are its own); rounds alternate the order and the best round is reported (on a shared
machine other processes only ever slow a round down; all rounds are kept in the JSON). Models
slower than ``--slow`` seconds per step run one round. Peak memory is the growth of the
process's resident set from before the warm-up step to the end of the timed steps (CPU; CUDA's
peak allocation on a GPU). Minor page faults and kernel CPU time per timed step are kept too:
they are the cost of memory taken fresh from the OS, which differs between machines, and glibc's
``MALLOC_*`` settings of the run are recorded. Also checked: equitools TensorNet inference under
``torch.compile`` (inductor) gives the same energies and forces as eager. equitools eSCN and
fairchem's eSCN-MD of the same size get their time and memory ratios per pair (equitools /
fairchem, per round too: the two run next to each other in every round).

    python benchmarks/bench_models.py                 # full run (10-15 min on 2 cores)
    python benchmarks/bench_models.py --quick         # fewer steps, no compile check
    python benchmarks/bench_models.py --device cuda   # the same table on a GPU
    python benchmarks/bench_models.py --frames 2 --models equitools-escn-published,mace \
        --rounds 1 --steps 2 --output benchmarks/results/bench_models_escn_published.json
    python benchmarks/bench_models.py --models \
        equitools-escn,fairchem-escn-32,equitools-escn-64,fairchem-escn-64 \
        --rounds 3 --steps 2 --slow 300 --timeout 1200 --no-compile-check --threads 1   # vs fairchem (6 min)

Results: a new ``benchmarks/results/runs/bench_models-<UTC time>.json`` (``--save``: the tracked
``benchmarks/results/bench_models.json``; ``--output``: that file) and a table on stdout.

Run time on 2 CPU cores: 10-15 min (--quick: about 4 min), plus building .venv-bench on first use.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

from outputs import add_output_options, write_results

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "benchmarks" / "requirements-bench.txt"
KCAL_PER_MOL_IN_EV = 0.0433641153087705

# name → (environment, description)
MODELS = {
    "equitools-tensornet": ("project", "equitools TensorNet, 128 ch, 2 layers, 5 Å"),
    "torchmdnet-tensornet": ("bench", "torchmd-net TensorNet, 128 ch, 2 layers, 5 Å"),
    "equitools-escn": ("project", "equitools eSCN, L=4 m=2, 32/64 ch, 2 layers, 5 Å (small)"),
    "equitools-freecg": ("project", "equitools FreeCG, 128 ch, 4 layers, 16x8 groups, 5 Å (reduced)"),
    "equitools-freecg-published": ("project", "equitools FreeCG, 256 ch, 9 layers, 32x8 groups, 5 Å (published)"),
    "equitools-escn-published": ("project", "equitools eSCN, L=6 m=2, 128/256 ch, 8 layers, 8 Å (published, OC20)"),
    "mace": ("bench", "MACE, 256x(0e+1o+2e), corr. 3, 2 layers, 5 Å"),
    "equitools-escn-64": ("project", "equitools eSCN, L=4 m=2, 64/64 ch, 2 layers, 5 Å"),
    "fairchem-escn-32": ("bench-fairchem", "fairchem eSCN-MD, L=4 m=2, 32/64 ch, 2 layers, 5 Å"),
    "fairchem-escn-64": ("bench-fairchem", "fairchem eSCN-MD, L=4 m=2, 64/64 ch, 2 layers, 5 Å"),
}
# equitools model → the peer of the same size whose time and memory it is divided by
PAIRS = {"equitools-escn": "fairchem-escn-32", "equitools-escn-64": "fairchem-escn-64"}

# published sizes are the defaults of equitools.models; eSCN's (OC20: L 6, 8 layers, 8 Å, 157 M
# parameters) needs about 10 s and 5 GB per aspirin frame on a CPU, so the default run uses a
# molecular size (stated in its description) and the published one runs on its own, on 2 frames;
# the fairchem comparison (4 models, about 15 min) runs on its own too
DEFAULT_MODELS = [
    name
    for name in MODELS
    if name not in ("equitools-escn-published", "equitools-escn-64") and not name.startswith("fairchem")
]
SIZES = {
    "equitools-tensornet": {"cutoff": 5.0},  # torchmd-net's cutoff here (the rMD17 recipe's default is 4.5 Å)
    "equitools-freecg": {"hidden_channels": 128, "num_groups": 16, "num_layers": 4},
    "equitools-escn": {
        "sphere_channels": 32,
        "hidden_channels": 64,
        "edge_channels": 32,
        "num_layers": 2,
        "lmax": 4,
        "mmax": 2,
        "num_rbf": 64,
        "cutoff": 5.0,
    },
}
SIZES["equitools-escn-64"] = dict(SIZES["equitools-escn"], sphere_channels=64)
# fairchem's eSCN-MD at the sizes of equitools' eSCN (its num_distance_basis = our num_rbf)
SIZES["fairchem-escn-32"] = {k: v for k, v in SIZES["equitools-escn"].items() if k != "num_rbf"}
SIZES["fairchem-escn-32"]["num_distance_basis"] = SIZES["equitools-escn"]["num_rbf"]
SIZES["fairchem-escn-64"] = dict(SIZES["fairchem-escn-32"], sphere_channels=64)
# the benchmark environments: name → folder under the project (sections of requirements-bench.txt)
ENVIRONMENTS = {"bench": ".venv-bench", "bench-fairchem": ".venv-bench/fairchem"}


# ------------------------------------------------------------------------------------- worker
def load_frames(count: int):
    import numpy as np

    sys.path.insert(0, str(ROOT))
    from equitools.paths import shared_data_dir

    root = shared_data_dir()
    path = None if root is None else root / "rmd17" / "rmd17_aspirin_train_01.npz"
    if path is None or not path.is_file():
        raise SystemExit(f"rMD17 aspirin not found (looked for {path}); set EQUITOOLS_DATA")
    raw = np.load(path)
    return (
        raw["nuclear_charges"].astype(np.int64),
        raw["coords"][:count].astype(np.float64),
        raw["energies"][:count] * KCAL_PER_MOL_IN_EV,
        raw["forces"][:count] * KCAL_PER_MOL_IN_EV,
    )


def _status_mb(field: str) -> float:
    """A memory field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``) in MB; NaN if absent."""
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _reset_peak() -> None:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")  # resets VmHWM to the current RSS (Linux >= 4.0)
    except OSError:
        pass


def _fault_cost(before, after) -> tuple[int, float]:
    """Minor page faults and kernel CPU seconds between two ``getrusage`` readings: the cost of
    memory that the allocator takes fresh from the OS (it differs between machines)."""
    return after.ru_minflt - before.ru_minflt, after.ru_stime - before.ru_stime


def _setup_equitools(name, frames, device, size=None):
    import torch
    from torch_geometric.data import Batch, Data

    from equitools.models import build

    z, coords, energies, forces = frames
    data = Batch.from_data_list(
        [
            Data(
                z=torch.as_tensor(z),
                pos=torch.as_tensor(c, dtype=torch.float32),
                energy=torch.tensor([e], dtype=torch.float32),
                forces=torch.as_tensor(f, dtype=torch.float32),
            )
            for c, e, f in zip(coords, energies, forces)
        ]
    ).to(device)
    torch.manual_seed(0)
    config = {"model": name.split("-")[1], "energy_shift": float(energies.mean() / len(z))}
    config.update(SIZES.get(name, {}) if size is None else size)  # size: another script's model keys
    model = build(config).to(device)
    model.train()

    def step():
        out = model(data)
        loss = ((out["energy"] - data.energy) ** 2).mean() + ((out["forces"] - data.forces) ** 2).mean()
        loss.backward()
        return out

    extra = {"edges": None}
    return model, step, extra, data


def _setup_torchmdnet(frames, device):
    import torch
    from torchmdnet.models.model import create_model

    z, coords, energies, forces = frames
    n = len(z)
    args = dict(
        model="tensornet",
        embedding_dimension=128,
        num_layers=2,
        num_rbf=32,
        rbf_type="expnorm",
        trainable_rbf=False,
        activation="silu",
        cutoff_lower=0.0,
        cutoff_upper=5.0,
        max_z=128,
        max_num_neighbors=64,
        equivariance_invariance_group="O(3)",
        precision=32,
        static_shapes=False,
        output_model="Scalar",
        reduce_op="add",
        derivative=True,
        atom_filter=-1,
        prior_model=None,
    )
    torch.manual_seed(0)
    model = create_model(args).to(device)
    model.train()
    zt = torch.as_tensor(z).repeat(len(coords)).to(device)
    pos = torch.as_tensor(coords, dtype=torch.float32).reshape(-1, 3).to(device)
    batch = torch.arange(len(coords)).repeat_interleave(n).to(device)
    e_ref = torch.as_tensor(energies, dtype=torch.float32).to(device)
    f_ref = torch.as_tensor(forces, dtype=torch.float32).reshape(-1, 3).to(device)

    def step():
        y, neg_dy = model(zt, pos, batch=batch)
        loss = ((y.squeeze(-1) - e_ref) ** 2).mean() + ((neg_dy - f_ref) ** 2).mean()
        loss.backward()

    return model, step, {}, None


def _setup_mace(frames, device):
    import numpy as np
    import torch
    from e3nn import o3
    from mace import data as mace_data
    from mace import modules, tools
    from mace.tools import torch_geometric as mace_tg

    z, coords, energies, forces = frames
    table = tools.AtomicNumberTable(sorted(set(int(x) for x in z)))
    configs = [
        mace_data.Configuration(atomic_numbers=z, positions=c, properties={}, property_weights={}) for c in coords
    ]
    atoms = [mace_data.AtomicData.from_config(c, z_table=table, cutoff=5.0) for c in configs]
    batch = next(iter(mace_tg.dataloader.DataLoader(atoms, batch_size=len(atoms), shuffle=False))).to(device)
    data = batch.to_dict()
    avg_neighbors = float(data["edge_index"].shape[1] / data["positions"].shape[0])
    torch.manual_seed(0)
    model = modules.ScaleShiftMACE(
        r_max=5.0,
        num_bessel=8,
        num_polynomial_cutoff=5,
        max_ell=3,
        interaction_cls=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        interaction_cls_first=modules.interaction_classes["RealAgnosticResidualInteractionBlock"],
        num_interactions=2,
        num_elements=len(table),
        hidden_irreps=o3.Irreps("256x0e+256x1o+256x2e"),
        MLP_irreps=o3.Irreps("16x0e"),
        atomic_energies=np.zeros(len(table)),
        avg_num_neighbors=avg_neighbors,
        atomic_numbers=table.zs,
        correlation=3,
        gate=torch.nn.functional.silu,
        radial_MLP=[64, 64, 64],
        atomic_inter_scale=1.0,
        atomic_inter_shift=float(energies.mean() / len(z)),
    ).to(device)
    model.train()
    e_ref = torch.as_tensor(energies, dtype=torch.get_default_dtype()).to(device)
    f_ref = torch.as_tensor(forces, dtype=torch.get_default_dtype()).reshape(-1, 3).to(device)

    def step():
        out = model(data, training=True, compute_force=True)
        loss = ((out["energy"] - e_ref) ** 2).mean() + ((out["forces"] - f_ref) ** 2).mean()
        loss.backward()

    return model, step, {}, None


def _radius_graph(pos, frames: int, atoms: int, cutoff: float):
    """Every ordered pair of atoms of one frame closer than ``cutoff``, no self-pairs: the graph
    that equitools' models build (``equitools.nn.graph.radius_graph``); source = row 0."""
    import torch

    index = torch.arange(atoms, device=pos.device)
    source, target = (x.reshape(-1) for x in torch.meshgrid(index, index, indexing="ij"))
    offset = (torch.arange(frames, device=pos.device) * atoms)[:, None]
    source, target = (source[None] + offset).reshape(-1), (target[None] + offset).reshape(-1)
    keep = ((pos[source] - pos[target]).norm(dim=-1) < cutoff) & (source != target)
    return torch.stack([source[keep], target[keep]])


def _setup_fairchem(name, frames, device):
    """fairchem-core's eSCN-MD backbone + its energy head (forces = -dE/dpos with create_graph in
    training mode), built from arguments at the size of ``SIZES[name]``; input: its ``AtomicData``
    batch of the frames with a precomputed, non-periodic graph (``otf_graph=False``)."""
    import torch
    from fairchem.core.datasets.atomic_data import AtomicData
    from fairchem.core.models.uma.escn_md import MLP_EFS_Head, eSCNMDBackbone

    z, coords, energies, forces = frames
    count, n = len(coords), len(z)
    size = SIZES[name]
    pos = torch.as_tensor(coords, dtype=torch.float32).reshape(-1, 3).to(device)
    batch = torch.arange(count, device=device).repeat_interleave(n)
    edge_index = _radius_graph(pos, count, n, size["cutoff"])
    ints = {"dtype": torch.long, "device": device}
    data = AtomicData(
        pos=pos,
        atomic_numbers=torch.as_tensor(z).repeat(count).to(device),
        cell=torch.zeros(count, 3, 3, device=device),
        pbc=torch.zeros(count, 3, dtype=torch.bool, device=device),
        natoms=torch.full((count,), n, **ints),
        edge_index=edge_index,
        cell_offsets=torch.zeros(edge_index.shape[1], 3, device=device),
        nedges=torch.bincount(batch[edge_index[1]], minlength=count),
        charge=torch.zeros(count, **ints),
        spin=torch.zeros(count, **ints),
        fixed=torch.zeros(count * n, **ints),
        tags=torch.zeros(count * n, **ints),
        batch=batch,
        sid=[""] * count,
    )
    torch.manual_seed(0)
    backbone = eSCNMDBackbone(
        max_num_elements=100,
        otf_graph=False,
        always_use_pbc=False,
        use_dataset_embedding=False,
        direct_forces=False,
        regress_forces=True,
        distance_function="gaussian",
        **size,
    )
    head = MLP_EFS_Head(backbone, wrap_property=False)
    model = torch.nn.ModuleDict({"backbone": backbone, "head": head}).to(device)
    model.train()
    e_ref = torch.as_tensor(energies, dtype=torch.float32).to(device)
    f_ref = torch.as_tensor(forces, dtype=torch.float32).reshape(-1, 3).to(device)

    def step():
        out = head(data, backbone(data))
        loss = ((out["energy"] - e_ref) ** 2).mean() + ((out["forces"] - f_ref) ** 2).mean()
        loss.backward()
        return out

    return model, step, {"edges": int(edge_index.shape[1])}, data


def _compile_check(model, data) -> dict:
    """equitools TensorNet inference: torch.compile (inductor) vs eager, numbers and speed."""
    import torch

    model.eval()
    eager = model(data)
    t0 = time.perf_counter()
    compiled = torch.compile(model, dynamic=False)
    out = compiled(data)
    compile_s = time.perf_counter() - t0

    def timed(fn, repeats=5):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            fn(data)
            times.append(time.perf_counter() - t)
        return statistics.median(times)

    return {
        "backend": "inductor",
        "compile_s": round(compile_s, 2),
        "max_abs_diff_energy_eV": float((out["energy"] - eager["energy"]).abs().max()),
        "max_abs_diff_forces_eV_per_A": float((out["forces"] - eager["forces"]).abs().max()),
        "eager_inference_s": timed(model),
        "compiled_inference_s": timed(compiled),
    }


def worker(
    name: str,
    frames_count: int,
    steps: int,
    budget_s: float,
    device: str,
    compile_check: bool,
    threads: int | None = None,
) -> dict:
    import torch

    torch.set_default_dtype(torch.float32)
    if threads:
        torch.set_num_threads(threads)
    frames = load_frames(frames_count)
    if name.startswith("equitools"):
        model, step, extra, data = _setup_equitools(name, frames, device)
    elif name == "torchmdnet-tensornet":
        model, step, extra, data = _setup_torchmdnet(frames, device)
    elif name == "mace":
        model, step, extra, data = _setup_mace(frames, device)
    elif name.startswith("fairchem"):
        model, step, extra, data = _setup_fairchem(name, frames, device)
    else:
        raise SystemExit(f"unknown model {name!r}; valid: {sorted(MODELS)}")
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    params = sum(p.numel() for p in model.parameters())

    def one():
        model.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        step()
        sync()
        return time.perf_counter() - t0

    # peak memory counts from before the warm-up step: the allocator may keep the warm-up's
    # memory for the timed steps, which would then look free
    _reset_peak()
    base = _status_mb("VmRSS")
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    first = one()  # warm-up (torchmd-net compiles its kernels here)
    times, start, usage = [], time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    while len(times) < steps and (not times or time.perf_counter() - start < budget_s):
        times.append(one())
    faults, system_s = _fault_cost(usage, resource.getrusage(resource.RUSAGE_SELF))
    peak = (torch.cuda.max_memory_allocated() / 2**20) if device.startswith("cuda") else _status_mb("VmHWM") - base
    result = {
        "model": name,
        "params": params,
        "first_step_s": first,
        "step_s": statistics.median(times),
        "step_s_all": times,
        "peak_memory_mb": peak,
        "threads": torch.get_num_threads(),
        "page_faults_per_step": faults / len(times),
        "kernel_cpu_s_per_step": system_s / len(times),
        "torch": torch.__version__,
    }
    result.update({key: value for key, value in extra.items() if value is not None})
    if compile_check and name == "equitools-tensornet":
        result["compile"] = _compile_check(model, data)
    return result


# ------------------------------------------------------------------------------ orchestration
def requirements(section: str) -> list[str]:
    """The requirements of one benchmark environment: the lines of ``requirements-bench.txt``
    before its first ``# [name]`` marker are ``bench``'s, those after ``# [name]`` are name's."""
    found: dict[str, list[str]] = {"bench": []}
    current = "bench"
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.strip()
        if line.startswith("# [") and "]" in line:
            current = line[3 : line.index("]")].strip()
            found.setdefault(current, [])
        elif line and not line.startswith("#"):
            found[current].append(line.split(" #")[0].strip())
    if section not in found:
        raise SystemExit(f"{REQUIREMENTS} has no section '# [{section}]'")
    return found[section]


def bench_python(env: Path, section: str = "bench") -> Path:
    """The benchmark environment's python, created from its section of the requirements file if
    missing (torch first, the project's version: its CPU wheel where the project has that)."""
    python = env / "bin" / "python"
    if python.exists():
        return python
    import torch

    packages = requirements(section)
    print(
        f"creating the benchmark environment {env} (torch {torch.__version__.split('+')[0]}, "
        f"then {' '.join(packages)})",
        flush=True,
    )
    subprocess.run([sys.executable, "-m", "venv", str(env)], check=True)
    pip = [str(python), "-m", "pip", "install", "-q"]
    subprocess.run(pip + [f"torch=={torch.__version__.split('+')[0]}"], check=True)
    subprocess.run(pip + packages, check=True)
    subprocess.run(pip + ["--no-deps", "-e", str(ROOT)], check=True)
    return python


def run_worker(python: Path, name: str, args, compile_check: bool) -> dict:
    env = dict(os.environ, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD="1", PYTHONWARNINGS="ignore")
    cmd = [
        str(python),
        str(Path(__file__).resolve()),
        "--worker",
        name,
        "--frames",
        str(args.frames),
        "--steps",
        str(args.steps),
        "--budget",
        str(args.budget),
        "--device",
        args.device,
    ]
    if compile_check:
        cmd.append("--compile-check")
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout, cwd=ROOT)
    lines = [l for l in proc.stdout.splitlines() if l.startswith("{")]
    if proc.returncode != 0 or not lines:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
        return {"model": name, "error": " | ".join(tail)}
    return json.loads(lines[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--frames", type=int, default=32)
    parser.add_argument("--steps", type=int, default=5, help="timed steps per model and round (at most)")
    parser.add_argument("--budget", type=float, default=10.0, help="seconds of timed steps per model and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--slow", type=float, default=30.0, help="models slower than this (s/step) run one round")
    parser.add_argument("--device", default="cpu")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch threads of every model (default: torch's, one per core); 1 keeps the "
        "ratios steady while other processes load a 2-core machine",
    )
    parser.add_argument("--models", default=",".join(DEFAULT_MODELS))
    parser.add_argument(
        "--env",
        default=str(ROOT / ENVIRONMENTS["bench"]),
        help="environment of torchmd-net and MACE (made on first use)",
    )
    parser.add_argument(
        "--fairchem-env",
        default=str(ROOT / ENVIRONMENTS["bench-fairchem"]),
        help="environment of fairchem-core (made on first use)",
    )
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--quick", action="store_true", help="1 round, 2 steps, no compile check")
    parser.add_argument("--compile-check", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--no-compile-check", action="store_true")
    add_output_options(parser, "bench_models")
    args = parser.parse_args()
    if args.worker:
        print(
            json.dumps(
                worker(args.worker, args.frames, args.steps, args.budget, args.device, args.compile_check, args.threads)
            )
        )
        return
    if args.quick:
        args.rounds, args.steps, args.budget, args.no_compile_check = 1, 2, 2.0, True
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in names if m not in MODELS]
    if unknown:
        raise SystemExit(f"unknown model(s) {unknown}; valid: {list(MODELS)}")
    pythons = {"project": Path(sys.executable)}
    folders = {"bench": Path(args.env), "bench-fairchem": Path(args.fairchem_env)}
    for env in sorted({MODELS[m][0] for m in names} - {"project"}):
        pythons[env] = bench_python(folders[env], env)
    started = time.time()
    runs: dict[str, list[dict]] = {m: [] for m in names}
    for r in range(args.rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            if r > 0 and any(x.get("step_s", 0) > args.slow for x in runs[name]):
                continue  # one round is enough for the slow ones (the time limit)
            check = r == 0 and not args.no_compile_check and name == "equitools-tensornet"
            result = run_worker(pythons[MODELS[name][0]], name, args, check)
            runs[name].append(result)
            shown = f"{result['step_s']:.3f} s/step" if "step_s" in result else f"FAILED: {result['error']}"
            print(f"round {r + 1}: {name:22s} {shown}", flush=True)
    summary = {}
    for name, results in runs.items():
        good = [x for x in results if "step_s" in x]
        if not good:
            summary[name] = {"description": MODELS[name][1], "error": results[-1].get("error")}
            continue
        # the best round: on a shared machine the other processes only ever slow a round down
        entry = {
            "description": MODELS[name][1],
            "params": good[0]["params"],
            "step_s": min(x["step_s"] for x in good),
            "step_s_median": statistics.median(x["step_s"] for x in good),
            "step_s_rounds": [x["step_s"] for x in good],
            "first_step_s_rounds": [x["first_step_s"] for x in good],
            "peak_memory_mb": statistics.median(x["peak_memory_mb"] for x in good),
            "page_faults_per_step": statistics.median(x["page_faults_per_step"] for x in good),
            "kernel_cpu_s_per_step": statistics.median(x["kernel_cpu_s_per_step"] for x in good),
        }
        for x in good:
            if "compile" in x:
                entry["compile"] = x["compile"]
        summary[name] = entry
    ref_tn, ref_mace = summary.get("torchmdnet-tensornet", {}), summary.get("mace", {})
    for name, entry in summary.items():
        if "step_s" not in entry:
            continue
        if name == "equitools-tensornet" and "step_s" in ref_tn:
            entry["speedup_vs_torchmdnet_tensornet"] = ref_tn["step_s"] / entry["step_s"]
        if "step_s" in ref_mace:
            entry["speedup_vs_mace"] = ref_mace["step_s"] / entry["step_s"]
        peer = summary.get(PAIRS.get(name, ""), {})
        if "step_s" in peer:
            # equitools / fairchem at the same size: best rounds, medians, and round by round (the
            # two ran one after the other in each round, so a round's ratio shares its load)
            ours = [x for x in runs[name] if "step_s" in x]
            theirs = [x for x in runs[PAIRS[name]] if "step_s" in x]
            entry["vs_fairchem"] = {
                "peer": PAIRS[name],
                "speedup": peer["step_s"] / entry["step_s"],
                "speedup_median": peer["step_s_median"] / entry["step_s_median"],
                "speedup_rounds": [b["step_s"] / a["step_s"] for a, b in zip(ours, theirs)],
                "memory_ratio": entry["peak_memory_mb"] / peer["peak_memory_mb"],
                "memory_ratio_rounds": [a["peak_memory_mb"] / b["peak_memory_mb"] for a, b in zip(ours, theirs)],
            }
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report = {
        "benchmark": "training step (energy + forces + parameter gradients), float32",
        "load_average_at_end": load,
        "batch": f"{args.frames} rMD17 aspirin frames ({args.frames * 21} atoms)",
        "device": args.device
        if args.device != "cpu"
        else f"cpu ({platform.processor() or platform.machine()}, {os.cpu_count()} cores)",
        "torch": torch.__version__,
        "rounds": args.rounds,
        "threads": args.threads or torch.get_num_threads(),
        "command": " ".join(["python benchmarks/bench_models.py", *sys.argv[1:]]),
        "allocator_settings": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "wall_s": round(time.time() - started, 1),
        "date": time.strftime("%Y-%m-%d"),
        "models": summary,
    }
    out = write_results(args, "bench_models", report)
    print(f"\n{report['benchmark']}; {report['batch']}; {report['device']}; torch {report['torch']}")
    print(
        f"{'model':22s} {'params':>10s} {'s/step':>9s} {'peak MB':>9s} {'vs torchmd-net':>15s} {'vs MACE':>9s}"
        f" {'faults/step':>12s} {'kernel s/step':>14s}"
    )
    for name, entry in summary.items():
        if "step_s" not in entry:
            print(f"{name:22s} failed: {entry['error']}")
            continue
        tn = entry.get("speedup_vs_torchmdnet_tensornet")
        mace = entry.get("speedup_vs_mace")
        print(
            f"{name:22s} {entry['params']:>10,d} {entry['step_s']:>9.3f} {entry['peak_memory_mb']:>9.0f} "
            f"{(f'{tn:.2f}x' if tn else ''):>15s} {(f'{mace:.2f}x' if mace else ''):>9s}"
            f" {entry['page_faults_per_step']:>12,.0f} {entry['kernel_cpu_s_per_step']:>14.2f}"
        )
    for name, entry in summary.items():
        pair = entry.get("vs_fairchem")
        if pair:
            rounds = ", ".join(f"{x:.2f}" for x in pair["speedup_rounds"])
            print(
                f"{name} vs {pair['peer']}: {pair['speedup']:.2f}x faster (median {pair['speedup_median']:.2f}x; "
                f"rounds {rounds}), memory {pair['memory_ratio']:.2f}x"
            )
    compile_info = summary.get("equitools-tensornet", {}).get("compile")
    if compile_info:
        print(
            f"torch.compile (inductor) TensorNet inference: {compile_info['compiled_inference_s']:.3f} s vs eager "
            f"{compile_info['eager_inference_s']:.3f} s; "
            f"max |ΔF| = {compile_info['max_abs_diff_forces_eV_per_A']:.1e} eV/Å"
        )
    print(f"wrote {out} ({report['wall_s']} s)")


if __name__ == "__main__":
    main()
