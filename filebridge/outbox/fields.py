"""The source fields a mapping column can name (`FIELDS`), each with its value kind.

A field is a dotted path (`order.code`, `receiver.street`, `item.sku`, `variant.gtin`…)
with a getter over the API models. Most read one attribute; a few are computed here:
`receiver.street` (address + number + unit without repeats), `order.skus`,
`order.quantity_total`, the tracking fields, and the models' own derived values
(`order.code`, `order.amount_due`, `item.sku`/`item.mpn` taken from the variant
first, then the product, `item.line_total`). Pure: values in, values out.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from filebridge.selldone import Order, OrderItem, ReceiverInfo

__all__ = [
    "FIELDS",
    "NUMBER_KINDS",
    "TEXT_KINDS",
    "TIME_KINDS",
    "WRITABLE_AS",
    "ColumnKind",
    "FieldDef",
]


class ColumnKind(StrEnum):
    """How a column's values are typed (and so written)."""

    TEXT = "text"
    PHONE = "phone"
    MONEY = "money"
    QUANTITY = "quantity"
    INT = "int"
    DATE = "date"
    DATETIME = "datetime"


TEXT_KINDS = frozenset({ColumnKind.TEXT, ColumnKind.PHONE})
NUMBER_KINDS = frozenset({ColumnKind.MONEY, ColumnKind.QUANTITY, ColumnKind.INT})
TIME_KINDS = frozenset({ColumnKind.DATE, ColumnKind.DATETIME})

WRITABLE_AS: Mapping[ColumnKind, frozenset[ColumnKind]] = {
    ColumnKind.TEXT: TEXT_KINDS | {ColumnKind.INT},
    ColumnKind.PHONE: TEXT_KINDS,
    ColumnKind.MONEY: NUMBER_KINDS | {ColumnKind.TEXT},
    ColumnKind.QUANTITY: NUMBER_KINDS | {ColumnKind.TEXT},
    ColumnKind.INT: NUMBER_KINDS | {ColumnKind.TEXT},
    ColumnKind.DATE: TIME_KINDS,
    ColumnKind.DATETIME: TIME_KINDS,
}
"""The kinds a column may override a field's natural kind with (`kind = …`)."""

Getter = Callable[[Order, OrderItem | None], object]


@dataclass(frozen=True)
class FieldDef:
    """A source a column can name: its natural kind and whether it needs a line item."""

    name: str
    kind: ColumnKind
    per_item: bool
    get: Getter


def _receiver(order: Order) -> ReceiverInfo | None:
    return order.receiver_info


def _street(receiver: ReceiverInfo | None) -> str | None:
    """`address` + `no` + `unit`, skipping a part the address line already contains."""
    if receiver is None:
        return None
    street = (receiver.address or "").strip()
    for part, joiner in ((receiver.no, " "), (receiver.unit, ", ")):
        part = (part or "").strip()
        if not part:
            continue
        if re.search(rf"(?<!\w){re.escape(part)}(?!\w)", street):
            continue
        street = f"{street}{joiner}{part}" if street else part
    return street or None


def _item_skus(order: Order) -> list[str]:
    return [sku for item in order.items if (sku := item.resolved_sku()) is not None]


def _quantity_total(order: Order) -> Decimal:
    return sum((item.count or Decimal(0) for item in order.items), Decimal(0))


def _tracking(order: Order, key: str) -> object:
    return getattr(order.delivery_info, key, None) if order.delivery_info else None


def _order_attr(name: str) -> Getter:
    def get(order: Order, _item: OrderItem | None) -> object:
        return getattr(order, name, None)

    return get


def _part_attr(part: str, name: str) -> Getter:
    """An attribute of `order.<part>` (receiver_info, buyer), None when it is null."""

    def get(order: Order, _item: OrderItem | None) -> object:
        return getattr(getattr(order, part, None), name, None)

    return get


def _item_attr(name: str, owner: str | None = None) -> Getter:
    """An attribute of the item, or of its `product`/`variant` when `owner` is given."""

    def get(_order: Order, item: OrderItem | None) -> object:
        target = item if owner is None else getattr(item, owner, None)
        return getattr(target, name, None)

    return get


def _order_fields() -> list[FieldDef]:
    t, m, dt = ColumnKind.TEXT, ColumnKind.MONEY, ColumnKind.DATETIME
    plain: list[tuple[str, ColumnKind]] = [
        ("id", t),
        ("label", t),
        ("status", t),
        ("delivery_state", t),
        ("currency", t),
        ("payment_type", t),
        ("channel", t),
        ("price", m),
        ("delivery_price", m),
        ("tax", m),
        ("tax_shipping", m),
        ("discount", m),
        ("reserved_at", dt),
        ("updated_at", dt),
        ("delivery_at", dt),
    ]
    fields = [
        FieldDef(f"order.{name}", kind, False, _order_attr(name))
        for name, kind in plain
    ]
    fields += [
        FieldDef("order.code", t, False, lambda o, _i: o.code),
        FieldDef("order.amount_due", m, False, lambda o, _i: o.amount_due),
        FieldDef("order.item_count", ColumnKind.INT, False, lambda o, _i: len(o.items)),
        FieldDef(
            "order.quantity_total",
            ColumnKind.QUANTITY,
            False,
            lambda o, _i: _quantity_total(o),
        ),
        FieldDef("order.skus", t, False, lambda o, _i: _item_skus(o)),
        FieldDef(
            "order.tracking_code", t, False, lambda o, _i: _tracking(o, "tracking_code")
        ),
        FieldDef(
            "order.tracking_url", t, False, lambda o, _i: _tracking(o, "tracking_url")
        ),
        FieldDef("order.delivery_type", t, False, lambda o, _i: _tracking(o, "type")),
    ]
    return fields


def _receiver_fields() -> list[FieldDef]:
    names = [
        "name",
        "email",
        "country",
        "state",
        "state_code",
        "city",
        "address",
        "no",
        "unit",
        "postal",
        "message",
        "tax_id",
    ]
    fields = [
        FieldDef(
            f"receiver.{name}",
            ColumnKind.TEXT,
            False,
            _part_attr("receiver_info", name),
        )
        for name in names
    ]
    fields += [
        FieldDef(
            "receiver.phone",
            ColumnKind.PHONE,
            False,
            _part_attr("receiver_info", "phone"),
        ),
        FieldDef(
            "receiver.street",
            ColumnKind.TEXT,
            False,
            lambda o, _i: _street(_receiver(o)),
        ),
    ]
    return fields


def _buyer_fields() -> list[FieldDef]:
    kinds = {
        "id": ColumnKind.TEXT,
        "name": ColumnKind.TEXT,
        "email": ColumnKind.TEXT,
        "phone": ColumnKind.PHONE,
    }
    return [
        FieldDef(
            f"buyer.{name}",
            kind,
            False,
            _part_attr("buyer", name),
        )
        for name, kind in kinds.items()
    ]


def _item_fields() -> list[FieldDef]:
    t, m, q = ColumnKind.TEXT, ColumnKind.MONEY, ColumnKind.QUANTITY
    plain: list[tuple[str, ColumnKind]] = [
        ("id", t),
        ("product_id", t),
        ("variant_id", t),
        ("currency", t),
        ("count", q),
        ("price", m),
        ("dis", m),
        ("offer_amount", m),
        ("cross_dis", m),
    ]
    fields = [
        FieldDef(f"item.{name}", kind, True, _item_attr(name)) for name, kind in plain
    ]
    fields += [
        FieldDef("item.sku", t, True, lambda _o, i: i.resolved_sku() if i else None),
        FieldDef("item.mpn", t, True, lambda _o, i: i.resolved_mpn() if i else None),
        FieldDef("item.title", t, True, lambda _o, i: i.title if i else None),
        FieldDef("item.line_total", m, True, lambda _o, i: i.line_total if i else None),
    ]
    for owner, names in (
        ("product", ["id", "title", "title_en", "sku", "mpn", "gtin", "unit"]),
        (
            "variant",
            ["id", "sku", "mpn", "gtin", "color", "style", "volume", "weight", "pack"],
        ),
    ):
        fields += [
            FieldDef(
                f"{owner}.{name}",
                t,
                True,
                _item_attr(name, owner),
            )
            for name in names
        ]
    return fields


FIELDS: Mapping[str, FieldDef] = {
    f.name: f
    for f in _order_fields() + _receiver_fields() + _buyer_fields() + _item_fields()
}
"""Every source a column may name."""
