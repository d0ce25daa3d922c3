"""Tables hold their cells by column; rows (RawRow) are built only when asked for."""

from __future__ import annotations

from filebridge.tables.table_model import RawRow, Table, TableFormat

CSV = TableFormat(kind="csv")


def test_a_table_of_columns_gives_rows_and_single_rows_on_demand() -> None:
    """Column cells, a row by position or by number, and all rows agree."""
    table = Table.from_columns(
        ["order_id", "state"],
        [["1", "2", "3"], ["SentOrder", "", "ToCustomer"]],
        range(2, 5),
        CSV,
        header_texts=["Order ID", "state"],
    )
    assert table.column("state") == ["SentOrder", "", "ToCustomer"]
    assert table.raw_row(1) == RawRow(3, {"order_id": "2", "state": ""})
    assert table.rows_numbered({4, 99}) == {
        4: RawRow(4, {"order_id": "3", "state": "ToCustomer"})
    }
    assert table.rows_numbered(set()) == {}
    assert table.rows == [
        RawRow(2, {"order_id": "1", "state": "SentOrder"}),
        RawRow(3, {"order_id": "2", "state": ""}),
        RawRow(4, {"order_id": "3", "state": "ToCustomer"}),
    ]
    assert table.original_headers() == ["Order ID", "state"]


def test_a_table_of_rows_keeps_them_and_reads_missing_cells_as_empty() -> None:
    """Hand-built rows may leave out empty cells; they come back exactly as given."""
    rows = [RawRow(2, {"order_id": "1"}), RawRow(5, {"order_id": "2", "state": "x"})]
    table = Table(["order_id", "state"], rows, CSV)
    assert table.numbers == [2, 5]
    assert table.column("state") == ["", "x"]
    assert table.raw_row(0) is rows[0]
    assert table.rows_numbered({5}) == {5: rows[1]}
    assert table.rows == rows


def test_tables_are_equal_when_headers_format_and_rows_are() -> None:
    """However a table was built, equal cells make equal tables."""
    rows = [
        RawRow(2, {"order_id": "1", "state": ""}),
        RawRow(5, {"order_id": "2", "state": "x"}),
    ]
    by_columns = Table.from_columns(
        ["order_id", "state"], [["1", "2"], ["", "x"]], [2, 5], CSV
    )
    assert Table(["order_id", "state"], rows, CSV) == by_columns
    assert Table(["order_id", "state"], rows[:1], CSV) != by_columns
    assert "2 rows" in repr(by_columns)
