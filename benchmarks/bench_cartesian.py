"""Cartesian layers vs e3nn, side by side in one process: ``CartesianLinear`` and
``CartesianTensorProduct`` on 10⁴ rows x 64 channels (issue #15).

Linear maps, rank r -> r for r = 1..4, every equivariant map with channel mixing:

  cartesian_linear   equitools ``CartesianLinear(r, r, 64, 64)`` on ``(N, 3**r, 64)`` Cartesian
                     features; it projects onto irreps coefficients, mixes, and lifts back
  e3nn_linear        e3nn ``o3.Linear(I, I)``, I = the irreps of a rank-r tensor
                     (``ict.path_matrices(r).irreps``, e.g. 3x0e+6x1e+6x2e+3x3e+1x4e for r = 4)
                     times 64 channels, simplified (192x0e+384x1e+384x2e+192x3e+64x4e): it mixes
                     all copies of each irrep across channels, the span of ``CartesianLinear``'s
                     weights; the weight counts are checked equal. e3nn's flat layout
                     ``(N, 64 · 3**r)``; it works on irreps coefficients, with no Cartesian ↔
                     irreps conversion.

Channel-wise products of single ICTs, ranks a ⊗ b -> c (parity (-1)**rank, one path each), no
weights:

  cartesian_tp          equitools ``CartesianTensorProduct(a, b, c)`` on ``(N, 3**l, 64)``
                        Cartesian components (it converts to ICT coefficients and back)
  cartesian_tp_compact  the same with ``compact=True``: ``(N, 2l+1, 64)`` ICT coefficients
  cg_tp                 equitools ``tp.CGTensorProduct`` of the same irreps, ``channels=64``
                        (library layout ``(N, 2l+1, 64)``)
  e3nn_tp               e3nn ``o3.TensorProduct`` 64xa ⊗ 64xb -> 64xc, one "uuu" instruction,
                        no weights, flat layout ``(N, 64 (2l+1))``

Before timing, the four products are checked against each other on a few float64 rows (the
Cartesian one fed the lifted coefficients P_aᵀ x, P_bᵀ y and its output projected by P_c): the
largest relative difference is kept in the JSON, and a run stops if it is over 1e-10. Times are
float32, the minimum over repeats (after a warm-up) of one forward (no grad) and of one
forward + backward (inputs and weights require grad; the backward of a fixed random output
gradient, so that no loss op is timed: its cost would grow with the output's width, 3**c
Cartesian components against 2c+1 coefficients). Minor page faults and kernel CPU time per call
are kept too: on this machine memory taken fresh from the OS is a large part of the time of
large calls (glibc's defaults unless ``MALLOC_*`` variables are set; they are recorded). Idle
OpenMP threads sleep (OMP_WAIT_POLICY=PASSIVE), as in ``bench_tp.py``. No case needs fewer
rows: the largest (rank-4 linear, forward + backward) peaks at about 2 GB.

    python benchmarks/bench_cartesian.py           # N = 10,000 rows x 64 channels
    python benchmarks/bench_cartesian.py --quick   # N = 1,000 rows, ranks <= 3, 2 products

Results: a new ``benchmarks/results/runs/bench_cartesian-<UTC time>.json`` (``--save``: the
tracked ``benchmarks/results/bench_cartesian.json``) and markdown tables on stdout; ratios are
e3nn time / equitools time (> 1: equitools is faster).

Run time on 2 CPU cores: about 1.5 min (--quick: about 10 s).
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP

import argparse  # noqa: E402
import functools  # noqa: E402
import resource  # noqa: E402
import time  # noqa: E402

import torch  # noqa: E402
from e3nn import o3  # noqa: E402
from outputs import add_output_options, machine, write_results  # noqa: E402
from timing import best_time  # noqa: E402

from equitools.ict import path_matrices  # noqa: E402
from equitools.nn import CartesianLinear, CartesianTensorProduct  # noqa: E402
from equitools.nn.cartesian_product import ict_rows  # noqa: E402
from equitools.tp import CGTensorProduct  # noqa: E402

LINEAR_METHODS = ["cartesian_linear", "e3nn_linear"]
TP_METHODS = ["cartesian_tp", "cartesian_tp_compact", "cg_tp", "e3nn_tp"]
PRODUCTS = [(1, 1, 2), (2, 2, 2), (2, 1, 3), (3, 3, 2)]


def irrep(rank: int) -> str:
    """The irrep of a rank-``rank`` ICT built from vectors: degree rank, parity (-1)**rank."""
    return f"{rank}{'e' if rank % 2 == 0 else 'o'}"


def build_linear(method: str, rank: int, channels: int):
    """``(module, feature shape of one row)``."""
    if method == "cartesian_linear":
        return CartesianLinear(rank, rank, channels, channels), (3**rank, channels)
    irreps = o3.Irreps([(channels * mul, ir) for mul, ir in o3.Irreps(str(path_matrices(rank).irreps))]).simplify()
    return o3.Linear(irreps, irreps), (irreps.dim,)


def build_tp(method: str, abc: tuple, channels: int):
    """``(product of two tensors, feature shapes of one row of each input)``."""
    a, b, c = abc
    if method in ("cartesian_tp", "cartesian_tp_compact"):
        compact = method.endswith("compact")
        size = (lambda l: 2 * l + 1) if compact else (lambda l: 3**l)
        return CartesianTensorProduct(a, b, c, compact=compact), [(size(a), channels), (size(b), channels)]
    if method == "cg_tp":
        product = CGTensorProduct(irrep(a), irrep(b), irrep(c), channels=channels)
        return product, [(2 * a + 1, channels), (2 * b + 1, channels)]
    irreps = [f"{channels}x{irrep(l)}" for l in abc]
    product = o3.TensorProduct(*irreps, [(0, 0, 0, "uuu", False)])
    return product, [(channels * (2 * a + 1),), (channels * (2 * b + 1),)]


def to_flat(x: torch.Tensor) -> torch.Tensor:
    """Channels-last ``(N, 2l+1, C)`` → e3nn's multiplicity-major ``(N, C (2l+1))``."""
    return x.transpose(1, 2).reshape(x.shape[0], -1)


def check_products(abc: tuple, channels: int, rows: int = 4) -> float:
    """Largest |difference| between the four products of ``abc`` on random float64 inputs,
    relative to the largest output (the Cartesian output compared after projection onto ICT
    coefficients, with its inputs lifted from the same coefficients)."""
    a, b, c = abc
    generator = torch.Generator().manual_seed(sum(abc))
    x, y = (torch.randn(rows, 2 * l + 1, channels, generator=generator, dtype=torch.float64) for l in (a, b))
    lift = [torch.tensor(ict_rows(l)) for l in abc]
    outputs = {}
    for method in TP_METHODS:
        default = torch.get_default_dtype()
        torch.set_default_dtype(torch.float64)  # e3nn bakes its CG constants in the default dtype
        try:
            product = build_tp(method, abc, channels)[0].double()
        finally:
            torch.set_default_dtype(default)
        if method == "cartesian_tp":
            outputs[method] = lift[2] @ product(lift[0].T @ x, lift[1].T @ y)
        elif method == "e3nn_tp":
            outputs[method] = product(to_flat(x), to_flat(y)).view(rows, channels, 2 * c + 1).transpose(1, 2)
        else:
            outputs[method] = product(x, y)
    reference = outputs["cartesian_tp_compact"]
    scale = reference.abs().max().item()
    return max((out - reference).abs().max().item() for out in outputs.values()) / scale


def measure(module, shapes: list, rows: int, repeats: int) -> dict:
    """Forward and forward+backward times (s) of ``module(*inputs)`` on ``rows`` float32 rows,
    with minor page faults and kernel CPU seconds per call of each."""
    generator = torch.Generator().manual_seed(0)

    def inputs(grad: bool):
        return [torch.randn((rows, *shape), generator=generator).requires_grad_(grad) for shape in shapes]

    def forward(*x):
        with torch.no_grad():
            module(*x)

    with torch.no_grad():
        gradient = torch.randn(module(*inputs(False)).shape, generator=generator)

    def forward_backward(*x):
        module(*x).backward(gradient)

    out = {}
    for key, fn, grad in (("forward", forward, False), ("forward_backward", forward_backward, True)):
        call = functools.partial(fn, *inputs(grad))
        before = resource.getrusage(resource.RUSAGE_SELF)
        out[f"{key}_s"] = best_time(call, repeats, warmup=True)
        after = resource.getrusage(resource.RUSAGE_SELF)
        out[f"{key}_faults_per_call"] = (after.ru_minflt - before.ru_minflt) / (repeats + 1)
        out[f"{key}_kernel_s_per_call"] = (after.ru_stime - before.ru_stime) / (repeats + 1)
        del call  # frees the inputs before the next ones are drawn
    return out


def ratio_table(results: list, cases: list, methods: list, peer: str, key: str, label) -> str:
    """Markdown: one row per case (``label(result of peer)``), ms per method and e3nn / method."""
    ours = [m for m in methods if m != peer]
    head = [f"{m} (ms)" for m in methods] + [f"{peer} / {m}" for m in ours]
    lines = ["| case | " + " | ".join(head) + " |", "|---" + "|---:" * len(head) + "|"]
    for case in cases:
        at = {r["method"]: r for r in results if r["case"] == case}
        cells = [f"{1e3 * at[m][key]:.1f}" for m in methods] + [f"{at[peer][key] / at[m][key]:.2f}" for m in ours]
        lines.append(f"| {label(at[peer])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 rows, ranks <= 3, two products")
    parser.add_argument("--rows", type=int, default=10_000, help="N, rows of features")
    parser.add_argument("--channels", type=int, default=64)
    parser.add_argument("--max-rank", type=int, default=4, help="largest rank of the linear maps")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    add_output_options(parser, "bench_cartesian", "--output", "--out")
    args = parser.parse_args()
    products = PRODUCTS
    if args.quick:
        args.rows, args.max_rank, products = 1000, 3, PRODUCTS[:2]
    for name in ("rows", "channels", "max_rank", "repeats", "threads"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
    torch.set_num_threads(args.threads)
    started = time.perf_counter()
    results = []
    ranks = list(range(1, args.max_rank + 1))
    for rank in ranks:
        weights = {}
        for method in LINEAR_METHODS:
            module, shape = build_linear(method, rank, args.channels)
            weights[method] = sum(p.numel() for p in module.parameters())
            results.append(
                {"layer": "linear", "case": f"rank{rank}", "rank": rank, "method": method, "weights": weights[method]}
            )
            results[-1].update(measure(module, [shape], args.rows, args.repeats))
            r = results[-1]
            print(
                f"linear r={rank} {method:22s} fwd {1e3 * r['forward_s']:8.1f} ms  "
                f"fwd+bwd {1e3 * r['forward_backward_s']:8.1f} ms  weights {r['weights']}",
                flush=True,
            )
        if len(set(weights.values())) != 1:
            raise RuntimeError(f"rank {rank}: the linear maps differ in weight count: {weights}")
    for abc in products:
        difference = check_products(abc, args.channels)
        if difference > 1e-10:
            raise RuntimeError(f"{abc}: the products disagree (relative difference {difference:.1e})")
        for method in TP_METHODS:
            module, shapes = build_tp(method, abc, args.channels)
            case = "tp" + "".join(map(str, abc))
            results.append(
                {"layer": "tp", "case": case, "abc": list(abc), "method": method, "check_difference": difference}
            )
            results[-1].update(measure(module, shapes, args.rows, args.repeats))
            r = results[-1]
            print(
                f"tp {abc} {method:22s} fwd {1e3 * r['forward_s']:8.1f} ms  "
                f"fwd+bwd {1e3 * r['forward_backward_s']:8.1f} ms",
                flush=True,
            )
    summary = {}
    for r in results:
        peer = "e3nn_linear" if r["layer"] == "linear" else "e3nn_tp"
        if r["method"] != peer:
            (e3nn,) = [q for q in results if q["method"] == peer and q["case"] == r["case"]]
            for key in ("forward", "forward_backward"):
                summary[f"e3nn_over_{r['method']}_{r['case']}_{key}"] = e3nn[f"{key}_s"] / r[f"{key}_s"]
    report = {
        "command": "python benchmarks/bench_cartesian.py" + (" --quick" if args.quick else ""),
        "config": {
            "rows": args.rows,
            "channels": args.channels,
            "ranks": ranks,
            "products": [list(p) for p in products],
            "repeats": args.repeats,
            "dtype": "float32",
            "threads": args.threads,
        },
        "machine": {
            **machine(),
            "allocator_settings": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        },
        "results": results,
        "summary": summary,
        "elapsed_s": time.perf_counter() - started,
    }
    out = write_results(args, "bench_cartesian", report, indent=1)
    print(f"\nN = {args.rows} rows x {args.channels} channels, float32, {args.threads} threads; ratios e3nn / ours")
    linear_cases = [f"rank{r}" for r in ranks]
    tp_cases = ["tp" + "".join(map(str, p)) for p in products]
    for key, title in (("forward_s", "forward"), ("forward_backward_s", "forward + backward")):
        table = ratio_table(
            results,
            linear_cases,
            LINEAR_METHODS,
            "e3nn_linear",
            key,
            lambda r: f"rank {r['rank']}, {r['weights']} weights",
        )
        print(f"\nLinear maps rank r -> r, {title}\n\n{table}")
        table = ratio_table(results, tp_cases, TP_METHODS, "e3nn_tp", key, lambda r: "{} ⊗ {} → {}".format(*r["abc"]))
        print(f"\nChannel-wise products, {title}\n\n{table}")
    print(f"\nwritten to {out} ({report['elapsed_s']:.0f} s)")


if __name__ == "__main__":
    main()
