"""The one error type for unreadable or inconsistent data files."""

from __future__ import annotations

from pathlib import Path


class DataFormatError(ValueError):
    """A data file that cannot be read as the format it claims to be.

    The message always names the file, and where known the key, frame or line:
    ``"<path>: key 'forces': frame 17: NaN or infinite value"``.
    """

    def __init__(self, path: str | Path, problem: str, *, where: str | None = None):
        self.path = Path(path)
        self.where = where
        self.problem = problem
        location = f"{self.path}: {where}: " if where else f"{self.path}: "
        super().__init__(location + problem)
