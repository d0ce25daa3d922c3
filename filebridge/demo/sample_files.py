"""Writes the sample inbox files (`samples/`, `filebridge demo`) for a shop's orders.

Each file imitates how a real sender writes it (shared/field-notes.md §7), so the
samples show filebridge reading what ERPs and people actually produce:

1. `erp-status-semicolon-cp1252.csv`: an old ERP: `;`, Windows-1252, CRLF, English
   headers with spaces, one id Excel-mangled to `NNNNN.0`, an umlaut in an extra
   column, a trailing blank line. Orders go to SentOrder with DHL codes and to
   ToCustomer.
2. `warehouse-utf8-bom.csv`: a warehouse tool: `,`, UTF-8 with BOM, the canonical
   headers; a partial OrderConfirm, a PreparingOrder with weight and carrier, a
   tracking-only row.
3. `warehouse-excel.xlsx`: saved by Excel: ids stored as numbers, tracking codes as
   text cells, a reformatted date column nobody asked for, a bold header, empty but
   formatted rows below the data; a `Returned` for an order file 1 sent.
4. `with-mistakes.csv`: typed by a person: an id in scientific notation, an unknown
   order, a misspelt state, a tracking URL without https://, an empty row, `Returned`
   for an order never sent, a backwards move, and one good row.

The files apply in this order (the demo gives them rising mtimes), and later files
build on the states earlier files reach. Which order plays which part is chosen from
the given orders (`pick_cast`), so the same orders always give the same bytes: the
CSV files byte for byte, the XLSX file too with the same zlib (fixed zip timestamps
and document properties). This module imports nothing else from filebridge: it
writes like a foreign program would.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final

from openpyxl import Workbook
from openpyxl.styles import Border, Font, PatternFill, Side
from openpyxl.writer.excel import ExcelWriter

__all__ = [
    "ERP_CSV",
    "MISTAKES_CSV",
    "SAMPLE_NAMES",
    "SAMPLE_ORDER_COUNT",
    "SAMPLE_SEED",
    "UNKNOWN_ORDER_ID",
    "WAREHOUSE_CSV",
    "WAREHOUSE_XLSX",
    "SampleCast",
    "pick_cast",
    "sample_csv_bytes",
    "sample_sheet_rows",
    "write_sample_files",
]

SAMPLE_SEED: Final = 1
"""The sandbox seed whose orders the committed `samples/` were written for."""
SAMPLE_ORDER_COUNT: Final = 40

ERP_CSV: Final = "erp-status-semicolon-cp1252.csv"
WAREHOUSE_CSV: Final = "warehouse-utf8-bom.csv"
WAREHOUSE_XLSX: Final = "warehouse-excel.xlsx"
MISTAKES_CSV: Final = "with-mistakes.csv"
SAMPLE_NAMES: Final = (ERP_CSV, WAREHOUSE_CSV, WAREHOUSE_XLSX, MISTAKES_CSV)
"""In arrival order: each file relies on the states the files before it reached."""

UNKNOWN_ORDER_ID: Final = 99_999_999
SCIENTIFIC_ID: Final = "1.50E+04"  # how Excel shows an id column it considers a number
SCHEMELESS_URL: Final = "dhl.de/track"
MISSPELT_STATE: Final = "Shiped"
SHIPPED_ON: Final = date(2026, 11, 20)
EMPTY_FORMATTED_ROWS: Final = 12

# 20-digit DHL parcel numbers: text, never numbers (Excel keeps 15 digits).
DHL_CODES: Final = (
    "00340434161094042557",
    "00340434161094042564",
    "00340434161094042571",
    "00340434161094042588",
    "00340434161094042595",
    "00340434161094042601",
    "00340434161094042618",
    "00340434161094042625",
)
DHL_URL: Final = (
    "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode="
)

# Fixed, so regenerating the committed XLSX changes no bytes (Excel stamps "now").
_XLSX_STAMP: Final = datetime(2026, 11, 20, 8, 30, 0)  # noqa: DTZ001 (xlsx core props are naive UTC)
_ZIP_STAMP: Final = (2026, 11, 20, 8, 30, 0)
_ELIGIBLE_STATUSES: Final = ("Payed", "COD")
_FRESH_STATE: Final = "CheckQueue"
_ROLES: Final = 10


@dataclass(frozen=True)
class SampleCast:
    """Which order id plays which part in the sample files (all start in CheckQueue).

    `shipped` goes SentOrder (file 1, id written `NNNNN.0`) → ToCustomer (file 3) and
    is later asked to go back (file 4). `returned` goes SentOrder → Returned.
    `delivered` goes straight to ToCustomer. `no_url` gets SentOrder with a code, then
    its URL in a tracking-only row. `partial` (the most items) confirms all but its
    last item, then goes SentOrder. `packed` goes PreparingOrder with weight and
    carrier, then SentOrder. The rest belong to the mistakes file.
    """

    shipped: int
    returned: int
    delivered: int
    no_url: int
    partial: int
    partial_items: tuple[int, ...]
    packed: int
    misspelt: int
    bad_url: int
    never_sent: int
    confirm_ok: int


def _is_fresh(order: Mapping[str, Any]) -> bool:
    return (
        order.get("status") in _ELIGIBLE_STATUSES
        and order.get("delivery_state") == _FRESH_STATE
        and not order.get("reject")
    )


def _item_ids(order: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(item["id"]) for item in order.get("items") or ())


def pick_cast(orders: Sequence[Mapping[str, Any]]) -> SampleCast:
    """Choose the orders: Payed before COD, lowest id first, never a rejected order.

    The partial confirmation goes to the order with the most items.

    Raises ValueError when fewer than ten orders are Payed/COD in CheckQueue or none of
    them has two items.
    """
    fresh = sorted(
        (o for o in orders if _is_fresh(o)),
        key=lambda o: (o["status"] != "Payed", int(o["id"])),
    )
    partial = max(fresh, key=lambda o: len(_item_ids(o)), default=None)
    if len(fresh) < _ROLES or partial is None or len(_item_ids(partial)) < 2:
        raise ValueError(
            f"The sample files need {_ROLES} Payed or COD orders in CheckQueue, one "
            f"with two items or more; the given orders have {len(fresh)}. Use a "
            f"sandbox with more orders (seed {SAMPLE_SEED}, {SAMPLE_ORDER_COUNT} "
            "orders works)."
        )
    rest = [int(o["id"]) for o in fresh if o is not partial]
    return SampleCast(
        shipped=rest[0],
        returned=rest[1],
        delivered=rest[2],
        no_url=rest[3],
        partial=int(partial["id"]),
        partial_items=_item_ids(partial)[:-1],
        packed=rest[4],
        misspelt=rest[5],
        bad_url=rest[6],
        never_sent=rest[7],
        confirm_ok=rest[8],
    )


# --- the tables -------------------------------------------------------------------------


def _erp_rows(cast: SampleCast) -> list[list[str]]:
    code = DHL_CODES
    return [
        ["Order ID", "State", "Tracking code", "Tracking URL", "Comment"],
        [
            f"{cast.shipped}.0",
            "SentOrder",
            code[0],
            DHL_URL + code[0],
            "Übergabe an DHL",
        ],
        [
            str(cast.returned),
            "SentOrder",
            code[1],
            DHL_URL + code[1],
            "Paket für Müller",
        ],
        [str(cast.delivered), "ToCustomer", code[2], DHL_URL + code[2], "zugestellt"],
        [str(cast.no_url), "SentOrder", code[3], "", "Link folgt später"],
    ]


def _warehouse_rows(cast: SampleCast) -> list[list[str]]:
    items = ";".join(str(i) for i in cast.partial_items)
    return [
        [
            "order_id",
            "state",
            "items",
            "tracking_code",
            "tracking_url",
            "weight",
            "carrier",
        ],
        [str(cast.partial), "OrderConfirm", items, "", "", "", ""],
        [str(cast.packed), "PreparingOrder", "", "", "", "2.4", "Post"],
        [str(cast.no_url), "", "", DHL_CODES[3], DHL_URL + DHL_CODES[3], "", ""],
    ]


def _mistake_rows(cast: SampleCast) -> list[list[str]]:
    return [
        ["order_id", "state", "tracking_code", "tracking_url"],
        [SCIENTIFIC_ID, "SentOrder", DHL_CODES[6], ""],
        [str(UNKNOWN_ORDER_ID), "SentOrder", "", ""],
        [str(cast.misspelt), MISSPELT_STATE, "", ""],
        [str(cast.bad_url), "SentOrder", DHL_CODES[7], SCHEMELESS_URL],
        ["", "", "", ""],
        [str(cast.never_sent), "Returned", "", ""],
        [str(cast.shipped), "OrderConfirm", "", ""],
        [str(cast.confirm_ok), "OrderConfirm", "", ""],
    ]


def sample_sheet_rows(cast: SampleCast) -> list[list[object]]:
    """The XLSX cells: ids as numbers, codes as text, dates as dates (None: empty)."""
    return [
        ["Order ID", "State", "Tracking code", "Shipped on"],
        [cast.shipped, "ToCustomer", None, SHIPPED_ON],
        [cast.returned, "Returned", None, None],
        [cast.partial, "SentOrder", DHL_CODES[4], SHIPPED_ON],
        [cast.packed, "SentOrder", DHL_CODES[5], SHIPPED_ON],
    ]


_CSV_DIALECTS: Final[Mapping[str, tuple[str, str, list[str]]]] = {
    # name: (delimiter, encoding, trailing lines)
    ERP_CSV: (";", "cp1252", [""]),
    WAREHOUSE_CSV: (",", "utf-8-sig", []),
    MISTAKES_CSV: (",", "utf-8-sig", []),
}


def sample_csv_bytes(name: str, cast: SampleCast) -> bytes:
    """The exact bytes of one sample CSV file."""
    rows = {
        ERP_CSV: _erp_rows,
        WAREHOUSE_CSV: _warehouse_rows,
        MISTAKES_CSV: _mistake_rows,
    }[name](cast)
    delimiter, encoding, trailing = _CSV_DIALECTS[name]
    text = io.StringIO()
    writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
    writer.writerows(rows)
    text.write("".join(line + "\r\n" for line in trailing))
    return text.getvalue().encode(encoding)


# --- XLSX ---------------------------------------------------------------------------------


def _sheet_bytes(cast: SampleCast) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "Sheet1"
    rows = sample_sheet_rows(cast)
    thin = Side(style="thin", color="FFBFBFBF")
    border = Border(left=thin, right=thin, top=thin, bottom=thin)
    for row in rows:
        sheet.append(row)
    for cell in sheet[1]:
        cell.font = Font(bold=True)
        cell.fill = PatternFill("solid", fgColor="FFDDEBF7")
    for ids, _, codes, dates in sheet.iter_rows(min_row=2, max_row=len(rows)):
        ids.number_format = "0"
        codes.number_format = "@"  # the column was formatted as Text before typing
        dates.number_format = "DD.MM.YYYY"
    # Someone formatted whole blocks: these rows hold styles but no values, and
    # Excel's saved dimension includes them.
    last = len(rows) + EMPTY_FORMATTED_ROWS
    for line in sheet.iter_rows(min_row=len(rows) + 1, max_row=last, max_col=4):
        for cell in line:
            cell.border = border
            cell.number_format = "DD.MM.YYYY" if cell.column == 4 else "General"
    for letter, width in zip("ABCD", (12, 16, 24, 12), strict=True):
        sheet.column_dimensions[letter].width = width
    sheet.freeze_panes = "A2"
    workbook.properties.creator = "Lager PC"
    workbook.properties.lastModifiedBy = "Lager PC"
    workbook.properties.created = _XLSX_STAMP
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        # ExcelWriter instead of workbook.save(): save() stamps `modified` with "now".
        workbook.properties.modified = _XLSX_STAMP
        ExcelWriter(workbook, archive).write_data()
    return _with_fixed_zip_times(buffer.getvalue())


def _with_fixed_zip_times(data: bytes) -> bytes:
    """The same zip with every member dated `_ZIP_STAMP` (zipfile stamps "now")."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(data)) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=_ZIP_STAMP)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            target.writestr(fixed, source.read(info))
    return out.getvalue()


# --- writing ------------------------------------------------------------------------------


def write_sample_files(folder: Path, orders: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Write the four sample files into `folder` (created if missing), in arrival order.

    `orders` are Selldone order dicts as the sandbox holds them (`Sandbox.orders()`);
    existing files of the same names are replaced.
    """
    cast = pick_cast(orders)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in SAMPLE_NAMES:
        data = (
            _sheet_bytes(cast)
            if name == WAREHOUSE_XLSX
            else sample_csv_bytes(name, cast)
        )
        path = folder / name
        path.write_bytes(data)
        written.append(path)
    return written
