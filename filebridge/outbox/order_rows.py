"""Pure order → rows: the typed cells one order contributes under a mapping.

Cells keep their type (`Decimal` money, `date`/`datetime`, `int`, `str`); the writers
decide how each type looks in CSV or XLSX, so money is never a binary float before the
very last step. Money is rounded to the currency's minor units unless the column says
`decimals`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from filebridge.outbox.dialect import Dialect, RowMode
from filebridge.outbox.fields import FIELDS, TEXT_KINDS, TIME_KINDS, ColumnKind
from filebridge.outbox.mapping import ColumnSpec, MappingSpec
from filebridge.selldone import Order, OrderItem

__all__ = [
    "CURRENCY_DECIMALS",
    "Cell",
    "currency_decimals",
    "order_to_rows",
]


Cell = str | int | Decimal | date | datetime | None
"""One typed output value; `None` is an empty cell. (`datetime` is a `date` subclass.)"""

DEFAULT_MONEY_DECIMALS = 2

# ISO 4217 minor units that differ from 2 (CORE Currency.ts `floats`; selldone-api.md §4).
CURRENCY_DECIMALS: Mapping[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "IRR",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


def currency_decimals(currency: str | None) -> int:
    """Minor units of a currency (2 unless the table says otherwise)."""
    if not currency:
        return DEFAULT_MONEY_DECIMALS
    return CURRENCY_DECIMALS.get(currency.upper(), DEFAULT_MONEY_DECIMALS)


def _plain_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent form (100, not 1E+2)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and value.strip():
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _text(value: object, column: ColumnSpec, decimal_separator: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return column.separator.join(str(v) for v in value)
    if isinstance(value, Decimal):
        return format(_plain_decimal(value), "f").replace(".", decimal_separator)
    return str(value)


def _typed(value: object, column: ColumnSpec, order: Order, dialect: Dialect) -> Cell:
    kind = column.kind
    if kind in TEXT_KINDS:
        text = _text(value, column, dialect.decimal_separator)
        if not text and column.default is not None:
            return column.default
        return text
    if kind in TIME_KINDS:
        if not isinstance(value, datetime):
            return column.default or None
        moment = value.astimezone(UTC)
        return moment.date() if kind is ColumnKind.DATE else moment
    number = _as_decimal(value)
    if number is None:
        number = _as_decimal(column.default) if column.default else None
        if number is None:
            return None
    if kind is ColumnKind.INT:
        return int(number.to_integral_value(rounding=ROUND_HALF_UP))
    if kind is ColumnKind.MONEY:
        places = (
            column.decimals
            if column.decimals is not None
            else currency_decimals(order.currency)
        )
        return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if column.decimals is not None:
        return number.quantize(Decimal(1).scaleb(-column.decimals), ROUND_HALF_UP)
    return _plain_decimal(number)


def _row(order: Order, item: OrderItem | None, spec: MappingSpec) -> list[Cell]:
    row: list[Cell] = []
    for column in spec.columns:
        if column.source is None:
            raw: object = column.value
        else:
            field = FIELDS[column.source]
            raw = None if field.per_item and item is None else field.get(order, item)
        row.append(_typed(raw, column, order, spec.dialect))
    return row


def order_to_rows(order: Order, spec: MappingSpec) -> list[list[Cell]]:
    """The rows one order contributes: one per line item, or one for the order.

    An order without items still gives one row (item columns empty) so that an order in
    the ledger is always visible in its file.
    """
    if spec.dialect.rows is RowMode.PER_ORDER or not order.items:
        return [_row(order, None, spec)]
    return [_row(order, item, spec) for item in order.items]
