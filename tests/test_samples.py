"""The committed samples/ are what the generator writes, and the real reader takes them."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from openpyxl import load_workbook

from filebridge.demo.sample_files import (
    ERP_CSV,
    MISTAKES_CSV,
    SAMPLE_NAMES,
    SAMPLE_ORDER_COUNT,
    SAMPLE_SEED,
    WAREHOUSE_CSV,
    WAREHOUSE_XLSX,
    pick_cast,
    sample_csv_bytes,
    write_sample_files,
)
from filebridge.inbox.file import load_inbound_mapping
from filebridge.inbox.validation import validate_table
from filebridge.sandbox import start_sandbox
from filebridge.tables.readers import read_table

SAMPLES = Path(__file__).parents[1] / "samples"
CSV_NAMES = [name for name in SAMPLE_NAMES if name.endswith(".csv")]
MAX_BYTES = 1 << 20


@pytest.fixture(scope="module")
def seeded_orders():
    with start_sandbox(seed=SAMPLE_SEED, orders=SAMPLE_ORDER_COUNT) as box:
        return box.orders()


@pytest.fixture(scope="module")
def generated(tmp_path_factory, seeded_orders) -> Path:
    folder = tmp_path_factory.mktemp("generated")
    write_sample_files(folder, seeded_orders)
    return folder


@pytest.mark.parametrize("name", CSV_NAMES)
def test_committed_csv_sample_equals_generator_output(name, generated):
    """Each committed CSV is byte for byte what the generator writes for seed 1."""
    assert (SAMPLES / name).read_bytes() == (generated / name).read_bytes(), (
        f"samples/{name} is stale: run `python samples/make_samples.py`"
    )


def _sheet(path: Path) -> list[list[object]]:
    sheet = load_workbook(path).worksheets[0]
    return [[cell.value for cell in row] for row in sheet.iter_rows()]


def test_committed_xlsx_sample_has_the_generator_cells(generated):
    """The committed workbook has the generator's cells and Excel's habits."""
    committed = SAMPLES / WAREHOUSE_XLSX
    assert _sheet(committed) == _sheet(generated / WAREHOUSE_XLSX)
    sheet = load_workbook(committed).worksheets[0]
    assert all(cell.font.bold for cell in sheet[1])
    assert [c.value for c in sheet[1]] == [
        "Order ID",
        "State",
        "Tracking code",
        "Shipped on",
    ]
    assert isinstance(sheet["A2"].value, int)  # ids stored as numbers
    assert isinstance(sheet["C4"].value, str)  # tracking codes stored as text
    assert sheet["D2"].is_date
    assert sheet.max_row > 10  # formatted empty rows below the five real ones
    assert all(c.value is None for row in sheet.iter_rows(min_row=6) for c in row)


def test_generator_output_does_not_depend_on_the_order_of_orders(
    tmp_path, seeded_orders, generated
):
    """The cast is chosen by status and id, so shuffled orders give the same bytes."""
    shuffled = list(seeded_orders)
    random.Random(7).shuffle(shuffled)
    written = write_sample_files(tmp_path, shuffled)
    assert [p.name for p in written] == list(SAMPLE_NAMES)
    for path in written:
        assert path.read_bytes() == (generated / path.name).read_bytes()


def test_csv_samples_are_written_as_their_senders_write(seeded_orders):
    """cp1252 with ';' and a mangled id; UTF-8 BOM with ','; CRLF everywhere."""
    cast = pick_cast(seeded_orders)
    erp = sample_csv_bytes(ERP_CSV, cast)
    assert erp.startswith(b"Order ID;State;Tracking code;Tracking URL")
    assert f"\r\n{cast.shipped}.0;".encode() in erp
    assert "ü".encode("cp1252") in erp
    assert erp.endswith(b"\r\n\r\n")  # the trailing blank line
    with pytest.raises(UnicodeDecodeError):
        erp.decode("utf-8")
    for name in (WAREHOUSE_CSV, MISTAKES_CSV):
        data = sample_csv_bytes(name, cast)
        assert data.startswith(b"\xef\xbb\xbforder_id,state,")
        assert data.count(b"\n") == data.count(b"\r\n")


def test_pick_cast_refuses_a_shop_without_enough_fresh_orders(seeded_orders):
    """Too few Payed/COD orders in CheckQueue is a clear error, not an IndexError."""
    with pytest.raises(ValueError, match="need 10 Payed or COD orders"):
        pick_cast(seeded_orders[:5])


def test_pick_cast_uses_only_fresh_processable_orders(seeded_orders):
    """Every cast order is Payed or COD, in CheckQueue and not rejected."""
    cast = pick_cast(seeded_orders)
    by_id = {o["id"]: o for o in seeded_orders}
    ids = [
        cast.shipped,
        cast.returned,
        cast.delivered,
        cast.no_url,
        cast.partial,
        cast.packed,
        cast.misspelt,
        cast.bad_url,
        cast.never_sent,
        cast.confirm_ok,
    ]
    assert len(set(ids)) == len(ids)
    for order_id in ids:
        order = by_id[order_id]
        assert order["status"] in ("Payed", "COD")
        assert order["delivery_state"] == "CheckQueue"
        assert not order["reject"]
    partial_items = [i["id"] for i in by_id[cast.partial]["items"]]
    assert list(cast.partial_items) == partial_items[:-1]


# The reader's view of each committed file: format, Excel row numbers, valid/rejected.
EXPECTED_READ = {
    ERP_CSV: ("csv", "cp1252", ";", [2, 3, 4, 5], 4, 0),
    WAREHOUSE_CSV: ("csv", "utf-8-sig", ",", [2, 3, 4], 3, 0),
    WAREHOUSE_XLSX: ("xlsx", None, None, [2, 3, 4, 5], 4, 0),
    MISTAKES_CSV: ("csv", "utf-8-sig", ",", [2, 3, 4, 5, 7, 8, 9], 4, 3),
}


@pytest.mark.parametrize("name", SAMPLE_NAMES)
def test_committed_sample_reads_and_validates_with_the_real_reader(name):
    """Each sample parses with readers.read_table and validates as documented."""
    kind, encoding, delimiter, rows, valid, rejected = EXPECTED_READ[name]
    table = read_table(SAMPLES / name, max_bytes=MAX_BYTES)
    assert (table.format.kind, table.format.encoding, table.format.delimiter) == (
        kind,
        encoding,
        delimiter,
    )
    assert [r.row for r in table.rows] == rows  # blank rows skipped, still counted
    checked = validate_table(table, load_inbound_mapping("default", SAMPLES))
    assert checked.file_issues == []
    assert (len(checked.valid), len(checked.rejected)) == (valid, rejected)


def test_mistakes_sample_rejects_each_planted_mistake_at_its_cell():
    """Scientific id, misspelt state and schemeless URL are caught before any call."""
    table = read_table(SAMPLES / MISTAKES_CSV, max_bytes=MAX_BYTES)
    checked = validate_table(table, load_inbound_mapping("default", SAMPLES))
    found = {
        (issue.row, issue.column): issue.message
        for _, issues in checked.rejected
        for issue in issues
    }
    assert set(found) == {(2, "order_id"), (4, "state"), (5, "tracking_url")}
    assert "scientific notation" in found[2, "order_id"]
    assert "unknown state" in found[4, "state"]
    assert "not a web address" in found[5, "tracking_url"]


def test_erp_sample_ids_and_codes_survive_reading():
    """`NNNNN.0` becomes the id; 20-digit DHL codes keep their leading zeros."""
    table = read_table(SAMPLES / ERP_CSV, max_bytes=MAX_BYTES)
    checked = validate_table(table, load_inbound_mapping("default", SAMPLES))
    first = checked.valid[0]
    assert table.rows[0].cells["Order ID"].endswith(".0")
    assert str(first.order_id) == table.rows[0].cells["Order ID"][:-2]
    assert first.tracking_code == "00340434161094042557"
    assert table.rows[1].cells["Comment"] == "Paket für Müller"


def test_samples_readme_describes_every_sample_file():
    """samples/README.md names each file the generator writes, and the regenerating script."""
    text = (SAMPLES / "README.md").read_text(encoding="utf-8")
    for name in SAMPLE_NAMES:
        assert f"`{name}`" in text
    assert "make_samples.py" in text
    committed = sorted(p.name for p in SAMPLES.iterdir() if p.suffix != ".py")
    assert committed == sorted([*SAMPLE_NAMES, "README.md"])
