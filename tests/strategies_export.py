"""Hypothesis strategies for the exporter: hostile customer text, typed rows, model orders."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from filebridge.outbox.fields import ColumnKind
from filebridge.outbox.mapping import MappingSpec
from filebridge.outbox.order_rows import Cell
from filebridge.sandbox import HOSTILE_STRINGS
from filebridge.selldone.models import Order
from tests.strategies_orders import orders as wire_orders

DANGEROUS = "=+-@\t\r"

# What customers type into a shop's checkout, at its worst.
hostile_text = st.one_of(
    st.text(max_size=30),
    st.sampled_from(HOSTILE_STRINGS),
    st.builds(
        lambda lead, rest: lead + rest,
        st.sampled_from([*list(DANGEROUS), "'", "''", " ="]),
        st.text(max_size=20),
    ),
    st.sampled_from(
        [
            "+49 30 5550123",
            "-12.50",
            "'=already quoted",
            "_x0041_ looks escaped",
            "a\r\nb",
            "\u202eRTL",
            "\x00nul",
            "名前",
        ]
    ),
)

phone_text = st.one_of(
    hostile_text,
    st.from_regex(r"\A\+?[0-9][0-9 ()./-]{0,15}\Z"),
)


def cp1252_text(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """Text that cp1252 can hold (for round trips in that encoding)."""
    return strategy.map(lambda v: v.encode("cp1252", "replace").decode("cp1252"))


money = st.decimals(
    min_value=Decimal("-99999.99"),
    max_value=Decimal("999999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
quantities = st.decimals(min_value=Decimal(0), max_value=Decimal(1000), places=3).map(
    lambda d: d.normalize() if d else Decimal(0)
)
dates = st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31))
datetimes = st.datetimes(
    min_value=datetime(1990, 1, 1),
    max_value=datetime(2090, 12, 31),
).map(lambda d: d.replace(microsecond=0, tzinfo=UTC))


def cells_for(
    kind: ColumnKind, text: st.SearchStrategy[str]
) -> st.SearchStrategy[Cell]:
    """A typed cell of one column kind, as `order_to_rows` produces them."""
    if kind is ColumnKind.TEXT:
        return text
    if kind is ColumnKind.PHONE:
        return st.one_of(text, st.from_regex(r"\A\+?[0-9][0-9 ()./-]{0,15}\Z"))
    if kind is ColumnKind.MONEY:
        return st.one_of(st.none(), money)
    if kind is ColumnKind.QUANTITY:
        return st.one_of(st.none(), quantities)
    if kind is ColumnKind.INT:
        return st.one_of(st.none(), st.integers(-(10**9), 10**12))
    if kind is ColumnKind.DATE:
        return st.one_of(st.none(), dates)
    return st.one_of(st.none(), datetimes)


def rows_for(
    spec: MappingSpec, text: st.SearchStrategy[str] = hostile_text, max_rows: int = 8
) -> st.SearchStrategy[list[list[Cell]]]:
    row = st.tuples(*(cells_for(c.kind, text) for c in spec.columns)).map(list)
    return st.lists(row, min_size=0, max_size=max_rows)


def to_order(wire: dict[str, Any]) -> Order:
    """A wire dict parsed the way the client parses it (floats as exact Decimal)."""
    return Order.model_validate(json.loads(json.dumps(wire), parse_float=Decimal))


model_orders = wire_orders().map(to_order)

SECOND = timedelta(seconds=1)
