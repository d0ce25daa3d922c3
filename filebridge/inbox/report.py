"""Reports a person acts on: the failed/ file of rejected rows, the unreadable-file note, results.

* `write_failed_rows`: the rejected rows in the original file's format (CSV dialect and
  encoding, or XLSX) and columns, plus an `error` column with every issue of the row, so
  a person can fix the cells in Excel and drop the file into the inbox again (the
  `error` column is then an unknown column and ignored).
* `write_unreadable_explanation`: `<name>.error.txt` beside a file that could not be
  read at all.
* `write_result_file`: one line per row: row, order, outcome, message, API calls.

Every file is written under a temporary name in the same folder, flushed to disk and
renamed into place (`os.replace`), so nobody ever opens half a report; report files
never overwrite an earlier one (a unique suffix is added). The names are valid on Windows
whatever the inbox file was called (`windows_safe_name`: `aux.csv` → `aux_.failed-….csv`),
because the folders are often shares that Windows users open. `OSError` becomes
`StorageError` here.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

import xlsxwriter

from filebridge.errors import RowIssue, StorageError
from filebridge.tables import (
    RawRow,
    Table,
    TableFormat,
    escape_csv_text,
    normalise_key,
)

__all__ = [
    "ERROR_COLUMN",
    "RESULT_HEADERS",
    "TEMP_GLOB",
    "ResultLine",
    "describe_issues",
    "temp_path",
    "windows_safe_name",
    "write_failed_rows",
    "write_result_file",
    "write_unreadable_explanation",
]

ERROR_COLUMN: Final = "error"
RESULT_HEADERS: Final = ("row", "order_id", "outcome", "message", "calls")
TEMP_GLOB: Final = ".~*.partial"
"""The temp files reports are written through (`.~NAME.partial`) before the rename."""
_ISSUE_SEPARATOR: Final = "; "
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_NAME_TRIES: Final = 1000
# Device names Windows reserves, also with any extension (`nul.txt` is NUL).
_WINDOWS_DEVICES: Final = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"{port}{digit}" for port in ("COM", "LPT") for digit in "0123456789¹²³"}
)
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"/\\|?*\x00-\x1f]')
MAX_NAME_BYTES: Final = 160
"""Longest name filebridge creates, leaving room for the suffixes it adds (≤ 255)."""
_KEPT_TAIL: Final = 40

Outcome = Literal["applied", "already-done", "rejected", "pending"]


@dataclass(frozen=True)
class ResultLine:
    """One line of a result file: what happened to one row of an inbox file."""

    row: int
    order_id: int | str | None  # text: an id as written that did not parse
    outcome: Outcome
    message: str
    calls: int


def windows_safe_name(name: str) -> str:
    """`name` as a file name Windows can create and open.

    Characters Windows forbids become `_`; a reserved device name before the first dot
    gets a `_` (`CON.csv` → `CON_.csv`); a trailing dot or space becomes `_`.
    """
    name = _bounded(_WINDOWS_FORBIDDEN.sub("_", name))
    base, dot, rest = name.partition(".")
    if base.rstrip(" ").upper() in _WINDOWS_DEVICES:
        name = base + "_" + dot + rest
    trimmed = name.rstrip(". ")
    return trimmed + "_" if trimmed != name else name or "_"


def _bounded(name: str) -> str:
    """At most MAX_NAME_BYTES: the middle of a long name becomes `~`, its end stays.

    A name may have 255 characters (NTFS) or bytes (ext4), and the names made from it
    (`.~NAME.result.csv.partial`, `-2`) must fit too. The end keeps the stamp and the
    extension, the start keeps what a person recognises.
    """
    if len(name.encode("utf-8")) <= MAX_NAME_BYTES:
        return name
    head, tail = name[:-_KEPT_TAIL], name[-_KEPT_TAIL:]
    while len(tail.encode("utf-8")) > MAX_NAME_BYTES // 2:  # a tail of CJK or emoji
        tail = tail[1:]
    while head and len(f"{head}~{tail}".encode()) > MAX_NAME_BYTES:
        head = head[:-1]
    return f"{head}~{tail}"


def _safe(stamp: str) -> str:
    return _UNSAFE_NAME.sub("-", stamp).strip("-") or "0"


def _unique(folder: Path, names: Sequence[str]) -> Path:
    """The first of `names` not taken in `folder`, else the last one numbered -2, -3 …"""
    for name in names:
        if not (folder / name).exists():
            return folder / name
    base = Path(names[-1])
    stem, suffix = base.name[: -len(base.suffix) or None], base.suffix
    for number in range(2, _MAX_NAME_TRIES):
        candidate = folder / f"{stem}-{number}{suffix}"
        if not candidate.exists():
            return candidate
    raise StorageError(
        f"Cannot find a free file name for {names[-1]} in {folder}.",
        hint="Move old reports out of the folder.",
    )


def temp_path(target: Path) -> Path:
    """Where `target` is written before its rename: a name that matches `TEMP_GLOB`."""
    return target.with_name(f".~{target.name}.partial")


def _publish(target: Path, content: bytes) -> Path:
    """Write `content` to a temp file beside `target`, fsync, rename into place."""
    temp = temp_path(target)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with temp.open("wb") as handle:
            handle.write(content)
            handle.flush()
            os.fsync(handle.fileno())
        temp.replace(target)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(
            f"Cannot write {target}: {exc.strerror or exc}.",
            hint="Check that the folder exists, is writable and the disk is not full.",
        ) from exc
    return target


def describe_issues(issues: Sequence[RowIssue]) -> str:
    """The `error` cell: every issue of the row, each as `RowIssue.describe()`."""
    return _ISSUE_SEPARATOR.join(issue.describe() for issue in issues)


def _failed_table(
    table: Table, rejected: Sequence[tuple[RawRow, Sequence[RowIssue]]]
) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the failed/ file; an old `error` column is replaced."""
    keep = [
        (key, text)
        for key, text in zip(table.headers, table.original_headers(), strict=True)
        if normalise_key(text) != ERROR_COLUMN
    ]
    header = [text for _, text in keep] + [ERROR_COLUMN]
    rows = [
        [raw.cells.get(key, "") for key, _ in keep] + [describe_issues(issues)]
        for raw, issues in rejected
    ]
    return header, rows


def _csv_bytes(table: Table, header: list[str], rows: list[list[str]]) -> bytes:
    fmt = table.format
    delimiter = fmt.delimiter or ","
    line_ending = fmt.line_ending or "\r\n"
    buffer = io.StringIO(newline="")
    if fmt.sep_line:
        buffer.write(f"sep={delimiter}{line_ending}")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending)
    writer.writerow(header)
    writer.writerows(rows)
    encoding = fmt.encoding or "utf-8-sig"
    # A legacy code page cannot hold every character of an API message; the file's
    # own cells came from that code page and always fit.
    return buffer.getvalue().encode(encoding, errors="replace")


def _xlsx_bytes(table: Table, header: list[str], rows: list[list[str]]) -> bytes:
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet(table.format.sheet or None)
    bold = workbook.add_format({"bold": True})
    # Every cell is a string cell: ids stay exact and nothing becomes a formula.
    for column, text in enumerate(header):
        sheet.write_string(0, column, text, bold)
    for number, values in enumerate(rows, start=1):
        for column, text in enumerate(values):
            if text:
                sheet.write_string(number, column, text)
    sheet.freeze_panes(1, 0)
    sheet.set_column(len(header) - 1, len(header) - 1, 80)
    workbook.close()
    return buffer.getvalue()


def write_failed_rows(
    failed_dir: Path,
    source_name: str,
    table: Table,
    rejected: list[tuple[RawRow, list[RowIssue]]],
    *,
    stamp: str,
) -> Path:
    """Write the rejected rows as `<stem>.failed-<stamp><suffix>` in `failed_dir`.

    Same format (CSV dialect and encoding, or XLSX), same columns and header texts as
    the original, plus the `error` column; rows keep their file order.
    """
    source = Path(source_name)
    suffix = ".xlsx" if table.format.kind == "xlsx" else (source.suffix or ".csv")
    name = windows_safe_name(f"{source.stem}.failed-{_safe(stamp)}{suffix}")
    header, rows = _failed_table(table, rejected)
    if table.format.kind == "xlsx":
        content = _xlsx_bytes(table, header, rows)
    else:
        content = _csv_bytes(table, header, rows)
    return _publish(_unique(failed_dir, [name]), content)


def write_unreadable_explanation(
    failed_dir: Path, source_name: str, explanation: str, *, stamp: str
) -> Path:
    """Write `<name>.error.txt` saying why the file could not be read and what to do."""
    name = Path(source_name).name
    text = (
        f"filebridge could not read {name}:\r\n\r\n"
        + explanation.replace("\r\n", "\n").replace("\n", "\r\n")
        + "\r\n\r\nFix the file and drop it into the inbox folder again.\r\n"
    )
    target = _unique(
        failed_dir,
        [
            windows_safe_name(f"{name}.error.txt"),
            windows_safe_name(f"{name}.error-{_safe(stamp)}.txt"),
        ],
    )
    return _publish(target, text.encode("utf-8-sig"))


def write_result_file(
    path: Path, lines: Sequence[ResultLine], source: TableFormat | None = None
) -> Path:
    """Write a result file (CSV) in the dialect of the CSV it reports on.

    A `;`/cp1252 input gets a `;`/cp1252 result, so the Excel that opened the input
    opens the result in columns too (as the failed/ file); otherwise, and for XLSX
    inputs, `,` and UTF-8 with BOM, so Excel shows every character. Messages come from
    the API and from people's cells, so they are written formula-safe
    (`excel_safety.escape_csv_text`).
    """
    csv_source = source if source is not None and source.kind == "csv" else None
    delimiter = (csv_source.delimiter if csv_source else None) or ","
    line_ending = (csv_source.line_ending if csv_source else None) or "\r\n"
    encoding = (csv_source.encoding if csv_source else None) or "utf-8-sig"
    buffer = io.StringIO(newline="")
    if csv_source is not None and csv_source.sep_line:
        buffer.write(f"sep={delimiter}{line_ending}")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator=line_ending)
    writer.writerow(RESULT_HEADERS)
    writer.writerows(
        [
            line.row,
            "" if line.order_id is None else line.order_id,
            line.outcome,
            escape_csv_text(line.message),
            line.calls,
        ]
        for line in lines
    )
    # A legacy code page cannot hold every character of an API message (as failed/).
    return _publish(path, buffer.getvalue().encode(encoding, errors="replace"))
