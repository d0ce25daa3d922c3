"""Reading inbox files (CSV, TXT, XLSX) into text rows with Excel row numbers; refusing unsafe ones.

Inbox files are untrusted: anything a person or an ERP drops in. `read_table` bounds
memory and time before any parser sees the bytes, and turns every reason a file cannot
be read into one `InboxFileError` whose message says what is wrong and whose hint says
what to do (save as .xlsx, remove the password, ...). Foreign errors (`UnicodeDecodeError`,
`csv.Error`, `zipfile`/calamine errors) are translated here and nowhere else. `OSError`
(file vanished, locked by Excel) is NOT translated: it means "try again later" and the
caller decides.

* **CSV/TXT:** the configured encoding, else by BOM (UTF-8, UTF-16), else UTF-8, else
  Windows-1252 (recorded in `TableFormat.encoding`); Excel's `sep=;` line is honoured and
  skipped; the delimiter (`;`, `,`, TAB) is counted outside quotes in the header line
  (csv.Sniffer breaks ties).
* **XLSX:** read with python-calamine (Rust; ~9× faster than openpyxl read-only, see
  tests/benchmarks/bench_inbox_read.py), after `xlsx_guard.check_workbook` has refused
  zip bombs, entity declarations and sheets whose used area calamine could not hold.
  `.xls`, encrypted workbooks (OLE files) and other formats are refused by name.
* All values become the text a person sees (`xlsx_cells`): 23990.0 → "23990", shortest
  float repr, dates → ISO, booleans → TRUE/FALSE; numbers beyond 15 digits (Excel's
  precision) keep Excel's scientific form, so ids that lost digits are refused by
  validation.
* Rows carry the row number Excel shows; blank rows are skipped but still counted; the
  header is the first non-blank row.
* The table is built column by column (`Table.from_columns`), never an object per row:
  a regular CSV is cut into cells by one `str.split` (`csv_split`), a sheet's columns
  are converted by type (`xlsx_cells`); read + validate: CSV ~2.3×, XLSX ~6× the naive
  pandas pipeline in tests/benchmarks/bench_inbox_read.py.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Sequence
from itertools import compress
from pathlib import Path
from typing import Final

from python_calamine import (
    CalamineError,
    CalamineWorkbook,
    SheetTypeEnum,
    SheetVisibleEnum,
)

from filebridge.errors import ConfigError, InboxFileError
from filebridge.tables.cells import column_letter
from filebridge.tables.csv_split import (
    may_have_line_over,
    needs_strip,
    one_line_columns,
    split_one_line_records,
    transpose,
)
from filebridge.tables.table_model import Table, TableFormat, building_rows
from filebridge.tables.xlsx_cells import sheet_columns
from filebridge.tables.xlsx_guard import MAX_SHEET_CELLS, SAVE_AS, check_workbook

__all__ = [
    "MAX_COLUMNS",
    "MAX_LINE_CHARS",
    "MAX_ROWS",
    "REFUSED_SUFFIXES",
    "SUPPORTED_SUFFIXES",
    "read_table",
]

SUPPORTED_SUFFIXES: Final = (".csv", ".txt", ".xlsx")
MAX_COLUMNS: Final = 2000
MAX_LINE_CHARS: Final = 1_000_000
# Memory bound: each row becomes Python objects (~1 KB with its cells), so a 20 MB file
# of one-character lines would need gigabytes. No real status file comes near this.
MAX_ROWS: Final = 250_000
ROWS_HINT: Final = "split it into files of at most 250,000 rows"

_CFB_MAGIC: Final = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_ZIP_MAGIC: Final = b"PK\x03\x04"
_UTF8_BOM: Final = b"\xef\xbb\xbf"
_UTF16_BOMS: Final = (b"\xff\xfe", b"\xfe\xff")
_CANDIDATE_DELIMITERS: Final = (";", ",", "\t")
_SNIFF_CHARS: Final = 65536  # the header line is found in the first 64 KB
_SEP_LINE = re.compile(r'"?sep=(.)"?\s*')
_BINARY_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f]")

_OTHER_FORMATS: Final = {
    ".xls": "an old Excel 97-2003 workbook (.xls)",
    ".xlsb": "an Excel binary workbook (.xlsb)",
    ".xlsm": "a macro-enabled workbook (.xlsm)",
    ".ods": "an OpenDocument spreadsheet (.ods)",
    ".numbers": "an Apple Numbers file",
}

REFUSED_SUFFIXES: Final = tuple(_OTHER_FORMATS)
"""Spreadsheets filebridge cannot read: taken from the inbox into failed/, with how to
save them as .xlsx or CSV (rather than left there forever)."""


def _refuse(path: Path, problem: str, hint: str) -> InboxFileError:
    return InboxFileError(f"{path.name}: {problem}", hint=hint)


def read_table(
    path: Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    max_bytes: int,
) -> Table:
    """Read an inbox file as text rows, or raise `InboxFileError` saying why not."""
    suffix = path.suffix.lower()
    size = path.stat().st_size
    if size > max_bytes:
        raise _too_big(path, size, max_bytes)
    with path.open("rb") as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:  # it grew while we looked
        raise _too_big(path, len(data), max_bytes)
    if not data:
        raise _refuse(
            path,
            "the file is empty (0 bytes)",
            "export the file again; if it is still being written, it will be retried",
        )
    if suffix in _OTHER_FORMATS:
        raise _refuse(path, f"this is {_OTHER_FORMATS[suffix]}", SAVE_AS)
    if suffix == ".xlsx":
        with building_rows():
            return _read_xlsx(path, data, sheet)
    if suffix in (".csv", ".txt"):
        if data.startswith(_ZIP_MAGIC):
            raise _refuse(
                path,
                "this is an Excel workbook (a zip file) with a CSV name",
                "rename it to .xlsx, or save it from Excel as CSV UTF-8",
            )
        if data.startswith(_CFB_MAGIC):
            raise _refuse(
                path,
                "this is an old-format or password-protected Excel file with a CSV "
                "name",
                SAVE_AS,
            )
        with building_rows():
            return _read_csv(path, data, encoding)
    raise _refuse(
        path,
        f"unsupported file type {suffix or '(no extension)'!r}",
        "filebridge reads .csv, .txt and .xlsx files: " + SAVE_AS,
    )


def _too_big(path: Path, size: int, max_bytes: int) -> InboxFileError:
    return _refuse(
        path,
        f"the file is {size:,} bytes, more than the limit of {max_bytes:,} bytes "
        f"({max_bytes / 1_048_576:g} MB)",
        "split it into smaller files, or raise [inbox] max_file_mb in filebridge.toml",
    )


# --------------------------------------------------------------------------- tables


def _unique_headers(texts: list[str], first_column: int) -> list[str]:
    """Dict keys for the header texts: empty → `column D`, repeats → `Status (2)`."""
    keys: list[str] = []
    used: set[str] = set()
    for index, text in enumerate(texts):
        base = text or f"column {column_letter(first_column + index)}"
        key, number = base, 1
        while key in used:
            number += 1
            key = f"{base} ({number})"
        used.add(key)
        keys.append(key)
    return keys


def _check_size(
    path: Path, count: int, widths: Sequence[int], first_number: int
) -> None:
    """Refuse more than MAX_ROWS records or a record wider than MAX_COLUMNS cells.

    `widths` are the records' cell counts (or just the first one's, when all are
    equally wide); `first_number` is the spreadsheet row number of the first record.
    """
    if count > MAX_ROWS + 1:
        raise _refuse(path, f"it has {count:,} rows, more than {MAX_ROWS:,}", ROWS_HINT)
    widest = max(widths, default=0)
    if widest > MAX_COLUMNS:
        number = first_number + next(
            i for i, width in enumerate(widths) if width > MAX_COLUMNS
        )
        raise _refuse(
            path,
            f"row {number} has {widest} columns, more than {MAX_COLUMNS}",
            "delete the empty or unneeded columns, or save only the status columns",
        )


def _no_rows(path: Path) -> InboxFileError:
    return _refuse(
        path,
        "the file has no rows (only blank lines or empty cells)",
        "export the file again with a header row and data rows",
    )


def _no_rows_in_sheet(
    path: Path, name: str, names: Sequence[str], configured: str | None
) -> InboxFileError:
    """An empty sheet: name every sheet, and `inbox.sheet`, which picks another."""
    others = [n for n in names if n != name]
    listed = ", ".join(repr(n) for n in names)
    which = "the sheet set in [inbox] sheet" if configured else "the first sheet"
    hint = (
        f'set [inbox] sheet = "{others[0]}" (or the sheet that holds the data) in '
        "filebridge.toml, or move the data to " + which
        if others
        else "export the file again with a header row and data rows"
    )
    return _refuse(
        path,
        f"sheet {name!r} ({which}) has no rows; the workbook's sheets are {listed}",
        hint,
    )


def _build_table(
    path: Path,
    columns: Sequence[Sequence[str]],
    first_number: int,
    fmt: TableFormat,
    *,
    header: Sequence[str] | None = None,
    blank_free: bool = False,
) -> Table:
    """Header = first non-blank record; trailing empty columns dropped; blanks skipped.

    `columns` hold records' cells column by column, all of one length. Without
    `header` they hold every record, the first on spreadsheet row `first_number`.
    With it, `header` is the header record (not blank) on row `first_number` and
    `columns` the records below it, none blank when `blank_free` (the caller knows:
    no pass to find blank rows, no copy to cut the header off). Works with C-level
    `map`/`compress`/slices over whole columns, never a Python loop per row.
    """
    keep: list[bool] | None = None  # which records below the header have text
    if header is None:
        records = list(map(any, zip(*columns, strict=True)))
        if True not in records:
            raise _no_rows(path)
        start = records.index(True)
        header = [column[start] for column in columns]
        columns = [column[start + 1 :] for column in columns]
        first_number += start
        keep = records[start + 1 :]
    elif not blank_free:
        keep = list(map(any, zip(*columns, strict=True)))
    texts, body = list(header), list(columns)
    width = len(texts)
    while width and not (texts[width - 1] or any(body[width - 1])):
        width -= 1
    texts, body = texts[:width], body[:width]
    numbers: Sequence[int] = range(first_number + 1, first_number + 1 + len(body[0]))
    if keep is not None and not all(keep):
        numbers = list(compress(numbers, keep))
        body = [list(compress(column, keep)) for column in body]
    if not numbers:
        raise _refuse(
            path,
            "the file has a header row but no data rows",
            "add rows below the header (order_id, state, tracking_code …)",
        )
    keys = _unique_headers(texts, fmt.first_column)
    return Table.from_columns(keys, body, numbers, fmt, header_texts=texts)


# ---------------------------------------------------------------------------- CSV


def _decode(path: Path, data: bytes, encoding: str | None) -> tuple[str, str]:
    """(text, encoding used). BOM first, then UTF-8, then Windows-1252.

    Trailing NUL bytes (padding some ERP writers and copy tools leave at the end of a
    file) are dropped first, except in UTF-16, where a NUL is half of a character.
    """
    utf16 = data.startswith(_UTF16_BOMS) or (encoding or "").lower().startswith(
        ("utf-16", "utf16")
    )
    if not utf16 and data.endswith(b"\x00"):
        data = data.rstrip(b"\x00")
    if encoding:
        codec = encoding
        if data.startswith(_UTF8_BOM) and encoding.lower().replace("_", "-") in (
            "utf-8",
            "utf8",
        ):
            codec = "utf-8-sig"
        try:
            return data.decode(codec), codec
        except LookupError as exc:
            raise ConfigError(
                f"[inbox] encoding {encoding!r} is not an encoding Python knows.",
                hint="Use utf-8-sig, cp1252, utf-16 or leave it out to detect it.",
            ) from exc
        except UnicodeDecodeError as exc:
            raise _refuse(
                path,
                f"the file is not valid {encoding} text (byte 0x{data[exc.start]:02x} "
                f"at position {exc.start})",
                "save it as CSV UTF-8, or set [inbox] encoding to the file's encoding",
            ) from exc
    if data.startswith(_UTF16_BOMS):
        try:
            return data.decode("utf-16"), "utf-16"
        except UnicodeDecodeError as exc:
            raise _refuse(
                path,
                "the file starts like UTF-16 (Unicode Text) but is not valid UTF-16",
                "save it from Excel as CSV UTF-8",
            ) from exc
    if data.startswith(_UTF8_BOM):
        try:
            return data.decode("utf-8-sig"), "utf-8-sig"
        except UnicodeDecodeError as exc:
            raise _refuse(
                path,
                f"the file says it is UTF-8 (BOM) but byte {exc.start} is not UTF-8",
                "save it from Excel as CSV UTF-8 again",
            ) from exc
    if b"\x00" in data:
        raise _refuse(
            path,
            "this is not a text file (it contains NUL bytes): a binary file, or "
            "UTF-16 text without a byte-order mark",
            "drop only CSV, TXT or XLSX exports here; " + SAVE_AS,
        )
    for codec in ("utf-8", "cp1252"):
        try:
            return data.decode(codec), codec
        except UnicodeDecodeError:
            continue
    raise _refuse(
        path,
        "the file is neither UTF-8 nor Windows-1252 text",
        "save it as CSV UTF-8, or set [inbox] encoding to the file's encoding",
    )


def _count_outside_quotes(line: str) -> dict[str, int]:
    counts = dict.fromkeys(_CANDIDATE_DELIMITERS, 0)
    quoted = False
    for char in line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    return counts


def _sniff_delimiter(text: str) -> str:
    """The delimiter of the header line; csv.Sniffer only breaks ties."""
    header = next(
        (line for line in text[:_SNIFF_CHARS].splitlines() if line.strip()), ""
    )
    counts = _count_outside_quotes(header)
    best = max(counts.values())
    winners = [d for d, n in counts.items() if n == best]
    if best and len(winners) == 1:
        return winners[0]
    try:
        return csv.Sniffer().sniff(text[:8192], delimiters="".join(winners)).delimiter
    except csv.Error:
        return winners[0] if best else ","


def _read_csv(path: Path, data: bytes, encoding: str | None) -> Table:
    text, used = _decode(path, data, encoding)
    sample = text[:65536]
    if _BINARY_CONTROL.search(sample) and len(_BINARY_CONTROL.findall(sample)) > max(
        8, len(sample) // 100
    ):
        raise _refuse(
            path,
            "this is not a text file (it is full of control characters)",
            "drop only CSV, TXT or XLSX exports here; " + SAVE_AS,
        )
    lines = max(text.count("\n"), text.count("\r"))  # C-level count, before any split
    if lines > MAX_ROWS + 1:
        raise _refuse(
            path, f"it has {lines:,} lines, more than {MAX_ROWS:,}", ROWS_HINT
        )
    if may_have_line_over(text, MAX_LINE_CHARS):
        longest = max(map(len, text.splitlines()))
        if longest > MAX_LINE_CHARS:
            raise _refuse(
                path,
                f"a line is {longest:,} characters long (limit {MAX_LINE_CHARS:,})",
                "this is not a status file; check that the right file was exported",
            )
    first, _, rest = text.partition("\n")
    sep_line = _SEP_LINE.fullmatch(first.strip())
    delimiter: str
    if sep_line is not None:
        delimiter = sep_line.group(1)
        text = rest
    else:
        delimiter = _sniff_delimiter(text)
    first_newline = text.find("\n")
    line_ending = (
        "\r\n" if first_newline > 0 and text[first_newline - 1] == "\r" else "\n"
    )
    fmt = TableFormat(
        kind="csv",
        encoding=used,
        delimiter=delimiter,
        line_ending=line_ending,
        sep_line=sep_line is not None,
    )
    table = _regular_csv_table(path, text, delimiter, fmt)
    if table is not None:
        return table
    records = split_one_line_records(text, delimiter)
    one_line_records = records is not None
    if records is None:
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            records = list(reader)
        except csv.Error as exc:
            raise _refuse(
                path,
                f"line {reader.line_num} cannot be read as CSV ({exc})",
                "check the quotes in that line, or save the file from Excel again",
            ) from exc
    # When csv.reader read the whole text, a record may span lines: a quoted cell
    # holds a line break, maybe at its edge. Stripping every cell then is cheaper
    # than finding such edges in the text.
    if not one_line_records or needs_strip(text, delimiter):
        records = [list(map(str.strip, record)) for record in records]
    _check_size(path, len(records), list(map(len, records)), 1)
    return _build_table(path, transpose(records), 1, fmt)


def _regular_csv_table(
    path: Path, text: str, delimiter: str, fmt: TableFormat
) -> Table | None:
    """The table of a regular CSV text (`csv_split.one_line_columns`), else None."""
    split = one_line_columns(text, delimiter)
    if split is None:
        return None
    header, columns, blank_free = split
    _check_size(path, len(columns[0]) + 1, [len(columns)], 1)
    if needs_strip(text, delimiter):
        header = list(map(str.strip, header))
        columns = [list(map(str.strip, column)) for column in columns]
        blank_free = False
    if not any(header):  # blank lines above the header
        whole = [[text, *cells] for text, cells in zip(header, columns, strict=True)]
        return _build_table(path, whole, 1, fmt)
    return _build_table(path, columns, 1, fmt, header=header, blank_free=blank_free)


# --------------------------------------------------------------------------- XLSX


def _pick_sheet(path: Path, workbook: CalamineWorkbook, sheet: str | None) -> str:
    names = list(workbook.sheet_names)
    if sheet is not None:
        if sheet in names:
            return sheet
        raise _refuse(
            path,
            f"the workbook has no sheet named {sheet!r} (it has "
            + ", ".join(repr(n) for n in names)
            + ")",
            "rename the sheet, or change [inbox] sheet in filebridge.toml",
        )
    worksheets = [
        m for m in workbook.sheets_metadata if m.typ == SheetTypeEnum.WorkSheet
    ]
    visible = [m for m in worksheets if m.visible == SheetVisibleEnum.Visible]
    chosen = visible or worksheets
    if not chosen:
        raise _refuse(path, "the workbook has no worksheet", SAVE_AS)
    return chosen[0].name


def _read_xlsx(path: Path, data: bytes, sheet: str | None) -> Table:
    if data.startswith(_CFB_MAGIC):
        encrypted = "EncryptedPackage".encode("utf-16-le") in data
        raise _refuse(
            path,
            "the workbook is password-protected (encrypted)"
            if encrypted
            else "this is an old-format Excel file (.xls) with an .xlsx name",
            "open it in Excel, remove the password (File → Info → Protect Workbook) "
            "and save it as .xlsx, or save it as CSV UTF-8"
            if encrypted
            else SAVE_AS,
        )
    if not data.startswith(_ZIP_MAGIC):
        looks_text = b"\x00" not in data[:4096]
        raise _refuse(
            path,
            "this is not an Excel workbook"
            + (" (it looks like a text/CSV file)" if looks_text else ""),
            "rename it to .csv" if looks_text else SAVE_AS,
        )
    layout = check_workbook(path.name, data)
    try:
        with CalamineWorkbook.from_filelike(io.BytesIO(data)) as workbook:
            name = _pick_sheet(path, workbook, sheet)
            area = layout.area(name)
            if area > MAX_SHEET_CELLS:
                raise _refuse(
                    path,
                    f"sheet {name!r} uses an area of about {area:,} cells (values "
                    "far to the right or far below the data)",
                    "delete the stray cells below and right of the data, or copy "
                    "the data into a new workbook",
                )
            worksheet = workbook.get_sheet_by_name(name)
            start_row, start_column = worksheet.start or (0, 0)
            fmt = TableFormat(kind="xlsx", sheet=name, first_column=start_column)
            rows = worksheet.to_python(skip_empty_area=True)
            widths = list(map(len, rows))
            _check_size(path, len(rows), widths, start_row + 1)
            sheet_texts = sheet_columns(rows, widths)
            if sheet_texts is None:
                raise _no_rows_in_sheet(path, name, list(workbook.sheet_names), sheet)
            top, header, columns = sheet_texts
            first = start_row + 1 + top
            return _build_table(path, columns, first, fmt, header=header)
    except (CalamineError, OverflowError, ValueError) as exc:
        raise _refuse(
            path,
            f"the workbook cannot be read ({type(exc).__name__}: {exc})",
            SAVE_AS,
        ) from exc
    except BaseException as exc:
        # A Rust panic inside calamine (e.g. a date far out of range) arrives as
        # pyo3's PanicException, a BaseException: refuse the file, but let a real
        # interrupt or exit through.
        if not _is_calamine_panic(exc):
            raise
        raise _refuse(
            path,
            "the workbook has a value the reader cannot convert (a date or time far "
            "out of range)",
            SAVE_AS,
        ) from exc


def _is_calamine_panic(exc: BaseException) -> bool:
    """pyo3's PanicException, recognised by name (its module is not importable)."""
    return type(exc).__name__ == "PanicException" and not isinstance(exc, Exception)


# ---------------------------------------------------------------------- mappings
