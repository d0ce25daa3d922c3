"""Order payload models: tolerant parsing, exact money, aware timestamps, SKU rule."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from filebridge.selldone.models import (
    FULFILMENT_SEQUENCE,
    DeliveryInfo,
    FulfilmentState,
    Order,
    OrderItem,
    OrdersPage,
    PaymentStatus,
)
from tests.strategies_orders import as_wire, order_items, orders

# The example order of selldone-api.md §10 (trimmed to the fields the tests look at).
EXAMPLE = """
{
  "id": 15002, "label": null, "shop_id": 12345, "user_id": 88231, "customer_id": 40177,
  "code": null, "type": "PHYSICAL", "stack": 0, "status": "Payed", "reject": null,
  "receiver_info": {
    "name": "Anna Schmidt", "phone": "+49 30 5550123", "country": "DE", "state": "Berlin",
    "state_code": "BE", "city": "Berlin", "address": "Friedrichstraße 123", "no": "123",
    "unit": "3. OG links", "postal": "10117", "message": "Please ring twice",
    "location": {"lat": 52.5163, "lng": 13.3889}, "pickup": false
  },
  "delivery_info": {
    "type": "PostFast", "distance": 12.4, "volume": {"width": 30, "length": 40, "height": 15},
    "weight": 1.2, "days": ["Monday", "Tuesday"], "time_spans": ["Morning", "Evening"],
    "custom": false, "date": null, "connect_delivery": 0, "inbound_delivery": 0,
    "outbound_delivery": 0, "vendor_delivery": 0
  },
  "delivery_price": 6.9, "delivery_state": "CheckQueue", "delivery_at": null,
  "billing": null, "tax": 8.37, "tax_shipping": 0, "tax_included": true, "discount": 8.0,
  "price": 52.4, "currency": "EUR", "payment_id": 7781, "payment_type": "stripe",
  "reserved_at": "2024-10-30T09:12:44.000000Z", "updated_at": "2024-10-30T09:13:02.000000Z",
  "items": [
    {
      "id": 23990, "basket_id": 15002, "product_id": 2346, "variant_id": null, "count": 2,
      "price": 12.5, "currency": "EUR", "dis": 1.5, "offer_amount": 0, "cross_dis": 0,
      "check": false, "created_at": "2024-10-30T09:05:10.000000Z",
      "updated_at": "2024-10-30T09:12:44.000000Z",
      "product": {"id": 2346, "title": "Ceramic Mug Gloria", "sku": "MUG-GLO-001",
                  "mpn": "GLO-MX70", "price": 14.0, "gtin": "4006381333931"},
      "variant": null
    },
    {
      "id": 23991, "basket_id": 15002, "product_id": 2410, "variant_id": 143271, "count": 1,
      "price": 25.5, "currency": "EUR", "dis": 0, "offer_amount": 0, "cross_dis": 0,
      "check": false,
      "product": {"id": 2410, "title": "Organic Tee", "sku": null, "mpn": null},
      "variant": {"id": 143271, "product_id": 2410, "sku": "TEE-ORG-BLK-M",
                  "mpn": "3913148609", "volume": "M", "weight": null}
    }
  ],
  "buyer": {"id": 88231, "name": "Anna Schmidt", "email": "anna@example.com",
            "phone": "+49 30 5550123"},
  "customer": {"id": 40177, "user_id": 88231, "name": "Anna Schmidt"},
  "gateway_processing": null,
  "basket_item_returns": []
}
"""


def _example() -> dict[str, Any]:
    return json.loads(EXAMPLE)


def _dec(value: Any) -> Decimal | None:
    """The exact Decimal a JSON number stands for (None stays None)."""
    return None if value is None else Decimal(str(value))


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


# --- the documented example -------------------------------------------------------------


def test_example_order_money_is_exact_decimal():
    """The §10 example's amounts parse to the exact decimals written in the JSON."""
    order = Order.model_validate(_example())
    assert order.price == Decimal("52.4")
    assert str(order.price) == "52.4"
    assert order.delivery_price == Decimal("6.9")
    assert order.tax == Decimal("8.37")
    assert order.items[0].count == Decimal(2)
    assert order.items[0].line_total == Decimal("25.0")
    assert order.amount_due == Decimal("52.4")  # tax included, no shipping tax


def test_example_order_fields_and_helpers():
    """The §10 example exposes code, states, receiver, buyer and extra keys."""
    order = Order.model_validate(_example())
    assert order.code == "SM-15002"
    assert order.fulfilment_state is FulfilmentState.CHECK_QUEUE
    assert order.payment_status is PaymentStatus.PAYED
    assert order.is_paid
    assert order.is_processable
    assert order.receiver_info is not None
    assert order.receiver_info.postal == "10117"
    assert order.receiver_info.location is not None
    assert order.receiver_info.location.lat == Decimal("52.5163")
    assert order.buyer is not None
    assert order.buyer.email == "anna@example.com"
    assert order.model_extra is not None
    assert order.model_extra["customer"]["user_id"] == 88231
    assert order.basket_item_returns == []  # type: ignore[attr-defined]


def test_example_order_sku_is_variant_first():
    """Item without variant takes the product SKU; the variant item takes the variant's."""
    mug, tee = Order.model_validate(_example()).items
    assert (mug.resolved_sku(), mug.resolved_mpn()) == ("MUG-GLO-001", "GLO-MX70")
    assert (tee.resolved_sku(), tee.resolved_mpn()) == ("TEE-ORG-BLK-M", "3913148609")
    assert mug.title == "Ceramic Mug Gloria"


def test_example_order_timestamps_are_utc_aware():
    """ISO `...000000Z` timestamps become aware UTC datetimes."""
    order = Order.model_validate(_example())
    assert order.reserved_at == datetime(2024, 10, 30, 9, 12, 44, tzinfo=UTC)
    assert order.updated_at is not None
    assert order.updated_at.utcoffset() is not None
    assert order.items[0].created_at == datetime(2024, 10, 30, 9, 5, 10, tzinfo=UTC)


def test_variant_without_sku_falls_back_to_product_sku():
    """A variant whose SKU is null or blank yields the product's SKU (tolerant rule)."""
    for blank in (None, "", "   "):
        item = OrderItem.model_validate(
            {
                "id": 1,
                "product": {"sku": "P-1", "mpn": "PM"},
                "variant": {"sku": blank, "mpn": "VM"},
            }
        )
        assert item.resolved_sku() == "P-1"
        assert item.resolved_mpn() == "VM"


def test_item_without_product_or_variant_has_no_sku():
    """Without `with[]=products` the item has neither, and the SKU is None."""
    item = OrderItem.model_validate({"id": 7, "count": 1, "price": 3})
    assert item.resolved_sku() is None
    assert item.resolved_mpn() is None
    assert item.title is None


# --- tolerance ---------------------------------------------------------------------------


def test_unknown_enum_values_and_fields_are_kept():
    """A new status/delivery_state parses as text and new keys stay readable."""
    order = Order.model_validate(
        {
            "id": 5,
            "status": "PartlyPayed",
            "delivery_state": "Returned",
            "brand_new_field": {"a": 1},
            "items": [{"id": 9, "new_item_key": "x"}],
        }
    )
    assert order.status == "PartlyPayed"
    assert order.payment_status is None
    assert not order.is_paid
    assert not order.is_processable
    assert order.delivery_state == "Returned"
    assert order.fulfilment_state is None
    assert order.brand_new_field == {"a": 1}  # type: ignore[attr-defined]
    assert order.items[0].new_item_key == "x"  # type: ignore[attr-defined]


@pytest.mark.parametrize("payload", [{"buyer": None}, {}], ids=["null", "absent"])
def test_guest_order_has_no_buyer(payload):
    """A guest order (`buyer` null or absent) parses with `buyer is None`."""
    order = Order.model_validate({"id": 3, "user_id": None, **payload})
    assert order.buyer is None


def test_nulls_everywhere_parse():
    """An order with only an id and null relations parses with empty defaults."""
    order = Order.model_validate(
        {"id": 4, "receiver_info": None, "delivery_info": None, "items": None}
    )
    assert order.items == []
    assert order.receiver_info is None
    assert order.delivery_info_raw() == {}
    assert order.amount_due is None


def test_naive_timestamp_is_taken_as_utc():
    """A timestamp without zone (Laravel's `Y-m-d H:i:s`) is read as UTC."""
    order = Order.model_validate({"id": 1, "reserved_at": "2024-10-30 09:13:02"})
    assert order.reserved_at == datetime(2024, 10, 30, 9, 13, 2, tzinfo=UTC)


def test_numbers_accepted_for_text_fields():
    """Postcodes, phones, SKUs and codes sent as JSON numbers become text."""
    order = Order.model_validate(
        {
            "id": 1,
            "code": 778812,
            "receiver_info": {"postal": 10117, "phone": 4930555},
            "items": [{"id": 2, "product": {"sku": 4006381333931}}],
        }
    )
    assert order.guest_code == "778812"
    assert order.receiver_info is not None
    assert order.receiver_info.postal == "10117"
    assert order.receiver_info.phone == "4930555"
    assert order.items[0].resolved_sku() == "4006381333931"


def test_label_is_the_display_code_when_set():
    """`code` is the label when the shop labels orders, else SM-{id}; API `code` is kept."""
    assert Order.model_validate({"id": 8, "label": "TRX139"}).code == "TRX139"
    assert Order.model_validate({"id": 8, "label": " "}).code == "SM-8"
    order = Order.model_validate({"id": 8, "code": "guest-abc"})
    assert (order.code, order.guest_code) == ("SM-8", "guest-abc")
    assert order.model_dump(by_alias=True)["code"] == "guest-abc"


def test_amount_due_adds_tax_when_not_included():
    """Amount due = price + tax (if not included) + shipping tax."""
    order = Order.model_validate(
        {
            "id": 1,
            "price": 100.1,
            "tax": 19.02,
            "tax_shipping": 1.31,
            "tax_included": False,
        }
    )
    assert order.amount_due == Decimal("120.43")


def test_delivery_info_raw_is_an_independent_copy():
    """`delivery_info_raw()` returns every key as received, and edits don't leak back."""
    raw = {"type": "Post", "weight": 1.2, "volume": {"width": 3}, "odd_key": [1]}
    order = Order.model_validate({"id": 1, "delivery_info": raw})
    copy = order.delivery_info_raw()
    assert copy == raw
    copy["volume"]["width"] = 99
    copy["tracking_code"] = "X"
    assert order.delivery_info_raw() == raw
    assert order.delivery_info is not None
    assert order.delivery_info.weight == Decimal("1.2")
    assert DeliveryInfo.model_validate(order.delivery_info).raw() == raw


def test_orders_page_total_may_be_missing():
    """A page without `total` parses with total None (the iterator then pages to empty)."""
    page = OrdersPage.model_validate({"orders": [{"id": 1}]})
    assert page.total is None
    assert [o.id for o in page.orders] == [1]


def test_fulfilment_sequence_is_the_documented_order():
    """The sequence is CheckQueue → ... → ToCustomer, spelled as the API spells it."""
    assert [s.value for s in FULFILMENT_SEQUENCE] == [
        "CheckQueue",
        "OrderConfirm",
        "PreparingOrder",
        "SentOrder",
        "ToCustomer",
    ]
    assert PaymentStatus.PAYED == "Payed"


# --- properties over generated orders ----------------------------------------------------


@settings(max_examples=60)
@given(orders())
def test_any_generated_order_parses_exactly(wire):
    """Every generated order parses; money is the exact Decimal, timestamps are aware."""
    order = Order.model_validate(wire)
    assert order.id == wire["id"]
    assert order.price == _dec(wire["price"])
    assert order.tax == _dec(wire["tax"])
    assert order.reserved_at is not None
    assert order.reserved_at.utcoffset() is not None
    assert order.status == wire["status"]
    assert order.delivery_state == wire["delivery_state"]
    assert order.guest_code == (None if wire["code"] is None else str(wire["code"]))
    assert order.code == (wire["label"] or f"SM-{wire['id']}")
    assert (order.buyer is None) == (wire.get("buyer") is None)
    assert len(order.items) == len(wire["items"])
    for item, raw in zip(order.items, wire["items"], strict=True):
        assert item.id == raw["id"]
        assert item.count == _dec(raw["count"])
        assert item.price == _dec(raw["price"])
        assert item.line_total == _dec(raw["count"]) * _dec(raw["price"]) - _dec(
            raw["offer_amount"]
        )
        assert item.updated_at is not None
        assert item.updated_at.tzinfo is not None
    extras = {k: v for k, v in wire.items() if k.startswith("x_")}
    assert {k: getattr(order, k) for k in extras} == extras
    if wire["delivery_info"] is not None:
        assert order.delivery_info_raw() == wire["delivery_info"]


@settings(max_examples=40)
@given(orders())
def test_generated_order_parses_from_json_text_with_decimal_floats(wire):
    """Through `json.loads(parse_float=Decimal)` (the client's path) values are identical."""
    via_float = Order.model_validate(json.loads(as_wire(wire)))
    via_decimal = Order.model_validate(json.loads(as_wire(wire), parse_float=Decimal))
    assert via_decimal.price == via_float.price
    assert via_decimal.amount_due == via_float.amount_due
    assert [i.line_total for i in via_decimal.items] == [
        i.line_total for i in via_float.items
    ]


@settings(max_examples=80)
@given(order_items(basket_id=1))
def test_sku_resolution_is_variant_first(raw):
    """SKU/MPN = the variant's when it has a non-blank one, else the product's, else None."""
    item = OrderItem.model_validate(raw)
    variant = raw.get("variant") or {}
    product = raw.get("product") or {}
    for key, resolved in (("sku", item.resolved_sku()), ("mpn", item.resolved_mpn())):
        if not _blank(variant.get(key)):
            assert resolved == str(variant[key])
        elif not _blank(product.get(key)):
            assert resolved == str(product[key])
        else:
            assert resolved is None


@settings(max_examples=50)
@given(
    st.decimals(
        min_value=Decimal("-1e9"),
        max_value=Decimal("1e9"),
        places=4,
        allow_nan=False,
        allow_infinity=False,
    )
)
def test_money_from_json_number_has_no_float_artifacts(amount):
    """Any amount written as a JSON number reads back as exactly that decimal."""
    text = json.dumps({"id": 1, "price": float(amount)})
    order = Order.model_validate(json.loads(text))
    assert order.price == amount


# --- orders the sandbox's seed generator produces -------------------------------------------


@pytest.mark.parametrize("seed", [1, 7, 2024])
def test_every_seeded_sandbox_order_parses(seed):
    """All 200 orders of a seeded sandbox parse, raw and over HTTP, with exact money."""
    from filebridge.sandbox import start_sandbox
    from filebridge.selldone.client import SelldoneClient
    from filebridge.selldone.ratelimit import RateLimiter

    with start_sandbox(orders=200, seed=seed, rate_per_minute=None) as box:
        raw_orders = box.orders()
        parsed = [
            Order.model_validate(json.loads(json.dumps(o), parse_float=Decimal))
            for o in raw_orders
        ]
        with SelldoneClient(
            box.url, box.shop_id, box.token, limiter=RateLimiter(100_000)
        ) as client:
            fetched = list(
                client.iter_orders(statuses=[s.value for s in PaymentStatus])
            )
    physical = [o for o in raw_orders if o["type"] == "PHYSICAL"]
    assert sorted(o.id for o in fetched) == sorted(o["id"] for o in physical)
    assert any(o.buyer is None for o in parsed)  # the seed has guests
    for order, raw in zip(parsed, raw_orders, strict=True):
        assert order.price == _dec(raw["price"])
        if raw["reserved_at"] is None:  # an Open cart was never checked out
            assert order.reserved_at is None
        else:
            assert order.reserved_at is not None
            assert order.reserved_at.tzinfo is not None
        for item, raw_item in zip(order.items, raw["items"], strict=True):
            variant_sku = (raw_item.get("variant") or {}).get("sku")
            product_sku = (raw_item.get("product") or {}).get("sku")
            expected = variant_sku if not _blank(variant_sku) else product_sku
            assert item.resolved_sku() == (None if _blank(expected) else expected)
