"""The streaming table-writer base: a file is complete and fsynced, or it is deleted.

`TableWriter` is what the CSV and XLSX writers share: used as a context manager, leaving
the block normally closes the file (complete, fsynced), an exception deletes the partial
file. Foreign errors (`OSError`, `csv.Error`, `zipfile` errors) become `StorageError`
here, in `storage_errors`.
"""

from __future__ import annotations

import csv
import os
import zipfile
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Self

from filebridge.errors import StorageError
from filebridge.outbox.mapping import MappingSpec
from filebridge.outbox.order_rows import Cell

__all__ = ["TableWriter", "fsync_file", "remove_file", "storage_errors"]

_STORAGE_HINT = "Check that the outbox folder exists, is writable and has free space."


@contextmanager
def storage_errors(what: str, path: Path) -> Iterator[None]:
    """Inside the block, a failed file operation becomes `StorageError` naming `path`."""
    try:
        yield
    except (OSError, csv.Error, zipfile.BadZipFile, zipfile.LargeZipFile) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
        raise StorageError(
            f"Cannot {what} {path}: {reason}.", hint=_STORAGE_HINT
        ) from exc


def fsync_file(path: Path) -> None:
    """Flush a closed file's content to disk."""
    with storage_errors("sync", path), path.open("rb") as handle:
        os.fsync(handle.fileno())


def remove_file(path: Path) -> bool:
    """Delete `path` if it exists; True if it did."""
    with storage_errors("delete", path):
        try:
            path.unlink()
        except FileNotFoundError:
            return False
    return True


class TableWriter(ABC):
    """Writes header + rows of one mapping to one file, streaming.

    Use as a context manager: leaving the block normally `close()`s (complete and
    fsynced); an exception `discard()`s the partial file.
    """

    def __init__(self, path: Path, spec: MappingSpec) -> None:
        self.path = path
        self.spec = spec
        self.rows = 0

    @abstractmethod
    def write_row(self, row: Sequence[Cell]) -> None: ...

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        for row in rows:
            self.write_row(row)

    @abstractmethod
    def close(self) -> None:
        """Finish the file and fsync it: after this it is complete on disk."""

    @abstractmethod
    def _abandon(self) -> None: ...

    def discard(self) -> None:
        """Stop writing and delete the partial file."""
        try:
            self._abandon()
        finally:
            remove_file(self.path)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.discard()
