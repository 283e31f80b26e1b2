"""Malformed files, each built here: every loader rejects them with a DataFormatError that names
the file and the key, frame or line, and writes nothing to the cache."""

import bz2
import tarfile

import numpy as np
import pytest
from data_helpers import QM9_METHANE, fake_frames, write_npz

from equitools.data import MD17, QM9, RMD17, DataFormatError, ExtXYZ, read_index_file, read_md17, read_rmd17


def write(path, content: bytes):
    path.write_bytes(content)
    return path


def rmd17_with(tmp_path, name="bad.npz", drop=(), **changes):
    arrays = {k: v for k, v in fake_frames(6).items() if k not in drop}
    arrays.update(changes)
    return write_npz(tmp_path / name, **arrays)


def nan_at(key, frame, shape_of="forces"):
    def make(tmp_path):
        arrays = fake_frames(6)
        arrays[key] = arrays[key].copy()
        arrays[key][frame] = np.nan if key == "forces" else np.inf
        return write_npz(tmp_path / "bad.npz", **arrays)

    return make


def truncated_npz(tmp_path):
    good = rmd17_with(tmp_path, name="good.npz")
    data = good.read_bytes()
    (tmp_path / "bad.npz").write_bytes(data[: len(data) // 2])
    return tmp_path / "bad.npz"


def pickled_coords(tmp_path):
    arrays = fake_frames(2)
    arrays["coords"] = np.array([object(), object()], dtype=object)
    np.savez(tmp_path / "bad.npz", **arrays, allow_pickle=True)
    return tmp_path / "bad.npz"


NPZ_CASES = {
    "missing key": (lambda p: rmd17_with(p, drop=("forces",)), ["key 'forces'", "missing key"]),
    "coords atom count": (
        lambda p: rmd17_with(p, coords=np.zeros((6, 2, 3))),
        ["key 'coords'", "3 atoms", "(6, 2, 3)"],
    ),
    "energies length": (lambda p: rmd17_with(p, energies=np.zeros(5)), ["key 'energies'", "(6,)", "(5,)"]),
    "forces atom count": (lambda p: rmd17_with(p, forces=np.zeros((6, 4, 3))), ["key 'forces'", "(6, 3, 3)"]),
    "NaN force": (nan_at("forces", 3), ["key 'forces'", "frame 3", "NaN or infinite"]),
    "infinite energy": (nan_at("energies", 5), ["key 'energies'", "frame 5", "NaN or infinite"]),
    "atomic number 0": (
        lambda p: rmd17_with(p, nuclear_charges=np.array([8, 0, 1])),
        ["key 'nuclear_charges'", "unknown atomic number 0 at atom 1"],
    ),
    "atomic number 200": (
        lambda p: rmd17_with(p, nuclear_charges=np.array([8, 1, 200])),
        ["unknown atomic number 200"],
    ),
    "no frames": (
        lambda p: rmd17_with(p, coords=np.zeros((0, 3, 3)), energies=np.zeros(0), forces=np.zeros((0, 3, 3))),
        ["key 'coords'", "no frames"],
    ),
    "text energies": (lambda p: rmd17_with(p, energies=np.array(["x"] * 6)), ["key 'energies'", "expected numbers"]),
    "empty file": (lambda p: write(p / "bad.npz", b""), ["file is empty"]),
    "truncated archive": (truncated_npz, ["truncated or corrupt"]),
    "not an archive": (lambda p: write(p / "bad.npz", b"nuclear_charges,coords\n1,2\n"), ["not a readable .npz"]),
    "object array": (pickled_coords, ["key 'coords'", "cannot be read"]),
}


@pytest.mark.parametrize("case", NPZ_CASES, ids=list(NPZ_CASES))
def test_rmd17_npz(case, tmp_path):
    make, expected = NPZ_CASES[case]
    path = make(tmp_path)
    cache = tmp_path / "cache"
    with pytest.raises(DataFormatError) as info:
        read_rmd17(path, cache_dir=cache)
    message = str(info.value)
    assert str(path) in message and info.value.path == path
    for part in expected:
        assert part in message, message
    assert not cache.exists() or not any(cache.iterdir())  # nothing half-written


def test_rmd17_release_split_file_out_of_range(tmp_path):
    (tmp_path / "npz_data").mkdir()
    (tmp_path / "splits").mkdir()
    rmd17_with(tmp_path / "npz_data", name="rmd17_ethanol.npz")
    (tmp_path / "splits" / "index_train_01.csv").write_text("0\n1\n6\n")
    with pytest.raises(DataFormatError, match=r"index_train_01.csv: line 3: index 6 out of range for 6 frames"):
        RMD17(tmp_path, "ethanol", "train", cache_dir=tmp_path / "cache")


def test_md17_wrong_energy_shape_and_missing_key(tmp_path):
    f = fake_frames(4)
    write_npz(tmp_path / "md17_ethanol.npz", z=f["nuclear_charges"], R=f["coords"], E=np.zeros((4, 2)), F=f["forces"])
    with pytest.raises(DataFormatError, match=r"md17_ethanol.npz: key 'E'.*expected shape \(4,\)"):
        MD17(tmp_path, "ethanol", use_cache=False)
    write_npz(tmp_path / "other.npz", z=f["nuclear_charges"], E=f["energies"], F=f["forces"])
    with pytest.raises(DataFormatError, match=r"other.npz: key 'R': missing key"):
        read_md17(tmp_path / "other.npz", use_cache=False)


QM9_LINES = QM9_METHANE.splitlines(keepends=True)

QM9_RAW_CASES = {
    "atom count too large": ("6\n" + "".join(QM9_LINES[1:]), ["atom count 6 (line 1)", "file ends after 10 lines"]),
    # 6 atoms announced, 5 given, and an extra line at the end: the frequency line is read as atom 6
    "atom count too large, padded": ("6\n" + "".join(QM9_LINES[1:]) + "\n", ["line 8", "atom 6 of 6"]),
    "atom count too small": ("4\n" + "".join(QM9_LINES[1:]), ["line 7", "another atom line after the 4 atoms"]),
    "unknown element": (
        QM9_METHANE.replace("C\t-0.0126981359", "Xx\t-0.0126981359"),
        ["line 3", "'element x y z charge'"],
    ),
    "bad number": (QM9_METHANE.replace("0.5048", "0.50.48"), ["line 2", "unreadable number"]),
    "missing property": (QM9_METHANE.replace("\t6.469\t", "\t"), ["line 2", "15 properties"]),
    "NaN property": (QM9_METHANE.replace("0.5048", "nan"), ["key 'gap'", "molecule 1", "NaN or infinite"]),
    "truncated file": ("".join(QM9_LINES[:5]), ["file ends after 5 lines", "atom count 5"]),
    "empty file": ("", ["file is empty"]),
    "bad atom count": ("five\n" + "".join(QM9_LINES[1:]), ["line 1", "expected the atom count"]),
}


@pytest.mark.parametrize("case", QM9_RAW_CASES, ids=list(QM9_RAW_CASES))
def test_qm9_raw(case, tmp_path):
    text, expected = QM9_RAW_CASES[case]
    (tmp_path / "dsgdb9nsd_000002.xyz").write_text(QM9_METHANE.replace("gdb 1\t", "gdb 2\t"))
    bad = tmp_path / "dsgdb9nsd_000001.xyz"
    bad.write_text(text)
    with pytest.raises(DataFormatError) as info:
        QM9(tmp_path, cache_dir=tmp_path / "cache")
    message = str(info.value)
    assert str(bad) in message
    for part in expected:
        assert part in message, message
    assert not (tmp_path / "cache").exists()


def test_qm9_truncated_archive(tmp_path):
    archive = tmp_path / "dsgdb9nsd.xyz.tar.bz2"
    with tarfile.open(archive, "w:bz2") as tar:
        for k in range(1, 40):
            path = tmp_path / f"dsgdb9nsd_{k:06d}.xyz"
            path.write_text(QM9_METHANE.replace("gdb 1\t", f"gdb {k}\t"))
            tar.add(path, arcname=path.name)
            path.unlink()
    data = archive.read_bytes()
    assert bz2.decompress(data)  # the full archive is fine
    archive.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(DataFormatError) as info:
        QM9(archive, cache_dir=tmp_path / "cache")
    assert str(archive) in str(info.value) and "truncated or corrupt archive" in str(info.value)
    assert not (tmp_path / "cache").exists()


HEADER = "XYZ_file,Index,SMILES,InChi,N_atoms,Stoichiometry,Elements,XYZ_Ang,Mulliken_pop,Harmonic_Freq_cmi,RotA_GHz,RotB_GHz,RotC_GHz,Dipole_debye,Polarizability_bohr3,HOMO_au,LUMO_au,HOMO_LUMO_gap_au,R2_bohr2,ZPVE_au,InternalEnergy_0K_au,InternalEnergy_298K_au,Enthalphy_298K_au,GibbsFreeEnergy_298K_au,Heatcapacity_Cv_cal_mol_K\n"
ROW = (
    "\"dsgdb9nsd_000001.xyz\",1,\"C\",\"InChI=1S/CH4/h1H4\",5,\"[4,1,0,0,0]\",\"['C','H','H','H','H']\","
    '"[[-0.0126981359,1.0858041578,0.0080009958],[0.002150416,-0.0060313176,0.0019761204],[1.0117308433,1.4637511618,0.0002765748],[-0.540815069,1.4475266138,-0.8766437152],[-0.5238136345,1.4379326443,0.9063972942]]",'
    '"[-0.535689,0.133921,0.133922,0.133923,0.133923]","[1341.307]",157.7118,157.70997,157.70699,0.,13.21,-0.3877,0.1171,0.5048,35.3641,0.044749,-40.47893,-40.476062,-40.475117,-40.498597,6.469\n'
)

QM9_CSV_CASES = {
    "missing column": (HEADER.replace(",HOMO_au", ",HOMO") + ROW, ["line 1", "missing columns HOMO_au"]),
    "atom count mismatch": (HEADER + ROW.replace(",5,", ",6,", 1), ["line 2", "N_atoms = 6", "lists 5 atoms"]),
    "truncated row": (HEADER + ROW + ROW.replace(",1,", ",2,", 1)[:300] + "\n", ["line 3", "expected 25 columns"]),
    "unknown element": (HEADER + ROW.replace("'C'", "'Si'"), ["line 2", "unknown element 'Si'"]),
    "empty file": ("", ["file is empty"]),
}


@pytest.mark.parametrize("case", QM9_CSV_CASES, ids=list(QM9_CSV_CASES))
def test_qm9_csv(case, tmp_path):
    text, expected = QM9_CSV_CASES[case]
    path = tmp_path / "qm9.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError) as info:
        QM9(path, cache_dir=tmp_path / "cache")
    assert str(path) in str(info.value)
    for part in expected:
        assert part in str(info.value), str(info.value)
    assert not (tmp_path / "cache").exists()


def xyz_frame(energy="energy=-10.0 ", atoms=(("O", 0.0), ("H", 0.96), ("H", -0.96))):
    lines = [f"{len(atoms)}", f'Properties=species:S:1:pos:R:3:forces:R:3 {energy}pbc="F F F"']
    lines += [f"{s} {x} 0.0 0.0 0.1 0.0 0.0" for s, x in atoms]
    return "\n".join(lines) + "\n"


EXTXYZ_CASES = {
    "missing energy": (xyz_frame() * 2 + xyz_frame(energy=""), ["key 'energy'", "frame 2", "missing energy"]),
    "truncated frame": (xyz_frame() + xyz_frame()[:-30], ["frame 1", "ase.io cannot read it"]),
    "NaN position": (
        xyz_frame() + xyz_frame(atoms=(("O", 0.0), ("H", float("nan")), ("H", 1.0))),
        ["key 'pos'", "frame 1", "NaN"],
    ),
    "unknown species": (xyz_frame(atoms=(("O", 0.0), ("Qq", 1.0), ("H", 2.0))), ["frame 0", "ase.io cannot read it"]),
    "empty file": ("", ["file is empty"]),
}


@pytest.mark.parametrize("case", EXTXYZ_CASES, ids=list(EXTXYZ_CASES))
def test_extxyz(case, tmp_path):
    text, expected = EXTXYZ_CASES[case]
    path = tmp_path / "frames.xyz"
    path.write_text(text)
    with pytest.raises(DataFormatError) as info:
        ExtXYZ(path, cache_dir=tmp_path / "cache")
    assert str(path) in str(info.value)
    for part in expected:
        assert part in str(info.value), str(info.value)
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(
    "text,expected",
    [
        ("1\n2\nthree\n", "line 3: expected one integer index"),
        ("1\n2.5\n", "line 2: expected an integer index"),
        ("4\n-1\n", "line 2: index -1 out of range"),
        ("4\n7\n4\n", "line 3: index 4 repeats line 1"),
        ("\n\n", "no indices"),
    ],
)
def test_index_files(text, expected, tmp_path):
    path = tmp_path / "index_train_01.csv"
    path.write_text(text)
    with pytest.raises(DataFormatError, match=expected) as info:
        read_index_file(path)
    assert str(path) in str(info.value)


def test_the_error_is_a_value_error():
    assert issubclass(DataFormatError, ValueError)
