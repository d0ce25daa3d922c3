"""Hypothesis strategies for inbox files: ids as Excel renders them, cells, tables."""

from __future__ import annotations

from typing import Literal

from hypothesis import strategies as st

from filebridge.tables.cells import MAX_ID
from filebridge.tables.table_model import RawRow, Table, TableFormat

CANONICAL = [
    "order_id",
    "state",
    "items",
    "tracking_code",
    "tracking_url",
    "weight",
    "width",
    "length",
    "height",
    "carrier",
]
STATE_WORDS = [
    "OrderConfirm",
    "PreparingOrder",
    "SentOrder",
    "ToCustomer",
    "Returned",
    "sent order",
    "CheckQueue",
    "shipped",
    "",
]
HOSTILE = [
    "=1+1",
    "+49 30 123",
    "-5",
    "@SUM(A1)",
    "\u202eevil",
    "a\r\nb",
    "x\x00y",
    "1.23457E+11",
    "1,23457E+11",
    "23 990",
    "23.990",
    "٢٣٩٩٠",
    "9" * 5000,
    "𝟚𝟛",
    "²",
    '="123"',
    "'007",
]

order_ids = st.integers(min_value=1, max_value=10**15)
# Ids with more than 15 significant digits, which Excel cannot hold exactly.
long_ids = st.integers(min_value=10**15, max_value=MAX_ID)


def grouped(number: int, separator: str) -> str:
    """`number` with `separator` between groups of three digits: 1 234 567."""
    digits = str(number)
    head = len(digits) % 3 or 3
    groups = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return separator.join(groups)


@st.composite
def excel_rendered_ids(draw: st.DrawFn) -> tuple[int, str, str | None]:
    """(id, how a spreadsheet or ERP wrote it, the mapping's thousands separator)."""
    number = draw(order_ids)
    form = draw(
        st.sampled_from(
            ["plain", "dot0", "comma00", "space", "nbsp", "dot", "comma", "text"]
        )
    )
    if form == "plain":
        return number, str(number), None
    if form == "dot0":
        return number, f"{number}.0", None
    if form == "comma00":
        return number, f"{number},00", draw(st.sampled_from([None, "."]))
    if form == "space":
        return number, grouped(number, " "), None
    if form == "nbsp":
        return number, grouped(number, "\u00a0") + ",00", None
    if form == "dot":
        return number, grouped(number, "."), "."
    if form == "comma":
        return number, grouped(number, ","), ","
    return number, f'="{number}"', None


@st.composite
def scientific_renderings(draw: st.DrawFn) -> str:
    """An id as Excel's General format shows it when it is long: 1.23457E+11."""
    number = draw(st.integers(min_value=10**11, max_value=MAX_ID))
    text = f"{number:.5E}".replace("E+0", "E+")
    return text.replace(".", ",") if draw(st.booleans()) else text


cell_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(HOSTILE),
    st.sampled_from(STATE_WORDS),
    order_ids.map(str),
    st.from_regex(r"https?://[a-z]{1,8}\.[a-z]{2,3}/[ -~]{0,10}", fullmatch=True),
)
header_text = st.one_of(st.sampled_from(CANONICAL), st.text(max_size=12))


@st.composite
def any_tables(draw: st.DrawFn) -> Table:
    """A table of arbitrary strings; rows may lack keys, headers may repeat."""
    headers = draw(st.lists(header_text, min_size=1, max_size=8, unique=True))
    kind: Literal["csv", "xlsx"] = draw(st.sampled_from(["csv", "xlsx"]))
    rows = [
        RawRow(
            row=number,
            cells=draw(
                st.dictionaries(
                    st.sampled_from(headers), cell_text, max_size=len(headers)
                )
            ),
        )
        for number in range(2, 2 + draw(st.integers(min_value=0, max_value=6)))
    ]
    return Table(headers=headers, rows=rows, format=TableFormat(kind=kind))


# Text that survives Windows-1252 (for cp1252 round trips) and has no outer spaces.
cp1252_cell = (
    st.text(
        st.characters(
            codec="cp1252",
            exclude_categories=["Cc", "Cs", "Cn", "Co", "Zs", "Zl", "Zp"],
        ),
        max_size=12,
    )
    | st.sampled_from(["a b", "x;y", 'say "hi"', "line\nbreak", "=1+1", "ä ö ü €"])
).map(str.strip)
utf8_cell = (
    st.text(
        st.characters(exclude_categories=["Cc", "Cs", "Cn", "Co", "Zs", "Zl", "Zp"]),
        max_size=12,
    )
    | st.sampled_from(["a b", "x,y", 'say "hi"', "line\r\nbreak", "‮rtl", "٢٣"])
).map(str.strip)
