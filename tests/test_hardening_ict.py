"""Hardening of ICT path-matrix files: exact values are parsed by a strict grammar (never
evaluated), and every malformed key ends in a one-line PathMatricesFileError naming file and key."""

import json
import zipfile

import numpy as np
import pytest
import sympy

import equitools.safe_npz as safe_npz
from equitools.ict import PathMatricesFileError, load, path_matrices, save
from equitools.ict.io import parse_exact


@pytest.mark.parametrize("rank", [1, 2, 3, 4])
def test_exact_round_trip(rank, tmp_path):
    pm = path_matrices(rank, exact=True)
    back = load(save(pm, tmp_path / "m.npz"))
    assert back.exact and back.paths == pm.paths and back.parity == pm.parity
    assert (back._matrix == pm._matrix).all()
    assert all(isinstance(v, sympy.Expr) for v in back._matrix.ravel())


@pytest.mark.parametrize(
    "text",
    [
        "1",
        "-1/2",
        "sqrt(6)/3",
        "-sqrt(6)/6",
        "3*sqrt(70)/70",
        "-11*sqrt(210)/630",
        "sqrt(2)*sqrt(3)/6",
        "sqrt(2/3)",
        "2*sqrt(15)/15",
    ],
)
def test_parse_exact_reads_what_sympy_prints(text):
    assert parse_exact(text) == sympy.sympify(text) and str(parse_exact(text)) == str(sympy.sympify(text))


def _rewrite(path, **changes):
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files}
    for key, value in changes.items():
        if value is None:
            contents.pop(key)
        else:
            contents[key] = value(contents[key]) if callable(value) else value
    np.savez(path, **contents)
    return path


def _metadata(edit):
    def change(array):
        metadata = json.loads(str(array))
        metadata = edit(metadata) or metadata
        return np.array(json.dumps(metadata))

    return change


def _value(text):
    def change(values):
        values = values.astype(object)
        values[0] = text
        return np.array([str(v) for v in values])

    return change


CODE = [
    "__import__('os').system('touch {marker}')",
    "exp(1)",
    "x",
    "1e5",
    "sqrt(-1)",
    "1/0",
    "sqrt(1/0)",
    "",
    "-",
    "1.5",
    "sqrt(2)**2",
    "(1)",
    "1/2/3",
    "sqrt(2) ",
    "1+1",
    "I",
    "pi",
    "oo",
    "--1",
    "Rational(1, 2)",
    "sqrt(2)/",
    "1" * 41,
    "lambda: 1",
    "sqrt.__globals__",
]


@pytest.mark.parametrize("text", CODE)
def test_crafted_values_are_rejected_not_run(text, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    marker = tmp_path / "owned"
    path = _rewrite(save(path_matrices(2, exact=True), tmp_path / "m.npz"), values=_value(text.format(marker=marker)))
    with pytest.raises(PathMatricesFileError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: key 'values': entry (") and "\n" not in message
    assert not marker.exists()


def test_error_names_the_entry(tmp_path):
    pm = path_matrices(2, exact=True)
    rows, cols = np.nonzero(pm._matrix != 0)
    path = _rewrite(save(pm, tmp_path / "m.npz"), values=_value("exp(1)"))
    with pytest.raises(PathMatricesFileError, match=rf"key 'values': entry \({rows[0]}, {cols[0]}\): 'exp\(1\)'"):
        load(path)


def _replace(key, value):
    return lambda path: _rewrite(path, **{key: value})


CASES = {
    # (kind, corruption, parts of the message)
    "unknown kind": (
        "dense",
        _replace("metadata", _metadata(lambda m: m.update(kind="hologram"))),
        ["key 'metadata'", "kind 'hologram'"],
    ),
    "missing kind": ("dense", _replace("metadata", _metadata(lambda m: m.pop("kind") and None)), ["no field 'kind'"]),
    "missing dim": ("dense", _replace("metadata", _metadata(lambda m: m.pop("dim") and None)), ["no field 'dim'"]),
    "dim mismatch": ("dense", _replace("metadata", _metadata(lambda m: m.update(dim=10))), ["dim 10"]),
    "bool dim": ("dense", _replace("metadata", _metadata(lambda m: m.update(dim=True))), ["dim True"]),
    "degrees text": ("dense", _replace("metadata", _metadata(lambda m: m.update(degrees="11"))), ["degrees '11'"]),
    "parity 2": ("dense", _replace("metadata", _metadata(lambda m: m.update(parity=2))), ["parity 2"]),
    "metadata a list": ("dense", _replace("metadata", np.array("[1]")), ["key 'metadata'", "JSON object, got list"]),
    "metadata a string": ("dense", _replace("metadata", np.array('"x"')), ["key 'metadata'", "JSON object, got str"]),
    "metadata null": ("dense", _replace("metadata", np.array("null")), ["key 'metadata'", "got NoneType"]),
    "NaN matrix entry": (
        "dense",
        _replace("matrix", lambda m: np.where(np.arange(m.size).reshape(m.shape) == 4, np.nan, m)),
        ["key 'matrix'", "NaN or infinite value at index 0, 4"],
    ),
    "integer matrix": ("dense", _replace("matrix", lambda m: m.astype(np.int64)), ["key 'matrix'", "dtype int64"]),
    "infinite sparse data": (
        "sparse",
        _replace("data", lambda d: np.concatenate([[np.inf], d[1:]])),
        ["key 'data'", "NaN or infinite value at index 0"],
    ),
    "float sparse indices": ("sparse", _replace("indices", lambda i: i + 0.0), ["key 'indices'", "float64"]),
    "text sparse data": ("sparse", _replace("data", lambda d: d.astype(str)), ["key 'data'"]),
    "sparse index out of range": ("sparse", _replace("indices", lambda i: i + 100), ["not a valid CSR matrix"]),
    "row out of range": ("exact", _replace("rows", lambda r: r + 9), ["key 'rows'", "out of range for dimension 9"]),
    "negative col": ("exact", _replace("cols", lambda c: c - 1), ["key 'cols'", "index -1"]),
    "float rows": ("exact", _replace("rows", lambda r: r + 0.5), ["key 'rows'", "float64"]),
    "rows too short": ("exact", _replace("rows", lambda r: r[:-1]), ["key 'rows'", "shape"]),
    "numeric values": ("exact", _replace("values", lambda v: np.ones(v.shape)), ["key 'values'", "float64"]),
    "too few values": (
        "exact",
        lambda p: _rewrite(p, rows=lambda r: r[:3], cols=lambda c: c[:3], values=lambda v: v[:3]),
        ["key 'values'", "at least 9"],
    ),
    "values missing": ("exact", _replace("values", None), ["missing key 'values'"]),
    "paths flat": ("dense", _replace("paths", lambda p: p.reshape(-1)), ["key 'paths'", "shape (6,)"]),
    "paths float": ("dense", _replace("paths", lambda p: p + 0.0), ["key 'paths'", "float64"]),
    "paths reordered": (
        "dense",
        _replace("paths", lambda p: p[::-1].copy()),
        ["key 'paths'", "not the coupling paths"],
    ),
    "object member": (
        "dense",
        lambda p: np.savez(p, **{**dict(np.load(p)), "extra": np.array([None])}, allow_pickle=True),
        ["key 'extra'", "cannot be read"],
    ),
}


@pytest.mark.parametrize("case", CASES, ids=list(CASES))
def test_malformed_files_give_one_line_errors(case, tmp_path):
    kind, corrupt, parts = CASES[case]
    options = {"dense": {}, "sparse": {"sparse": True}, "exact": {"exact": True}}[kind]
    path = save(path_matrices(2, **options), tmp_path / "m.npz")
    corrupt(path)
    with pytest.raises(PathMatricesFileError) as info:
        load(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    for part in parts:
        assert part in message, message


def _forge(path, key, header, payload):
    """Replace member ``key`` of the archive at ``path`` by a hand-written .npy header + payload."""
    with np.load(path) as archive:
        contents = {k: archive[k] for k in archive.files if k != key}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, array in contents.items():
            with archive.open(f"{name}.npy", "w") as f:
                np.lib.format.write_array(f, array)
        with archive.open(f"{key}.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(payload)
    return path


def test_member_claiming_13_tib_is_refused_unread(tmp_path, monkeypatch):
    path = _forge(
        save(path_matrices(2), tmp_path / "m.npz"),
        "matrix",
        {"descr": "<f8", "fortran_order": False, "shape": (10**12, 3, 3)},
        bytes(64),
    )
    real = np.lib.format.read_array

    def read_array(fp, *args, **kwargs):
        array = real(fp, *args, **kwargs)
        assert array.nbytes < 1 << 20, "a forged array was allocated"
        return array

    monkeypatch.setattr(np.lib.format, "read_array", read_array)
    with pytest.raises(
        PathMatricesFileError, match=r"m.npz: key 'matrix': header claims shape \(1000000000000, 3, 3\)"
    ):
        load(path)


def test_member_larger_than_memory_is_refused_unread(tmp_path, monkeypatch):
    path = save(path_matrices(3), tmp_path / "m.npz")  # 729 float64 entries: 5,832 bytes of matrix
    monkeypatch.setattr(safe_npz, "available_memory", lambda: 4096)
    with pytest.raises(PathMatricesFileError, match=r"m.npz: key 'matrix': decompresses to [\d,]+ bytes"):
        load(path)


def test_a_bare_npy_is_refused(tmp_path):
    path = tmp_path / "m.npz"
    np.save(path.with_suffix(".npy"), np.eye(3))
    path.with_suffix(".npy").rename(path)
    with pytest.raises(PathMatricesFileError, match="a single .npy array"):
        load(path)
