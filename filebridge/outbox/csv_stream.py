"""The streaming CSV writer: rows in the mapping's dialect, text cells formula-safe.

The output is what the stdlib `csv` module writes for each row's cells as
`csv_cell_renderers` renders them (text escaped by `excel_safety.escape_csv_text`;
in a text column, or a money or int column with a "." separator, a cell of another type,
which `order_to_rows` never gives, is written as its `str()`), and it needs no DataFrame. It is measured against
`pandas.DataFrame.to_csv` in tests/benchmarks/bench_export.py (tests/test_csv_stream.py
holds it to the plain `csv` module); what keeps it fast, per row:

* the row's text cells are checked for a first character that needs escaping in one
  regex search over their joined values; only a row with one is escaped cell by cell;
* each other cell goes through its column's renderer, chosen once; money and int cells
  are their `str()`, dates and phones are remembered from the previous row (the rows of
  one order repeat them), and plain date patterns skip strftime;
* a row whose cells hold no delimiter, quote or line break is its cells joined, which
  is the line the `csv` module writes for it at a fraction of the cost; any other row
  goes through the `csv` module;
* lines are written to the file a few hundred at a time (one encoder call each).
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, tzinfo
from decimal import Decimal
from itertools import islice
from operator import attrgetter, itemgetter
from pathlib import Path
from typing import IO, TYPE_CHECKING, Final

from filebridge.outbox.dialect import Dialect
from filebridge.outbox.fields import NUMBER_KINDS, TEXT_KINDS, ColumnKind
from filebridge.outbox.mapping import ColumnSpec, MappingSpec
from filebridge.outbox.order_rows import Cell
from filebridge.outbox.table_writer import TableWriter, storage_errors
from filebridge.tables import DANGEROUS_LEADING, ESCAPE, escape_csv_text

if TYPE_CHECKING:
    from _csv import Writer as CsvWriter

__all__ = ["CsvRenderer", "CsvStreamWriter", "csv_cell_renderers"]

CsvRenderer = Callable[[Cell], str]
LineMaker = Callable[[Sequence[Cell]], str]
# First characters that send a text cell to `escape_csv_text`: the dangerous ones, and
# the quote (a value like "'=x" gets one more quote, so escaping stays reversible).
_CHECK_LEADING = DANGEROUS_LEADING | {ESCAPE}
# The text cells of a row, joined after a separator: a match is a cell that may need
# escaping (or a separator inside a value: a false alarm, settled cell by cell).
_JOIN = "\x00"
_NEEDS_CHECK = re.compile(
    re.escape(_JOIN) + "[" + "".join(re.escape(c) for c in sorted(_CHECK_LEADING)) + "]"
)
# strftime fields `_date_text` fills in itself: field → (attribute, % template); a `%%`
# token stays `%%` in the template, which %-formatting turns into `%` as strftime does.
_PLAIN_FIELDS: Final = {
    "%Y": ("year", "%d"),
    "%m": ("month", "%02d"),
    "%d": ("day", "%02d"),
    "%H": ("hour", "%02d"),
    "%M": ("minute", "%02d"),
    "%S": ("second", "%02d"),
}
_PLAIN_TOKEN = re.compile(r"%[YmdHMS%]|[ -$&-~]")  # a field, or printable ASCII but %
_TIME_FIELDS = frozenset({"hour", "minute", "second"})
_MIN_PLAIN_YEAR: Final = 1000
_REMEMBERED = (datetime, date, str)  # classes whose equal values render alike
_NOTHING = object()  # equal to no cell
_CHUNK_ROWS: Final = 512  # lines kept before one write to the file


def _number_text(value: Decimal | int, separator: str) -> str:
    text = str(value)
    if isinstance(value, Decimal) and (value.__class__ is not Decimal or "E" in text):
        # str() is the exact positional text unless it chose exponent notation.
        text = format(value, "f")
    return text if separator == "." else text.replace(".", separator)


def _render_as_text(value: Cell, *, phone: bool) -> str:
    """A text column's cell as the writer puts it out (any value, `None` empty)."""
    if value is None:
        return ""
    return escape_csv_text(str(value), phone=phone)


def _date_text(pattern: str, *, dates: bool) -> Callable[[date], str]:
    """The CSV text of a `datetime` (or, `dates`, a `date`): strftime(pattern), escaped.

    A pattern of plain fields (%Y %m %d %H %M %S %%) and printable ASCII is filled in
    from the value's attributes, at a third of strftime's cost; exact from the year
    1000 on (strftime pads shorter years differently by platform). A `date` has no
    time fields to read: a pattern with them keeps strftime (which shows 00).
    """

    def strftime(value: date) -> str:
        return escape_csv_text(value.strftime(pattern))

    tokens = _PLAIN_TOKEN.findall(pattern)
    fields = [_PLAIN_FIELDS[t][0] for t in tokens if t in _PLAIN_FIELDS]
    if (
        not tokens
        or "".join(tokens) != pattern
        or tokens[0] in _CHECK_LEADING  # the text may need escaping
        or (dates and _TIME_FIELDS.intersection(fields))
    ):
        return strftime
    template = "".join(_PLAIN_FIELDS[t][1] if t in _PLAIN_FIELDS else t for t in tokens)
    values: Callable[[date], object] = (
        attrgetter(*fields) if fields else lambda _value: ()
    )

    def fill_in(value: date) -> str:
        if value.year < _MIN_PLAIN_YEAR:
            return strftime(value)
        return template % values(value)  # starts with a digit or a harmless character

    return fill_in


def _csv_renderer(column: ColumnSpec, dialect: Dialect) -> CsvRenderer:
    """How one column's cells become CSV text (chosen once per column, for speed)."""
    phone = column.kind is ColumnKind.PHONE
    separator = dialect.decimal_separator
    date_format = column.format or dialect.date_format
    datetime_format = column.format or dialect.datetime_format
    date_text = _date_text(date_format, dates=True)
    datetime_text = _date_text(datetime_format, dates=False)

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
    if column.kind in NUMBER_KINDS:

        def render_number(value: Cell) -> str:
            if value.__class__ is Decimal:
                text = str(value)
                if "E" in text:  # exponent notation: the plain digits instead
                    text = format(value, "f")
                return text if separator == "." else text.replace(".", separator)
            return render(value)

        return render_number
    # A date or datetime column. The rows of one order repeat its dates: remember the
    # last one. Equal values render alike only with the same class, and for datetimes
    # the same zone and fold (equal aware datetimes may differ in both); only dates and
    # text are remembered (equal Decimals may differ in exponent).
    seen: object = _NOTHING
    zone: tzinfo | None = None
    fold = 0
    text = ""

    def render_time(value: Cell) -> str:
        nonlocal seen, zone, fold, text
        if value == seen and value.__class__ is seen.__class__:
            if not isinstance(value, datetime):
                return text
            if value.tzinfo is zone and value.fold == fold:
                return text
        if type(value) is datetime:
            text = datetime_text(value)
            zone, fold = value.tzinfo, value.fold
        elif type(value) is date:
            text = date_text(value)
        else:
            text = render(value)
        seen = value if value.__class__ in _REMEMBERED else _NOTHING
        return text

    return render_time


def csv_cell_renderers(spec: MappingSpec) -> list[CsvRenderer]:
    """One renderer per column: the exact text the CSV writer puts in each cell."""
    return [_csv_renderer(column, spec.dialect) for column in spec.columns]


def _phone_cell() -> Callable[[Cell], str]:
    """A phone column's cells as written; the rows of one order repeat the phone."""
    seen = ""
    text = ""

    def phone_cell(value: Cell) -> str:
        nonlocal seen, text
        if value.__class__ is not str:
            return _render_as_text(value, phone=True)
        if value != seen:
            seen = value
            text = escape_csv_text(seen, phone=True)
        return text

    return phone_cell


def _as_written(value: Cell) -> str:
    """What the csv module writes for a cell given to it as is (money, int)."""
    if value is None:
        return ""
    return value if isinstance(value, str) else str(value)


class _Lines:
    """What the csv module writes to: the lines, kept for the caller to take."""

    __slots__ = ("lines", "write")

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.write: Callable[[str], object] = self.lines.append


def _csv_writer(sink: _Lines, dialect: Dialect, *, quote_all: bool) -> CsvWriter:
    return csv.writer(
        sink,
        delimiter=dialect.delimiter,
        quotechar='"',
        doublequote=True,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
        lineterminator=dialect.newline,
    )


def _line_makers(spec: MappingSpec) -> tuple[LineMaker, LineMaker]:
    """How the rows of `spec` become CSV lines: `(row_line, cells_line)`.

    `cells_line` is the csv module writing cells as they are (only a bare CR with an LF
    terminator makes it quote the whole line: the csv module quotes a field for the
    characters of its own line terminator only, so the CR would stay unquoted and end
    the record early for every reader).

    `row_line` renders a row's cells (text escaped where needed, other cells by their
    column's renderer) and gives the line `cells_line` would give for them: for cells
    without a delimiter, quote or line break, the cells joined (QUOTE_MINIMAL; a lone
    empty cell is the exception, written `""`) or each in quotes (QUOTE_ALL, where only
    a quote inside a cell changes anything); any other row goes to `cells_line`.
    """
    dialect = spec.dialect
    kinds = [column.kind for column in spec.columns]
    width = len(kinds)
    renderers = csv_cell_renderers(spec)
    texts = [i for i, kind in enumerate(kinds) if kind is ColumnKind.TEXT]
    text_values: Callable[[Sequence[Cell]], Iterable[Cell]] = (
        itemgetter(*texts) if len(texts) > 1 else lambda row: [row[i] for i in texts]
    )
    # Money and int cells are written as `str()` gives them with a "." separator: the
    # mapping gives money a fixed exponent, so that is its exact decimal text.
    as_written = (
        {ColumnKind.MONEY, ColumnKind.INT}
        if dialect.decimal_separator == "."
        else set()
    )
    fixers: list[tuple[int, Callable[[Cell], str]]] = [
        (
            i,
            _phone_cell()
            if kind is ColumnKind.PHONE
            else _as_written
            if kind in as_written
            else renderers[i],
        )
        for i, kind in enumerate(kinds)
        if kind is not ColumnKind.TEXT
    ]
    sink = _Lines()
    quote_all = dialect.quoting == "all"
    writer = _csv_writer(sink, dialect, quote_all=quote_all)
    quote_everything = _csv_writer(sink, dialect, quote_all=True)
    lf_only = dialect.newline == "\n"
    newline = dialect.newline
    delimiter = dialect.delimiter
    needs_check = _NEEDS_CHECK.search
    join_texts = _JOIN.join
    # A cell holds a delimiter (or a quote) if the line has more than its cells put
    # between them.
    separators = width - 1
    if quote_all:
        join = f'"{delimiter}"'.join
        opening, closing = '"', '"' + newline
    else:
        join = delimiter.join
        closing = newline

    def cells_line(cells: Sequence[Cell]) -> str:
        if lf_only and any("\r" in v for v in cells if isinstance(v, str)):
            quote_everything.writerow(cells)
        else:
            writer.writerow(cells)
        return sink.lines.pop()

    def row_line(row: Sequence[Cell]) -> str:
        if len(row) != width:
            raise ValueError(f"row has {len(row)} cells, the mapping {width}")
        out = list(row)
        for i, fix in fixers:
            out[i] = fix(out[i])
        try:
            clean = needs_check(_JOIN + join_texts(text_values(out))) is None  # type: ignore[arg-type]
        except TypeError:  # a None or non-text value in a text column
            clean = False
        if not clean:
            # Escape only the cells that need it: `escape_csv_text` leaves any other
            # str unchanged, and one hostile name must not re-render the whole row.
            for i in texts:
                value = out[i]
                if value.__class__ is not str or (value and value[0] in _CHECK_LEADING):
                    out[i] = _render_as_text(value, phone=False)
        line = join(out)  # type: ignore[arg-type]  # every cell is text by now
        if quote_all:
            if line.count('"') == 2 * separators:
                return opening + line + closing
        elif (
            line
            and '"' not in line
            and "\n" not in line
            and "\r" not in line
            and line.count(delimiter) == separators
        ):
            return line + closing
        return cells_line(out)

    return row_line, cells_line


class CsvStreamWriter(TableWriter):
    """CSV in the mapping's dialect; characters the encoding lacks become `?`."""

    def __init__(self, path: Path, spec: MappingSpec) -> None:
        super().__init__(path, spec)
        dialect = spec.dialect
        self._row_line, cells_line = _line_makers(spec)
        # Lines not yet in the file: written a chunk at a time (one encoder call).
        self._lines: list[str] = []
        with storage_errors("create", path):
            self._file: IO[str] = path.open(
                "w", encoding=dialect.encoding, errors="replace", newline=""
            )
        if dialect.header:
            self._lines.append(cells_line([escape_csv_text(h) for h in spec.headers]))
            with storage_errors("write", path):
                self._flush()

    def write_row(self, row: Sequence[Cell]) -> None:
        self.write_rows((row,))

    def write_rows(self, rows: Iterable[Sequence[Cell]]) -> None:
        lines = self._lines
        row_line = self._row_line
        pending = iter(rows)
        with storage_errors("write", self.path):
            while True:
                start = len(lines)
                try:
                    lines.extend(map(row_line, islice(pending, _CHUNK_ROWS)))
                finally:  # the rows before a refused one are written, as they were
                    self.rows += len(lines) - start
                if len(lines) == start:
                    return
                if len(lines) >= _CHUNK_ROWS:
                    self._flush()

    def _flush(self) -> None:
        if self._lines:
            self._file.write("".join(self._lines))
            self._lines.clear()

    def close(self) -> None:
        if self._file.closed:
            return
        with storage_errors("write", self.path):
            self._flush()
        with storage_errors("finish", self.path):
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def _abandon(self) -> None:
        self._lines.clear()
        self._file.close()
