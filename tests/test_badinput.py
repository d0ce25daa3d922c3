"""The bad-input corpus (tests/badinput/files): the exact outcome of every file.

Each file is refused with its explanation, or read and validated with the default inbound
mapping into exactly these valid rows and rejected-row issues. The corpus is written by
tests/badinput/make_corpus.py with real writers; files too big to commit are made here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from filebridge.errors import InboxFileError
from filebridge.inbox.file import load_inbound_mapping
from filebridge.inbox.validation import NOTHING_TO_DO, validate_table
from filebridge.tables.readers import read_table

FILES = Path(__file__).parent / "badinput" / "files"
LIMIT = 20 * 1024 * 1024
SAVE_AS = "open it in Excel and save it as Excel Workbook (.xlsx) or CSV UTF-8"
GENUINE = "if the file is genuine, " + SAVE_AS
SCIENTIFIC = "order id is shown in scientific notation, so digits may be lost"
NOT_URL = "tracking URL is not a web address"
DEFAULT_ALIASES = (
    "expected one of 'order_id', 'order', 'order number', 'order no', 'order nr', "
    "'basket_id'"
)


def no_order_id(found: str) -> str:
    return (
        f"no order_id column: {DEFAULT_ALIASES}; found {found}. The first non-empty row "
        "must hold the column headers; add the alias to the inbound mapping (preset "
        "'default') if your ERP names it differently"
    )


@dataclass(frozen=True)
class Refused:
    """The file cannot be read: exactly this message and hint."""

    message: str
    hint: str


@dataclass(frozen=True)
class Read:
    """The file is read: these valid rows (row, order id) and issues, or file issues."""

    valid: list[tuple[int, int]] = field(default_factory=list)
    issues: list[tuple[int, str, str, str]] = field(default_factory=list)
    file_issues: list[str] = field(default_factory=list)


EXPECTED: dict[str, Refused | Read] = {
    # ---------------------------------------------------------------- not text
    "binary-junk.csv": Refused(
        "binary-junk.csv: this is not a text file (it contains NUL bytes): a binary "
        "file, or UTF-16 text without a byte-order mark",
        "drop only CSV, TXT or XLSX exports here; " + SAVE_AS,
    ),
    "utf16-no-bom.csv": Refused(
        "utf16-no-bom.csv: this is not a text file (it contains NUL bytes): a binary "
        "file, or UTF-16 text without a byte-order mark",
        "drop only CSV, TXT or XLSX exports here; " + SAVE_AS,
    ),
    "not-utf8-not-cp1252.csv": Refused(
        "not-utf8-not-cp1252.csv: the file is neither UTF-8 nor Windows-1252 text",
        "save it as CSV UTF-8, or set [inbox] encoding to the file's encoding",
    ),
    "bom-but-not-utf8.csv": Refused(
        "bom-but-not-utf8.csv: the file says it is UTF-8 (BOM) but byte 26 is not UTF-8",
        "save it from Excel as CSV UTF-8 again",
    ),
    "empty.csv": Refused(
        "empty.csv: the file is empty (0 bytes)",
        "export the file again; if it is still being written, it will be retried",
    ),
    "only-blank-lines.csv": Refused(
        "only-blank-lines.csv: the file has no rows (only blank lines or empty cells)",
        "export the file again with a header row and data rows",
    ),
    "header-only.csv": Refused(
        "header-only.csv: the file has a header row but no data rows",
        "add rows below the header (order_id, state, tracking_code …)",
    ),
    "xlsx-named-csv.csv": Refused(
        "xlsx-named-csv.csv: this is an Excel workbook (a zip file) with a CSV name",
        "rename it to .xlsx, or save it from Excel as CSV UTF-8",
    ),
    "too-many-columns.csv": Refused(
        "too-many-columns.csv: row 1 has 2002 columns, more than 2000",
        "delete the empty or unneeded columns, or save only the status columns",
    ),
    "unsupported.ods": Refused(
        "unsupported.ods: this is an OpenDocument spreadsheet (.ods)", SAVE_AS
    ),
    # ------------------------------------------------------ headers and columns
    "no-header-row.csv": Read(
        file_issues=[no_order_id("'23990', 'SentOrder', 'JJD0001'")]
    ),
    "german-headers-default-mapping.csv": Read(
        file_issues=[no_order_id("'Bestellnummer', 'Status', 'Sendungsnummer'")]
    ),
    "title-row-above-header.xlsx": Read(
        file_issues=[no_order_id("'Versandliste KW 10'")]
    ),
    "no-state-or-tracking-column.csv": Read(
        file_issues=[
            "nothing to do: the file has no state, tracking_code or tracking_url column "
            "(expected one of 'state', 'status', 'delivery_state', 'fulfilment_state', "
            "'fulfillment_state', 'tracking_code', 'tracking', 'tracking_number', "
            "'tracking no', 'tracking_id', 'tracking_url', 'tracking_link', "
            "'tracking_link_url')"
        ]
    ),
    "two-state-columns.csv": Read(
        file_issues=[
            "columns 'Status' and 'state' both mean state: delete or rename all but one"
        ]
    ),
    # ----------------------------------------------------------- mangled ids
    "scientific-ids-german-excel.csv": Read(
        valid=[(3, 23990)],
        issues=[
            (2, "order_id", "1,23457E+11", SCIENTIFIC),
            (4, "order_id", "1.23457E+11", SCIENTIFIC),
        ],
    ),
    "mangled-ids-utf8-bom.csv": Read(
        valid=[(2, 23990), (3, 23990), (4, 23991), (5, 23992), (6, 23993), (7, 23994)]
    ),
    "ambiguous-thousands-ids.csv": Read(
        issues=[
            (
                2,
                "order_id",
                "23.990",
                "order id is ambiguous: '.' may be a thousands separator or a decimal point",
            ),
            (
                3,
                "order_id",
                "1.000",
                "order id is ambiguous: '.' may be a thousands separator or a decimal point",
            ),
        ]
    ),
    "bad-order-ids.csv": Read(
        issues=[
            (2, "order_id", "-5", "order id must be a positive whole number"),
            (3, "order_id", "0", "order id must be a positive whole number"),
            (4, "order_id", "23990.5", "order id is not a whole number"),
            (5, "order_id", "ABC-1", "order id is not a number"),
            (6, "order_id", "", "order id is empty"),
        ]
    ),
    # ------------------------------------------------------------ other cells
    "bad-states.csv": Read(
        valid=[(4, 3), (5, 4), (6, 5)],
        issues=[
            (2, "state", "Shiped", "unknown state (did you mean shipped?)"),
            (
                3,
                "state",
                "CheckQueue",
                "CheckQueue is where new orders start; a file cannot send an order back",
            ),
        ],
    ),
    "nothing-to-do.csv": Read(valid=[(3, 2)], issues=[(2, "", "", NOTHING_TO_DO)]),
    "bad-tracking.csv": Read(
        valid=[(6, 5)],
        issues=[
            (
                2,
                "tracking_code",
                "3,40434E+17",
                "tracking code is shown in scientific notation, so digits may be lost",
            ),
            (3, "tracking_url", "ftp://track.example.com/2", NOT_URL),
            (4, "tracking_url", "www.example.com/track", NOT_URL),
            (5, "tracking_url", "https://", NOT_URL),
        ],
    ),
    "bad-items.csv": Read(
        valid=[(5, 4), (6, 5)],
        issues=[
            (2, "items", "11;x", "item id 'x' is not a number"),
            (3, "items", "0", "item id '0' must be a positive whole number"),
            (
                4,
                "items",
                "1,5E+3",
                "item id '5E+3' is shown in scientific notation, so digits may be lost",
            ),
        ],
    ),
    "bad-measures.csv": Read(
        issues=[
            (2, "weight", "-1", "weight must be greater than 0 and at most 1000000"),
            (2, "width", "0", "width must be greater than 0 and at most 1000000"),
            (2, "carrier", "Teleporter", "unknown carrier type"),
            (
                3,
                "weight",
                "1,250",
                "number is ambiguous: ',' may be a thousands separator or a decimal comma",
            ),
            (3, "width", "12 cm", "not a number"),
            (4, "carrier", "dhl", "unknown carrier type"),
        ]
    ),
    "every-problem-in-one-row.csv": Read(
        issues=[
            (2, "order_id", "1.23457E+11", SCIENTIFIC),
            (2, "state", "Versandt", "unknown state"),
            (2, "items", "x", "item id 'x' is not a number"),
            (
                2,
                "tracking_code",
                "1E+20",
                "tracking code is shown in scientific notation, so digits may be lost",
            ),
            (2, "tracking_url", "mailto:a@b", NOT_URL),
            (2, "weight", "schwer", "not a number"),
        ]
    ),
    # -------------------------------------------------------- CSV shapes
    "sep-line-excel.csv": Read(valid=[(2, 23990), (4, 23991)]),
    "quoted-multiline.csv": Read(valid=[(2, 23990), (3, 23991)]),
    "trailing-blank-rows-and-columns.csv": Read(valid=[(2, 23990), (4, 23991)]),
    "ragged-rows.csv": Read(valid=[(2, 23990)], issues=[(3, "", "", NOTHING_TO_DO)]),
    "unicode-text-excel.txt": Read(valid=[(2, 23990)]),
    "comma-in-quoted-header.csv": Read(valid=[(2, 23990)]),
    # ------------------------------------------------------ not a workbook
    "random-bytes.xlsx": Refused(
        "random-bytes.xlsx: this is not an Excel workbook", SAVE_AS
    ),
    "csv-named-xlsx.xlsx": Refused(
        "csv-named-xlsx.xlsx: this is not an Excel workbook (it looks like a text/CSV file)",
        "rename it to .csv",
    ),
    "zip-not-workbook.xlsx": Refused(
        "zip-not-workbook.xlsx: this is a zip archive, not an Excel workbook", SAVE_AS
    ),
    "word-document.xlsx": Refused(
        "word-document.xlsx: this is a Word document, not an Excel workbook", SAVE_AS
    ),
    "truncated.xlsx": Refused(
        "truncated.xlsx: the file is not a valid .xlsx workbook (it is damaged or not an "
        "Excel file)",
        SAVE_AS,
    ),
    "old-excel.xls": Refused(
        "old-excel.xls: this is an old Excel 97-2003 workbook (.xls)", SAVE_AS
    ),
    "xls-named-xlsx.xlsx": Refused(
        "xls-named-xlsx.xlsx: this is an old-format Excel file (.xls) with an .xlsx name",
        SAVE_AS,
    ),
    "encrypted.xlsx": Refused(
        "encrypted.xlsx: the workbook is password-protected (encrypted)",
        "open it in Excel, remove the password (File → Info → Protect Workbook) and "
        "save it as .xlsx, or save it as CSV UTF-8",
    ),
    # ---------------------------------------------------- hostile workbooks
    "zip-bomb.xlsx": Refused(
        "zip-bomb.xlsx: the workbook unpacks to far more data than a sheet of orders "
        "(xl/sharedStrings.xml: 64,000,093 bytes from 62,308; a zip bomb?)",
        GENUINE,
    ),
    "billion-laughs.xlsx": Refused(
        "billion-laughs.xlsx: the workbook part xl/sharedStrings.xml declares an XML "
        "document type or entities, which Excel never writes (an entity expansion attack?)",
        GENUINE,
    ),
    "external-entity.xlsx": Refused(
        "external-entity.xlsx: the workbook part xl/workbook.xml declares an XML document "
        "type or entities, which Excel never writes (an entity expansion attack?)",
        GENUINE,
    ),
    "lying-zip-sizes.xlsx": Refused(
        "lying-zip-sizes.xlsx: the workbook is damaged (xl/worksheets/sheet1.xml is "
        "larger than it declares)",
        GENUINE,
    ),
    "sparse-area.xlsx": Refused(
        "sparse-area.xlsx: sheet 'Status' uses an area of about 17,179,869,184 cells "
        "(values far to the right or far below the data)",
        "delete the stray cells below and right of the data, or copy the data into a "
        "new workbook",
    ),
    # ----------------------------------------------- workbooks from real users
    "numbers-as-numbers.xlsx": Read(
        valid=[(2, 23990), (3, 23991)],
        issues=[(4, "order_id (A)", "1.23456789012346E+18", SCIENTIFIC)],
    ),
    "formatted-to-last-row.xlsx": Read(valid=[(2, 23990), (3, 23991)]),
    "hidden-first-sheet.xlsx": Read(valid=[(2, 23990)]),
    "table-starts-at-b3.xlsx": Read(
        valid=[(4, 23990)],
        issues=[
            (5, "state (C)", "Unterwegs", "unknown state"),
            (5, "tracking_url (D)", "track.example.com/2", NOT_URL),
        ],
    ),
    "formulas-and-errors.xlsx": Read(valid=[(2, 23990)]),
}

MAPPING = load_inbound_mapping("default", FILES)


def test_corpus_has_at_least_30_files_and_each_has_an_expected_outcome() -> None:
    """Every corpus file is asserted below, and every assertion has its file."""
    names = {path.name for path in FILES.iterdir()}
    assert len(names) >= 30
    assert names == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_file_outcome(name: str) -> None:
    """The file is refused with this explanation, or gives exactly these rows and issues."""
    expected = EXPECTED[name]
    if isinstance(expected, Refused):
        with pytest.raises(InboxFileError) as caught:
            read_table(FILES / name, max_bytes=LIMIT)
        assert (caught.value.message, caught.value.hint) == (
            expected.message,
            expected.hint,
        )
        return
    result = validate_table(read_table(FILES / name, max_bytes=LIMIT), MAPPING)
    assert result.file_issues == expected.file_issues
    assert [(row.row, row.order_id) for row in result.valid] == expected.valid
    assert [
        (issue.row, issue.column, issue.value, issue.message)
        for _, issues in result.rejected
        for issue in issues
    ] == expected.issues


def test_numbers_stored_as_numbers_keep_their_visible_text() -> None:
    """Tracking numbers, floats, dates and booleans stored as values read as people see them."""
    table = read_table(FILES / "numbers-as-numbers.xlsx", max_bytes=LIMIT)
    assert [row.cells for row in table.rows[:2]] == [
        {
            "order_id": "23990",
            "state": "SentOrder",
            "tracking_code": "123456789012",
            "weight": "12.5",
            "shipped": "2024-03-05",
            "paid": "TRUE",
        },
        {
            "order_id": "23991",
            "state": "PreparingOrder",
            "tracking_code": "00340434",
            "weight": "0.3",
            "shipped": "2024-12-31 14:30:00",
            "paid": "FALSE",
        },
    ]


def test_file_over_the_size_limit_is_refused_before_reading(tmp_path: Path) -> None:
    """A file bigger than `[inbox] max_file_mb` is refused with the sizes and the fix."""
    path = tmp_path / "huge.csv"
    path.write_bytes(b"order_id;state\r\n" + b"1;SentOrder\r\n" * 90_000)
    with pytest.raises(InboxFileError) as caught:
        read_table(path, max_bytes=1024 * 1024)
    assert (caught.value.message, caught.value.hint) == (
        "huge.csv: the file is 1,170,016 bytes, more than the limit of 1,048,576 "
        "bytes (1 MB)",
        "split it into smaller files, or raise [inbox] max_file_mb in filebridge.toml",
    )


def test_line_longer_than_a_megabyte_is_refused(tmp_path: Path) -> None:
    """A 1 MB line is not a status file: refused without being parsed."""
    path = tmp_path / "long.csv"
    path.write_bytes(b"order_id;state\r\n1;" + b"x" * 1_000_001 + b"\r\n")
    with pytest.raises(InboxFileError) as caught:
        read_table(path, max_bytes=LIMIT)
    assert caught.value.message == (
        "long.csv: a line is 1,000,003 characters long (limit 1,000,000)"
    )
