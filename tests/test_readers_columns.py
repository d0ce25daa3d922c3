"""The readers' whole-column fast paths give exactly what the slow, per-cell paths give.

CSV: a regular file is split into columns with one `str.split` (`one_line_columns`);
it must read what `csv.reader` reads, for any text. XLSX: a column is converted by
type (`column_texts`); it must give `cell_text` of every cell, for any values.
"""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from filebridge.tables.csv_split import one_line_columns
from filebridge.tables.readers import read_table
from filebridge.tables.table_model import RawRow
from filebridge.tables.xlsx_cells import cell_text, column_texts

MB = 1024 * 1024

# Pieces that make quoting hard: delimiters in and out of quotes, doubled quotes,
# quotes in the middle of a cell, line breaks (also inside quotes), blank lines.
csv_pieces = st.sampled_from(
    [
        "a",
        "b1",
        " ",
        ";",
        ",",
        '"',
        '""',
        '";"',
        '"a;b"',
        "\n",
        "\r\n",
        "\r",
        "x y",
        "",
        "\x01",
    ]
)


@settings(max_examples=500, deadline=None)
@given(st.lists(csv_pieces, max_size=40).map("".join), st.sampled_from([";", ","]))
def test_one_line_columns_read_what_csv_reader_reads(text: str, delimiter: str) -> None:
    """When the fast path takes a text, its columns are csv.reader's records'."""
    split = one_line_columns(text, delimiter)
    if split is None:
        return
    header, columns, blank_free = split
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    width = len(header)
    records = [record or [""] * width for record in records]  # a blank line
    assert header == records[0]
    assert columns == [[record[i] for record in records[1:]] for i in range(width)]
    if blank_free:
        assert all(any(record) for record in records)


def test_quoted_cells_with_the_delimiter_take_the_fast_path(tmp_path: Path) -> None:
    """Excel quotes only the cells holding the delimiter; those files are regular."""
    text = 'order_id;items;note\r\n1;"2;3";x\r\n4;5;"a;b"\r\n'
    assert one_line_columns(text, ";") == (
        ["order_id", "items", "note"],
        [["1", "4"], ["2;3", "5"], ["x", "a;b"]],
        True,
    )
    path = tmp_path / "q.csv"
    path.write_text(text, encoding="utf-8")
    assert read_table(path, max_bytes=MB).rows == [
        RawRow(2, {"order_id": "1", "items": "2;3", "note": "x"}),
        RawRow(3, {"order_id": "4", "items": "5", "note": "a;b"}),
    ]


sheet_values = st.one_of(
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, 23990.0, 1e15, -1e15, 1e16, 2.5, 1e-05, 1.5e20]),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.booleans(),
    st.text(max_size=6),
    st.sampled_from(["", " ", " x ", "\u00a0y"]),
    st.dates(),
    st.datetimes(),
    st.datetimes(timezones=st.just(UTC)),
    st.sampled_from([datetime(2024, 1, 2), datetime(2024, 1, 2, 0, 0, 0, 1)]),
    st.times(),
    st.timedeltas(),
)


@st.composite
def sheet_columns(draw: st.DrawFn) -> list[object]:
    """A column of one or two kinds of value, often repeating (cached conversions)."""
    pool = draw(st.lists(sheet_values, min_size=1, max_size=4))
    kinds = {type(value) for value in pool}
    if len(kinds) > 2 and draw(st.booleans()):
        pool = [value for value in pool if type(value) is type(pool[0])]
    if draw(st.booleans()):
        pool.append("")  # empty cells
    return draw(st.lists(st.sampled_from(pool) | sheet_values, max_size=60))


@settings(max_examples=500, deadline=None)
@given(sheet_columns())
def test_column_texts_are_each_cells_text(values: list[object]) -> None:
    """Converting a column by type gives `cell_text` of every cell."""
    assert column_texts(values) == [cell_text(value) for value in values]


def test_repeated_typed_cells_are_converted_once_and_stay_exact() -> None:
    """A long column of a few measures, dates and empty cells (the cached path)."""
    values: list[object] = [1.25, 30.0, "", 2.5, date(2024, 3, 5)] * 400
    values += [float(23990 + i) for i in range(1000)]
    assert column_texts(values) == [cell_text(value) for value in values]
    measures = [1.25, 30.0, 0.1 + 0.2, ""] * 500
    assert column_texts(measures)[:4] == ["1.25", "30", "0.30000000000000004", ""]
    days = [datetime(2024, 1, 2), datetime(2024, 1, 2, 8, 15), time(8), ""] * 500
    assert column_texts(days)[:4] == [
        "2024-01-02",
        "2024-01-02 08:15:00",
        "08:00:00",
        "",
    ]
    assert column_texts([timedelta(hours=1)] * 5) == ["1:00:00"] * 5
