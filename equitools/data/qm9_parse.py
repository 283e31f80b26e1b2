"""Parsers for the published QM9 formats (Ramakrishnan et al., Sci. Data 1, 140022, 2014).

Each yields :class:`Molecule` records in the units of the release (Å, Hartree, Debye, bohr^n):

- raw figshare ``dsgdb9nsd_NNNNNN.xyz`` files, from a folder or from the
  ``dsgdb9nsd.xyz.tar.bz2`` archive. Line 1: atom count A; line 2: ``gdb <index>`` and 15
  properties (A, B, C, mu, alpha, homo, lumo, gap, r2, zpve, U0, U, H, G, Cv); then A lines
  ``element x y z mulliken``; then frequencies, SMILES and InChI lines. Numbers may use
  Mathematica's ``*^`` exponent notation (``1.5*^-5``).
- the qm9pack CSVs (``qm9pack/data/qm9_part{1,2,3}.csv``, one molecule per row).
"""

from __future__ import annotations

import csv
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from ase.data import atomic_numbers

from .errors import DataFormatError

PROPERTIES = ("A", "B", "C", "mu", "alpha", "homo", "lumo", "gap", "r2", "zpve", "U0", "U", "H", "G", "Cv")
"""The 15 properties of line 2 of a raw file, in order."""

CSV_COLUMNS = (
    "RotA_GHz",
    "RotB_GHz",
    "RotC_GHz",
    "Dipole_debye",
    "Polarizability_bohr3",
    "HOMO_au",
    "LUMO_au",
    "HOMO_LUMO_gap_au",
    "R2_bohr2",
    "ZPVE_au",
    "InternalEnergy_0K_au",
    "InternalEnergy_298K_au",
    "Enthalphy_298K_au",
    "GibbsFreeEnergy_298K_au",
    "Heatcapacity_Cv_cal_mol_K",
)
"""qm9pack CSV columns holding ``PROPERTIES`` (same order, same units; sic 'Enthalphy')."""

CSV_STRUCTURE = ("Index", "N_atoms", "Elements", "XYZ_Ang")

ELEMENTS = {"H": 1, "C": 6, "N": 7, "O": 8, "F": 9}


@dataclass
class Molecule:
    """One QM9 molecule: ``index`` (1..133885), z ``(A,)``, pos ``(A, 3)`` Å, props ``(15,)``
    in ``PROPERTIES`` order and release units; ``source`` the file (or ``archive:member``) and
    ``line`` the CSV line it came from (None for raw files)."""

    index: int
    z: np.ndarray
    pos: np.ndarray
    props: np.ndarray
    source: str
    line: int | None = None


def parse_number(token: str) -> float:
    """A float in Python or Mathematica (``*^``) notation; ValueError otherwise."""
    return float(token.replace("*^", "e"))


def parse_raw(text: str, source: str) -> Molecule:
    """One raw ``dsgdb9nsd_*.xyz`` file; ``source`` names it in errors (a path or ``archive:member``)."""
    lines = text.splitlines()

    def fail(line_no: int, problem: str) -> DataFormatError:
        return DataFormatError(source, problem, where=f"line {line_no}")

    if not lines or not lines[0].strip():
        raise DataFormatError(source, "file is empty")
    try:
        n_atoms = int(lines[0].strip())
    except ValueError:
        raise fail(1, f"expected the atom count, got {lines[0].strip()[:40]!r}") from None
    if n_atoms < 1:
        raise fail(1, f"atom count must be positive, got {n_atoms}")
    if len(lines) < n_atoms + 5:
        raise fail(
            len(lines),
            f"file ends after {len(lines)} lines; atom count {n_atoms} (line 1) needs "
            f"{n_atoms + 5} (header, {n_atoms} atoms, frequencies, SMILES, InChI)",
        )
    fields = lines[1].split()
    if len(fields) != 2 + len(PROPERTIES) or fields[0] != "gdb":
        raise fail(2, f"expected 'gdb <index>' and {len(PROPERTIES)} properties, got {len(fields)} fields")
    try:
        index = int(fields[1])
        props = np.array([parse_number(t) for t in fields[2:]])
    except ValueError as exc:
        raise fail(2, f"unreadable number: {exc}") from None
    z, pos = np.empty(n_atoms, dtype=np.int64), np.empty((n_atoms, 3))
    for k in range(n_atoms):
        atom = lines[2 + k].split()
        if len(atom) != 5 or atom[0] not in ELEMENTS:
            raise fail(
                3 + k,
                f"expected atom {k + 1} of {n_atoms} (line 1) as 'element x y z charge' "
                f"with element in {'/'.join(ELEMENTS)}, got {lines[2 + k].strip()[:60]!r}",
            )
        try:
            pos[k] = [parse_number(t) for t in atom[1:4]]
        except ValueError as exc:
            raise fail(3 + k, f"unreadable coordinate: {exc}") from None
        z[k] = ELEMENTS[atom[0]]
    after = lines[2 + n_atoms].split()
    if after and after[0] in ELEMENTS:
        raise fail(3 + n_atoms, f"another atom line after the {n_atoms} atoms announced on line 1")
    return Molecule(index, z, pos, props, source)


def decode(data: bytes, source: str | Path) -> str:
    """``data`` as UTF-8 text; :class:`DataFormatError` naming ``source`` and the first bad byte."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DataFormatError(source, f"not UTF-8 text: byte {data[exc.start]:#04x} at offset {exc.start}") from None


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``; :class:`DataFormatError` naming it if it cannot be read."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise DataFormatError(path, f"cannot be read: {exc.strerror or exc}") from None
    return decode(data, path)


def iter_raw_folder(folder: Path) -> Iterator[Molecule]:
    """Molecules of every ``dsgdb9nsd_*.xyz`` file in ``folder``, in file-name order."""
    files = sorted(folder.glob("dsgdb9nsd_*.xyz"))
    if not files:
        raise FileNotFoundError(f"{folder}: no dsgdb9nsd_*.xyz files")
    for path in files:
        yield parse_raw(read_text(path), str(path))


def iter_raw_archive(path: Path) -> Iterator[Molecule]:
    """Molecules of a tar archive of raw files (``dsgdb9nsd.xyz.tar.bz2``; any compression)."""
    last = None
    try:
        with tarfile.open(path, mode="r:*") as archive:
            for member in archive:
                if not member.isfile() or not member.name.endswith(".xyz"):
                    continue
                source = f"{path}:{member.name}"
                text = decode(archive.extractfile(member).read(), source)
                last = member.name
                yield parse_raw(text, source)
    except (tarfile.TarError, EOFError, OSError) as exc:
        where = f"after member {last}" if last else "first member"
        raise DataFormatError(path, f"truncated or corrupt archive: {exc}", where=where) from exc
    if last is None:
        raise DataFormatError(path, "archive holds no .xyz files")


def iter_csv(path: Path) -> Iterator[Molecule]:
    """Molecules of one qm9pack CSV (columns ``CSV_STRUCTURE`` + ``CSV_COLUMNS``)."""
    try:
        f = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise DataFormatError(path, f"cannot be read: {exc.strerror or exc}") from None
    with f:
        reader = csv.reader(f)
        try:
            yield from _csv_molecules(reader, path)
        except UnicodeDecodeError:  # decoded in blocks: the bad byte is at or after this line
            raise DataFormatError(path, "not UTF-8 text", where=f"after line {reader.line_num}") from None


def _csv_molecules(reader: Iterator[list[str]], path: Path) -> Iterator[Molecule]:
    """The molecules of ``reader``'s rows: a header line, then one molecule per row."""
    header = next(reader, None)
    if header is None:
        raise DataFormatError(path, "file is empty")
    missing = [c for c in CSV_STRUCTURE + CSV_COLUMNS if c not in header]
    if missing:
        raise DataFormatError(path, f"not a qm9pack CSV: missing columns {', '.join(missing)}", where="line 1")
    col = {name: header.index(name) for name in CSV_STRUCTURE + CSV_COLUMNS}
    prop_cols = [col[c] for c in CSV_COLUMNS]
    for row in reader:
        if row:
            yield _csv_row(row, col, prop_cols, path, reader.line_num, len(header))


def _csv_row(row: list[str], col: dict, prop_cols: list[int], path: Path, line_no: int, width: int) -> Molecule:
    def fail(problem: str) -> DataFormatError:
        return DataFormatError(path, problem, where=f"line {line_no}")

    if len(row) != width:
        raise fail(f"expected {width} columns, got {len(row)} (truncated row?)")
    try:
        index, n_atoms = int(row[col["Index"]]), int(row[col["N_atoms"]])
        props = np.array([parse_number(row[c]) for c in prop_cols])
    except ValueError as exc:
        raise fail(f"unreadable number: {exc}") from None
    symbols = [s.strip().strip("'\"") for s in row[col["Elements"]].strip("[] ").split(",")]
    unknown = [s for s in symbols if s not in ELEMENTS]
    if unknown:
        raise fail(f"column 'Elements': unknown element {unknown[0]!r} (QM9 has {'/'.join(ELEMENTS)})")
    try:
        coords = [
            parse_number(t) for t in row[col["XYZ_Ang"]].replace("[", " ").replace("]", " ").split(",") if t.strip()
        ]
    except ValueError as exc:
        raise fail(f"column 'XYZ_Ang': unreadable coordinate: {exc}") from None
    if len(symbols) != n_atoms or len(coords) != 3 * n_atoms:
        raise fail(
            f"N_atoms = {n_atoms} but 'Elements' lists {len(symbols)} atoms and 'XYZ_Ang' "
            f"holds {len(coords)} coordinates"
        )
    pos = np.array(coords).reshape(n_atoms, 3)
    z = np.array([atomic_numbers[s] for s in symbols], dtype=np.int64)
    return Molecule(index, z, pos, props, str(path), line_no)


def read_exclusions(path: str | Path) -> set[int]:
    """QM9 indices listed in ``uncharacterized.txt`` (rows whose first field is an integer)."""
    path = Path(path)
    found = set()
    for line in read_text(path).splitlines():
        first = line.split()[:1]
        if first and first[0].isdigit():
            found.add(int(first[0]))
    if not found:
        raise DataFormatError(path, "no molecule indices (expected rows starting with a QM9 index)")
    return found
