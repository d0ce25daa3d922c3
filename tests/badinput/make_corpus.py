"""Writes the bad-input corpus in tests/badinput/files/ with the real writers.

    PYTHONPATH=. python tests/badinput/make_corpus.py

Each file reproduces one failure from design §4 or field-notes §7, written the way the
program that produces it in real life writes it: the csv module in cp1252, utf-8-sig and
utf-16 (Excel's "CSV", "CSV UTF-8" and "Unicode Text"), xlsxwriter and openpyxl
workbooks with numbers stored as numbers and dates as dates, xlwt for a real `.xls`,
msoffcrypto-tool for a real password-protected workbook, zipfile for the hostile zips.
`tests/test_badinput.py` asserts the exact outcome of every file. Files over the size
limit or with a 1 MB line are made at test time instead (not committed).

xlwt and msoffcrypto-tool are needed only for `old-excel.xls` and `encrypted.xlsx`;
without them those two committed files are left as they are.
"""

from __future__ import annotations

import csv
import io
import random
import struct
import zipfile
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path

import openpyxl
import xlsxwriter
from openpyxl.styles import PatternFill

HERE = Path(__file__).parent / "files"
WRITERS: dict[str, Callable[[Path], None]] = {}


def corpus_file(
    name: str,
) -> Callable[[Callable[[Path], None]], Callable[[Path], None]]:
    """Register a writer for tests/badinput/files/<name>."""

    def register(function: Callable[[Path], None]) -> Callable[[Path], None]:
        WRITERS[name] = function
        return function

    return register


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    encoding: str = "utf-8-sig",
    delimiter: str = ";",
    prefix: str = "",
) -> None:
    """Rows as Excel writes CSV: CRLF, minimal quoting, the given code page."""
    with path.open("w", newline="", encoding=encoding) as handle:
        handle.write(prefix)
        csv.writer(handle, delimiter=delimiter, lineterminator="\r\n").writerows(rows)


def plain_workbook(rows: list[list[object]]) -> bytes:
    """A small valid workbook (xlsxwriter) as bytes."""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = workbook.add_worksheet("Status")
    for number, row in enumerate(rows):
        sheet.write_row(number, 0, row)
    workbook.close()
    return buffer.getvalue()


def rezip(source: bytes, replace: dict[str, bytes]) -> bytes:
    """The same zip with some members' content replaced (deflated)."""
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(source)) as old,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as new,
    ):
        for info in old.infolist():
            new.writestr(info.filename, replace.get(info.filename, old.read(info)))
    return out.getvalue()


STATUS_ROWS: list[list[object]] = [
    ["order_id", "state", "tracking_code"],
    [23990, "SentOrder", "JJD0001"],
]

# ------------------------------------------------------------------ not text at all


@corpus_file("binary-junk.csv")
def _binary_junk(path: Path) -> None:
    path.write_bytes(random.Random(4).randbytes(2048))


@corpus_file("utf16-no-bom.csv")
def _utf16_no_bom(path: Path) -> None:
    write_csv(
        path, [["order_id", "state"], ["23990", "SentOrder"]], encoding="utf-16-le"
    )


@corpus_file("not-utf8-not-cp1252.csv")
def _undecodable(path: Path) -> None:
    # 0x81 and 0x8D are undefined in Windows-1252 and invalid alone in UTF-8.
    path.write_bytes(b"order_id;state\r\n23990;Sent\x81\x8dOrder\r\n")


@corpus_file("bom-but-not-utf8.csv")
def _bom_not_utf8(path: Path) -> None:
    path.write_bytes(
        "\ufefforder_id;state\r\n".encode() + "23990;Bestätigt\r\n".encode("cp1252")
    )


@corpus_file("empty.csv")
def _empty(path: Path) -> None:
    path.write_bytes(b"")


@corpus_file("only-blank-lines.csv")
def _blank_lines(path: Path) -> None:
    write_csv(path, [[], ["", "", ""], [], [" ", ""]])


@corpus_file("header-only.csv")
def _header_only(path: Path) -> None:
    write_csv(path, [["order_id", "state", "tracking_code"], [], ["", "", ""]])


@corpus_file("xlsx-named-csv.csv")
def _xlsx_named_csv(path: Path) -> None:
    path.write_bytes(plain_workbook(STATUS_ROWS))


@corpus_file("too-many-columns.csv")
def _too_many_columns(path: Path) -> None:
    write_csv(path, [["order_id", "state", *[f"c{n}" for n in range(2000)]]])


@corpus_file("unsupported.ods")
def _ods(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        archive.writestr("content.xml", "<office:document-content/>")


# ------------------------------------------------------------- headers and columns


@corpus_file("no-header-row.csv")
def _no_header(path: Path) -> None:
    write_csv(
        path, [["23990", "SentOrder", "JJD0001"], ["23991", "SentOrder", "JJD0002"]]
    )


@corpus_file("german-headers-default-mapping.csv")
def _german_headers(path: Path) -> None:
    write_csv(
        path,
        [["Bestellnummer", "Status", "Sendungsnummer"], ["23990", "versendet", "JJD1"]],
        encoding="cp1252",
    )


@corpus_file("no-state-or-tracking-column.csv")
def _no_state_column(path: Path) -> None:
    write_csv(path, [["order_id", "Bemerkung"], ["23990", "bitte schnell"]])


@corpus_file("two-state-columns.csv")
def _two_state_columns(path: Path) -> None:
    write_csv(
        path, [["Order ID", "Status", "state"], ["23990", "SentOrder", "ToCustomer"]]
    )


# ---------------------------------------------------------------- Excel-mangled ids


@corpus_file("scientific-ids-german-excel.csv")
def _scientific_ids(path: Path) -> None:
    # Excel (German) saved a General-formatted 12-digit id column: 11 digits shown.
    write_csv(
        path,
        [
            ["order_id", "state", "tracking_code"],
            ["1,23457E+11", "SentOrder", "JJD1"],
            ["23990", "SentOrder", "JJD2"],
            ["1.23457E+11", "SentOrder", "JJD3"],
        ],
        encoding="cp1252",
    )


@corpus_file("mangled-ids-utf8-bom.csv")
def _mangled_ids(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state"],
            ["23990.0", "SentOrder"],
            ["23990,00", "ToCustomer"],
            ["23 991", "SentOrder"],
            ["23\u00a0992", "SentOrder"],
            ['="23993"', "SentOrder"],
            ["00023994", "SentOrder"],
        ],
        delimiter=",",
    )


@corpus_file("ambiguous-thousands-ids.csv")
def _ambiguous_ids(path: Path) -> None:
    write_csv(
        path,
        [["order_id", "state"], ["23.990", "SentOrder"], ["1.000", "SentOrder"]],
        encoding="cp1252",
    )


@corpus_file("bad-order-ids.csv")
def _bad_ids(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state"],
            ["-5", "SentOrder"],
            ["0", "SentOrder"],
            ["23990.5", "SentOrder"],
            ["ABC-1", "SentOrder"],
            ["", "SentOrder"],
        ],
    )


# ---------------------------------------------------------------------- other cells


@corpus_file("bad-states.csv")
def _bad_states(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state"],
            ["1", "Shiped"],
            ["2", "CheckQueue"],
            ["3", "sent order"],
            ["4", "SENT_ORDER"],
            ["5", "returned"],
        ],
    )


@corpus_file("nothing-to-do.csv")
def _nothing_to_do(path: Path) -> None:
    write_csv(
        path,
        [["order_id", "state", "tracking_code"], ["1", "", ""], ["2", "", "JJD2"]],
    )


@corpus_file("bad-tracking.csv")
def _bad_tracking(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "tracking_code", "tracking_url"],
            ["1", "3,40434E+17", ""],
            ["2", "JJD2", "ftp://track.example.com/2"],
            ["3", "JJD3", "www.example.com/track"],
            ["4", "JJD4", "https://"],
            ["5", "340434161234567.0", "https://track.example.com/t?id=5"],
        ],
        encoding="cp1252",
    )


@corpus_file("bad-items.csv")
def _bad_items(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state", "items"],
            ["1", "OrderConfirm", "11;x"],
            ["2", "OrderConfirm", "0"],
            ["3", "OrderConfirm", "1,5E+3"],
            ["4", "OrderConfirm", "4521,0"],
            ["5", "OrderConfirm", "7 8,9;7"],
        ],
    )


@corpus_file("bad-measures.csv")
def _bad_measures(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state", "weight", "width", "carrier"],
            ["1", "PreparingOrder", "-1", "0", "Teleporter"],
            ["2", "PreparingOrder", "1,250", "12 cm", ""],
            ["3", "PreparingOrder", "1,25", "12,5", "dhl"],
        ],
        encoding="cp1252",
    )


@corpus_file("every-problem-in-one-row.csv")
def _every_problem(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state", "items", "tracking_code", "tracking_url", "weight"],
            ["1.23457E+11", "Versandt", "x", "1E+20", "mailto:a@b", "schwer"],
        ],
    )


# -------------------------------------------------------------- CSV shapes from Excel


@corpus_file("sep-line-excel.csv")
def _sep_line(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state"],
            ["23990", "SentOrder"],
            ["", ""],
            ["23991", "ToCustomer"],
        ],
        prefix="sep=;\r\n",
    )


@corpus_file("quoted-multiline.csv")
def _quoted(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state", "note"],
            ["23990", "SentOrder", "first line\r\nsecond; line"],
            ["23991", "SentOrder", 'says "hi"'],
        ],
    )


@corpus_file("trailing-blank-rows-and-columns.csv")
def _trailing(path: Path) -> None:
    write_csv(
        path,
        [
            ["order_id", "state", "", ""],
            ["23990", "SentOrder", "", ""],
            ["", "", "", ""],
            ["23991", "ToCustomer", "", ""],
            ["", "", "", ""],
            ["", "", "", ""],
        ],
        encoding="cp1252",
    )


@corpus_file("ragged-rows.csv")
def _ragged(path: Path) -> None:
    write_csv(path, [["order_id", "state"], ["23990", "SentOrder", "extra"], ["23991"]])


@corpus_file("unicode-text-excel.txt")
def _unicode_text(path: Path) -> None:
    write_csv(
        path,
        [["order_id", "state", "tracking_code"], ["23990", "SentOrder", "JJD-Ü1"]],
        encoding="utf-16",
        delimiter="\t",
    )


@corpus_file("comma-in-quoted-header.csv")
def _comma_header(path: Path) -> None:
    write_csv(
        path, [["Order, ID", "order_id", "state"], ["x, y", "23990", "SentOrder"]]
    )


# ---------------------------------------------------------------- not a workbook


@corpus_file("random-bytes.xlsx")
def _random_xlsx(path: Path) -> None:
    path.write_bytes(random.Random(7).randbytes(4096))


@corpus_file("csv-named-xlsx.xlsx")
def _csv_named_xlsx(path: Path) -> None:
    write_csv(path, [["order_id", "state"], ["23990", "SentOrder"]])


@corpus_file("zip-not-workbook.xlsx")
def _zip_not_workbook(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("orders.csv", "order_id;state\r\n23990;SentOrder\r\n")


@corpus_file("word-document.xlsx")
def _docx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")


@corpus_file("truncated.xlsx")
def _truncated(path: Path) -> None:
    data = plain_workbook(STATUS_ROWS)
    path.write_bytes(data[: len(data) // 2])


@corpus_file("old-excel.xls")
def _xls(path: Path) -> None:
    import xlwt  # type: ignore[import-not-found]  # only to write the corpus

    book = xlwt.Workbook()
    sheet = book.add_sheet("Status")
    for row, values in enumerate(STATUS_ROWS):
        for column, value in enumerate(values):
            sheet.write(row, column, value)
    book.save(str(path))


@corpus_file("xls-named-xlsx.xlsx")
def _xls_named_xlsx(path: Path) -> None:
    _xls(path.with_suffix(".tmp"))
    path.with_suffix(".tmp").replace(path)


@corpus_file("encrypted.xlsx")
def _encrypted(path: Path) -> None:
    from msoffcrypto.format.ooxml import (  # type: ignore[import-not-found]
        OOXMLFile,
    )

    plain = io.BytesIO(plain_workbook(STATUS_ROWS))
    with path.open("wb") as out:
        OOXMLFile(plain).encrypt("secret", out)


# ------------------------------------------------------------------ hostile workbooks


@corpus_file("zip-bomb.xlsx")
def _zip_bomb(path: Path) -> None:
    # 64 MB of shared strings that deflate to ~64 KB (ratio ~1000:1).
    huge = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
    huge += b"<si><t>" + b"A" * 64_000_000 + b"</t></si></sst>"
    path.write_bytes(rezip(plain_workbook(STATUS_ROWS), {"xl/sharedStrings.xml": huge}))


@corpus_file("billion-laughs.xlsx")
def _billion_laughs(path: Path) -> None:
    entities = '<!ENTITY lol "lol">' + "".join(
        f'<!ENTITY lol{n} "{("&lol" + str(n - 1) + ";") * 10 if n > 1 else "&lol;" * 10}">'
        for n in range(1, 10)
    )
    xml = (
        f'<?xml version="1.0"?><!DOCTYPE sst [{entities}]>'
        '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
        'count="1" uniqueCount="1"><si><t>&lol9;</t></si></sst>'
    ).encode()
    path.write_bytes(rezip(plain_workbook(STATUS_ROWS), {"xl/sharedStrings.xml": xml}))


@corpus_file("external-entity.xlsx")
def _xxe(path: Path) -> None:
    source = plain_workbook(STATUS_ROWS)
    with zipfile.ZipFile(io.BytesIO(source)) as archive:
        workbook = archive.read("xl/workbook.xml").decode()
    workbook = workbook.replace(
        "?>", '?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', 1
    )
    path.write_bytes(rezip(source, {"xl/workbook.xml": workbook.encode()}))


@corpus_file("lying-zip-sizes.xlsx")
def _lying_sizes(path: Path) -> None:
    # The sheet part declares 200 bytes but inflates to far more.
    data = bytearray(plain_workbook(STATUS_ROWS))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as archive:
        info = archive.getinfo("xl/worksheets/sheet1.xml")
    struct.pack_into("<I", data, info.header_offset + 22, 200)
    central = data.find(b"PK\x01\x02", 0)
    while central != -1:
        name_length = struct.unpack_from("<H", data, central + 28)[0]
        name = bytes(data[central + 46 : central + 46 + name_length])
        if name == b"xl/worksheets/sheet1.xml":
            struct.pack_into("<I", data, central + 24, 200)
        central = data.find(b"PK\x01\x02", central + 4)
    path.write_bytes(bytes(data))


@corpus_file("sparse-area.xlsx")
def _sparse(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Status")
    sheet.write_row(0, 0, ["order_id", "state"])
    sheet.write_row(1, 0, [23990, "SentOrder"])
    sheet.write(1_048_575, 16_383, "x")  # XFD1048576
    workbook.close()


# ----------------------------------------------------------- workbooks from real users


@corpus_file("numbers-as-numbers.xlsx")
def _numbers(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Status")
    dates = workbook.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_row(
        0, 0, ["order_id", "state", "tracking_code", "weight", "shipped", "paid"]
    )
    sheet.write_row(1, 0, [23990, "SentOrder", 123456789012, 12.5])
    sheet.write_datetime(1, 4, datetime(2024, 3, 5), dates)
    sheet.write_boolean(1, 5, True)
    sheet.write_row(2, 0, [23991, "PreparingOrder", "00340434", 0.1 + 0.2])
    sheet.write_datetime(2, 4, datetime(2024, 12, 31, 14, 30), dates)
    sheet.write_boolean(2, 5, False)
    sheet.write_row(3, 0, [1234567890123456789, "SentOrder", "JJD3"])
    workbook.close()


@corpus_file("formatted-to-last-row.xlsx")
def _formatted(path: Path) -> None:
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.title = "Tracking"
    sheet.append(["Order ID", "Status", "Tracking Number", "Shipped on"])
    sheet.append([23990, "shipped", "JJD1", date(2024, 3, 5)])
    sheet.append([23991, "delivered", "JJD2", date(2024, 3, 6)])
    fill = PatternFill("solid", fgColor="FFFF00")
    for row in range(4, 200):
        for column in range(1, 30):
            sheet.cell(row, column).fill = fill
    sheet.cell(1_048_576, 1).fill = fill  # dimension A1:AC1048576
    workbook.save(path)


@corpus_file("hidden-first-sheet.xlsx")
def _hidden_first(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    hidden = workbook.add_worksheet("Old")
    hidden.write_row(0, 0, ["nothing", "here"])
    hidden.hide()
    shown = workbook.add_worksheet("Status")
    shown.activate()
    for number, row in enumerate(STATUS_ROWS):
        shown.write_row(number, 0, row)
    workbook.close()


@corpus_file("title-row-above-header.xlsx")
def _title_row(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Status")
    sheet.write(0, 0, "Versandliste KW 10")
    sheet.write_row(2, 0, ["order_id", "state"])
    sheet.write_row(3, 0, [23990, "SentOrder"])
    workbook.close()


@corpus_file("table-starts-at-b3.xlsx")
def _offset(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Status")
    sheet.write_row(2, 1, ["order_id", "state", "tracking_url"])
    sheet.write_row(3, 1, [23990, "SentOrder", "https://track.example.com/1"])
    sheet.write_row(4, 1, [23991, "Unterwegs", "track.example.com/2"])
    workbook.close()


@corpus_file("formulas-and-errors.xlsx")
def _formulas(path: Path) -> None:
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Status")
    sheet.write_row(0, 0, ["order_id", "state", "tracking_code", "check"])
    sheet.write_formula(1, 0, "=23989+1", None, 23990)
    sheet.write_row(1, 1, ["SentOrder", "JJD1"])
    sheet.write_formula(1, 3, "=1/0", None, "#DIV/0!")
    workbook.close()


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    for name, writer in WRITERS.items():
        try:
            writer(HERE / name)
        except ImportError as exc:
            print(f"kept {name} as committed ({exc.name} is not installed)")
    print(f"{len(WRITERS)} files in {HERE}")


if __name__ == "__main__":
    main()
