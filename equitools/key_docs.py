"""Key-documentation tables written as text, one row per key: ``key | type | unit | meaning``.

The config references (``DOCS`` of :mod:`equitools.models.registry` and of
:mod:`equitools.train.config`, rendered into docs/config.md) are written as such tables, so each
reads like its rendering and a long meaning wraps without code around it. This module only
parses; what the cells mean (an empty type: a numeric key, typed by ``NUMBERS``) is up to its
callers.
"""

from __future__ import annotations

import textwrap

KeyDoc = tuple[str, str, str]
"""(type, unit, meaning) of one key; the empty string where a cell is empty."""


def key_docs(table: str) -> dict[str, KeyDoc]:
    """``{key: (type, unit, meaning)}`` of a text ``table``, in its order.

    A row is ``key | type | unit | meaning``, cells stripped of white space; the meaning is the rest
    of the row (it may hold ``|``) and continues on the lines below it that are indented deeper
    than the rows, joined by single spaces. The table as a whole may be indented; blank lines are
    skipped. Raises ``ValueError`` naming the line for a row of fewer than four cells, an empty or
    repeated key, or a continuation line before the first row.

    >>> key_docs('''
    ...     cutoff     |              | Å | neighbour cutoff
    ...     activation | silu or relu |   | the activation
    ...                                     function
    ... ''')
    {'cutoff': ('', 'Å', 'neighbour cutoff'), 'activation': ('silu or relu', '', 'the activation function')}
    """
    docs: dict[str, KeyDoc] = {}
    key = None
    for number, line in enumerate(textwrap.dedent(table).splitlines(), 1):
        if not line.strip():
            continue
        if line[0].isspace():
            if key is None:
                raise ValueError(f"key table line {number}: a continuation before the first row: {line.strip()!r}")
            kind, unit, meaning = docs[key]
            docs[key] = (kind, unit, f"{meaning} {line.strip()}")
            continue
        cells = [cell.strip() for cell in line.split("|", 3)]
        if len(cells) < 4 or not cells[0]:
            raise ValueError(f"key table line {number}: expected 'key | type | unit | meaning', got {line!r}")
        key = cells[0]
        if key in docs:
            raise ValueError(f"key table line {number}: key {key!r} is documented twice")
        docs[key] = (cells[1], cells[2], cells[3])
    return docs
