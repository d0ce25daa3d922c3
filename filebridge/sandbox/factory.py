"""One realistic order at a time, with money that adds up as selldone-api.md §4 says."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from .catalog import (
    FRACTIONAL_PRODUCT_ID,
    MESSAGES,
    PAYMENT_TYPES,
    PEOPLE,
    PLACES,
    PRODUCTS,
    REJECT_REASON,
    SEED_EPOCH,
    TRANSPORTS,
    UNICODE_PEOPLE,
    USD_PER_EUR,
    Person,
    Place,
    Product,
    Variant,
)
from .replies import JsonObject
from .timestamps import format_timestamp

DELIVERY_STATES = (
    "CheckQueue",
    "OrderConfirm",
    "PreparingOrder",
    "SentOrder",
    "ToCustomer",
)
PROCESSABLE_STATUSES = ("Payed", "COD")
_STATE_WEIGHTS = (14, 2, 2, 2, 2)
_CENT = Decimal("0.01")
_ZERO = Decimal(0)


def money(value: Decimal) -> float:
    """Two decimals, no float artifacts: Decimal("52.40") → 52.4."""
    return float(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _quantity(value: Decimal) -> int | float:
    return int(value) if value == value.to_integral_value() else float(value)


@dataclass
class Shape:
    """What one order should look like before its details are drawn."""

    status: str
    delivery_state: str
    person: Person
    registered: bool = True
    guest_customer: bool = False
    place: Place | None = None  # None: the shop asked for no address
    pickup: bool = False
    fractional: bool = False
    rejected: bool = False
    receiver_text: dict[str, str] = field(default_factory=dict)
    label: str | None = None


@dataclass
class _Line:
    product: Product
    variant: Variant | None
    count: Decimal
    price: Decimal
    dis: Decimal
    offer_amount: Decimal = _ZERO
    cross_dis: Decimal = _ZERO


class OrderFactory:
    """Builds orders whose money adds up as selldone-api.md §4 describes.

    Item `price` is the unit price after the per-unit `dis`; order `discount` is the
    sum of item discounts, offers, cross-sell discounts and the coupon; order `price`
    = items gross − discount + delivery_price (before tax).
    """

    def __init__(self, rng: random.Random, shop_id: int) -> None:
        self._rng = rng
        self._shop_id = shop_id

    def random_shape(self, status: str = "Payed") -> Shape:
        rng = self._rng
        state = "CheckQueue"
        if status in PROCESSABLE_STATUSES:
            state = rng.choices(DELIVERY_STATES, weights=_STATE_WEIGHTS)[0]
        person = rng.choice(PEOPLE + UNICODE_PEOPLE if rng.random() < 0.15 else PEOPLE)
        return Shape(
            status,
            state,
            person,
            registered=rng.random() < 0.85,
            place=rng.choice(PLACES),
        )

    def build(
        self,
        shape: Shape,
        *,
        order_id: int,
        first_item_id: int,
        reserved_at: datetime,
        updated_at: datetime,
    ) -> JsonObject:
        rng = self._rng
        usd = shape.place is not None and shape.place.country == "US"
        currency = "USD" if usd else "EUR"
        rate = Decimal(USD_PER_EUR) if usd else Decimal(1)
        lines = self._lines(shape, rate)
        gross = sum((line.count * (line.price + line.dis) for line in lines), _ZERO)
        discount = sum(
            (
                line.count * line.dis + line.offer_amount + line.cross_dis
                for line in lines
            ),
            _ZERO,
        )
        if rng.random() < 0.2 and gross - discount > Decimal(20):
            discount += Decimal(rng.choice(("5.00", "10.00")))
        if shape.pickup or gross - discount >= Decimal(80):
            delivery = _ZERO
        else:
            delivery = Decimal(rng.choice(("4.90", "6.90"))) + (
                Decimal(1) if usd else 0
            )
        price = gross - discount + delivery
        tax: float | None
        tax_included: bool | None
        if rng.random() < 0.1:
            tax, tax_included = None, None
        elif usd:
            tax, tax_included = money((price - delivery) * Decimal("0.08875")), False
        else:
            tax, tax_included = money(price * 19 / 119), True
        stamp = format_timestamp(updated_at)
        reserved = None if shape.status == "Open" else format_timestamp(reserved_at)
        state_index = DELIVERY_STATES.index(shape.delivery_state)
        items = [
            self._item(
                line,
                order_id,
                first_item_id + n,
                currency,
                reserved_at,
                state_index > 0,
            )
            for n, line in enumerate(lines)
        ]
        person = shape.person
        contact: JsonObject = {
            "name": person.name,
            "email": person.email,
            "phone": person.phone,
        }
        buyer: JsonObject | None = None
        customer: JsonObject | None = None
        if shape.registered:
            buyer = {"id": person.user_id} | contact
            customer = {"id": person.customer_id, "user_id": person.user_id} | contact
        elif shape.guest_customer:
            customer = {"id": person.customer_id, "user_id": None} | contact
        paid = shape.status == "Payed"
        return {
            "id": order_id,
            "label": shape.label,
            "shop_id": self._shop_id,
            "user_id": shape.person.user_id if shape.registered else None,
            "customer_id": None if customer is None else customer["id"],
            "code": None if shape.registered else f"{rng.getrandbits(40):010x}",
            "type": "PHYSICAL",
            "stack": 0,
            "status": shape.status,
            "reject": REJECT_REASON if shape.rejected else None,
            "reject_at": stamp if shape.rejected else None,
            "receiver_info": self._receiver(shape),
            "delivery_info": self._delivery_info(shape, lines, state_index, stamp),
            "delivery_price": money(delivery),
            "delivery_state": shape.delivery_state,
            "delivery_at": stamp if shape.delivery_state == "ToCustomer" else None,
            "billing": None,
            "tax": tax,
            "tax_shipping": 0 if tax is not None else None,
            "tax_included": tax_included,
            "lottery_id": None,
            "link_id": None,
            "discount": money(discount),
            "affiliate_id": None,
            "email_id": None,
            "channel": None,
            "subscription_id": None,
            "meta": None,
            "chat": None,
            "price": money(price),
            "currency": currency,
            "payment_id": 7000 + order_id % 5000 if paid else None,
            "payment_type": PAYMENT_TYPES[order_id % len(PAYMENT_TYPES)]
            if paid
            else None,
            "reserved_at": reserved,
            "updated_at": stamp,
            "items": items,
            "buyer": buyer,
            "customer": customer,
            "gateway_processing": None,
            "basket_item_returns": [],
        }

    def _lines(self, shape: Shape, rate: Decimal) -> list[_Line]:
        rng = self._rng
        products = rng.sample(PRODUCTS, rng.choice((1, 1, 1, 2, 2, 3, 4)))
        fabric = next(p for p in PRODUCTS if p.id == FRACTIONAL_PRODUCT_ID)
        if shape.fractional and fabric not in products:
            products[0] = fabric
        lines = []
        for product in products:
            variant = rng.choice(product.variants) if product.variants else None
            if product.unit_float:
                counts = ("1.5", "2.5") if shape.fractional else ("1", "1.5", "2", "3")
                count = Decimal(rng.choice(counts))
            else:
                count = Decimal(rng.choice((1, 1, 1, 2, 2, 3)))
            dis = (Decimal(product.dis) * rate).quantize(_CENT)
            price = (Decimal(product.price) * rate).quantize(_CENT) - dis
            line = _Line(product, variant, count, price, dis)
            if count >= 3 and rng.random() < 0.5:
                line.offer_amount = price  # "buy 3, one is free"
            elif count >= 2 and rng.random() < 0.1:
                line.cross_dis = Decimal("1.00")
            lines.append(line)
        return lines

    def _item(
        self,
        line: _Line,
        order_id: int,
        item_id: int,
        currency: str,
        reserved_at: datetime,
        checked: bool,
    ) -> JsonObject:
        created = reserved_at - timedelta(seconds=self._rng.randint(60, 2400))
        return {
            "id": item_id,
            "basket_id": order_id,
            "product_id": line.product.id,
            "variant_id": None if line.variant is None else line.variant.id,
            "connect_id": None,
            "message": None,
            "preferences": None,
            "count": _quantity(line.count),
            "price": money(line.price),
            "currency": currency,
            "dis": money(line.dis),
            "offer_id": 501 if line.offer_amount else None,
            "offer_count": 1 if line.offer_amount else 0,
            "offer_amount": money(line.offer_amount),
            "cross_dis": money(line.cross_dis),
            "tax": None,
            "check": checked,
            "fulfillment_id": None,
            "subscription_price_id": None,
            "vendor_id": None,
            "vendor_product_id": None,
            "extra_pricing_id": None,
            "created_at": format_timestamp(created),
            "updated_at": format_timestamp(reserved_at),
            "product": product_json(line.product, self._shop_id),
            "variant": None
            if line.variant is None
            else variant_json(line.variant, line.product, self._shop_id),
        }

    def _receiver(self, shape: Shape) -> JsonObject | None:
        place = shape.place
        if place is None:
            return None
        receiver = {
            "name": shape.person.name,
            "phone": shape.person.phone,
            "country": place.country,
            "state": place.state,
            "state_code": place.state_code,
            "city": place.city,
            "address": f"{place.street} {place.no}" if place.no else place.street,
            "no": place.no,
            "unit": place.unit,
            "postal": place.postal,
            "message": self._rng.choice(MESSAGES),
            "location": {"lat": place.lat, "lng": place.lng},
            "pickup": shape.pickup,
        }
        return receiver | shape.receiver_text

    def _delivery_info(
        self, shape: Shape, lines: list[_Line], state_index: int, stamp: str
    ) -> JsonObject:
        rng = self._rng
        weight = sum(
            (Decimal(str(line.product.weight or 0)) * line.count for line in lines),
            _ZERO,
        )
        info: JsonObject = {
            "type": "Pickup" if shape.pickup else rng.choice(TRANSPORTS),
            "distance": 0 if shape.pickup else round(rng.uniform(2, 900), 1),
            "volume": rng.choice(
                (
                    {"width": 30, "length": 40, "height": 15},
                    {"width": 20, "length": 25, "height": 10},
                    {"width": 40, "length": 60, "height": 40},
                )
            ),
            "weight": money(weight),
            "days": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"],
            "time_spans": ["Morning", "Evening"],
            "custom": False,
            "date": None,
            "connect_delivery": 0,
            "inbound_delivery": 0,
            "outbound_delivery": 0,
            "vendor_delivery": 0,
        }
        if state_index >= DELIVERY_STATES.index("SentOrder") and not shape.pickup:
            code = f"00340434{rng.randrange(10**12):012d}"
            info["tracking_code"] = code
            info["tracking_url"] = f"https://www.dhl.de/track?id={code}"
        return info


def product_json(product: Product, shop_id: int) -> JsonObject:
    made = SEED_EPOCH - timedelta(days=200 + product.id % 400, seconds=product.id * 37)
    return {
        "id": product.id,
        "shop_id": shop_id,
        "type": "PHYSICAL",
        "title": product.title,
        "title_en": None,
        "sku": product.sku,
        "mpn": product.mpn,
        "gtin": product.gtin,
        "price": money(Decimal(product.price)),
        "currency": "EUR",
        "discount": money(Decimal(product.dis)),
        "status": "Open",
        "quantity": product.quantity,
        "unit": product.unit,
        "unit_float": product.unit_float,
        "extra": None if product.weight is None else {"weight": product.weight},
        "icon": f"shops_{shop_id}_products_{product.id}.jpg",
        "meta": None,
        "created_at": format_timestamp(made),
        "updated_at": format_timestamp(SEED_EPOCH - timedelta(days=3)),
    }


def variant_json(variant: Variant, product: Product, shop_id: int) -> JsonObject:
    made = SEED_EPOCH - timedelta(days=150 + variant.id % 300)
    return {
        "id": variant.id,
        "shop_id": shop_id,
        "product_id": product.id,
        "sku": variant.sku,
        "mpn": variant.mpn,
        "gtin": None,
        "color": variant.color,
        "style": None,
        "volume": variant.volume,
        "weight": None,
        "pack": None,
        "type": None,
        "pricing": False,
        "price": money(Decimal(product.price)),
        "currency": "EUR",
        "commission": 0,
        "discount": 0,
        "quantity": variant.quantity,
        "image": None,
        "enable": True,
        "lead": -1,
        "extra": None,
        "ar": None,
        "meta": None,
        "parent_id": None,
        "deleted_at": None,
        "created_at": format_timestamp(made),
        "updated_at": format_timestamp(SEED_EPOCH - timedelta(days=3)),
    }
