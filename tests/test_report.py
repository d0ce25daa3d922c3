"""Reports: failed/ files in the original format, unreadable-file notes, result files."""

from __future__ import annotations

import tempfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filebridge.errors import RowIssue
from filebridge.inbox.readiness import ignore_reason
from filebridge.inbox.report import (
    TEMP_GLOB,
    ResultLine,
    temp_path,
    write_failed_rows,
    write_result_file,
    write_unreadable_explanation,
)
from filebridge.tables.readers import read_table
from filebridge.tables.table_model import RawRow, Table, TableFormat
from tests.strategies_inbox import cp1252_cell, utf8_cell

MB = 1024 * 1024
HEADERS = ["order_id", "Status", "Bemerkung"]
ISSUE = RowIssue(
    2, "order_id", "1.23457E+11", "order id is shown in scientific notation"
)


def rejected_rows(rows: list[list[str]]) -> list[tuple[RawRow, list[RowIssue]]]:
    return [
        (
            RawRow(number, dict(zip(HEADERS, cells, strict=True))),
            [RowIssue(number, "order_id", cells[0], "bad id", "fix it")],
        )
        for number, cells in enumerate(rows, start=2)
    ]


def round_trip(fmt: TableFormat, rows: list[list[str]], suffix: str) -> None:
    """write_failed_rows → read_table gives the same cells plus the error column."""
    table = Table(headers=HEADERS, rows=[], format=fmt)
    rejected = rejected_rows(rows)
    with tempfile.TemporaryDirectory() as folder:
        path = write_failed_rows(
            Path(folder), f"orders{suffix}", table, rejected, stamp="20240305-101500"
        )
        back = read_table(path, max_bytes=MB)
    assert back.headers == [*HEADERS, "error"]
    assert back.format.kind == fmt.kind
    if fmt.kind == "csv":
        assert (back.format.encoding, back.format.delimiter) == (
            fmt.encoding,
            fmt.delimiter,
        )
    assert [row.cells for row in back.rows] == [
        {**raw.cells, "error": "; ".join(i.describe() for i in issues)}
        for raw, issues in rejected
    ]


@settings(max_examples=30)
@given(
    st.lists(st.lists(cp1252_cell, min_size=3, max_size=3), min_size=1, max_size=4),
    st.sampled_from([";", ","]),
)
def test_failed_csv_round_trips_in_cp1252(
    rows: list[list[str]], delimiter: str
) -> None:
    """A cp1252 CSV's failed/ file reads back with the same cells, encoding and delimiter."""
    round_trip(TableFormat("csv", "cp1252", delimiter, "\r\n"), rows, ".csv")


@settings(max_examples=30)
@given(
    st.lists(st.lists(utf8_cell, min_size=3, max_size=3), min_size=1, max_size=4),
    st.sampled_from([";", ","]),
)
def test_failed_csv_round_trips_in_utf8_with_bom(
    rows: list[list[str]], delimiter: str
) -> None:
    """A UTF-8-BOM CSV's failed/ file reads back with the same cells."""
    round_trip(TableFormat("csv", "utf-8-sig", delimiter, "\r\n"), rows, ".csv")


@settings(max_examples=15)
@given(st.lists(st.lists(utf8_cell, min_size=3, max_size=3), min_size=1, max_size=4))
def test_failed_xlsx_round_trips(rows: list[list[str]]) -> None:
    """An XLSX's failed/ file is an XLSX that reads back with the same cells."""
    round_trip(TableFormat("xlsx", sheet="Status"), rows, ".xlsx")


def test_failed_csv_keeps_dialect_bytes(tmp_path: Path) -> None:
    """`sep=` line, delimiter, CRLF and code page are written as the original had them."""
    table = Table(
        headers=HEADERS,
        rows=[],
        format=TableFormat("csv", "cp1252", ";", "\r\n", sep_line=True),
    )
    path = write_failed_rows(
        tmp_path,
        "Versand.csv",
        table,
        rejected_rows([["1,2E+11", "versendet", "Müller"]]),
        stamp="s1",
    )
    assert path.name == "Versand.failed-s1.csv"
    assert path.read_bytes() == (
        "sep=;\r\norder_id;Status;Bemerkung;error\r\n"
        "1,2E+11;versendet;Müller;row 2, column 'order_id': bad id (value '1,2E+11') — fix it\r\n"
    ).encode("cp1252")


def test_failed_file_replaces_an_old_error_column_and_keeps_header_texts(
    tmp_path: Path,
) -> None:
    """A re-dropped failed/ file gets a fresh `error` column, not a second one."""
    table = Table(
        headers=["order_id", "Status", "Status (2)", "error"],
        rows=[],
        format=TableFormat("csv", "utf-8-sig", ",", "\n"),
        header_texts=["order_id", "Status", "Status", "Error"],
    )
    raw = RawRow(7, {"order_id": "x", "Status": "a", "Status (2)": "b", "error": "old"})
    path = write_failed_rows(tmp_path, "in.csv", table, [(raw, [ISSUE])], stamp="s")
    assert path.read_text(encoding="utf-8-sig") == (
        "order_id,Status,Status,error\n"
        "x,a,b,\"row 2, column 'order_id': order id is shown in scientific notation "
        "(value '1.23457E+11')\"\n"
    )


def test_failed_xlsx_cells_are_text_so_ids_stay_exact(tmp_path: Path) -> None:
    """The failed/ XLSX stores every cell as text: long ids are not turned into numbers."""
    table = Table(
        headers=HEADERS, rows=[], format=TableFormat("xlsx", sheet="Tracking")
    )
    path = write_failed_rows(
        tmp_path,
        "t.xlsx",
        table,
        rejected_rows([["123456789012345678", "=1+1", ""]]),
        stamp="s",
    )
    sheet = openpyxl.load_workbook(path).worksheets[0]
    assert sheet.title == "Tracking"
    assert [(c.value, c.data_type) for c in sheet[2]][:2] == [
        ("123456789012345678", "s"),
        ("=1+1", "s"),
    ]


def test_failed_files_never_overwrite_and_leave_no_temp_files(tmp_path: Path) -> None:
    """Two failures in the same second get two files; no partial file remains."""
    table = Table(
        headers=HEADERS, rows=[], format=TableFormat("csv", "utf-8", ",", "\n")
    )
    first = write_failed_rows(
        tmp_path, "a.csv", table, rejected_rows([["1", "", ""]]), stamp="x"
    )
    second = write_failed_rows(
        tmp_path, "a.csv", table, rejected_rows([["2", "", ""]]), stamp="x"
    )
    assert (first.name, second.name) == ("a.failed-x.csv", "a.failed-x-2.csv")
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a.failed-x-2.csv",
        "a.failed-x.csv",
    ]


def test_unreadable_explanation_says_why_and_never_overwrites(tmp_path: Path) -> None:
    """`<name>.error.txt` holds the explanation; a second one gets the stamp."""
    first = write_unreadable_explanation(
        tmp_path,
        "orders.xls",
        "orders.xls: this is an old Excel 97-2003 workbook",
        stamp="s2",
    )
    second = write_unreadable_explanation(tmp_path, "orders.xls", "again", stamp="s2")
    assert (first.name, second.name) == (
        "orders.xls.error.txt",
        "orders.xls.error-s2.txt",
    )
    assert first.read_bytes() == (
        "filebridge could not read orders.xls:\r\n\r\n"
        "orders.xls: this is an old Excel 97-2003 workbook\r\n\r\n"
        "Fix the file and drop it into the inbox folder again.\r\n"
    ).encode("utf-8-sig")


def test_result_file_lists_rows_formula_safe(tmp_path: Path) -> None:
    """The result CSV has the documented columns; API text cannot become a formula."""
    path = write_result_file(
        tmp_path / "orders.csv.result.csv",
        [
            ResultLine(2, 23990, "applied", "SentOrder", 3),
            ResultLine(3, None, "rejected", '=HYPERLINK("x")', 0),
            ResultLine(
                4, 23991, "pending", "Selldone unavailable, retried next run", 1
            ),
        ],
    )
    assert path.read_bytes().decode("utf-8-sig") == (
        "row,order_id,outcome,message,calls\r\n"
        "2,23990,applied,SentOrder,3\r\n"
        '3,,rejected,"\'=HYPERLINK(""x"")",0\r\n'
        '4,23991,pending,"Selldone unavailable, retried next run",1\r\n'
    )


@pytest.mark.parametrize("stamp", ["2024-03-05 10:15:00", "../../x", ""])
def test_stamps_cannot_escape_the_failed_folder(tmp_path: Path, stamp: str) -> None:
    """Whatever the stamp, the failed/ file lands inside the failed folder."""
    table = Table(
        headers=HEADERS, rows=[], format=TableFormat("csv", "utf-8", ",", "\n")
    )
    path = write_failed_rows(
        tmp_path, "a.csv", table, rejected_rows([["1", "", ""]]), stamp=stamp
    )
    assert path.parent == tmp_path


@pytest.mark.parametrize(
    "name", ["status.csv", "Versand 2026.xlsx", "CON_.csv.result.csv"]
)
def test_report_temp_names_match_the_cleanup_glob_and_are_never_taken(name):
    """A killed run's report temps are found by TEMP_GLOB and ignored by the inbox scan."""
    temp = temp_path(Path("failed") / name)
    assert temp.match(TEMP_GLOB)
    assert ignore_reason(temp.name, frozenset({".csv", ".xlsx"})) is not None
