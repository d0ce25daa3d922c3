"""Writers: CSV/XLSX round trips, formula safety, text cells, atomic publish helpers."""

from __future__ import annotations

import csv
import os
import tempfile
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
from hypothesis import given, settings
from openpyxl.utils.escape import unescape
from python_calamine import CalamineWorkbook

from filebridge.errors import StorageError
from filebridge.outbox.csv_stream import csv_cell_renderers
from filebridge.outbox.export import load_mapping
from filebridge.outbox.fields import ColumnKind
from filebridge.outbox.mapping import MappingSpec, parse_mapping
from filebridge.outbox.order_rows import Cell
from filebridge.outbox.writers import (
    is_temp_name,
    open_table_writer,
    publish_file,
    temp_path,
    unique_path,
    write_done_marker,
)
from filebridge.outbox.xlsx_stream import excel_date_format
from filebridge.sandbox import HOSTILE_STRINGS
from filebridge.tables.excel_safety import (
    is_dangerous,
    is_inert_phone,
    unescape_csv_text,
)
from tests.strategies_export import cp1252_text, hostile_text, rows_for

ROOT = Path(__file__).parents[1]
PRESETS = ["default", "one-row-per-order", "german-excel"]
CP1252 = parse_mapping(
    (ROOT / "mappings" / "german-excel.toml")
    .read_text(encoding="utf-8")
    .replace('encoding = "utf-8-sig"', 'encoding = "cp1252"')
    .replace('line_ending = "crlf"', 'line_ending = "lf"'),
    "german-cp1252",
)
ALL_KINDS = parse_mapping(
    "\n".join(
        f'[[columns]]\nheader = "{kind}"\nvalue = ""\nkind = "{kind}"\n'
        for kind in ColumnKind
    ),
    "all-kinds",
)


def spec_of(name: str) -> MappingSpec:
    return load_mapping(name, ROOT)


def write(path: Path, spec: MappingSpec, rows: list[list[Cell]]) -> Path:
    with open_table_writer(path, spec) as writer:
        writer.write_rows(rows)
    return path


def read_csv(path: Path, spec: MappingSpec) -> list[list[str]]:
    dialect = spec.dialect
    with path.open(encoding=dialect.encoding, newline="") as handle:
        return list(csv.reader(handle, delimiter=dialect.delimiter))


def assert_csv_round_trip(spec: MappingSpec, rows: list[list[Cell]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "out.csv", spec, rows)
        table = read_csv(path, spec)
        raw = path.read_bytes()
    assert table[0] == spec.headers
    renderers = csv_cell_renderers(spec)
    assert table[1:] == [
        [r(v) for r, v in zip(renderers, row, strict=True)] for row in rows
    ]
    newline = spec.dialect.newline.encode()
    assert raw.startswith(b"\xef\xbb\xbf") == (spec.dialect.encoding == "utf-8-sig")
    assert raw.endswith(newline)
    for row, read in zip(rows, table[1:], strict=True):
        for column, value, text in zip(spec.columns, row, read, strict=True):
            if isinstance(value, str):
                assert unescape_csv_text(text) == value
                assert not is_dangerous(text) or (
                    column.kind is ColumnKind.PHONE and is_inert_phone(text)
                )
            elif isinstance(value, Decimal):
                assert (
                    Decimal(text.replace(spec.dialect.decimal_separator, ".")) == value
                )
            elif value is None:
                assert text == ""


@pytest.mark.parametrize("name", PRESETS)
@settings(max_examples=40)
@given(data=hostile_text)
def test_csv_round_trips_hostile_text_in_every_text_column(
    name: str, data: str
) -> None:
    """A hostile value in every text column of a preset reads back exactly (unescaped)."""
    spec = spec_of(name)
    row: list[Cell] = [
        data if c.kind.value in ("text", "phone") else None for c in spec.columns
    ]
    assert_csv_round_trip(spec, [row])


@pytest.mark.parametrize("name", PRESETS)
def test_csv_round_trips_any_rows_in_every_preset(name: str) -> None:
    """What the CSV writer writes, csv.reader reads back identical, in each preset."""
    spec = spec_of(name)

    @settings(max_examples=30)
    @given(rows_for(spec, max_rows=3))
    def check(rows: list[list[Cell]]) -> None:
        assert_csv_round_trip(spec, rows)

    check()


@settings(max_examples=30)
@given(rows_for(CP1252, text=cp1252_text(hostile_text), max_rows=3))
def test_csv_round_trips_in_cp1252_with_lf(rows: list[list[Cell]]) -> None:
    """A cp1252, LF, `;`, decimal-comma dialect round-trips too (no BOM)."""
    assert_csv_round_trip(CP1252, rows)


@settings(max_examples=60)
@given(rows_for(ALL_KINDS))
def test_xlsx_round_trips_typed_cells_and_never_holds_a_formula(
    rows: list[list[Cell]],
) -> None:
    """openpyxl and calamine read back every value; no cell is ever a formula."""
    spec = ALL_KINDS.with_format("xlsx")
    with tempfile.TemporaryDirectory() as folder:
        path = write(Path(folder) / "out.xlsx", spec, rows)
        sheet = openpyxl.load_workbook(path).active
        assert sheet is not None
        assert [c.value for c in sheet[1]] == spec.headers
        cells = [
            list(r)
            for r in sheet.iter_rows(
                min_row=2, max_row=len(rows) + 1, max_col=len(spec.columns)
            )
        ]
        calamine = (
            CalamineWorkbook.from_path(str(path)).get_sheet_by_index(0).to_python()
        )
    assert len(cells) == len(rows)
    assert sheet.max_row <= len(rows) + 1
    for row, read in zip(rows, cells, strict=False):
        for column, value, cell in zip(spec.columns, row, read, strict=False):
            assert cell.data_type != "f"
            if value is None or value == "":
                assert cell.value is None
            elif column.kind in (ColumnKind.TEXT, ColumnKind.PHONE):
                assert cell.data_type == "s"
                assert unescape(cell.value) == value
            elif column.kind is ColumnKind.MONEY:
                assert isinstance(value, Decimal)
                assert Decimal(repr(cell.value)).quantize(value) == value
                assert cell.number_format == ("0." + "0" * 2)
            elif column.kind is ColumnKind.QUANTITY:
                assert isinstance(value, Decimal)
                assert Decimal(repr(cell.value)) == value
            elif column.kind is ColumnKind.INT:
                assert cell.value == value
            elif column.kind is ColumnKind.DATE:
                assert cell.value == datetime.combine(value, datetime.min.time())
            else:
                assert isinstance(value, datetime)
                assert (
                    abs(cell.value - value.replace(tzinfo=None)).total_seconds() < 1e-3
                )
    for row, read in zip(rows, calamine[1:], strict=False):
        for column, value, got in zip(spec.columns, row, read, strict=False):
            if column.kind in (ColumnKind.TEXT, ColumnKind.PHONE) and value:
                assert got == value  # calamine decodes _xHHHH_ escapes like Excel


def test_xlsx_writes_ids_postcodes_and_phones_as_text_and_money_as_numbers(
    tmp_path: Path,
) -> None:
    """Text kinds are string cells formatted @; money is a number with 0.00."""
    spec = spec_of("default").with_format("xlsx")
    row: list[Cell] = [None] * len(spec.columns)
    values = {
        "order_id": "15000",
        "receiver_postal": "01067",
        "sku": "0042-PST",
        "receiver_phone": "+49 30 5550123",
        "receiver_name": "=1+1",
        "order_price": Decimal("55.90"),
        "quantity": Decimal(2),
    }
    for header, value in values.items():
        row[spec.headers.index(header)] = value
    path = write(tmp_path / "o.xlsx", spec, [row])
    sheet = openpyxl.load_workbook(path).active
    assert sheet is not None
    cells = {c.value: c for c in sheet[1]}
    assert set(cells) == set(spec.headers)
    by_header = {h: sheet.cell(row=2, column=i + 1) for i, h in enumerate(spec.headers)}
    for header in (
        "order_id",
        "receiver_postal",
        "sku",
        "receiver_phone",
        "receiver_name",
    ):
        assert by_header[header].data_type == "s"
        assert by_header[header].number_format == "@"
        assert by_header[header].value == values[header]
    assert by_header["order_price"].value == 55.9
    assert by_header["order_price"].number_format == "0.00"
    assert by_header["quantity"].value == 2


def test_csv_with_every_sandbox_hostile_string_is_injection_safe(
    tmp_path: Path,
) -> None:
    """Every HOSTILE_STRINGS value, in every text column, leaves escaped."""
    spec = spec_of("default")
    rows: list[list[Cell]] = [
        [
            h if c.kind in (ColumnKind.TEXT, ColumnKind.PHONE) else None
            for c in spec.columns
        ]
        for h in HOSTILE_STRINGS
    ]
    table = read_csv(write(tmp_path / "h.csv", spec, rows), spec)
    for row in table[1:]:
        for column, text in zip(spec.columns, row, strict=True):
            phone_ok = column.kind is ColumnKind.PHONE and is_inert_phone(text)
            assert not is_dangerous(text) or phone_ok, (column.header, text)
    assert {unescape_csv_text(row[0]) for row in table[1:]} == set(HOSTILE_STRINGS)


def test_excel_date_formats_follow_the_strftime_pattern() -> None:
    """strftime patterns become Excel number formats (literals escaped)."""
    assert excel_date_format("%d.%m.%Y") == "dd.mm.yyyy"
    assert excel_date_format("%Y-%m-%dT%H:%M:%SZ") == "yyyy-mm-dd\\Thh:mm:ss\\Z"


def test_date_and_datetime_render_with_the_dialect_formats(tmp_path: Path) -> None:
    """CSV dates follow date_format/datetime_format; the German preset shows dd.mm.yyyy."""
    spec = spec_of("german-excel")
    row: list[Cell] = [None] * len(spec.columns)
    row[spec.headers.index("Bestelldatum")] = date(2026, 1, 31)
    row[spec.headers.index("Bestellsumme")] = Decimal("-1234.50")
    table = read_csv(write(tmp_path / "d.csv", spec, [row]), spec)
    assert table[1][spec.headers.index("Bestelldatum")] == "31.01.2026"
    assert table[1][spec.headers.index("Bestellsumme")] == "-1234,50"


def test_a_row_of_the_wrong_width_is_refused(tmp_path: Path) -> None:
    """A row that does not match the mapping's columns is a bug, not a silent shift."""
    spec = spec_of("default")
    with (
        pytest.raises(ValueError, match="cells"),
        open_table_writer(tmp_path / "w.csv", spec) as writer,
    ):
        writer.write_row(["1"])
    assert not (tmp_path / "w.csv").exists()  # the partial file was discarded


def test_temp_names_match_no_erp_pattern(tmp_path: Path) -> None:
    """Temp files are hidden, end in .partial, and are recognised as ours."""
    temp = temp_path(tmp_path, "3-ab12")
    assert temp.name.startswith(".")
    assert not temp.name.endswith((".csv", ".xlsx", ".txt"))
    assert is_temp_name(temp.name)
    assert not is_temp_name("orders-1.csv")


def test_publish_renames_atomically_and_never_overwrites(tmp_path: Path) -> None:
    """publish_file replaces the temp name; unique_path avoids an existing file."""
    (tmp_path / "orders-1.csv").write_text("theirs", encoding="utf-8")
    final = unique_path(tmp_path, "orders-1.csv")
    assert final.name == "orders-1-1.csv"
    temp = temp_path(tmp_path, "x")
    temp.write_text("ours", encoding="utf-8")
    publish_file(temp, final)
    assert final.read_text(encoding="utf-8") == "ours"
    assert (tmp_path / "orders-1.csv").read_text(encoding="utf-8") == "theirs"
    assert not temp.exists()
    marker = write_done_marker(final)
    assert marker.name == "orders-1-1.csv.done"
    assert marker.stat().st_size == 0


def test_storage_failures_become_storage_errors(tmp_path: Path) -> None:
    """A missing outbox folder is a StorageError naming the file."""
    spec = spec_of("default")
    missing = tmp_path / "gone" / "x.csv"
    with pytest.raises(StorageError, match="Cannot create"):
        open_table_writer(missing, spec)
    with pytest.raises(StorageError, match="Cannot publish"):
        publish_file(tmp_path / "nope.partial", tmp_path / "x.csv")
    assert not os.path.exists(missing)
