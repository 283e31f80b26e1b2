"""``equitools.key_docs``: the text tables the config references are written in."""

from __future__ import annotations

import pytest

from equitools.key_docs import key_docs


def test_rows_cells_and_continuations():
    docs = key_docs(
        """
        readout | sum or dipole | | sum: energies; dipole: |Σ q_i r_i|
                                    (QM9 mu) | with a bar
        cutoff  |               | Å | neighbour cutoff

        dir     | text          |   | the run folder
        """
    )
    assert docs == {
        "readout": ("sum or dipole", "", "sum: energies; dipole: |Σ q_i r_i| (QM9 mu) | with a bar"),
        "cutoff": ("", "Å", "neighbour cutoff"),
        "dir": ("text", "", "the run folder"),
    }
    assert list(docs) == ["readout", "cutoff", "dir"]
    assert key_docs("") == {}


@pytest.mark.parametrize(
    "table, message",
    [
        ("a | b | c | d\n  more\nkey | type | unit", r"line 3: expected 'key \| type \| unit \| meaning', got 'key"),
        (" | type | unit | meaning", r"line 1: expected"),
        ("a | | | one\n  b\nc | | | two\nc | | | three", r"line 4: key 'c' is documented twice"),
        ("\n    more\n  a | | | x", r"line 2: a continuation before the first row: 'more'"),
    ],
    ids=["three cells", "no key", "twice", "continuation first"],
)
def test_malformed_tables_name_the_line(table, message):
    with pytest.raises(ValueError, match=message):
        key_docs(table)
