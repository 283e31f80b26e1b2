"""Hardening of the data layer: atomic writes, the content-keyed cache, coincident atoms, and
``.npz``/QM9 files that cannot be read safely. Every case ends in a one-line, typed error."""

import os
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from data_helpers import QM9_METHANE, fake_frames, shared, write_npz

import equitools.data.npz as npz_module
import equitools.data.validate as validate
import equitools.safe_npz as safe_npz
from equitools.atomic import atomic_write, atomic_write_text
from equitools.data import MD17, QM9, DataFormatError, ExtXYZ, embedded, read_md17, read_rmd17
from equitools.data.cache import content_digest
from equitools.data.npz import read_npz_arrays
from equitools.data.validate import check_frames

KCAL = 0.0433641043  # eV per kcal/mol


# ------------------------------------------------------------------------------ atomic writes
def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("failing", ["fchmod", "fsync", "replace", "write"])
def test_atomic_write_failure_closes_and_removes_the_temporary(failing, tmp_path, monkeypatch):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    before = _open_fds()

    def fail(*args, **kwargs):
        raise OSError(f"{failing} failed")

    def write(f):
        f.write(b"new")
        if failing == "write":
            fail()

    if failing != "write":
        monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match=f"{failing} failed"):
        atomic_write(target, write)
    monkeypatch.undo()
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"] and target.read_bytes() == b"old"
    assert _open_fds() == before


@pytest.mark.parametrize("mode", [0o600, 0o640, 0o755])
def test_atomic_write_keeps_the_permissions_of_an_existing_file(mode, tmp_path):
    target = tmp_path / "secret.json"
    target.write_text("{}")
    target.chmod(mode)
    atomic_write_text(target, '{"a": 1}')
    assert stat.S_IMODE(target.stat().st_mode) == mode and target.read_text() == '{"a": 1}'


def test_atomic_write_new_file_gets_the_umask_without_changing_it(tmp_path, monkeypatch):
    old = os.umask(0o027)
    try:

        def no_umask(*args):
            raise AssertionError("os.umask called: it changes the umask of every thread")

        monkeypatch.setattr(os, "umask", no_umask)
        target = atomic_write_text(tmp_path / "new.txt", "é")
        monkeypatch.undo()
    finally:
        os.umask(old)
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert target.read_bytes() == "é".encode()


def test_atomic_write_fsyncs_the_folder_after_the_rename(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd):
        events.append("fsync folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "fsync file")
        real_fsync(fd)

    def replace(src, dst):
        events.append("replace")
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    atomic_write(tmp_path / "x.bin", lambda f: f.write(b"1"))
    assert events == ["fsync file", "replace", "fsync folder"]


# ------------------------------------------------------------------------- content-keyed cache
def _same_size_same_mtime_rewrite(path: Path, write) -> None:
    st = path.stat()
    write()
    assert path.stat().st_size == st.st_size
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_cache_sees_a_rewrite_that_keeps_size_and_mtime(tmp_path, monkeypatch):
    src = write_npz(tmp_path / "mol.npz", **fake_frames(5))
    cache = tmp_path / "cache"
    first = read_rmd17(src, cache_dir=cache)
    changed = fake_frames(5, seed=1)
    _same_size_same_mtime_rewrite(src, lambda: write_npz(src, **changed))
    rebuilt = read_rmd17(src, cache_dir=cache)
    assert float(rebuilt.energies[0]) == pytest.approx(changed["energies"][0] * KCAL, rel=1e-8)
    assert not torch.equal(rebuilt.energies, first.energies)

    def refuse(*args, **kwargs):
        raise AssertionError("parsed again although the file did not change")

    monkeypatch.setattr(npz_module, "read_npz_frames", refuse)
    again = read_rmd17(src, cache_dir=cache)
    assert torch.equal(again.energies, rebuilt.energies)


def test_cache_of_a_text_file_sees_a_same_size_rewrite(tmp_path):
    frame = '1\nenergy={e} pbc="F F F"\nH 0.0 0.0 0.0\n'
    src = tmp_path / "h.xyz"
    src.write_text(frame.format(e="-1.0"))
    assert float(ExtXYZ(src, forces_key=None, cache_dir=tmp_path / "c").energies[0]) == -1.0
    _same_size_same_mtime_rewrite(src, lambda: src.write_text(frame.format(e="-2.0")))
    assert float(ExtXYZ(src, forces_key=None, cache_dir=tmp_path / "c").energies[0]) == -2.0


def test_content_digest_reads_the_zip_directory_of_an_npz(tmp_path):
    src = write_npz(tmp_path / "mol.npz", **fake_frames(3))
    digest = content_digest(src)
    assert digest.startswith("zip:") and "coords.npy:" in digest
    assert content_digest(write_npz(tmp_path / "other.npz", **fake_frames(3, seed=2))) != digest


def test_cache_is_keyed_by_min_distance(tmp_path):
    arrays = fake_frames(4)
    arrays["coords"][1, 2] = arrays["coords"][1, 0] + [0.3, 0, 0]
    src = write_npz(tmp_path / "mol.npz", **arrays)
    assert len(read_rmd17(src, cache_dir=tmp_path / "c")) == 4
    with pytest.raises(DataFormatError, match="atoms 0 and 2 are 0.300 Å apart"):
        read_rmd17(src, cache_dir=tmp_path / "c", min_distance=0.5)


# ----------------------------------------------------------------------------- coincident atoms
def test_check_frames_names_the_frame_and_the_pair():
    pos = fake_frames(5, z=(6, 1, 1, 8))["coords"]
    pos[3, 2] = pos[3, 0]
    with pytest.raises(DataFormatError) as info:
        check_frames("f.npz", np.array([6, 1, 1, 8]), pos, keys={"pos": "coords"})
    assert str(info.value) == "f.npz: key 'coords': frame 3: atoms 0 and 2 are 0.000 Å apart (minimum 0.1 Å)"
    check_frames("f.npz", np.array([6, 1, 1, 8]), pos, min_distance=0)  # 0 disables the check
    with pytest.raises(ValueError, match="min_distance"):
        check_frames("f.npz", np.array([6, 1, 1, 8]), pos, min_distance=-1)


@pytest.mark.parametrize("chunk", [7, 64, 1 << 15])
def test_close_pairs_are_found_in_every_block(chunk, monkeypatch):
    """Random frames against a brute-force search, with blocks small enough to split rows."""
    monkeypatch.setattr(validate, "_CHUNK", chunk)
    rng = np.random.default_rng(chunk)
    for _ in range(100):
        pos = rng.uniform(0, 3, size=(int(rng.integers(1, 12)), int(rng.integers(1, 30)), 3))
        d = np.linalg.norm(pos[:, :, None] - pos[:, None], axis=-1) + np.tril(np.full(pos.shape[1:2] * 2, np.inf))
        close = np.flatnonzero((d < 0.1).any(axis=(1, 2)))
        found = validate._close_pair(pos, 0.1)
        if not close.size:
            assert found is None
        else:
            frame, i, j = found
            assert frame == close[0] and i < j and d[frame, i, j] < 0.1


def test_loaders_reject_coincident_atoms(tmp_path):
    arrays = fake_frames(6)
    arrays["coords"][4, 1] = arrays["coords"][4, 2]
    src = write_npz(tmp_path / "twin.npz", **arrays)
    with pytest.raises(DataFormatError, match=r"twin.npz: key 'coords': frame 4: atoms 1 and 2 are 0.000 Å apart"):
        read_rmd17(src, use_cache=False)
    assert len(read_rmd17(src, use_cache=False, min_distance=0)) == 6
    write_npz(
        tmp_path / "md17_twin.npz",
        z=arrays["nuclear_charges"],
        R=arrays["coords"],
        E=arrays["energies"][:, None],
        F=arrays["forces"],
    )
    with pytest.raises(DataFormatError, match=r"key 'R': frame 4: atoms 1 and 2"):
        MD17(tmp_path, "twin", use_cache=False)
    with pytest.raises(DataFormatError, match=r"key 'R': frame 4"):
        read_md17(tmp_path / "md17_twin.npz", use_cache=False)

    xyz = tmp_path / "twin.xyz"
    xyz.write_text('2\nenergy=-1.0 pbc="F F F"\nH 0.0 0.0 0.0\nH 0.05 0.0 0.0\n')
    with pytest.raises(DataFormatError, match=r"twin.xyz: key 'pos': frame 0: atoms 0 and 1 are 0.050 Å apart"):
        ExtXYZ(xyz, forces_key=None, use_cache=False)
    assert len(ExtXYZ(xyz, forces_key=None, use_cache=False, min_distance=0.01)) == 1

    raw = tmp_path / "qm9"
    raw.mkdir()
    (raw / "dsgdb9nsd_000001.xyz").write_text(
        QM9_METHANE.replace("0.002150416\t", "-0.0126981359\t", 1).replace(
            "-0.0060313176\t 0.0019761204", "1.0858041578\t 0.0080009958"
        )
    )
    with pytest.raises(DataFormatError, match=r"dsgdb9nsd_000001.xyz: key 'coordinates': molecule 1: atoms 0 and 1"):
        QM9(raw, use_cache=False)


def test_real_and_embedded_data_still_load():
    assert len(embedded(use_cache=False)) == 1000
    for path in sorted(shared("rmd17").glob("rmd17_*_01.npz")):
        assert len(read_rmd17(path, use_cache=False)) == 1000, path
    assert len(QM9(shared("qm9", "raw"), use_cache=False)) == 20
    assert len(QM9(shared("qm9", "qm9_sample_3000.csv"), use_cache=False)) == 3000
    for path in sorted(shared("extxyz").glob("*.xyz")):
        assert len(ExtXYZ(path, use_cache=False)) > 0, path


# -------------------------------------------------------------------- npz members read unread
def _npz_with_member(path: Path, name: str, header: dict, payload: bytes, **arrays) -> Path:
    """An .npz holding ``arrays`` and member ``name`` with a hand-written .npy ``header``."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key, array in arrays.items():
            with archive.open(f"{key}.npy", "w") as f:
                np.lib.format.write_array(f, np.asarray(array))
        with archive.open(name, "w") as f:
            np.lib.format.write_array_header_1_0(f, header)
            f.write(payload)
    return path


def _never_read(*args, **kwargs):
    raise AssertionError("an array was read (allocated) before its size was checked")


def test_npz_header_claiming_13_tib_is_refused_unread(tmp_path, monkeypatch):
    arrays = {k: v for k, v in fake_frames(2).items() if k != "coords"}
    path = _npz_with_member(
        tmp_path / "huge.npz",
        "coords.npy",
        {"descr": "<f8", "fortran_order": False, "shape": (10**12, 3, 3)},
        bytes(72),
        **arrays,
    )
    with pytest.raises(DataFormatError) as info:
        read_rmd17(path, use_cache=False)
    message = str(info.value)
    assert message.startswith(f"{path}: key 'coords': header claims shape (1000000000000, 3, 3) float64")
    assert "but the member holds 72 bytes" in message and "\n" not in message
    monkeypatch.setattr(np.lib.format, "read_array", _never_read)
    with pytest.raises(DataFormatError, match="header claims"):
        read_npz_arrays(path, {"pos": "coords"})


def test_npz_member_larger_than_memory_is_refused_unread(tmp_path, monkeypatch):
    path = write_npz(tmp_path / "bomb.npz", **fake_frames(2))
    with zipfile.ZipFile(path, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("padding.npy", bytes(4 << 20))  # 4 MiB of zeros packs into a few kB
    monkeypatch.setattr(safe_npz, "available_memory", lambda: 1 << 20)
    monkeypatch.setattr(np.lib.format, "read_array", _never_read)
    with pytest.raises(
        DataFormatError,
        match=r"bomb.npz: key 'padding': decompresses to 4,194,304 bytes \(from [\d,]+\), "
        r"more than the 1,048,576 bytes of memory available",
    ):
        read_npz_arrays(path, {"x": "padding"})


def test_npz_forged_extra_scalar_is_left_out(tmp_path):
    header = {"descr": "<U100000000", "fortran_order": False, "shape": ()}
    path = _npz_with_member(tmp_path / "extra.npz", "theory.npy", header, b"x", **fake_frames(2))
    dataset = read_rmd17(path, use_cache=False)
    assert "theory" not in dataset.metadata["attributes"] and len(dataset) == 2


def test_a_bare_npy_is_refused_unread(tmp_path, monkeypatch):
    path = tmp_path / "coords.npz"
    with open(path, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
    monkeypatch.setattr(np.lib.format, "read_array", _never_read)
    with pytest.raises(DataFormatError, match="a single .npy array, not an .npz archive"):
        read_rmd17(path, use_cache=False)


def test_available_memory_is_known_here():
    memory = safe_npz.available_memory()
    assert isinstance(memory, int) and memory > 0


# --------------------------------------------------------------------- unreadable QM9 sources
def _qm9_folder(tmp_path: Path) -> Path:
    for k in (1, 2):
        (tmp_path / f"dsgdb9nsd_{k:06d}.xyz").write_text(QM9_METHANE.replace("gdb 1\t", f"gdb {k}\t"))
    return tmp_path


def test_qm9_folder_entry_that_is_a_folder(tmp_path):
    bad = _qm9_folder(tmp_path) / "dsgdb9nsd_000003.xyz"
    bad.mkdir()
    with pytest.raises(DataFormatError) as info:
        QM9(tmp_path, cache_dir=tmp_path / "cache")
    assert str(info.value) == f"{bad}: cannot be read: Is a directory"


def test_qm9_file_that_cannot_be_read(tmp_path, monkeypatch):
    bad = _qm9_folder(tmp_path) / "dsgdb9nsd_000002.xyz"
    real = Path.read_bytes

    def read_bytes(self):
        if self == bad:
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(DataFormatError) as info:
        QM9(tmp_path, use_cache=False)
    assert str(info.value) == f"{bad}: cannot be read: Permission denied"


def test_qm9_file_that_is_not_utf8(tmp_path):
    bad = _qm9_folder(tmp_path) / "dsgdb9nsd_000002.xyz"
    bad.write_bytes(QM9_METHANE.replace("C\tC", "C\t\xff").encode("latin-1"))
    with pytest.raises(DataFormatError) as info:
        QM9(tmp_path, use_cache=False)
    assert str(info.value).startswith(f"{bad}: not UTF-8 text: byte 0xff at offset")


def test_qm9_csv_that_is_not_utf8(tmp_path):
    from test_data_malformed import HEADER, ROW

    path = tmp_path / "qm9.csv"
    path.write_bytes((HEADER + ROW).encode() + b'"\xff"\n')
    with pytest.raises(DataFormatError, match=r"qm9.csv: after line \d+: not UTF-8 text"):
        QM9(path, use_cache=False)
