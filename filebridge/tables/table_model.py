"""Plain records of a table read from an inbox file: cells as text, and how it was written.

Pure data shared by `readers` (which builds them from files) and `validation` (which
reads them), so the pure core never depends on the I/O adapter.

A `Table` holds its cells column by column (`column(key)`): validation works per
column, and 100,000 rows need no per-row object until someone asks for one. `RawRow`s,
a dict of the original cells each, are built on demand: for rejected rows
(`raw_row`, `rows_numbered`) and for callers that want them all (`rows`).
"""

from __future__ import annotations

import gc
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import repeat
from typing import Literal, NamedTuple

__all__ = ["RawRow", "Table", "TableFormat", "building_rows"]


@contextmanager
def building_rows() -> Iterator[None]:
    """Pause the cyclic garbage collector while many row objects are built.

    Building 100,000 rows of tuples and dicts triggers full collections that walk
    every row again and again (with pandas or a big journal loaded, every object of the
    process too). Rows hold no reference cycles, so nothing is left for the collector;
    it is re-enabled (if it was on) when the block ends.
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


class Table:
    """The header row and the non-blank data rows of one sheet or CSV file.

    `headers` are the keys of every `RawRow.cells`, in file order and unique: an empty
    header becomes `column D`, a repeated one `Status (2)`. `header_texts`, when given,
    are the header cells exactly as written (same length); `original_headers()` gives
    them, so validation matches and reports what the person wrote and the failed/ file
    repeats it. `numbers` are the rows' spreadsheet row numbers, in file order.

    `Table(headers, rows, format)` builds one from `RawRow`s (tests, hand-built tables;
    a row may leave out empty cells); `Table.from_columns` from one text sequence per
    header (the readers). Treat both as read-only.
    """

    __slots__ = ("_columns", "_rows", "format", "header_texts", "headers", "numbers")

    def __init__(
        self,
        headers: list[str],
        rows: Sequence[RawRow],
        format: TableFormat,
        header_texts: list[str] | None = None,
    ) -> None:
        self.headers = headers
        self.format = format
        self.header_texts = header_texts
        self.numbers: Sequence[int] = [raw.row for raw in rows]
        self._rows: list[RawRow] | None = list(rows)
        self._columns: dict[str, Sequence[str]] = {}

    @classmethod
    def from_columns(
        cls,
        headers: list[str],
        columns: Sequence[Sequence[str]],
        numbers: Sequence[int],
        format: TableFormat,
        header_texts: list[str] | None = None,
    ) -> Table:
        """A table of `columns[i]` = the cells under `headers[i]`, one per number."""
        table = cls(headers, (), format, header_texts)  # then its cells, as columns
        table.numbers = numbers
        table._rows = None
        table._columns = dict(zip(headers, columns, strict=True))
        return table

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Table):
            return NotImplemented
        return (self.headers, self.format, self.header_texts, self.rows) == (
            other.headers,
            other.format,
            other.header_texts,
            other.rows,
        )

    def __repr__(self) -> str:
        return (
            f"Table(headers={self.headers!r}, rows=<{len(self.numbers)} rows>, "
            f"format={self.format!r}, header_texts={self.header_texts!r})"
        )

    def original_headers(self) -> list[str]:
        """The header cells as written in the file (falls back to `headers`)."""
        if self.header_texts is not None and len(self.header_texts) == len(
            self.headers
        ):
            return self.header_texts
        return self.headers

    def column(self, key: str) -> Sequence[str]:
        """The cells under header `key`, in row order ("" where a row has none)."""
        cells = self._columns.get(key)
        if cells is None:
            cells = self._columns[key] = [raw.cells.get(key, "") for raw in self.rows]
        return cells

    def raw_row(self, index: int) -> RawRow:
        """The row at position `index` (0 = the first data row) with its cells."""
        if self._rows is not None:
            return self._rows[index]
        cells = {key: self._columns[key][index] for key in self.headers}
        return RawRow(self.numbers[index], cells)

    def rows_numbered(self, numbers: Collection[int]) -> dict[int, RawRow]:
        """The rows whose row numbers are among `numbers`, by number."""
        if not numbers:
            return {}
        return {
            number: self.raw_row(index)
            for index, number in enumerate(self.numbers)
            if number in numbers
        }

    @property
    def rows(self) -> list[RawRow]:
        """Every data row with its cells, in file order (built once, when first asked)."""
        if self._rows is None:
            cells = map(dict, map(zip, repeat(self.headers), self._row_cells()))
            self._rows = list(map(RawRow, self.numbers, cells))
        return self._rows

    def _row_cells(self) -> Iterator[tuple[str, ...]]:
        return zip(*(self._columns[key] for key in self.headers), strict=True)
