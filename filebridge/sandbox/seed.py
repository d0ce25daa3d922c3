"""The seeded shop: the same seed always builds the same orders, edge cases included."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta

from .catalog import (
    FORMULA_PERSON,
    HOSTILE_STRINGS,
    LEADING_ZERO_PLACES,
    PEOPLE,
    PLACES,
    SEED_EPOCH,
    UNICODE_PEOPLE,
    Person,
    Place,
)
from .factory import DELIVERY_STATES, PROCESSABLE_STATUSES, OrderFactory, Shape
from .replies import JsonObject
from .timestamps import format_timestamp

# The second that several seeded orders share as `updated_at`.
SHARED_SECOND = SEED_EPOCH - timedelta(hours=1)
SHARED_SECOND_ORDERS = 6
FIRST_ORDER_ID = 15000
FIRST_ITEM_ID = 23990

_Feature = Callable[[Shape], Shape]


def seed_orders(count: int, seed: int, shop_id: int) -> list[JsonObject]:
    """`count` orders, ids rising from FIRST_ORDER_ID with gaps, newest near SEED_EPOCH.

    Deliberately included (given about 25 orders or more): every HOSTILE_STRINGS value
    in customer-typed fields, guests, leading-zero postcodes, unicode and RTL names, a
    fractional quantity, a pickup, a rejected order, an order without receiver_info,
    statuses other than Payed, and SHARED_SECOND_ORDERS orders sharing one updated_at.
    """
    rng = random.Random(seed)
    factory = OrderFactory(rng, shop_id)
    ids = [FIRST_ORDER_ID][:count]  # `orders=0`: an empty shop
    while len(ids) < count:
        ids.append(
            ids[-1] + rng.choice((1, 1, 1, 2, 3))
        )  # other shops' baskets between
    reserved: list[datetime] = []
    moment = SEED_EPOCH - timedelta(seconds=rng.randint(300, 2400))
    for _ in range(count):
        reserved.append(moment)
        moment -= timedelta(seconds=rng.randint(7 * 60, 95 * 60))
    reserved.reverse()
    shapes = _plan_shapes(rng, factory, count)
    orders = []
    item_id = FIRST_ITEM_ID
    for order_id, shape, reserved_at in zip(ids, shapes, reserved, strict=True):
        steps = DELIVERY_STATES.index(shape.delivery_state)
        progress = timedelta(
            seconds=rng.randint(5, 90) + steps * rng.randint(3600, 6 * 3600)
        )
        updated_at = max(reserved_at, min(reserved_at + progress, SEED_EPOCH))
        order = factory.build(
            shape,
            order_id=order_id,
            first_item_id=item_id,
            reserved_at=reserved_at,
            updated_at=updated_at,
        )
        item_id += len(order["items"]) + rng.choice((0, 0, 1))
        orders.append(order)
    _share_one_second(rng, orders, reserved)
    return orders


def _plan_shapes(rng: random.Random, factory: OrderFactory, count: int) -> list[Shape]:
    statuses = ["Reserved", "Reserved", "Canceled", "Open"]
    statuses += ["COD"] * max(2, count // 8)
    statuses = (statuses + ["Payed"] * count)[:count]
    rng.shuffle(statuses)
    shapes = [factory.random_shape(status) for status in statuses]
    processable = [i for i, s in enumerate(statuses) if s in PROCESSABLE_STATUSES]
    rng.shuffle(processable)
    features = _features()
    if len(processable) <= len(features):
        features = features[:-1]  # no order without receiver_info in tiny shops
    for n, feature in enumerate(features):
        if processable:
            index = processable[n % len(processable)]
            shapes[index] = feature(shapes[index])
    _cover_states(rng, [shapes[i] for i in processable])
    _label(shapes)
    return shapes


def _features() -> list[_Feature]:
    """Deliberate edge cases, the most important first (small shops get only these)."""
    hostile_name, plus, minus, at_sum, _, tab, carriage = HOSTILE_STRINGS
    texts = (
        {"name": hostile_name},
        {"message": plus},
        {"message": minus},
        {"address": at_sum},
        {"address": tab},
        {"message": carriage},
    )
    features: list[_Feature] = [_with_text(text) for text in texts]
    features.append(lambda s: replace(s, person=FORMULA_PERSON, registered=True))
    features.append(lambda s: replace(s, registered=False))
    features.append(lambda s: replace(s, registered=False, guest_customer=True))
    features += [_with_place(place) for place in LEADING_ZERO_PLACES]
    features += [_with_person(person) for person in UNICODE_PEOPLE]
    features.append(_with_person(PEOPLE[0]))  # "+49 30 5550123": a phone, no formula
    features.append(lambda s: replace(s, fractional=True))
    features.append(lambda s: replace(s, pickup=True, place=PLACES[0]))
    features.append(lambda s: replace(s, rejected=True, delivery_state="CheckQueue"))
    features.append(lambda s: replace(s, place=None, receiver_text={}))
    return features


def _with_text(text: dict[str, str]) -> _Feature:
    return lambda s: replace(
        s, place=s.place or PLACES[1], receiver_text=s.receiver_text | text
    )


def _with_place(place: Place) -> _Feature:
    return lambda s: replace(s, place=place)


def _with_person(person: Person) -> _Feature:
    return lambda s: replace(s, person=person)


def _cover_states(rng: random.Random, shapes: list[Shape]) -> None:
    """Every delivery state occurs among the Payed/COD orders (if there are enough)."""
    present = {shape.delivery_state for shape in shapes if not shape.rejected}
    spare = [s for s in shapes if s.delivery_state == "CheckQueue" and not s.rejected]
    rng.shuffle(spare)
    for state in DELIVERY_STATES:
        if state not in present and len(spare) > 1:
            spare.pop().delivery_state = state


def _label(shapes: list[Shape]) -> None:
    """The shop switched labels on part-way; a yearly reset made one label repeat."""
    first = len(shapes) * 3 // 5
    for n, shape in enumerate(shapes[first:]):
        shape.label = f"TRX{101 + n}"
    if len(shapes) - first >= 3:
        shapes[-1].label = "TRX101"


def _share_one_second(
    rng: random.Random, orders: list[JsonObject], reserved: list[datetime]
) -> None:
    candidates = [o for o, r in zip(orders, reserved, strict=True) if r < SHARED_SECOND]
    stamp = format_timestamp(SHARED_SECOND)
    for order in rng.sample(candidates, min(SHARED_SECOND_ORDERS, len(candidates))):
        order["updated_at"] = stamp
        if order["delivery_at"] is not None:
            order["delivery_at"] = stamp
