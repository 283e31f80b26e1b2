"""``equitools ict`` knows its limits: memory estimates before building, refusals with one
``error:`` line, and verification by random probes that catches corrupted stacks."""

from __future__ import annotations

import importlib
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp

from equitools import safe_npz
from equitools.cli import main
from equitools.ict import PathMatrices, path_matrices, product_path_matrices
from equitools.ict.sizes import EXACT_MAX_RANK, MAX_RANK, format_bytes, memory_needed, nonzeros_bound
from equitools.ict.verify import verify
from equitools.testing import random_rotation

path_matrices_module = importlib.import_module("equitools.ict.path_matrices")  # the module, not the function
verify_module = importlib.import_module("equitools.ict.verify")
TRANSFORMS = [random_rotation(0), -random_rotation(1)]  # a rotation and a rotation x inversion


def csr_bytes(matrix) -> int:
    return matrix.data.nbytes + matrix.indices.nbytes + matrix.indptr.nbytes


# ------------------------------------------------------------------------------ sizes
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_dense_estimate_is_the_real_size(dtype):
    for n in range(1, 7):
        assert memory_needed(n, dtype=dtype).result == path_matrices(n, dtype=dtype).stacked().nbytes


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_estimate_bounds_the_real_csr_bytes(dtype):
    for n in range(1, 8):
        stack = path_matrices(n, dtype=dtype, sparse=True).stacked()
        bound = nonzeros_bound(n)
        assert stack.nnz <= bound <= 1.07 * stack.nnz, (n, stack.nnz, bound)
        estimate = memory_needed(n, sparse=True, dtype=dtype).result
        assert csr_bytes(stack) <= estimate <= 1.07 * csr_bytes(stack)
        if n <= 2:  # no cancellations yet: the bound is the count
            assert bound == stack.nnz and estimate == csr_bytes(stack)


@pytest.mark.parametrize("sparse", [False, True])
def test_peak_estimate_bounds_what_the_build_allocates(sparse):
    need = memory_needed(7, sparse=sparse)
    tracemalloc.start()  # numpy reports its buffers to tracemalloc, from every thread
    try:
        pm = path_matrices(7, sparse=sparse)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    result = csr_bytes(pm.stacked()) if sparse else pm.stacked().nbytes
    assert result <= need.result and result < peak <= need.peak


def test_estimate_arguments_are_checked():
    with pytest.raises(ValueError, match=f"rank must be at most {MAX_RANK} for path matrices, got {MAX_RANK + 1}"):
        memory_needed(MAX_RANK + 1)
    with pytest.raises(ValueError, match="rank must be a positive integer, got 0"):
        nonzeros_bound(0)
    with pytest.raises(ValueError, match="dtype must be float32 or float64, got int64"):
        memory_needed(3, dtype=np.int64)
    with pytest.raises(ValueError, match="sparse"):
        memory_needed(3, sparse=True, exact=True)


def test_format_bytes():
    assert [format_bytes(b) for b in (0, 1023, 1024, 26 * 2**30, 3 * 2**40)] == [
        "0 B",
        "1023 B",
        "1 KiB",
        "26 GiB",
        "3 TiB",
    ]


# ------------------------------------------------------------------------------ refusals
@pytest.fixture
def nothing_built(monkeypatch):
    """Make any build fail the test: a refusal must come before it."""

    def build(*args, **kwargs):
        raise AssertionError("path_matrices was called")

    monkeypatch.setattr(path_matrices_module, "path_matrices", build)


def refused(argv, capsys) -> str:
    """Run the command, check it failed with one ``error:`` line and nothing else; that line."""
    code = main(argv)
    captured = capsys.readouterr()
    lines = (captured.out + captured.err).splitlines()
    assert code != 0 and "Traceback" not in captured.err, (code, captured)
    assert len(lines) == 1 and "error:" in lines[0], lines
    return lines[0]


def test_too_large_for_memory_is_refused_naming_the_alternatives(monkeypatch, capsys, tmp_path, nothing_built):
    dense, sparse = memory_needed(7).peak, memory_needed(7, sparse=True).peak
    available = (dense + sparse) // 2  # the sparse form fits, the dense one does not
    monkeypatch.setattr(safe_npz, "available_memory", lambda: available)
    out = tmp_path / "r7.npz"
    line = refused(["ict", "--rank", "7", "--out", str(out)], capsys)
    assert f"rank 7 dense float64 needs {format_bytes(dense)}" in line
    assert f"this machine has {format_bytes(available)} available" in line
    assert f"--sparse ({format_bytes(sparse)})" in line
    assert 'or the matrix-free equitools.ict.decompose(T, rank=7, by="weight")' in line
    assert not out.exists()


def test_when_nothing_fits_only_the_matrix_free_way_is_named(monkeypatch, capsys, nothing_built):
    monkeypatch.setattr(safe_npz, "available_memory", lambda: 1000)
    line = refused(["ict", "--rank", "5", "--sparse"], capsys)
    assert f"rank 5 sparse float64 needs {format_bytes(memory_needed(5, sparse=True).peak)}" in line
    assert line.endswith('; use the matrix-free equitools.ict.decompose(T, rank=5, by="weight")')
    assert "--sparse (" not in line and "float32 (" not in line


def test_what_fits_is_built(monkeypatch, capsys):
    monkeypatch.setattr(safe_npz, "available_memory", lambda: memory_needed(4).peak)
    assert main(["ict", "--rank", "4"]) == 0
    assert "-> OK" in capsys.readouterr().out


def test_rank_above_the_maximum_is_refused_naming_it(capsys, nothing_built):
    line = refused(["ict", "--rank", str(MAX_RANK + 1), "--sparse"], capsys)
    assert f"--rank {MAX_RANK + 1} is above the largest supported rank, {MAX_RANK}" in line


def test_exact_above_its_practical_rank_is_refused(capsys, nothing_built):
    line = refused(["ict", "--rank", str(EXACT_MAX_RANK + 1), "--exact"], capsys)
    assert f"--exact is practical up to rank {EXACT_MAX_RANK}" in line and "drop --exact" in line
    line = refused(["ict", "--rank", "3", "--exact", "--sparse"], capsys)
    assert "--exact and --sparse cannot be combined" in line


# ------------------------------------------------------------------------------ probes
def corrupted(pm: PathMatrices, how: str) -> PathMatrices:
    """A copy of ``pm`` with one defect (same storage)."""
    S = pm.array().copy()  # array() of a dense stack is the stack itself
    one, two = pm.rows((1, 1, 1, 1, 1)).start, pm.rows((1, 2, 2, 2, 2)).start  # weights 1 and 2
    if how == "sign of one entry":
        S[two, np.flatnonzero(S[two])[0]] *= -1
    elif how == "sign of one row":
        S[two] *= -1
    elif how == "rows of different weights swapped":
        S[[one, two]] = S[[two, one]]
    elif how == "row scaled by 1.001":
        S[one] *= 1.001
    matrix = sp.csr_matrix(S) if pm.sparse else S
    return PathMatrices(pm.degrees, pm.paths, matrix, pm.parity, exact=False)


@pytest.fixture(scope="module", params=["dense", "sparse"])
def rank5(request):
    return path_matrices(5, sparse=request.param == "sparse")


def test_probes_pass_the_genuine_stack(rank5):
    for report in verify(rank5, TRANSFORMS):
        assert report["rows_checked"] == 243 and report["probes"] == 2
        assert max(report[k] for k in ALL) < 1e-13


ALL = ["orthonormality", "completeness", "equivariance"]


@pytest.mark.parametrize(
    "how, broken",
    [
        ("sign of one entry", ALL),
        ("sign of one row", ["equivariance"]),  # still orthonormal
        ("rows of different weights swapped", ["equivariance"]),  # still orthonormal
        ("row scaled by 1.001", ALL),
    ],
)
def test_probes_detect_a_corrupted_stack(rank5, how, broken):
    for report in verify(corrupted(rank5, how), TRANSFORMS):
        for check in ALL:
            if check in broken:
                assert report[check] > 1e-6, (how, check, report)  # the tolerance is 1e-10
            else:
                assert report[check] < 1e-13, (how, check, report)


def test_probes_measure_float32_rounding():
    reports = verify(path_matrices(5, dtype=np.float32, sparse=True), TRANSFORMS)
    errors = [r[k] for r in reports for k in ALL]
    assert 1e-9 < min(errors) and max(errors) < 1e-6


def test_blocks_and_progress(monkeypatch, rank5):
    calls = []
    monkeypatch.setattr(verify_module, "TASKS", 5)  # 5 ranges of 48-49 rows a sweep, two sweeps
    monkeypatch.setattr(verify_module, "CACHE_ENTRIES", 243 * 10)  # dense: blocks of 10 rows in a range
    reports = verify(rank5, TRANSFORMS, progress=lambda step, total: calls.append((step, total)))
    assert calls == [(1, 10)] * 10
    assert max(max(r[k] for k in ALL) for r in reports) < 1e-13


def test_verify_checks_its_arguments(rank5):
    with pytest.raises(ValueError, match="probes must be a positive integer, got 0"):
        verify(rank5, TRANSFORMS, probes=0)
    with pytest.raises(ValueError, match="orthogonal 3x3"):
        verify(rank5, [2 * np.eye(3)])
    with pytest.raises(ValueError, match="Cartesian"):
        verify(product_path_matrices([1, 2]), TRANSFORMS)


# ------------------------------------------------------------------------------ the command
def test_command_prints_its_report(capsys):
    assert main(["ict", "--rank", "5", "--sparse"]) == 0
    lines = capsys.readouterr().out.splitlines()
    checks = [line for line in lines if line.startswith("  check (")]
    assert len(checks) == 2 and all("all 243 rows, 2 random probes" in c and c.endswith("-> OK") for c in checks)
    assert "rotation x inversion" in checks[1] and lines[-1].startswith("  verified in ")


def test_command_fails_on_a_corrupted_stack(monkeypatch, capsys):
    bad = corrupted(path_matrices(5), "rows of different weights swapped")
    monkeypatch.setattr(path_matrices_module, "path_matrices", lambda *a, **k: bad)
    assert main(["ict", "--rank", "5"]) == 1
    assert capsys.readouterr().out.count("-> FAILED") == 2
