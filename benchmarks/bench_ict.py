"""ICT path matrices: time and peak memory, side by side with e3nn's ``ReducedTensorProducts``.

    python benchmarks/bench_ict.py            # n = 4..7 vs e3nn, ours for 8, 9 (dense), 10 (sparse)
    python benchmarks/bench_ict.py --quick    # n = 4..6 vs e3nn, ours up to 8
    python benchmarks/bench_ict.py --command-only   # just the `equitools ict` row below

Every measurement runs in a fresh subprocess (one Python, numpy/torch loaded before the clock
starts), so its peak resident memory above the pre-build baseline is attributable to it; times
are the best of 3 such processes (1 when a run exceeds 10 s), for both libraries.
One more row times the command ``equitools ict --rank 9`` (8 with --quick), build + verification
by random probes, against the same command with ``--no-verify`` (build alone), as a ratio.
Results: a new ``benchmarks/results/runs/bench_ict-<UTC time>.json`` (``--save``: the tracked
``benchmarks/results/bench_ict.json``) and a markdown table on stdout.

Run time on 2 CPU cores: about 4.5 min (--quick: about 1 min).
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import time

from outputs import add_output_options, output_path

REPEATS = 3


def _rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(library: str, n: int, form: str) -> dict:
    """Run one case in this process; returns seconds and memory figures."""
    import numpy as np

    if library == "e3nn":
        import torch
        from e3nn import o3

        torch.set_num_threads(2)
        indices = "abcdefghij"[:n]
        baseline = _rss_bytes()
        start = time.perf_counter()
        rtp = o3.ReducedTensorProducts(indices, **{c: "1o" for c in indices})
        seconds = time.perf_counter() - start
        output = rtp.change_of_basis.numel() * rtp.change_of_basis.element_size()
        return {
            "seconds": seconds,
            "peak_bytes": _rss_bytes() - baseline,
            "output_bytes": output,
            "irreps": str(rtp.irreps_out.simplify()),
        }
    if library == "command":
        return measure_command(n, verify=form == "build+verify")
    from equitools.ict import path_matrices

    path_matrices(2)  # load CG caches and thread pool machinery outside the clock
    baseline = _rss_bytes()
    start = time.perf_counter()
    pm = path_matrices(n, dtype=np.float64, sparse=form == "sparse")
    seconds = time.perf_counter() - start
    stack = pm.stacked()
    if pm.sparse:
        output, nonzero = stack.data.nbytes + stack.indices.nbytes + stack.indptr.nbytes, stack.nnz
    else:
        output, nonzero = stack.nbytes, int(np.count_nonzero(stack))
    return {
        "seconds": seconds,
        "peak_bytes": _rss_bytes() - baseline,
        "output_bytes": output,
        "nonzero_fraction": nonzero / pm.dim**2,
        "irreps": pm.irreps,
    }


def measure_command(n: int, verify: bool) -> dict:
    """``equitools ict --rank n`` (dense float64) in this process, output discarded; ``verify=False``
    adds ``--no-verify`` (the build alone)."""
    import contextlib
    import io

    from equitools.cli import main

    argv = ["ict", "--rank", str(n), "--no-progress"] + ([] if verify else ["--no-verify"])
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["ict", "--rank", "2", "--no-progress"]) == 0  # imports and caches outside the clock
        baseline = _rss_bytes()
        start = time.perf_counter()
        code = main(argv)
        seconds = time.perf_counter() - start
    assert code == 0, f"equitools {' '.join(argv)} exited with {code}"
    return {"seconds": seconds, "peak_bytes": _rss_bytes() - baseline, "argv": argv}


def run_case(library: str, n: int, form: str, repeats: int = REPEATS) -> dict:
    """Best of ``repeats`` fresh processes (one run when a run takes over 10 s)."""
    best = None
    for _ in range(repeats):
        result = subprocess.run(
            [sys.executable, __file__, "--case", library, str(n), form], capture_output=True, text=True, check=True
        )
        run = json.loads(result.stdout.strip().splitlines()[-1])
        best = run if best is None or run["seconds"] < best["seconds"] else best
        if run["seconds"] > 10:
            break
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="n = 4..6 vs e3nn, ours up to 8")
    parser.add_argument(
        "--command-only", action="store_true", help="only the 'equitools ict' row (build + verify vs build)"
    )
    add_output_options(parser, "bench_ict")
    parser.add_argument("--case", nargs=3, metavar=("LIBRARY", "N", "FORM"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        library, n, form = args.case
        print(json.dumps(measure(library, int(n), form)))
        return
    compared = range(4, 7) if args.quick else range(4, 8)
    alone = [(8, "dense")] if args.quick else [(8, "dense"), (9, "dense"), (9, "sparse"), (10, "sparse")]
    if args.command_only:
        compared, alone = (), []
    rows = []
    for n in compared:
        ours, peer = run_case("equitools", n, "dense"), run_case("e3nn", n, "dense")
        assert ours["irreps"] == peer["irreps"], (ours["irreps"], peer["irreps"])
        rows.append(
            {"n": n, "form": "dense", "equitools": ours, "e3nn": peer, "speedup": peer["seconds"] / ours["seconds"]}
        )
        print(
            f"n={n}: equitools {ours['seconds']:.4f} s, e3nn {peer['seconds']:.2f} s, x{rows[-1]['speedup']:.0f}",
            file=sys.stderr,
        )
    for n, form in alone:
        ours = run_case("equitools", n, form)
        rows.append({"n": n, "form": form, "equitools": ours, "e3nn": None, "speedup": None})
        print(
            f"n={n} {form}: {ours['seconds']:.2f} s, peak/output {ours['peak_bytes'] / ours['output_bytes']:.2f}",
            file=sys.stderr,
        )
    rank = 8 if args.quick else 9
    build, checked = run_case("command", rank, "build"), run_case("command", rank, "build+verify")
    command = {
        "n": rank,
        "form": "dense",
        "build": build,
        "build_verify": checked,
        "ratio": checked["seconds"] / build["seconds"],
    }
    print(
        f"equitools ict --rank {rank}: build {build['seconds']:.2f} s, + verify x{command['ratio']:.2f}",
        file=sys.stderr,
    )
    import numpy
    import scipy

    report = {
        "benchmark": "ICT path matrices (all paths, float64); best of 3 fresh processes, 1 if a run exceeds 10 s",
        "command": "python benchmarks/bench_ict.py"
        + (" --quick" if args.quick else "")
        + (" --command-only" if args.command_only else ""),
        "machine": {
            "cpus": __import__("os").cpu_count(),
            "platform": platform.platform(),
            "numpy": numpy.__version__,
            "scipy": scipy.__version__,
        },
        "rows": rows,
        "equitools_ict": command,
    }
    out = output_path(args, "bench_ict")
    temporary = out.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(report, indent=2))
    temporary.replace(out)
    print(table(report))
    print(f"\nwritten to {out}", file=sys.stderr)


def table(report: dict) -> str:
    """Markdown table of a report."""
    lines = [
        "| rank n | form | equitools time | e3nn ReducedTensorProducts | speed-up | peak memory / output | nonzeros |",
        "|---:|---|---:|---:|---:|---:|---:|",
    ]
    for row in report["rows"]:
        ours, peer = row["equitools"], row["e3nn"]
        lines.append(
            f"| {row['n']} | {row['form']} | {ours['seconds']:.3f} s | "
            + (f"{peer['seconds']:.2f} s | {row['speedup']:.0f}x" if peer else "not run | ")
            + f" | {ours['peak_bytes'] / ours['output_bytes']:.2f} ({ours['output_bytes'] / 1e9:.3g} GB out)"
            + f" | {ours['nonzero_fraction']:.1%} |"
        )
    row = report["equitools_ict"]
    lines += [
        "",
        "| command (dense float64) | build alone (--no-verify) | build + verify | ratio |",
        "|---|---:|---:|---:|",
        f"| equitools ict --rank {row['n']} (build + verify) | {row['build']['seconds']:.2f} s"
        f" | {row['build_verify']['seconds']:.2f} s | {row['ratio']:.2f}x |",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
