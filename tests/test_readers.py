"""Reading real CSV/XLSX files as Excel and LibreOffice write them; mapping files."""

from __future__ import annotations

import csv
import gc
import random
import tempfile
import zipfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import given, settings
from hypothesis import strategies as st

from filebridge.errors import ConfigError, InboxFileError, MappingError
from filebridge.inbox.file import load_inbound_mapping
from filebridge.inbox.validation import validate_table
from filebridge.selldone.models import FulfilmentState
from filebridge.tables.readers import read_table
from filebridge.tables.table_model import RawRow, TableFormat

ROOT = Path(__file__).parents[1]
MB = 1024 * 1024


def write_csv(
    path: Path,
    rows: list[list[str]],
    *,
    encoding: str,
    delimiter: str,
    line_ending: str = "\r\n",
    prefix: str = "",
) -> Path:
    with path.open("w", newline="", encoding=encoding) as handle:
        handle.write(prefix)
        csv.writer(handle, delimiter=delimiter, lineterminator=line_ending).writerows(
            rows
        )
    return path


def test_german_excel_csv_semicolon_cp1252_reads_and_validates(tmp_path: Path) -> None:
    """Excel "CSV" on a German PC: `;`, Windows-1252, decimal comma, `23990,0` ids."""
    path = write_csv(
        tmp_path / "Versand.csv",
        [
            ["Bestellnummer", "Status", "Sendungsnummer", "Gewicht", "Empfänger"],
            ["23990,0", "versendet", "JJD0001", "1,5", "Jürgen Müßig"],
            ["23.991", "zugestellt", "", "", "Zoë"],
        ],
        encoding="cp1252",
        delimiter=";",
    )
    table = read_table(path, max_bytes=MB)
    assert table.format == TableFormat(
        kind="csv", encoding="cp1252", delimiter=";", line_ending="\r\n"
    )
    assert table.rows[0].cells["Empfänger"] == "Jürgen Müßig"
    mapping = load_inbound_mapping("mappings/inbox-example-erp.toml", ROOT)
    result = validate_table(table, mapping)
    assert [
        (r.order_id, r.state, r.tracking_code, r.delivery_info) for r in result.valid
    ] == [
        (23990, FulfilmentState.SENT_ORDER, "JJD0001", {"weight": Decimal("1.5")}),
        (23991, FulfilmentState.TO_CUSTOMER, None, {}),
    ]


def test_excel_csv_utf8_with_bom_and_float_ids(tmp_path: Path) -> None:
    """Excel "CSV UTF-8": BOM, commas, ids written back as `23990.0`."""
    path = write_csv(
        tmp_path / "status.csv",
        [["order_id", "state", "tracking_code"], ["23990.0", "SentOrder", "Ω-1"]],
        encoding="utf-8-sig",
        delimiter=",",
    )
    table = read_table(path, max_bytes=MB)
    assert (table.format.encoding, table.format.delimiter) == ("utf-8-sig", ",")
    result = validate_table(table, load_inbound_mapping("default", ROOT))
    assert [(r.order_id, r.tracking_code) for r in result.valid] == [(23990, "Ω-1")]


def test_libreoffice_csv_utf8_without_bom_and_lf(tmp_path: Path) -> None:
    """LibreOffice on Linux: UTF-8 without BOM, LF line ends, quoted text."""
    path = tmp_path / "lo.csv"
    path.write_bytes(b'"order_id","state","note"\n23990,"SentOrder","a, b"\n')
    table = read_table(path, max_bytes=MB)
    assert (table.format.encoding, table.format.line_ending) == ("utf-8", "\n")
    assert table.rows == [
        RawRow(2, {"order_id": "23990", "state": "SentOrder", "note": "a, b"})
    ]


def test_utf16_unicode_text_tab_separated(tmp_path: Path) -> None:
    """Excel "Unicode Text": UTF-16 with BOM and TAB separators."""
    path = write_csv(
        tmp_path / "unicode.txt",
        [["order_id", "state"], ["23990", "SentOrder"]],
        encoding="utf-16",
        delimiter="\t",
    )
    table = read_table(path, max_bytes=MB)
    assert (table.format.encoding, table.format.delimiter) == ("utf-16", "\t")
    assert table.rows[0].cells == {"order_id": "23990", "state": "SentOrder"}


def test_sep_line_is_honoured_and_not_a_row(tmp_path: Path) -> None:
    """Excel's `sep=,` hint line sets the delimiter; the header is still row 1."""
    path = write_csv(
        tmp_path / "sep.csv",
        [["order_id", "state"], ["1", "SentOrder"]],
        encoding="utf-8",
        delimiter=",",
        prefix="sep=,\r\n",
    )
    table = read_table(path, max_bytes=MB)
    assert table.format.sep_line is True
    assert table.rows == [RawRow(2, {"order_id": "1", "state": "SentOrder"})]


def test_delimiter_counts_only_outside_quotes(tmp_path: Path) -> None:
    """A header with commas inside quotes is still `;`-separated."""
    path = tmp_path / "q.csv"
    path.write_bytes(b'"Order, ID";"Status, text";x\r\n1;2;3\r\n')
    table = read_table(path, max_bytes=MB)
    assert table.format.delimiter == ";"
    assert table.headers == ["Order, ID", "Status, text", "x"]


def test_blank_rows_are_skipped_but_counted_and_cells_stripped(tmp_path: Path) -> None:
    """Row numbers are Excel's: blank lines count; outer spaces are removed."""
    path = tmp_path / "gaps.csv"
    path.write_bytes(
        b"\r\norder_id ; state\r\n 1 ; SentOrder \r\n;\r\n\r\n2;ToCustomer\r\n;;\r\n"
    )
    table = read_table(path, max_bytes=MB)
    assert table.headers == ["order_id", "state"]
    assert table.rows == [
        RawRow(3, {"order_id": "1", "state": "SentOrder"}),
        RawRow(6, {"order_id": "2", "state": "ToCustomer"}),
    ]


def test_line_break_at_the_edge_of_a_quoted_cell_is_stripped(tmp_path: Path) -> None:
    """A quoted cell ending or starting with a line break loses it, like outer spaces.

    (Before, a cell such as `"SentOrder\n"` in the middle of a row kept its line
    break, and validation then called the state unknown.)
    """
    path = tmp_path / "breaks.csv"
    path.write_bytes(
        b'order_id;state;tracking_code\r\n1;"SentOrder\n";JJD1\r\n2;"a\r\nb";JJD2\r\n'
    )
    table = read_table(path, max_bytes=MB)
    assert [row.cells["state"] for row in table.rows] == ["SentOrder", "a\r\nb"]


def test_tab_separated_quoted_cell_starting_with_a_tab_is_stripped(
    tmp_path: Path,
) -> None:
    """In a TAB-separated file a quoted cell may hold a TAB at its edge: it goes too."""
    path = tmp_path / "tabs.txt"
    path.write_bytes(b'order_id\tstate\tnote\r\n1\t"\tSentOrder"\tx\r\n')
    table = read_table(path, max_bytes=MB)
    assert table.rows == [
        RawRow(2, {"order_id": "1", "state": "SentOrder", "note": "x"})
    ]


def test_non_ascii_text_keeps_letters_and_loses_outer_spaces(tmp_path: Path) -> None:
    """Umlauts stay; a no-break space or plain space at a cell's edge is stripped."""
    path = tmp_path / "umlaut.csv"
    path.write_bytes(
        "Bestellnummer;Empfänger;Notiz\r\n1;\u00a0Jürgen Müßig\u00a0;ä ö\r\n".encode()
    )
    spaced = tmp_path / "spaced.csv"
    spaced.write_bytes("Bestellnummer;Empfänger\r\n2;Zoë \r\n".encode())
    assert read_table(path, max_bytes=MB).rows == [
        RawRow(2, {"Bestellnummer": "1", "Empfänger": "Jürgen Müßig", "Notiz": "ä ö"})
    ]
    assert read_table(spaced, max_bytes=MB).rows == [
        RawRow(2, {"Bestellnummer": "2", "Empfänger": "Zoë"})
    ]


# Cells as a person or an ERP writes them, including what csv must quote.
csv_cells = st.one_of(
    st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=8),
    st.sampled_from(
        ["", "a;b", "x,y", "t\tu", 'say "hi"', '"', "line\nbreak", "end\r\n", " pad "]
    ),
    st.sampled_from(["\nstart", "\u00a0nb", "\tTab", "é", "1;2", "JJD0001", "  "]),
)


@settings(max_examples=300, deadline=None)
@given(
    rows=st.lists(st.lists(csv_cells, min_size=3, max_size=3), min_size=1, max_size=8),
    delimiter=st.sampled_from([";", ",", "\t"]),
    quoting=st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]),
    line_ending=st.sampled_from(["\r\n", "\n"]),
)
def test_csv_cells_read_back_as_written_then_stripped(
    rows: list[list[str]], delimiter: str, quoting: int, line_ending: str
) -> None:
    """Whatever is quoted, each cell reads back as written, outer whitespace stripped.

    Guards the fast path that splits unquoted lines itself and leaves only quoted
    lines to csv.reader: it must read exactly what csv.reader reads.
    """
    headers = ["order_id", "state", "note"]
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cells.csv"
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(
                handle, delimiter=delimiter, quoting=quoting, lineterminator=line_ending
            )
            writer.writerows([headers, *rows])
        stripped = [[cell.strip() for cell in row] for row in rows]
        expected = [
            RawRow(number, dict(zip(headers, cells, strict=True)))
            for number, cells in enumerate(stripped, start=2)
            if any(cells)
        ]
        if not expected:
            with pytest.raises(InboxFileError, match="no data rows"):
                read_table(path, max_bytes=MB)
            return
        assert read_table(path, max_bytes=MB).rows == expected


def test_empty_and_repeated_headers_get_unique_keys(tmp_path: Path) -> None:
    """`Status`,`Status`,`` become keys `Status`, `Status (2)`, `column C`; texts kept."""
    path = tmp_path / "h.csv"
    path.write_bytes(b"Status;Status;;order_id\r\nA;B;C;1\r\n")
    table = read_table(path, max_bytes=MB)
    assert table.headers == ["Status", "Status (2)", "column C", "order_id"]
    assert table.original_headers() == ["Status", "Status", "", "order_id"]


def test_explicit_encoding_wins_and_unknown_encoding_is_a_config_error(
    tmp_path: Path,
) -> None:
    """`[inbox] encoding` is used as given; a name Python does not know is a ConfigError."""
    path = tmp_path / "koi.csv"
    path.write_bytes("order_id;state\r\n1;Отправлен\r\n".encode("koi8-r"))
    assert (
        read_table(path, encoding="koi8-r", max_bytes=MB).rows[0].cells["state"]
        == "Отправлен"
    )
    with pytest.raises(ConfigError, match="'no-such-codec' is not an encoding"):
        read_table(path, encoding="no-such-codec", max_bytes=MB)


def test_xlsx_numbers_dates_and_booleans_read_as_the_text_a_person_sees(
    tmp_path: Path,
) -> None:
    """Numbers stored as numbers lose `.0`, floats keep their shortest form, dates are ISO."""
    path = tmp_path / "numbers.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    sheet = workbook.add_worksheet("Versand")
    dates = workbook.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_row(0, 0, ["order_id", "state", "weight", "small", "big", "on", "ok"])
    sheet.write_row(1, 0, [23990, "SentOrder", 0.1 + 0.2, 0.00001, 123456789012345])
    sheet.write_datetime(1, 5, datetime(2024, 3, 5), dates)
    sheet.write_boolean(1, 6, True)
    workbook.close()
    table = read_table(path, max_bytes=MB)
    assert table.format == TableFormat(kind="xlsx", sheet="Versand")
    assert table.rows == [
        RawRow(
            2,
            {
                "order_id": "23990",
                "state": "SentOrder",
                "weight": "0.3",
                "small": "0.00001",
                "big": "123456789012345",
                "on": "2024-03-05",
                "ok": "TRUE",
            },
        )
    ]


def test_openpyxl_reformatted_dates_and_offset_table(tmp_path: Path) -> None:
    """A table starting at B3 keeps Excel's row numbers and its first column."""
    path = tmp_path / "lo.xlsx"
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet["B3"], sheet["C3"], sheet["D3"] = "order_id", "state", "when"
    sheet["B4"], sheet["C4"], sheet["D4"] = 23990, "SentOrder", date(2024, 12, 31)
    sheet["D4"].number_format = "DD/MM/YY"
    sheet["D5"] = datetime(2024, 12, 31, 8, 15)
    workbook.save(path)
    table = read_table(path, max_bytes=MB)
    assert table.format.first_column == 1
    assert table.rows == [
        RawRow(4, {"order_id": "23990", "state": "SentOrder", "when": "2024-12-31"}),
        RawRow(5, {"order_id": "", "state": "", "when": "2024-12-31 08:15:00"}),
    ]


def test_named_sheet_is_read_and_a_missing_one_is_explained(tmp_path: Path) -> None:
    """`[inbox] sheet` picks the sheet; a wrong name lists the sheets there are."""
    path = tmp_path / "two.xlsx"
    workbook = xlsxwriter.Workbook(str(path))
    workbook.add_worksheet("Orders").write_row(0, 0, ["x"])
    second = workbook.add_worksheet("Tracking")
    second.write_row(0, 0, ["order_id", "tracking_code"])
    second.write_row(1, 0, [5, "JJD"])
    workbook.close()
    assert read_table(path, sheet="Tracking", max_bytes=MB).rows == [
        RawRow(2, {"order_id": "5", "tracking_code": "JJD"})
    ]
    with pytest.raises(InboxFileError) as caught:
        read_table(path, sheet="Status", max_bytes=MB)
    assert caught.value.message == (
        "two.xlsx: the workbook has no sheet named 'Status' (it has 'Orders', 'Tracking')"
    )


def test_missing_file_is_not_an_inbox_file_error(tmp_path: Path) -> None:
    """A file that vanished (or is locked) raises OSError: the caller retries later."""
    with pytest.raises(FileNotFoundError):
        read_table(tmp_path / "gone.csv", max_bytes=MB)


def test_reading_restores_the_garbage_collector(tmp_path: Path) -> None:
    """The GC pause while building rows ends with the read, even when it fails."""
    path = tmp_path / "bad.csv"
    path.write_bytes(b"\x00\x01")
    assert gc.isenabled()
    with pytest.raises(InboxFileError):
        read_table(path, max_bytes=MB)
    read_table(
        write_csv(tmp_path / "ok.csv", [["a"], ["1"]], encoding="utf-8", delimiter=";"),
        max_bytes=MB,
    )
    assert gc.isenabled()


def test_load_inbound_mapping_presets_and_paths(tmp_path: Path) -> None:
    """A name is a packaged preset; a value with `/` or `.toml` is a file under base_dir."""
    preset = load_inbound_mapping("default", tmp_path)
    assert preset.source == "preset 'default'"
    assert preset.canonical_column("Tracking Number") == "tracking_code"
    (tmp_path / "mine.toml").write_text(
        '[columns]\norder_id = ["Auftrag"]\n', encoding="utf-8"
    )
    mine = load_inbound_mapping("mine.toml", tmp_path)
    assert mine.canonical_column("AUFTRAG") == "order_id"


def test_load_inbound_mapping_explains_unknown_names(tmp_path: Path) -> None:
    """An unknown preset lists the presets; a missing file names its full path."""
    with pytest.raises(MappingError) as caught:
        load_inbound_mapping("sap", tmp_path)
    assert caught.value.message == "There is no inbound mapping preset 'sap'."
    assert caught.value.hint is not None
    assert "default" in caught.value.hint
    with pytest.raises(MappingError, match="does not exist"):
        load_inbound_mapping("mappings/nope.toml", tmp_path)


NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
HEADER_CELL = '<{p}c r="A1" t="inlineStr"><{p}is><{p}t>order_id</{p}t></{p}is></{p}c>'


def workbook_with_sheet_xml(path: Path, sheet_xml: bytes) -> Path:
    """A real xlsxwriter workbook whose sheet part is replaced by `sheet_xml`."""
    plain = path.with_suffix(".plain.xlsx")
    workbook = xlsxwriter.Workbook(str(plain))
    workbook.add_worksheet("S").write_row(0, 0, ["order_id", "state"])
    workbook.close()
    with (
        zipfile.ZipFile(plain) as source,
        zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            content = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                content = sheet_xml
            target.writestr(info.filename, content)
    return path


SPARSE_AREA = (
    "sheet 'S' uses an area of about 17,179,869,184 cells (values far to the right "
    "or far below the data)"
)


@pytest.mark.parametrize(
    "sheet_xml",
    [
        # Open XML SDK style: every element namespace-prefixed.
        f'<x:worksheet xmlns:x="{NS}"><x:sheetData><x:row r="1">{HEADER_CELL.format(p="x:")}'
        '</x:row><x:row r="1048576"><x:c r="XFD1048576"><x:v>1</x:v></x:c></x:row>'
        "</x:sheetData></x:worksheet>",
        # The reference is not the first attribute.
        f'<worksheet xmlns="{NS}"><sheetData><row r="1">{HEADER_CELL.format(p="")}</row>'
        '<row r="1048576"><c s="0" r="XFD1048576"><v>1</v></c></row></sheetData>'
        "</worksheet>",
    ],
    ids=["prefixed", "r-not-first"],
)
def test_sparse_area_is_found_whatever_the_xml_spelling(
    tmp_path: Path, sheet_xml: str
) -> None:
    """A far-away cell is measured before calamine would allocate its area."""
    path = workbook_with_sheet_xml(tmp_path / "sparse.xlsx", sheet_xml.encode())
    with pytest.raises(InboxFileError) as caught:
        read_table(path, max_bytes=MB)
    assert caught.value.message == f"sparse.xlsx: {SPARSE_AREA}"


def test_prefixed_sheet_xml_is_read(tmp_path: Path) -> None:
    """Namespace-prefixed sheets (Open XML SDK exports) read normally."""
    sheet_xml = (
        f'<x:worksheet xmlns:x="{NS}"><x:sheetData><x:row r="1">{HEADER_CELL.format(p="x:")}'
        '</x:row><x:row r="2"><x:c r="A2"><x:v>7</x:v></x:c></x:row></x:sheetData>'
        "</x:worksheet>"
    )
    path = workbook_with_sheet_xml(tmp_path / "sdk.xlsx", sheet_xml.encode())
    assert read_table(path, max_bytes=MB).rows == [RawRow(2, {"order_id": "7"})]


@pytest.mark.parametrize(
    "sheet_xml",
    [
        # 5 MB of incompressible whitespace before the DTD: split across scan blocks.
        (
            '<?xml version="1.0"?>'
            + "".join(random.Random(1).choices(" \t\r\n", k=5_000_000))
            + '<!DOCTYPE x [<!ENTITY a "b">]><worksheet/>'
        ).encode(),
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]>'
        "<worksheet/>".encode("utf-16"),
    ],
    ids=["padded", "utf-16"],
)
def test_entity_declarations_are_found_anywhere(
    tmp_path: Path, sheet_xml: bytes
) -> None:
    """A DTD hidden behind padding or in UTF-16 is still refused before parsing."""
    path = workbook_with_sheet_xml(tmp_path / "dtd.xlsx", sheet_xml)
    with pytest.raises(InboxFileError) as caught:
        read_table(path, max_bytes=8 * MB)
    assert caught.value.message == (
        "dtd.xlsx: the workbook part xl/worksheets/sheet1.xml declares an XML document "
        "type or entities, which Excel never writes (an entity expansion attack?)"
    )
