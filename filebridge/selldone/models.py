"""Pydantic models of a Selldone order, as the API sends it (selldone-api.md §3); pure.

The models are tolerant on purpose, because the API is only partly documented:

* every model keeps unknown keys (`extra="allow"`; read them with `model_extra` or
  `getattr`), and every field except an order's or an item's `id` has a default;
* enum-like fields (`status`, `delivery_state`, `type`, ...) are plain `str`, so a
  value the API invents tomorrow still parses; `FulfilmentState`, `PaymentStatus` and
  the helpers on `Order` interpret them;
* money is exact `Decimal`, timestamps are timezone-aware and identifier-like text
  accepts JSON numbers: the field types of `payload_types`.

The product and variant an item embeds are in `catalogue`; the answers to the writes
(`StateChange`, `TrackingResult`) are in `write_replies`.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import Field, ModelWrapValidatorHandler, PrivateAttr, model_validator

from filebridge.selldone.catalogue import Product, Variant
from filebridge.selldone.payload_types import (
    Money,
    Payload,
    Text,
    Timestamp,
    known_member,
)

__all__ = [
    "FULFILMENT_SEQUENCE",
    "Buyer",
    "DeliveryInfo",
    "FulfilmentState",
    "Location",
    "Order",
    "OrderItem",
    "OrdersPage",
    "PaymentStatus",
    "ReceiverInfo",
    "Volume",
]


class FulfilmentState(StrEnum):
    """`delivery_state` of a PHYSICAL order, spelled exactly as the API spells it."""

    CHECK_QUEUE = "CheckQueue"
    ORDER_CONFIRM = "OrderConfirm"
    PREPARING_ORDER = "PreparingOrder"
    SENT_ORDER = "SentOrder"
    TO_CUSTOMER = "ToCustomer"


FULFILMENT_SEQUENCE: tuple[FulfilmentState, ...] = (
    FulfilmentState.CHECK_QUEUE,
    FulfilmentState.ORDER_CONFIRM,
    FulfilmentState.PREPARING_ORDER,
    FulfilmentState.SENT_ORDER,
    FulfilmentState.TO_CUSTOMER,
)


class PaymentStatus(StrEnum):
    """`status` of an order (payment/checkout axis), spelled as the API spells it."""

    OPEN = "Open"
    RESERVED = "Reserved"
    PAYED = "Payed"
    CANCELED = "Canceled"
    COD = "COD"


def _is_blank(value: str | None) -> bool:
    return value is None or not value.strip()


# --- addresses and people -------------------------------------------------------------


class Location(Payload):
    """`receiver_info.location`."""

    lat: Money = None
    lng: Money = None


class ReceiverInfo(Payload):
    """`receiver_info` (§3.2): street in `address`, house number `no`, flat `unit`."""

    name: Text = None
    full_name: Text = None
    email: Text = None
    phone: Text = None
    country: Text = None
    state: Text = None
    state_code: Text = None
    city: Text = None
    address: Text = None
    no: Text = None
    unit: Text = None
    postal: Text = None
    message: Text = None
    location: Location | None = None
    pickup: bool | None = None
    business: bool | None = None
    tax_id: Text = None


class Buyer(Payload):
    """`buyer` (`with[]=buyer`); the order has `buyer: None` for guests."""

    id: int | None = None
    name: Text = None
    email: Text = None
    phone: Text = None


class Volume(Payload):
    """`delivery_info.volume` in the shop's size unit."""

    width: Money = None
    length: Money = None
    height: Money = None


class DeliveryInfo(Payload):
    """`delivery_info` (§3.3); tracking lives here after PUT tracking.

    The dict exactly as received is kept beside the parsed fields; `raw()` returns a
    deep copy of it. Replay must send the order's *existing* delivery_info back with a
    few keys overwritten (PreparingOrder, selldone-api.md §2.3), and only the raw dict
    carries every key the API sent, in its original spelling. Numbers in it are
    `Decimal` when the dict came through `SelldoneClient`, which serializes them back
    as JSON numbers.
    """

    type: Text = None
    distance: Money = None
    distance_unit: Text = None
    volume: Volume | None = None
    weight: Money = None
    days: list[str] | None = None
    time_spans: list[str] | None = None
    custom: bool | None = None
    date: Timestamp = None
    delivery_at: Timestamp = None
    connect_delivery: int | None = None
    inbound_delivery: int | None = None
    outbound_delivery: int | None = None
    vendor_delivery: int | None = None
    tracking_code: Text = None
    tracking_url: Text = None

    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _keep_raw(
        cls, data: Any, handler: ModelWrapValidatorHandler[DeliveryInfo]
    ) -> DeliveryInfo:
        info = handler(data)
        if isinstance(data, Mapping):
            info._raw = copy.deepcopy(dict(data))
        elif isinstance(data, DeliveryInfo):
            info._raw = data.raw()
        return info

    def raw(self) -> dict[str, Any]:
        """The delivery_info dict as the API sent it (a deep copy, safe to modify)."""
        return copy.deepcopy(self._raw)


# --- order ----------------------------------------------------------------------------


class OrderItem(Payload):
    """One line of an order (`items[]`, a BasketItem).

    `price` is the unit price after the per-unit discount `dis`; `count` may be
    fractional.
    """

    id: int
    basket_id: int | None = None
    product_id: int | None = None
    variant_id: int | None = None
    connect_id: int | None = None
    count: Money = None
    price: Money = None
    currency: Text = None
    dis: Money = None
    offer_id: int | None = None
    offer_count: Money = None
    offer_amount: Money = None
    cross_dis: Money = None
    count_adjustment: Money = None
    tax: Any = None
    check: bool | None = None
    message: Any = None
    preferences: Any = None
    fulfillment_id: int | None = None
    subscription_price_id: int | None = None
    vendor_id: int | None = None
    vendor_product_id: int | None = None
    vendor_price: Money = None
    extra_pricing_id: int | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    product: Product | None = None
    variant: Variant | None = None

    def resolved_sku(self) -> str | None:
        """The SKU the ERP should see: the variant's if it has one, else the product's.

        selldone-api.md §3.5 says "for a product with variants take variant.sku". We
        also fall back to `product.sku` when the item has a variant whose SKU is null or
        blank (tolerant: an ERP line with the product SKU beats one with none). A blank
        result is None.
        """
        return _variant_first(
            self.variant.sku if self.variant else None,
            self.product.sku if self.product else None,
        )

    def resolved_mpn(self) -> str | None:
        """The MPN, resolved exactly like `resolved_sku()`."""
        return _variant_first(
            self.variant.mpn if self.variant else None,
            self.product.mpn if self.product else None,
        )

    @property
    def title(self) -> str | None:
        """The product's title (items carry no title of their own)."""
        return self.product.title if self.product else None

    @property
    def line_total(self) -> Decimal | None:
        """`count * price - offer_amount` (§4); None when count or price is missing."""
        if self.count is None or self.price is None:
            return None
        return self.count * self.price - (self.offer_amount or Decimal(0))


def _variant_first(variant_value: str | None, product_value: str | None) -> str | None:
    if not _is_blank(variant_value):
        return variant_value
    if not _is_blank(product_value):
        return product_value
    return None


class Order(Payload):
    """An order (a basket) as the list and detail endpoints return it (§3.1).

    The API's own `code` key (a guest basket code, rarely set) is exposed as
    `guest_code`, because `code` here is the display code a person knows the order by.
    """

    id: int
    label: Text = None
    guest_code: Text = Field(default=None, alias="code")
    shop_id: int | None = None
    user_id: int | None = None
    customer_id: int | None = None
    type: Text = None
    stack: int | None = None
    status: str = ""
    reject: Text = None
    reject_at: Timestamp = None
    receiver_info: ReceiverInfo | None = None
    delivery_info: DeliveryInfo | None = None
    delivery_price: Money = None
    delivery_state: Text = None
    delivery_at: Timestamp = None
    billing: dict[str, Any] | None = None
    tax: Money = None
    tax_shipping: Money = None
    tax_included: bool | None = None
    discount: Money = None
    price: Money = None
    currency: Text = None
    payment_id: int | None = None
    payment_type: Text = None
    channel: Text = None
    reserved_at: Timestamp = None
    updated_at: Timestamp = None
    items: list[OrderItem] = Field(default_factory=list)
    buyer: Buyer | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_items(cls, data: Any) -> Any:
        # `items: null` appears when `with[]=items` was not asked for; treat it as none.
        if isinstance(data, Mapping) and "items" in data and data["items"] is None:
            return {**data, "items": []}
        return data

    @property
    def code(self) -> str:
        """The order number a person sees (§6): `label` if set, else `SM-{id}`.

        Labels may repeat over time: never use this as a key, use `id`.
        """
        label = self.label
        if label is not None and label.strip():
            return label
        return f"SM-{self.id}"

    @property
    def fulfilment_state(self) -> FulfilmentState | None:
        """`delivery_state` as a known step; None if it is missing or unknown."""
        return known_member(FulfilmentState, self.delivery_state)

    @property
    def payment_status(self) -> PaymentStatus | None:
        """`status` as a known value, or None if the API sent something new."""
        return known_member(PaymentStatus, self.status)

    @property
    def is_paid(self) -> bool:
        """True only for `Payed` (COD orders are processed but not paid yet)."""
        return self.status == PaymentStatus.PAYED

    @property
    def is_processable(self) -> bool:
        """`Payed` or `COD` and not rejected: the orders an ERP fulfils (§5.1)."""
        return self.status in {PaymentStatus.PAYED, PaymentStatus.COD} and _is_blank(
            self.reject
        )

    @property
    def amount_due(self) -> Decimal | None:
        """`price + (0 if tax_included else tax) + tax_shipping` (§4).

        None-safe: a missing tax or tax_shipping counts as 0; no price gives None.
        """
        if self.price is None:
            return None
        tax = Decimal(0) if self.tax_included else (self.tax or Decimal(0))
        return self.price + tax + (self.tax_shipping or Decimal(0))

    def delivery_info_raw(self) -> dict[str, Any]:
        """The order's delivery_info as received ({} when null); see DeliveryInfo."""
        return self.delivery_info.raw() if self.delivery_info is not None else {}


class OrdersPage(Payload):
    """One page of `GET .../baskets-PHYSICAL`; `total` counts all matches."""

    orders: list[Order] = Field(default_factory=list)
    total: int | None = None
