"""Tensor-product speed, side by side in one process: e3nn vs equitools, L = 1..10.

Every method computes a channel-wise product of two (L+1)^2 stacked-harmonics features for
rows = edges x channels independent rows (same L for both inputs and the output):

  e3nn_full       e3nn ``o3.FullTensorProduct`` (every CG path, even and odd), the baseline
  e3nn_grid       e3nn ``ToS2Grid`` x ``ToS2Grid`` -> ``FromS2Grid`` (exact resolution, "integral")
  cg_dense        equitools ``CGTensorProduct`` with a dense coupling matrix (every path)
  cg_sparse       equitools ``CGTensorProduct`` (sparse coupling, every path)
  gaunt_dense     equitools ``GauntTensorProduct(method="dense")``
  gaunt_fourier   equitools ``GauntTensorProduct(method="fourier")`` (2D Fourier + FFT)
  gaunt_grid      equitools ``GauntTensorProduct(method="grid")`` (Gauss-Legendre x uniform phi)
  gaunt_grid_fft  the same with real FFTs in phi (``phi_transform="fft"``)
  gaunt_grid_odd  the grid product with the parity-odd bracket paths (every CG path)

Times are the minimum over repeats (after a warm-up) of one forward (no grad) and of one
forward+backward. A method whose estimated time or memory at the full row count is over budget
runs on fewer rows and its time is scaled linearly to the full count ("rows_measured" in the
JSON says so). The scaling exponent is a least-squares fit of log time against log L, over all
measured L and over L >= 4 (closer to the asymptotic regime).
Methods built on Clebsch–Gordan coefficients (cg_*, gaunt_dense) stop at --cg-lmax (default 8):
exact CG coefficients up to l = 10 take minutes to compute on this CPU (``so3.clebsch_gordan``,
pure-Python rational arithmetic, cached afterwards); the grid and Fourier products need none.
Idle OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE): on a shared machine spinning threads that
get preempted otherwise turn sub-millisecond calls into ~100 ms ones, for every method alike.

    python benchmarks/bench_tp.py            # L = 1..10, 2,000 edges x 32 channels (< 10 min)
    python benchmarks/bench_tp.py --quick    # L = 1..6, 500 edges

Results: a new ``benchmarks/results/runs/bench_tp-<UTC time>.json`` (``--save``: the tracked
``benchmarks/results/bench_tp.json``) and markdown tables on stdout.

Run time on 2 CPU cores: about 6 min (--quick: about 1 min).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from e3nn import o3  # noqa: E402
from outputs import add_output_options, machine, write_results  # noqa: E402
from timing import best_time  # noqa: E402

from equitools.tp import CGTensorProduct, GauntTensorProduct  # noqa: E402

METHODS = [
    "e3nn_full",
    "e3nn_grid",
    "cg_dense",
    "cg_sparse",
    "gaunt_dense",
    "gaunt_fourier",
    "gaunt_grid",
    "gaunt_grid_fft",
    "gaunt_grid_odd",
]
MEMORY_ELEMENTS = 1.5e8  # largest intermediate per call (float32 elements), ~0.6 GB


def full_dim(L: int) -> int:
    """Output dimension of the full CG product of two degree-L stacks (every path, l3 <= L)."""
    return sum(
        2 * l3 + 1 for l1 in range(L + 1) for l2 in range(L + 1) for l3 in range(abs(l1 - l2), min(l1 + l2, L) + 1)
    )


def build(method: str, L: int):
    """``(product of two (rows, (L+1)^2) tensors, float32 intermediate elements per row)``."""
    sh = o3.Irreps.spherical_harmonics(L)
    n = (L + 1) ** 2
    if method == "e3nn_full":
        every = [o3.Irrep(l, p) for l in range(L + 1) for p in (1, -1)]
        return o3.FullTensorProduct(sh, sh, filter_ir_out=every), n * n + full_dim(L)
    if method == "e3nn_grid":
        res = (3 * L + 2 + (3 * L) % 2, 3 * L + 1)  # smallest exact resolution (beta even)
        to_grid, from_grid = (
            o3.ToS2Grid(L, res, normalization="integral"),
            o3.FromS2Grid(res, L, normalization="integral"),
        )
        return (lambda x, y: from_grid(to_grid(x) * to_grid(y))), 3 * res[0] * res[1]
    if method in ("cg_dense", "cg_sparse"):
        return CGTensorProduct(sh, sh, coupling=method[3:]), 2 * n * n + full_dim(L)
    kind = method.split("_")[1]
    per_row = {"dense": 2 * n * n, "fourier": 8 * (4 * L + 1) * (3 * L + 1), "grid": 8 * (L + 1) * (3 * L + 1)}[kind]
    options = {"phi_transform": "fft"} if method.endswith("fft") else {}
    gaunt = GauntTensorProduct(L, L, L, method=kind, parity_odd=method.endswith("odd"), **options)
    return (lambda x, y: gaunt(x[..., None], y[..., None])), per_row  # rows as (rows, (L+1)^2, 1): one channel


def measure(
    method: str, L: int, rows: int, repeats: int, budget: float, fixed_rows: int | None = None, cg_lmax: int = 10
) -> dict:
    if method in ("cg_dense", "cg_sparse", "gaunt_dense") and L > cg_lmax:
        return {"method": method, "L": L, "skipped": f"L > --cg-lmax {cg_lmax} (CG coefficients take minutes to build)"}
    if method == "cg_dense" and full_dim(L) * (L + 1) ** 4 > 5e6:
        return {
            "method": method,
            "L": L,
            "skipped": f"dense coupling matrix of {full_dim(L) * (L + 1) ** 4:.1e} entries",
        }
    start = time.perf_counter()
    module, per_row = build(method, L)
    build_s = time.perf_counter() - start
    n = (L + 1) ** 2
    generator = torch.Generator().manual_seed(L)

    def inputs(m, grad=False):
        return [torch.randn(m, n, generator=generator).requires_grad_(grad) for _ in range(2)]

    def forward(x, y):
        with torch.no_grad():
            module(x, y)

    def forward_backward(x, y):
        module(x, y).square().sum().backward()

    if fixed_rows is None:
        probe = int(min(rows, 4096, MEMORY_ELEMENTS / per_row))
        estimate = 3 * best_time(lambda: forward(*inputs(probe)), 1, warmup=True) * rows / probe  # forward + backward
        measured = int(min(rows, max(probe, rows * budget / estimate), max(probe, MEMORY_ELEMENTS / per_row)))
    else:
        measured = fixed_rows
    x, y = inputs(measured)
    xg, yg = inputs(measured, grad=True)
    scale = rows / measured
    return {
        "method": method,
        "L": L,
        "rows": rows,
        "rows_measured": measured,
        "build_s": build_s,
        "forward_s": best_time(lambda: forward(x, y), repeats, warmup=True) * scale,
        "forward_backward_s": best_time(lambda: forward_backward(xg, yg), repeats, warmup=True) * scale,
    }


def exponent(results: list, method: str, key: str, L_min: int = 4) -> float | None:
    """Least-squares slope of log time against log L over the measured L >= L_min."""
    points = [(r["L"], r[key]) for r in results if r["method"] == method and key in r and r["L"] >= L_min]
    if len(points) < 3:
        return None
    L, t = np.array(points, dtype=float).T
    return float(np.polyfit(np.log(L), np.log(t), 1)[0])


def table(results: list, degrees: list, key: str) -> str:
    lines = ["| L | " + " | ".join(METHODS) + " |", "|---" * (len(METHODS) + 1) + "|"]
    for L in degrees:
        cells = []
        for method in METHODS:
            (r,) = [r for r in results if r["method"] == method and r["L"] == L]
            cells.append(
                "—" if key not in r else f"{1e3 * r[key]:.1f}" + ("*" if r["rows_measured"] < r["rows"] else "")
            )
        lines.append(f"| {L} | " + " | ".join(cells) + " |")
    for L_min in (1, 4):
        fits = [exponent(results, m, key, L_min) for m in METHODS]
        lines.append(f"| exponent (L>={L_min}) | " + " | ".join("—" if f is None else f"{f:.2f}" for f in fits) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="L = 1..6 and 500 edges")
    parser.add_argument("--edges", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--lmax", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--budget", type=float, default=1.0, help="seconds per timed call before rows are reduced")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cg-lmax", type=int, default=8, help="largest L for the methods that need CG coefficients")
    add_output_options(parser, "bench_tp", "--output", "--out")
    args = parser.parse_args()
    if args.quick:
        args.edges, args.lmax = 500, 6
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    rows = args.edges * args.channels
    degrees = list(range(1, args.lmax + 1))
    results = []
    for L in degrees:
        for method in METHODS:
            results.append(measure(method, L, rows, args.repeats, args.budget, cg_lmax=args.cg_lmax))
            r = results[-1]
            print(
                f"L={L:2d} {method:15s} "
                + (
                    r["skipped"]
                    if "skipped" in r
                    else f"fwd {1e3 * r['forward_s']:9.1f} ms  fwd+bwd {1e3 * r['forward_backward_s']:9.1f} ms  "
                    f"rows {r['rows_measured']:6d}  build {r['build_s']:5.1f} s"
                ),
                flush=True,
            )
    summary = {}
    if 8 in degrees:  # the headline ratio, also on identical rows (those e3nn_full ran on)
        at8 = {r["method"]: r for r in results if r["L"] == 8 and "skipped" not in r}
        same = at8["e3nn_full"]["rows_measured"]
        gaunts = ("gaunt_fourier", "gaunt_grid", "gaunt_grid_fft")
        fastest = min(gaunts, key=lambda m: at8[m]["forward_s"])
        summary["fastest_gaunt_L8"] = fastest
        paired = measure(fastest, 8, rows, args.repeats, args.budget, fixed_rows=same)
        for key in ("forward_s", "forward_backward_s"):
            summary[f"e3nn_full_over_{fastest}_L8_{key[:-2]}"] = at8["e3nn_full"][key] / at8[fastest][key]
            summary[f"e3nn_full_over_{fastest}_L8_{key[:-2]}_same_{same}_rows"] = at8["e3nn_full"][key] / paired[key]
            summary[f"e3nn_grid_over_gaunt_grid_L8_{key[:-2]}"] = at8["e3nn_grid"][key] / at8["gaunt_grid"][key]
    report = {
        "command": "python benchmarks/bench_tp.py" + (" --quick" if args.quick else ""),
        "config": {
            "edges": args.edges,
            "channels": args.channels,
            "rows": rows,
            "degrees": degrees,
            "repeats": args.repeats,
            "budget_s": args.budget,
            "cg_lmax": args.cg_lmax,
            "dtype": "float32",
            "threads": args.threads,
        },
        "machine": machine(),
        "results": results,
        "exponents": {
            m: {
                f"{k}_L>={L_min}": exponent(results, m, k, L_min)
                for k in ("forward_s", "forward_backward_s")
                for L_min in (1, 4)
            }
            for m in METHODS
        },
        "summary": summary,
        "elapsed_s": time.perf_counter() - started,
    }
    out = write_results(args, "bench_tp", report, indent=1)
    print(
        f"\nrows = {args.edges} edges x {args.channels} channels = {rows}; times in ms; "
        "* = measured on fewer rows, scaled\n"
    )
    print("Forward\n\n" + table(results, degrees, "forward_s") + "\n")
    print("Forward + backward\n\n" + table(results, degrees, "forward_backward_s") + "\n")
    for key, value in summary.items():
        print(f"{key}: {value if isinstance(value, str) else f'{value:.1f}x'}")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main()
