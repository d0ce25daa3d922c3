"""The streaming CSV writer: rows in the mapping's dialect, text cells formula-safe.

It uses the stdlib `csv` module: measured faster than `pandas.DataFrame.to_csv` for our
row-at-a-time stream (tests/benchmarks/bench_export.py), and it needs no DataFrame. Text
cells are escaped by `excel_safety.escape_csv_text`.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import IO

from filebridge.dialect import Dialect
from filebridge.excel_safety import DANGEROUS_LEADING, ESCAPE, escape_csv_text
from filebridge.fields import TEXT_KINDS, ColumnKind
from filebridge.mapping import ColumnSpec, MappingSpec
from filebridge.order_rows import Cell
from filebridge.table_writer import TableWriter, storage_errors

__all__ = ["CsvRenderer", "CsvStreamWriter", "csv_cell_renderers"]

CsvRenderer = Callable[[Cell], str]
# First characters that send a text cell to `escape_csv_text`: the dangerous ones, and
# the quote (a value like "'=x" gets one more quote, so escaping stays reversible).
_CHECK_LEADING = DANGEROUS_LEADING | {ESCAPE}


def _number_text(value: Decimal | int, separator: str) -> str:
    text = format(value, "f") if isinstance(value, Decimal) else str(value)
    return text if separator == "." else text.replace(".", separator)


def _csv_renderer(column: ColumnSpec, dialect: Dialect) -> CsvRenderer:
    """How one column's cells become CSV text (chosen once per column, for speed)."""
    phone = column.kind is ColumnKind.PHONE
    separator = dialect.decimal_separator
    date_format = column.format or dialect.date_format
    datetime_format = column.format or dialect.datetime_format

    def render(value: Cell) -> str:
        if value is None:
            return ""
        if isinstance(value, str):
            return escape_csv_text(value, phone=phone)
        if isinstance(value, Decimal | int):
            return _number_text(value, separator)
        if isinstance(value, datetime):
            return escape_csv_text(value.strftime(datetime_format))
        return escape_csv_text(value.strftime(date_format))

    if column.kind in TEXT_KINDS:

        def render_text(value: Cell) -> str:
            if value.__class__ is str:
                return escape_csv_text(value, phone=phone)
            return render(value)

        return render_text
    if column.kind is ColumnKind.MONEY:
        # Money has a fixed exponent (the mapping quantizes it): str() is exact.
        def render_money(value: Cell) -> str:
            if value.__class__ is Decimal:
                return str(value).replace(".", separator)
            return render(value)

        return render_money
    if column.kind in {ColumnKind.DATE, ColumnKind.DATETIME}:
        # The rows of one order repeat its dates: remember the last one (strftime on
        # an aware datetime costs more than the rest of the row).
        last: list[tuple[Cell, str]] = [(None, "")]

        def render_date(value: Cell) -> str:
            seen, text = last[0]
            if value == seen and value.__class__ is seen.__class__:
                return text
            text = render(value)
            last[0] = (value, text)
            return text

        return render_date
    return render


def csv_cell_renderers(spec: MappingSpec) -> list[CsvRenderer]:
    """One renderer per column: the exact text the CSV writer puts in each cell."""
    return [_csv_renderer(column, spec.dialect) for column in spec.columns]


class CsvStreamWriter(TableWriter):
    """CSV in the mapping's dialect; characters the encoding lacks become `?`."""

    def __init__(self, path: Path, spec: MappingSpec) -> None:
        super().__init__(path, spec)
        dialect = spec.dialect
        renderers = csv_cell_renderers(spec)
        kinds = [column.kind for column in spec.columns]
        self._width = len(kinds)
        # Speed (see module docstring): a row whose text cells are all plain str that
        # start with no dangerous character passes through as it is; only the other
        # columns are rendered. Money and int cells need no rendering with a "."
        # separator: the mapping gives money a fixed exponent, so `str()` (which the
        # csv module applies) is already the exact decimal text.
        self._text_index = [i for i, k in enumerate(kinds) if k is ColumnKind.TEXT]
        self._phones = [i for i, k in enumerate(kinds) if k is ColumnKind.PHONE]
        self._text_values: Callable[[Sequence[Cell]], Iterable[Cell]] = (
            itemgetter(*self._text_index)
            if len(self._text_index) > 1
            else lambda row: [row[i] for i in self._text_index]
        )
        passthrough = (
            {ColumnKind.MONEY, ColumnKind.INT}
            if dialect.decimal_separator == "."
            else set()
        )
        self._other = [
            (i, renderers[i])
            for i, k in enumerate(kinds)
            if k not in TEXT_KINDS and k not in passthrough
        ]
        with storage_errors("create", path):
            self._file: IO[str] = path.open(
                "w", encoding=dialect.encoding, errors="replace", newline=""
            )
        self._writer = csv.writer(
            self._file,
            delimiter=dialect.delimiter,
            quotechar='"',
            doublequote=True,
            quoting=csv.QUOTE_ALL if dialect.quoting == "all" else csv.QUOTE_MINIMAL,
            lineterminator=dialect.newline,
        )
        self._quote_all = csv.writer(
            self._file,
            delimiter=dialect.delimiter,
            quotechar='"',
            doublequote=True,
            quoting=csv.QUOTE_ALL,
            lineterminator=dialect.newline,
        )
        self._lf_only = dialect.newline == "\n"
        if dialect.header:
            with storage_errors("write", path):
                self._write_cells([escape_csv_text(h) for h in spec.headers])

    def _render(self, row: Sequence[Cell]) -> Sequence[Cell]:
        if len(row) != self._width:
            raise ValueError(f"row has {len(row)} cells, the mapping {self._width}")
        out: list[Cell] | None = None
        try:
            firsts = {value[:1] for value in self._text_values(row)}  # type: ignore[index]
            clean = _CHECK_LEADING.isdisjoint(firsts)
        except TypeError:  # a None or non-text value in a text column
            clean = False
        if not clean:
            # Escape only the cells that need it: `escape_csv_text` leaves any other
            # str unchanged, and one hostile name must not re-render the whole row.
            out = list(row)
            for i in self._text_index:
                value = out[i]
                if value.__class__ is not str or (value and value[0] in _CHECK_LEADING):
                    out[i] = self._text_cell(value, phone=False)
        for i in self._phones:
            value = row[i]
            if value.__class__ is not str or (value and value[0] in _CHECK_LEADING):
                out = out if out is not None else list(row)
                out[i] = self._text_cell(value, phone=True)
        if self._other:
            out = out if out is not None else list(row)
            for i, render in self._other:
                out[i] = render(out[i])
        return row if out is None else out

    @staticmethod
    def _text_cell(value: Cell, *, phone: bool) -> str:
        if value is None:
            return ""
        return escape_csv_text(str(value), phone=phone)

    def write_row(self, row: Sequence[Cell]) -> None:
        self.write_rows((row,))

    def _write_cells(self, cells: Sequence[Cell]) -> None:
        if self._lf_only and any("\r" in v for v in cells if isinstance(v, str)):
            # The csv module quotes a field for the characters of its own line
            # terminator only: with "\n" a bare CR would stay unquoted and end the
            # record early for every reader.
            self._quote_all.writerow(cells)
        else:
            self._writer.writerow(cells)

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        render = self._render
        write = self._write_cells if self._lf_only else self._writer.writerow
        count = 0
        with storage_errors("write", self.path):
            for row in rows:
                write(render(row))
                count += 1
        self.rows += count

    def close(self) -> None:
        if self._file.closed:
            return
        with storage_errors("finish", self.path):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def _abandon(self) -> None:
        self._file.close()
