"""Outbox files: a streaming writer for the mapping's format, published atomically.

Rows go straight to disk as they come (`csv_stream`, `xlsx_stream`), so memory stays
flat however long the export. Publishing (`publish_file`) is `os.replace` of a fully
written, fsynced temp file whose name no ERP pattern matches (`.~filebridge-….partial`),
so the ERP never sees half a file; the final name never overwrites an existing file, and
an optional empty `.done` marker follows the file. OS errors become `StorageError`.
"""

from __future__ import annotations

import os
from pathlib import Path

from filebridge.errors import StorageError
from filebridge.outbox.csv_stream import CsvStreamWriter
from filebridge.outbox.mapping import MappingSpec
from filebridge.outbox.table_writer import TableWriter, storage_errors
from filebridge.outbox.xlsx_stream import XlsxStreamWriter

__all__ = [
    "TEMP_PREFIX",
    "TEMP_SUFFIX",
    "fsync_directory",
    "is_temp_name",
    "open_table_writer",
    "publish_file",
    "temp_path",
    "unique_path",
    "write_done_marker",
]

TEMP_PREFIX = ".~filebridge-"
TEMP_SUFFIX = ".partial"
DONE_SUFFIX = ".done"
MAX_UNIQUE_SUFFIX = 10_000


def temp_path(folder: Path, token: str) -> Path:
    """A hidden temp name in `folder` that no `*.csv`/`*.xlsx` pattern matches."""
    return folder / f"{TEMP_PREFIX}{token}{TEMP_SUFFIX}"


def is_temp_name(name: str) -> bool:
    return name.startswith(TEMP_PREFIX) and name.endswith(TEMP_SUFFIX)


def unique_path(folder: Path, name: str) -> Path:
    """`folder/name`, or `stem-1.ext`, `stem-2.ext`… if taken: never overwrite a file."""
    candidate = folder / name
    stem, dot, ext = name.partition(".")
    for number in range(1, MAX_UNIQUE_SUFFIX):
        if not candidate.exists() and not _done_path(candidate).exists():
            return candidate
        candidate = folder / f"{stem}-{number}{dot}{ext}"
    raise StorageError(
        f"No free file name like {name} in {folder}.",
        hint="Move old files out of the outbox.",
    )


def _done_path(path: Path) -> Path:
    return path.with_name(path.name + DONE_SUFFIX)


def fsync_directory(folder: Path) -> None:
    """Make a rename durable. Windows cannot open a directory; NTFS journals renames."""
    if os.name == "nt":
        return
    with storage_errors("sync the folder", folder):
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def publish_file(temp: Path, final: Path) -> None:
    """Atomically give a complete, fsynced temp file its final name."""
    with storage_errors("publish", final):
        temp.replace(final)
    fsync_directory(final.parent)


def write_done_marker(final: Path) -> Path:
    """The empty `<file>.done` marker some ERPs wait for; written after the file."""
    marker = _done_path(final)
    with storage_errors("write the marker", marker), marker.open("wb") as handle:
        os.fsync(handle.fileno())
    return marker


def open_table_writer(path: Path, spec: MappingSpec) -> TableWriter:
    """A writer for the mapping's format; the header row (if any) is already written."""
    if spec.dialect.format == "xlsx":
        return XlsxStreamWriter(path, spec)
    return CsvStreamWriter(path, spec)
