"""The CSV writer's fast paths write exactly what the plain `csv` module writes.

The reference here is the definition in `filebridge.outbox.csv_stream`: each row's cells as
`csv_cell_renderers` renders them (fresh renderers per row, so nothing is remembered
from the row before), written by `csv.writer` one row at a time, a row with a bare CR
under an LF line ending quoted whole. The writer must give the same bytes for any rows,
in any dialect, however they are split over `write_rows` and `write_row` calls.
"""

from __future__ import annotations

import csv
import io
import json
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filebridge.outbox.csv_stream import CsvStreamWriter, csv_cell_renderers
from filebridge.outbox.fields import ColumnKind
from filebridge.outbox.mapping import MappingSpec, parse_mapping
from filebridge.outbox.order_rows import Cell
from filebridge.tables.excel_safety import escape_csv_text
from tests.strategies_export import hostile_text, phone_text

ZONES = [UTC, timezone(timedelta(hours=1)), ZoneInfo("Europe/Berlin"), None]


def mapping(kinds: list[ColumnKind], dialect: dict[str, Any]) -> MappingSpec:
    table = "[dialect]\n" + "".join(
        f"{k} = {json.dumps(v)}\n" for k, v in dialect.items()
    )
    for i, kind in enumerate(kinds):
        header = "=h" if i == 1 else "a\rb" if i == 2 else f"h{i}"
        table += f'[[columns]]\nheader = {json.dumps(header)}\nvalue = ""\n'
        table += f'kind = "{kind}"\n'
    return parse_mapping(table, "test")


def reference(spec: MappingSpec, rows: list[list[Cell]]) -> bytes:
    dialect = spec.dialect
    out = io.StringIO(newline="")
    options: dict[str, Any] = {
        "delimiter": dialect.delimiter,
        "lineterminator": dialect.newline,
    }
    minimal = csv.writer(
        out,
        quoting=csv.QUOTE_ALL if dialect.quoting == "all" else csv.QUOTE_MINIMAL,
        **options,
    )
    quote_all = csv.writer(out, quoting=csv.QUOTE_ALL, **options)

    def write(cells: list[str]) -> None:
        if dialect.newline == "\n" and any("\r" in c for c in cells):
            quote_all.writerow(cells)
        else:
            minimal.writerow(cells)

    if dialect.header:
        write([escape_csv_text(h) for h in spec.headers])
    for row in rows:
        write([r(v) for r, v in zip(csv_cell_renderers(spec), row, strict=True)])
    text = out.getvalue()  # nothing written: no byte-order mark either
    return text.encode(dialect.encoding, errors="replace") if text else b""


def written(spec: MappingSpec, rows: list[list[Cell]], splits: list[int]) -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.csv"
        with CsvStreamWriter(path, spec) as writer:
            rest = iter(rows)
            for size in splits:
                writer.write_rows([next(rest) for _ in range(size)])
            for row in rest:
                writer.write_row(row)
            assert writer.rows == len(rows)
        return path.read_bytes()


def cells(kind: ColumnKind) -> st.SearchStrategy[Cell]:
    """The cells `order_to_rows` gives a column of this kind (any zone, any exponent).

    (For a cell of another type, such as a Decimal in a text column, the writer writes
    `str()` of it, as it always has, where the renderers use the column kind's format.)
    """
    dates = st.dates()
    moments = st.datetimes(timezones=st.sampled_from(ZONES))
    typed: dict[ColumnKind, st.SearchStrategy[Cell]] = {
        ColumnKind.TEXT: hostile_text,
        ColumnKind.PHONE: phone_text,
        ColumnKind.MONEY: st.decimals(places=2, allow_nan=False, allow_infinity=False),
        ColumnKind.QUANTITY: st.one_of(
            st.decimals(allow_nan=False, allow_infinity=False),
            st.sampled_from([Decimal("1E+2"), Decimal("1E-7"), Decimal("0E-10")]),
        ),
        ColumnKind.INT: st.integers(),
        ColumnKind.DATE: st.one_of(dates, moments, hostile_text),
        ColumnKind.DATETIME: st.one_of(moments, dates, hostile_text),
    }
    return st.one_of(st.none(), typed[kind])


dialects = st.fixed_dictionaries(
    {},
    optional={
        "delimiter": st.sampled_from([",", ";", "\t", "|", " "]),
        "quoting": st.sampled_from(["minimal", "all"]),
        "encoding": st.sampled_from(["utf-8-sig", "utf-8", "cp1252", "utf-16"]),
        "decimal_separator": st.sampled_from([".", ","]),
        "date_format": st.sampled_from(["%Y-%m-%d", "%d.%m.%Y", "=%d", "%%%Y %H"]),
        "datetime_format": st.sampled_from(
            ["%Y-%m-%d %H:%M:%S", "%d.%m.%Y %H:%M %z", "+%H", "%Y;%m,%d"]
        ),
        "line_ending": st.sampled_from(["crlf", "lf"]),
        "header": st.booleans(),
    },
).filter(lambda d: d.get("delimiter", ",") != d.get("decimal_separator", "."))


@st.composite
def cases(draw: st.DrawFn) -> tuple[MappingSpec, list[list[Cell]], list[int]]:
    kinds = draw(st.lists(st.sampled_from(list(ColumnKind)), min_size=1, max_size=7))
    spec = mapping(kinds, draw(dialects))
    # A few distinct rows, repeated (as an order's line items repeat its cells).
    pool = draw(
        st.lists(
            st.tuples(*(cells(k) for k in kinds)).map(list), min_size=1, max_size=4
        )
    )
    picks = draw(st.lists(st.integers(0, len(pool) - 1), max_size=30))
    rows = [list(pool[i]) for i in picks]
    splits = draw(st.lists(st.integers(0, 10), max_size=3))
    total = 0
    fitting = []
    for size in splits:
        size = min(size, len(rows) - total)
        fitting.append(size)
        total += size
    return spec, rows, fitting


@settings(max_examples=150, deadline=None)
@given(cases())
def test_the_writer_writes_what_the_csv_module_writes_for_the_rendered_cells(
    case: tuple[MappingSpec, list[list[Cell]], list[int]],
) -> None:
    spec, rows, splits = case
    assert written(spec, rows, splits) == reference(spec, rows)


@pytest.mark.parametrize("quoting", ["minimal", "all"])
@pytest.mark.parametrize("line_ending", ["crlf", "lf"])
def test_many_rows_cross_the_chunk_boundary_unchanged(
    quoting: str, line_ending: str
) -> None:
    """Over a thousand rows (more than one chunk), clean and hostile ones mixed."""
    kinds = [ColumnKind.TEXT, ColumnKind.PHONE, ColumnKind.MONEY, ColumnKind.DATETIME]
    spec = mapping(kinds, {"quoting": quoting, "line_ending": line_ending})
    start = datetime(2026, 1, 1, tzinfo=UTC)
    texts = ["Lea", "=1+1", 'say "hi"', "a,b", "a\rb", "x\ny", "", "'=q"]
    rows: list[list[Cell]] = [
        [
            texts[i % len(texts)],
            "+49 30 5550123" if i % 5 else "=cmd",
            Decimal(i).scaleb(-2),
            start + timedelta(minutes=i // 3),
        ]
        for i in range(1300)
    ]
    assert written(spec, rows, [700, 1, 3]) == reference(spec, rows)


def test_a_lone_empty_cell_is_written_quoted_as_the_csv_module_does() -> None:
    spec = mapping([ColumnKind.TEXT], {"header": False})
    rows: list[list[Cell]] = [[""], ["x"], [None]]
    assert (
        written(spec, rows, [])
        == reference(spec, rows)
        == b'\xef\xbb\xbf""\r\nx\r\n""\r\n'
    )


def test_equal_datetimes_in_other_zones_or_folds_render_apart() -> None:
    """Remembering the last date must not show one zone's time for an equal instant."""
    spec = mapping([ColumnKind.DATETIME], {"datetime_format": "%Y-%m-%d %H:%M %z"})
    utc = datetime(2026, 1, 1, 12, tzinfo=UTC)
    berlin = ZoneInfo("Europe/Berlin")
    ambiguous = datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    rows: list[list[Cell]] = [
        [utc],
        [utc.astimezone(timezone(timedelta(hours=1)))],
        [ambiguous],
        [ambiguous.replace(fold=1)],
    ]
    text = written(spec, rows, []).decode("utf-8-sig").split("\r\n")
    assert text[1:5] == [
        "2026-01-01 12:00 +0000",
        "2026-01-01 13:00 +0100",
        "2026-10-25 02:30 +0200",
        "2026-10-25 02:30 +0100",
    ]


@pytest.mark.parametrize(
    "pattern", ["%Y-%m-%d %H:%M:%S", "%d.%m.%Y", "%%Y%Y%%", "%H", "x%Sy", "%Y%m%dT%H"]
)
def test_plain_date_patterns_match_strftime_in_every_year(pattern: str) -> None:
    spec = mapping(
        [ColumnKind.DATE, ColumnKind.DATETIME],
        {"date_format": pattern, "datetime_format": pattern, "header": False},
    )
    values = [
        datetime(year, 2, 3, 4, 5, 6, 7, tzinfo=zone)
        for year in (1, 999, 1000, 2026, 9999)
        for zone in (None, UTC)
    ]
    rows: list[list[Cell]] = [[value.date(), value] for value in values]
    expected = [f"{v.date().strftime(pattern)},{v.strftime(pattern)}" for v in values]
    assert written(spec, rows, []).decode("utf-8-sig").splitlines() == expected


def test_quantities_never_use_exponent_notation() -> None:
    spec = mapping(
        [ColumnKind.QUANTITY],
        {"header": False, "decimal_separator": ",", "delimiter": ";"},
    )
    rows: list[list[Cell]] = [[Decimal("1E+2")], [Decimal("1E-7")], [Decimal("2.50")]]
    assert written(spec, rows, []) == b"\xef\xbb\xbf100\r\n0,0000001\r\n2,50\r\n"


def test_a_refused_row_keeps_the_rows_before_it() -> None:
    """The rows before a row of the wrong width are written; later calls go on."""
    spec = mapping([ColumnKind.TEXT, ColumnKind.MONEY], {"header": False})
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.csv"
        writer = CsvStreamWriter(path, spec)
        with pytest.raises(ValueError, match="cells"):
            writer.write_rows([["a", Decimal("1.00")], ["b"], ["c", None]])
        writer.write_row(["d", Decimal("2.00")])
        writer.close()
        assert path.read_bytes() == b"\xef\xbb\xbfa,1.00\r\nd,2.00\r\n"
        assert writer.rows == 2
