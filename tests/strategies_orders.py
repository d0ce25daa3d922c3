"""Hypothesis strategies for Selldone order payloads, written from selldone-api.md §3.

They build *wire* dicts (what `json.loads` gives for a list-endpoint order), including
the awkward cases the API notes allow: null buyer/receiver/delivery_info, variants with
and without SKUs, blank SKUs, fractional counts, unknown keys and enum values the
API may invent. Money is generated as exact `Decimal` and rendered as a JSON number.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

FULFILMENT_STATES = [
    "CheckQueue",
    "OrderConfirm",
    "PreparingOrder",
    "SentOrder",
    "ToCustomer",
]
PAYMENT_STATUSES = ["Open", "Reserved", "Payed", "Canceled", "COD"]
TRANSPORTS = [
    "Motorbike",
    "Pickup",
    "CargoSmall",
    "Cargo",
    "Truck",
    "PostFast",
    "Post",
    "Airplane",
    "Bicycle",
    "Global",
]

HOSTILE = [
    '=HYPERLINK("http://x")',
    "+49 30 5550123",
    "-1+1",
    "@SUM(A1)",
    "\tTab",
    "\rCR",
    "a\r\nb",
    "Ünïcødé ßtraße",
    "\u202eRTL",
    "名前",
    'O\'Brien; "quoted", comma',
    "",
    " ",
]

ids = st.integers(min_value=1, max_value=2**31 - 1)
text = st.one_of(st.text(max_size=20), st.sampled_from(HOSTILE))
maybe_text = st.one_of(st.none(), text)
# A SKU as the API may send it: null, blank, text or (wrongly) a number.
skus = st.one_of(st.none(), st.just(""), st.just("  "), text, st.integers(0, 10**12))

money = st.decimals(
    min_value=Decimal("0"),
    max_value=Decimal("99999.99"),
    places=2,
    allow_nan=False,
    allow_infinity=False,
)
counts = st.one_of(
    st.integers(1, 50).map(Decimal),
    st.decimals(min_value=Decimal("0.001"), max_value=Decimal("99.999"), places=3),
)
timestamps = st.datetimes(
    min_value=datetime(2015, 1, 1),
    max_value=datetime(2035, 12, 31),
    timezones=st.just(UTC),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-(10**6), 10**6), st.text(max_size=10)
)
unknown_keys = st.dictionaries(
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz_", min_size=3, max_size=12).map(
        lambda k: "x_" + k
    ),
    json_scalars,
    max_size=3,
)


def wire_time(moment: datetime) -> str:
    """`2024-10-30T09:13:02.000000Z`, the API's timestamp format."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def number(value: Decimal) -> int | float:
    """A Decimal as the JSON number the API would send (an int when integral)."""
    return int(value) if value == value.to_integral_value() else float(value)


@st.composite
def products(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "id": draw(ids),
        "shop_id": 12345,
        "type": "PHYSICAL",
        "title": draw(text),
        "title_en": draw(maybe_text),
        "sku": draw(skus),
        "mpn": draw(skus),
        "gtin": draw(st.one_of(st.none(), st.from_regex(r"\A[0-9]{13}\Z"))),
        "price": number(draw(money)),
        "currency": "EUR",
        "discount": number(draw(money)),
        "status": draw(st.sampled_from(["Open", "Close", "Whatever"])),
        "quantity": draw(st.integers(0, 1000)),
        "unit_float": draw(st.booleans()),
        "extra": draw(st.one_of(st.none(), st.just({"weight": 0.35, "width": 12}))),
        "created_at": wire_time(draw(timestamps)),
        "updated_at": wire_time(draw(timestamps)),
        **draw(unknown_keys),
    }


@st.composite
def variants(draw: st.DrawFn, product_id: int) -> dict[str, Any]:
    return {
        "id": draw(ids),
        "shop_id": 12345,
        "product_id": product_id,
        "sku": draw(skus),
        "mpn": draw(skus),
        "gtin": None,
        "color": draw(st.one_of(st.none(), st.just("#101010"))),
        "volume": draw(st.one_of(st.none(), st.sampled_from(["M", "One Size"]))),
        "weight": draw(st.one_of(st.none(), st.just("500g"))),
        "pricing": draw(st.booleans()),
        "price": number(draw(money)),
        "quantity": draw(st.integers(0, 100)),
        "enable": True,
        "deleted_at": None,
        **draw(unknown_keys),
    }


@st.composite
def order_items(draw: st.DrawFn, basket_id: int) -> dict[str, Any]:
    product = draw(st.one_of(st.none(), products()))
    product_id = product["id"] if product else draw(ids)
    variant = draw(st.one_of(st.none(), variants(product_id)))
    item: dict[str, Any] = {
        "id": draw(ids),
        "basket_id": basket_id,
        "product_id": product_id,
        "variant_id": variant["id"] if variant else None,
        "count": number(draw(counts)),
        "price": number(draw(money)),
        "currency": "EUR",
        "dis": number(draw(money)),
        "offer_amount": number(draw(money)),
        "offer_count": 0,
        "cross_dis": 0,
        "tax": draw(st.one_of(st.none(), st.just({"amount": 1.5, "included": True}))),
        "check": draw(st.booleans()),
        "message": None,
        "preferences": None,
        "created_at": wire_time(draw(timestamps)),
        "updated_at": wire_time(draw(timestamps)),
        "product": product,
        "variant": variant,
        **draw(unknown_keys),
    }
    if draw(st.booleans()) and variant is None:
        del item["variant"]  # without with[]=products the key may be absent
    return item


@st.composite
def receivers(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "name": draw(text),
        "phone": draw(st.one_of(maybe_text, st.integers(10**6, 10**12))),
        "country": draw(st.sampled_from(["DE", "US", "FR", "NL"])),
        "state": draw(maybe_text),
        "state_code": draw(maybe_text),
        "city": draw(text),
        "address": draw(text),
        "no": draw(st.one_of(maybe_text, st.integers(1, 999))),
        "unit": draw(maybe_text),
        "postal": draw(st.one_of(maybe_text, st.integers(1000, 99999))),
        "message": draw(maybe_text),
        "location": draw(
            st.one_of(st.none(), st.just({"lat": 52.5163, "lng": 13.3889}))
        ),
        "pickup": draw(st.one_of(st.none(), st.booleans())),
        **draw(unknown_keys),
    }


@st.composite
def delivery_infos(draw: st.DrawFn) -> dict[str, Any]:
    info: dict[str, Any] = {
        "type": draw(st.one_of(st.none(), st.sampled_from(TRANSPORTS), text)),
        "distance": number(draw(money)),
        "volume": {"width": 30, "length": 40, "height": 15.5},
        "weight": number(draw(money)),
        "days": ["Monday", "Friday"],
        "time_spans": ["Morning"],
        "custom": draw(st.one_of(st.none(), st.booleans())),
        "date": draw(st.one_of(st.none(), timestamps.map(wire_time))),
        "connect_delivery": 0,
        "inbound_delivery": draw(st.integers(0, 3)),
        "outbound_delivery": 0,
        "vendor_delivery": 0,
        **draw(unknown_keys),
    }
    if draw(st.booleans()):
        info["tracking_code"] = draw(text)
        info["tracking_url"] = "https://www.dhl.de/track?id=0034"
    return info


@st.composite
def orders(draw: st.DrawFn) -> dict[str, Any]:
    """One order dict as the list endpoint sends it (after `json.loads`)."""
    order_id = draw(ids)
    guest = draw(st.booleans())
    order: dict[str, Any] = {
        "id": order_id,
        "label": draw(
            st.one_of(st.none(), st.just(""), st.from_regex(r"\ATRX[0-9]{1,5}\Z"))
        ),
        "shop_id": 12345,
        "user_id": None if guest else draw(ids),
        "customer_id": draw(st.one_of(st.none(), ids)),
        "code": draw(st.one_of(st.none(), st.integers(1, 10**6), text)),
        "type": "PHYSICAL",
        "stack": 0,
        "status": draw(st.one_of(st.sampled_from(PAYMENT_STATUSES), text)),
        "reject": draw(st.one_of(st.none(), st.just("LackOfInventory"))),
        "reject_at": None,
        "receiver_info": draw(st.one_of(st.none(), receivers())),
        "delivery_info": draw(st.one_of(st.none(), delivery_infos())),
        "delivery_price": number(draw(money)),
        "delivery_state": draw(
            st.one_of(st.sampled_from(FULFILMENT_STATES), st.just("Returned"), text)
        ),
        "delivery_at": draw(st.one_of(st.none(), timestamps.map(wire_time))),
        "billing": None,
        "tax": draw(st.one_of(st.none(), money.map(number))),
        "tax_shipping": draw(st.one_of(st.none(), money.map(number))),
        "tax_included": draw(st.one_of(st.none(), st.booleans())),
        "discount": number(draw(money)),
        "price": number(draw(money)),
        "currency": draw(st.sampled_from(["EUR", "USD", "IRR"])),
        "payment_id": draw(st.one_of(st.none(), ids)),
        "payment_type": draw(st.one_of(st.none(), st.just("stripe"))),
        "reserved_at": wire_time(draw(timestamps)),
        "updated_at": wire_time(draw(timestamps)),
        "items": draw(
            st.lists(order_items(order_id), max_size=4, unique_by=lambda i: i["id"])
        ),
        "customer": None,
        "gateway_processing": None,
        "basket_item_returns": [],
        **draw(unknown_keys),
    }
    buyer_form = draw(st.sampled_from(["object", "null", "absent"]))
    if guest or buyer_form == "null":
        order["buyer"] = None
    elif buyer_form == "object":
        order["buyer"] = {
            "id": order["user_id"],
            "name": draw(text),
            "email": draw(maybe_text),
            "phone": draw(maybe_text),
        }
    return order


def as_wire(order: dict[str, Any]) -> str:
    """The order as JSON text, exactly as a server would write it."""
    return json.dumps(order, ensure_ascii=False)
