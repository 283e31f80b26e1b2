"""QM9 from the raw release files, the archive and the qm9pack CSVs."""

import itertools
import shutil
import tarfile

import numpy as np
import pytest
import torch
from ase import units
from data_helpers import QM9_METHANE, shared

from equitools.data import QM9
from equitools.data.qm9 import ATOM_REFERENCES, TARGETS, UNITS, qm9pack_csvs
from equitools.data.qm9_parse import iter_csv, iter_raw_folder, parse_raw

HA = units.Hartree


@pytest.fixture
def raw20(tmp_path):
    return QM9(shared("qm9", "raw"), cache_dir=tmp_path)


def test_raw_folder_values_match_the_file(raw20):
    assert len(raw20) == 20
    assert raw20[0].idx.tolist() == [1] and raw20[19].idx.tolist() == [20]
    methane = raw20[0]
    assert methane.z.tolist() == [6, 1, 1, 1, 1]
    assert methane.pos[1].tolist() == pytest.approx([0.002150416, -0.0060313176, 0.0019761204], abs=1e-6)
    assert float(methane.U0) == pytest.approx(-40.47893 * HA, abs=1e-9)
    assert float(methane.energy) == float(methane.U0)
    assert float(methane.gap) == pytest.approx(0.5048 * HA, abs=1e-9)
    assert float(methane.mu) == 0.0 and float(methane.alpha) == 13.21 and float(methane.Cv) == 6.469
    assert float(methane.A) == 157.7118
    assert methane.y.shape == (1, len(TARGETS))
    assert float(methane.y[0, raw20.target_index("lumo")]) == pytest.approx(0.1171 * HA)
    # atomisation energy of methane: U0 - U0(C) - 4 U0(H) = -0.631066 Ha = -17.17 eV
    assert float(methane.U0_atom) == pytest.approx(-0.631066 * HA, abs=1e-6)
    refs = ATOM_REFERENCES["G"]
    assert float(methane.G_atom) == pytest.approx((-40.498597 - refs[6] - 4 * refs[1]) * HA, abs=1e-9)
    # every molecule: atomisation energies negative and of a sensible size (-3..-100 eV)
    for k in range(20):
        assert -100 < float(raw20[k].U0_atom) < -3
        assert "forces" not in raw20[k]  # QM9 has relaxed geometries, no gradients
    assert set(raw20.metadata["units"]) >= set(TARGETS)
    assert raw20.metadata["units"]["homo"] == "eV" and UNITS["alpha"] == "bohr^3"


def test_mathematica_exponents_read_as_numbers(tmp_path):
    text = QM9_METHANE.replace("0.044749", "4.4749*^-2").replace("-0.0060313176", "-6.0313176*^-3")
    plain, starred = parse_raw(QM9_METHANE, "a"), parse_raw(text, "b")
    assert np.array_equal(plain.props, starred.props) and np.allclose(plain.pos, starred.pos, atol=0, rtol=1e-15)
    (tmp_path / "dsgdb9nsd_000001.xyz").write_text(text)
    ds = QM9(tmp_path, use_cache=False)
    assert float(ds[0].zpve) == pytest.approx(0.044749 * HA)


def test_archive_equals_folder(tmp_path, raw20):
    archive = tmp_path / "dsgdb9nsd.xyz.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        for path in sorted(shared("qm9", "raw").glob("*.xyz"), reverse=True):
            tar.add(path, arcname=path.name)
    ds = QM9(tmp_path, cache_dir=tmp_path / "cache")  # the folder holding the archive
    assert torch.equal(ds.frames.pos, raw20.frames.pos)
    assert torch.equal(ds.frames.graph["y"], raw20.frames.graph["y"])


def test_sample_csv(tmp_path):
    ds = QM9(shared("qm9", "qm9_sample_3000.csv"), cache_dir=tmp_path)
    assert len(ds) == 3000
    idx = ds.frames.graph["idx"]
    assert bool((idx[1:] > idx[:-1]).all()) and int(idx[0]) == 203
    first = ds[0]  # dsgdb9nsd_000203: CC1=COC=C1, C5H6O
    assert sorted(first.z.tolist()) == sorted([6] * 5 + [1] * 6 + [8])
    assert float(first.homo) == pytest.approx(-0.2183 * HA)
    assert ds.frames.graph["U0_atom"].max() < 0
    gap = ds.frames.graph["gap"]
    assert torch.allclose(gap, ds.frames.graph["lumo"] - ds.frames.graph["homo"], atol=2e-3 * HA)


def test_raw_and_csv_give_the_same_numbers():
    """Molecules 1..20 from the raw release files and from qm9pack's CSV agree exactly."""
    raw = list(iter_raw_folder(shared("qm9", "raw")))
    csv = list(itertools.islice(iter_csv(qm9pack_csvs()[0]), 20))
    assert [m.index for m in raw] == [m.index for m in csv] == list(range(1, 21))
    for a, b in zip(raw, csv):
        assert np.array_equal(a.z, b.z)
        assert np.array_equal(a.pos, b.pos)
        assert np.array_equal(a.props, b.props)


def test_csv_and_raw_datasets_agree_on_a_shared_molecule(tmp_path):
    """Same molecule through both dataset paths: the raw file of molecule 203 is written from the
    sample CSV's fields in the release's layout, then both QM9 datasets are compared."""
    row = next(iter_csv(shared("qm9", "qm9_sample_3000.csv")))
    symbols = {1: "H", 6: "C", 7: "N", 8: "O", 9: "F"}
    props = "\t".join(repr(float(p)) for p in row.props)
    atoms = "\n".join(
        f"{symbols[z]}\t{float(x)!r}\t{float(y)!r}\t{float(w)!r}\t0.0" for z, (x, y, w) in zip(row.z, row.pos)
    )
    folder = tmp_path / "raw"
    folder.mkdir()
    (folder / "dsgdb9nsd_000203.xyz").write_text(
        f"{len(row.z)}\ngdb 203\t{props}\n{atoms}\n1.0\nCC\tCC\nInChI\tInChI\n"
    )
    from_raw = QM9(folder, use_cache=False)[0]
    from_csv = QM9(shared("qm9", "qm9_sample_3000.csv"), cache_dir=tmp_path)[0]
    for key in ("z", "pos", "y", "energy", "idx"):
        assert torch.equal(from_raw[key], from_csv[key]), key


def test_exclusion_list(tmp_path):
    folder = tmp_path / "raw"
    shutil.copytree(shared("qm9", "raw"), folder)
    listing = tmp_path / "uncharacterized.txt"
    listing.write_text("Uncharacterized molecules\n\n  Index   SMILES\n-----\n     3   O\n    17   CC\n----\n")
    ds = QM9(folder, exclude=listing, cache_dir=tmp_path / "cache")
    assert len(ds) == 18 and 3 not in ds.frames.graph["idx"].tolist()
    assert ds.metadata["excluded"] == 2
    assert len(QM9(folder, exclude=[1, 2], cache_dir=tmp_path / "cache")) == 18


def test_qm9pack_is_found_without_importing_it():
    files = qm9pack_csvs()
    assert [f.name for f in files] == ["qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv"]
