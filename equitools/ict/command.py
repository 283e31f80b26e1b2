"""``equitools ict``: build, verify and save the path matrices of a rank-n Cartesian tensor."""

from __future__ import annotations

import argparse
import time

import numpy as np

from ..ranges import COUNT, argument
from ..testing import random_rotation
from .io import save
from .path_matrices import path_matrices
from .verify import verify

DEFAULT_RANK = 6
TOLERANCE = {"float64": 1e-10, "float32": 1e-5}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rank", type=argument(COUNT), default=DEFAULT_RANK, help=f"tensor rank n (default {DEFAULT_RANK})")
    parser.add_argument("--exact", action="store_true", help="exact sympy entries (practical up to rank 5-6)")
    parser.add_argument("--sparse", action="store_true", help="CSR storage (the form for rank 9-10)")
    parser.add_argument("--dtype", choices=sorted(TOLERANCE), default="float64")
    parser.add_argument("--out", help="write the path matrices to this .npz (atomically)")
    parser.add_argument("--no-verify", action="store_true", help="skip the numerical checks")


def run(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    bar = tqdm(desc=f"rank {args.rank}", unit="chunk", disable=args.rank < 8, leave=False)

    def progress(step: int, total: int) -> None:
        bar.total = total
        bar.update(step)

    start = time.perf_counter()
    pm = path_matrices(args.rank, dtype=np.dtype(args.dtype), exact=args.exact, sparse=args.sparse, progress=progress)
    elapsed = time.perf_counter() - start
    bar.close()
    stack = pm.stacked() if not pm.exact else None
    if pm.sparse:
        storage = f"CSR, {stack.nnz:,} nonzeros ({stack.nnz / pm.dim**2:.1%}), {(stack.data.nbytes + stack.indices.nbytes + stack.indptr.nbytes) / 1e9:.3f} GB"
    elif pm.exact:
        storage = "exact (sympy)"
    else:
        storage = f"dense {stack.dtype}, {stack.nbytes / 1e9:.3f} GB"
    print(f"ICT path matrices, rank {pm.rank}: {len(pm.paths)} paths, dimension {pm.dim}")
    print(f"  irreps   {pm.irreps}")
    print(f"  built in {elapsed:.2f} s; {storage}")
    ok = True
    if not args.no_verify:
        tolerance = TOLERANCE["float64" if args.exact else args.dtype]
        for name, R in (("rotation", random_rotation(0)), ("rotation x inversion", -random_rotation(1))):
            errors = verify(pm, R)
            good = max(errors[k] for k in ("orthonormality", "equivariance", "completeness")) <= tolerance
            ok &= good
            print(
                f"  check ({name}, {errors['rows_checked']} rows): orthonormality {errors['orthonormality']:.1e}, "
                f"equivariance {errors['equivariance']:.1e}, completeness {errors['completeness']:.1e} "
                f"-> {'OK' if good else 'FAILED'}"
            )
    if args.out:
        path = save(pm, args.out)
        print(f"  saved    {path}")
    return 0 if ok else 1
