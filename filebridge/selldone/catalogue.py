"""Pydantic models of the catalogue objects an order item embeds: product and variant; pure.

They come with `with[]=products`. Both are tolerant like every payload model
(`payload_types`): unknown keys are kept and every field has a default.
"""

from __future__ import annotations

from typing import Any

from filebridge.selldone.payload_types import Money, Payload, Text, Timestamp

__all__ = ["Product", "Variant"]


class Product(Payload):
    """`items[].product` (`with[]=products`); `sku`/`mpn` may be null."""

    id: int | None = None
    shop_id: int | None = None
    type: Text = None
    title: Text = None
    title_en: Text = None
    sku: Text = None
    mpn: Text = None
    gtin: Text = None
    price: Money = None
    currency: Text = None
    discount: Money = None
    status: Text = None
    quantity: Money = None
    unit: Text = None
    unit_float: bool | None = None
    icon: Text = None
    extra: dict[str, Any] | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None


class Variant(Payload):
    """`items[].variant`; `volume`, `weight` etc. are labels, not measurements."""

    id: int | None = None
    shop_id: int | None = None
    product_id: int | None = None
    sku: Text = None
    mpn: Text = None
    gtin: Text = None
    color: Text = None
    style: Text = None
    volume: Text = None
    weight: Text = None
    pack: Text = None
    type: Text = None
    pricing: bool | None = None
    price: Money = None
    currency: Text = None
    discount: Money = None
    quantity: Money = None
    image: Text = None
    enable: bool | None = None
    extra: dict[str, Any] | None = None
    created_at: Timestamp = None
    updated_at: Timestamp = None
    deleted_at: Timestamp = None
