"""The processed cache: reused while current, rebuilt when the source changes, written atomically."""

import os

import numpy as np
import pytest
import torch
from data_helpers import fake_frames, write_npz

import equitools.data.npz as npz_module
from equitools.atomic import atomic_write
from equitools.data import read_rmd17
from equitools.data.cache import cache_path, default_cache_dir


def test_cache_is_reused_then_rebuilt_when_the_source_changes(tmp_path, monkeypatch):
    src = write_npz(tmp_path / "mol.npz", **fake_frames(5))
    cache = tmp_path / "cache"
    first = read_rmd17(src, cache_dir=cache)
    files = list(cache.iterdir())
    assert len(files) == 1 and files[0].suffix == ".pt"

    def refuse(*args, **kwargs):
        raise AssertionError("parsed again although the cache is current")

    monkeypatch.setattr(npz_module, "read_npz_frames", refuse)
    again = read_rmd17(src, cache_dir=cache)
    assert torch.equal(again.energies, first.energies)
    monkeypatch.undo()

    changed = fake_frames(5, seed=1)
    write_npz(src, **changed)  # same size, new content
    st = src.stat()
    os.utime(src, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    rebuilt = read_rmd17(src, cache_dir=cache)
    assert not torch.equal(rebuilt.energies, first.energies)
    assert float(rebuilt.energies[0]) == pytest.approx(changed["energies"][0] * 0.0433641043, rel=1e-8)
    assert len(list(cache.iterdir())) == 1  # replaced in place, no temporary files left


def test_corrupt_cache_is_rebuilt(tmp_path):
    src = write_npz(tmp_path / "mol.npz", **fake_frames(4))
    cache = tmp_path / "cache"
    good = read_rmd17(src, cache_dir=cache)
    (path,) = cache.iterdir()
    path.write_bytes(b"not a torch file")
    with pytest.warns(UserWarning, match="rebuilding unreadable cache"):
        again = read_rmd17(src, cache_dir=cache)
    assert torch.equal(again.energies, good.energies)
    assert torch.load(path, weights_only=True)["frames"]["energy"].shape == (4,)


def test_cache_keys_depend_on_options_and_env(tmp_path, monkeypatch):
    src = tmp_path / "a.npz"
    assert cache_path("x", [src], {"split": "train"}, tmp_path) != cache_path("x", [src], {"split": "test"}, tmp_path)
    monkeypatch.setenv("EQUITOOLS_CACHE", str(tmp_path / "env"))
    assert default_cache_dir() == tmp_path / "env"
    assert cache_path("x", [src], {}).parent == tmp_path / "env"


def test_use_cache_false_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setenv("EQUITOOLS_CACHE", str(tmp_path / "env"))
    read_rmd17(write_npz(tmp_path / "m.npz", **fake_frames(3)), use_cache=False)
    assert not (tmp_path / "env").exists()


def test_atomic_write_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "out.npz"
    target.write_bytes(b"old")

    def half_then_fail(f):
        f.write(b"half")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        atomic_write(target, half_then_fail)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.npz"]
    atomic_write(target, lambda f: np.save(f, np.arange(3)))
    assert np.load(target).tolist() == [0, 1, 2]
    assert target.stat().st_mode & 0o044  # readable by others like any ordinary file
