"""Plain records of a table read from an inbox file: rows as text, and how it was written.

Pure data shared by `readers` (which builds them from files) and `validation` (which
reads them), so the pure core never depends on the I/O adapter.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal, NamedTuple

__all__ = ["RawRow", "Table", "TableFormat", "building_rows"]


@contextmanager
def building_rows() -> Iterator[None]:
    """Pause the cyclic garbage collector while many row objects are built.

    Building 100,000 rows of dicts and tuples triggers full collections that walk
    every row again and again; pausing them made read + validate 2-2.5× faster in
    tests/benchmarks/bench_inbox_read.py. Rows hold no reference cycles, so nothing
    is left for the collector; it is re-enabled (if it was on) when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class RawRow(NamedTuple):
    """One data row as a person sees it in Excel.

    `row` is the spreadsheet row number (header = 1, first data row = 2 when the header
    is on the first line); `cells` maps every header of the table to the cell's text,
    with outer whitespace stripped ("" for an empty cell).

    A NamedTuple rather than a frozen dataclass for speed: immutable and built the same
    way (`RawRow(row=2, cells={...})`), but constructed ~3× faster, which matters at
    100,000 rows per file (tests/benchmarks/bench_inbox_read.py).
    """

    row: int
    cells: dict[str, str]


@dataclass(frozen=True, slots=True)
class TableFormat:
    """Enough about the original file to write the failed/ file back the same way."""

    kind: Literal["csv", "xlsx"]
    encoding: str | None = None  # csv: "utf-8-sig" (BOM), "utf-8", "cp1252", "utf-16"
    delimiter: str | None = None  # csv
    line_ending: str | None = None  # csv: "\r\n" or "\n"
    sheet: str | None = None  # xlsx: the sheet that was read
    sep_line: bool = False  # csv: the file began with Excel's `sep=;` hint line
    first_column: int = 0  # xlsx: 0-based sheet column of the first header (A = 0)


@dataclass(frozen=True, slots=True)
class Table:
    """The header row and the non-blank data rows of one sheet or CSV file.

    `headers` are the keys of every `RawRow.cells`, in file order and unique: an empty
    header becomes `column D`, a repeated one `Status (2)`. `header_texts`, when given,
    are the header cells exactly as written (same length); `original_headers()` gives
    them, so validation matches and reports what the person wrote and the failed/ file
    repeats it.
    """

    headers: list[str]
    rows: list[RawRow]
    format: TableFormat
    header_texts: list[str] | None = None

    def original_headers(self) -> list[str]:
        """The header cells as written in the file (falls back to `headers`)."""
        if self.header_texts is not None and len(self.header_texts) == len(
            self.headers
        ):
            return self.header_texts
        return self.headers
