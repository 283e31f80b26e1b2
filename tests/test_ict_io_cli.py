import os

import numpy as np
import pytest
import sympy

from equitools.cli import main
from equitools.ict import PathMatricesFileError, load, path_matrices, save


@pytest.mark.parametrize("kind", ["dense", "sparse", "exact", "float32"])
def test_save_load_round_trip(kind, tmp_path):
    options = {"dense": {}, "sparse": {"sparse": True}, "exact": {"exact": True}, "float32": {"dtype": np.float32}}[
        kind
    ]
    pm = path_matrices(3, **options)
    path = save(pm, tmp_path / "sub" / "m.npz")
    back = load(path)
    assert back.paths == pm.paths and back.irreps == pm.irreps and back.parity == -1
    assert back.exact == pm.exact and back.sparse == pm.sparse
    assert np.array_equal(back.array(), pm.array())
    if kind == "exact":
        assert back.stacked() == pm.stacked() and isinstance(back[(1, 2, 3)][0, 0], sympy.Expr)
    assert [p.name for p in (tmp_path / "sub").iterdir()] == ["m.npz"]


def test_failed_save_keeps_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    target = save(path_matrices(2), tmp_path / "m.npz")
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", broken)
    with pytest.raises(OSError, match="disk full"):
        save(path_matrices(3), target)
    assert target.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def _rewrite(path, drop=None, replace=None):
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files if k != drop}
    contents.update(replace or {})
    np.savez(path, **contents)


@pytest.mark.parametrize(
    "corruption,message",
    [
        (lambda p: p.write_bytes(b"not a zip"), "not a readable"),
        (lambda p: p.write_bytes(p.read_bytes()[:200]), "not a readable"),
        (lambda p: _rewrite(p, drop="matrix"), "missing key 'matrix'"),
        (lambda p: _rewrite(p, drop="metadata"), "missing key 'metadata'"),
        (lambda p: _rewrite(p, replace={"metadata": np.array("{bad json")}), "not valid JSON"),
        (lambda p: _rewrite(p, replace={"matrix": np.zeros((4, 4))}), "has shape"),
        (lambda p: _rewrite(p, replace={"paths": np.array([[1, 0]])}), "key 'paths': has shape"),
        (lambda p: _rewrite(p, replace={"paths": np.array([[1, 2], [1, 1], [1, 0]])}), "not the coupling paths"),
    ],
)
def test_corrupt_files_give_errors_naming_file_and_key(corruption, message, tmp_path):
    path = save(path_matrices(2), tmp_path / "m.npz")
    corruption(path)
    with pytest.raises(PathMatricesFileError, match=message) as error:
        load(path)
    assert str(path) in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(PathMatricesFileError, match="no such file"):
        load(tmp_path / "absent.npz")


def test_cli_builds_verifies_and_saves(tmp_path, capsys):
    out = tmp_path / "r4.npz"
    assert main(["ict", "--rank", "4", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "19 paths" in text and "3x0e+6x1e+6x2e+3x3e+1x4e" in text and "FAILED" not in text
    assert text.count("-> OK") == 2
    assert np.array_equal(load(out).array(), path_matrices(4).array())
    assert main(["ict", "--rank", "3", "--sparse", "--dtype", "float32", "--no-verify"]) == 0


def test_cli_rejects_bad_rank():
    with pytest.raises(SystemExit):
        main(["ict", "--rank", "0"])
