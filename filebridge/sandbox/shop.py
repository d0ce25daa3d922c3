"""The in-memory shop: seeded orders behind one lock, and the API operations on them."""

from __future__ import annotations

import copy
import random
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from . import states
from .factory import OrderFactory
from .listing import ListQuery, render_order, select_orders
from .replies import JsonObject, basket_not_found
from .seed import FIRST_ITEM_ID, FIRST_ORDER_ID, seed_orders
from .timestamps import format_timestamp

_DATE_KEYS = ("updated_at", "reserved_at", "delivery_at", "reject_at")


class Shop:
    """Every read returns deep copies; every write that changes an order bumps
    its `updated_at` to the wall clock (whole seconds)."""

    def __init__(
        self, shop_id: int, order_count: int, seed: int, clock: Callable[[], datetime]
    ) -> None:
        self.shop_id = shop_id
        self._order_count = order_count
        self._seed = seed
        self._clock = clock
        self._lock = threading.RLock()
        self._orders: dict[int, JsonObject] = {}
        self._factory = OrderFactory(random.Random(), shop_id)
        self._next_item_id = FIRST_ITEM_ID
        self.reseed()

    def reseed(self) -> None:
        """Back to the seeded orders; orders added later are built the same way."""
        with self._lock:
            orders = seed_orders(self._order_count, self._seed, self.shop_id)
            self._orders = {order["id"]: order for order in orders}
            # a separate stream, so adding orders never changes the seeded ones
            self._factory = OrderFactory(
                random.Random(f"add-{self._seed}"), self.shop_id
            )
            item_ids = [i["id"] for o in orders for i in o["items"]]
            self._next_item_id = max(item_ids, default=FIRST_ITEM_ID - 1) + 1

    def now(self) -> str:
        return format_timestamp(self._clock())

    # --- control surface -------------------------------------------------------

    def all_orders(self) -> list[JsonObject]:
        with self._lock:
            return copy.deepcopy(sorted(self._orders.values(), key=lambda o: o["id"]))

    def get(self, order_id: int) -> JsonObject:
        """KeyError for an unknown id."""
        with self._lock:
            return copy.deepcopy(self._orders[order_id])

    def add(self, overrides: Mapping[str, Any]) -> JsonObject:
        """A new realistic order: status Payed, CheckQueue, reserved and updated now."""
        with self._lock:
            order_id = overrides.get("id")
            if order_id is None:
                order_id = max(self._orders, default=FIRST_ORDER_ID - 1) + 1
            elif order_id in self._orders:
                raise ValueError(f"order {order_id} already exists")
            now = self._clock()
            shape = self._factory.random_shape("Payed")
            shape.delivery_state = "CheckQueue"
            order = self._factory.build(
                shape,
                order_id=order_id,
                first_item_id=self._next_item_id,
                reserved_at=now - timedelta(seconds=20),
                updated_at=now,
            )
            self._next_item_id += len(order["items"])
            order.update(_wire_dates(overrides))
            for item in order.get("items") or ():
                if isinstance(item, dict):
                    item.setdefault("basket_id", order_id)
            self._orders[order_id] = order
            return copy.deepcopy(order)

    def update(self, order_id: int, changes: Mapping[str, Any]) -> JsonObject:
        """Top-level merge; `updated_at` becomes now unless `changes` sets it."""
        with self._lock:
            order = self._orders[order_id]
            order.update(_wire_dates(changes))
            if "updated_at" not in changes:
                order["updated_at"] = self.now()
            return copy.deepcopy(order)

    # --- API -------------------------------------------------------------------

    def list_orders(self, query: ListQuery, *, inclusive: bool) -> JsonObject:
        with self._lock:
            page, total = select_orders(
                self._orders.values(), query, inclusive=inclusive
            )
            return {
                "orders": [render_order(order, query.relations) for order in page],
                "total": total,
            }

    def basket(self, order_id: int) -> JsonObject:
        with self._lock:
            return {"basket": copy.deepcopy(self._order(order_id))}

    def change_state(
        self, order_id: int, body: object, *, skip_policy: str
    ) -> JsonObject:
        now = self.now()
        with self._changing(order_id, now) as order:
            return states.change_state(order, body, skip_policy=skip_policy, now=now)

    def return_delivery(self, order_id: int) -> JsonObject:
        with self._changing(order_id, self.now()) as order:
            return states.return_delivery(order)

    def set_tracking(self, order_id: int, body: object) -> JsonObject:
        with self._changing(order_id, self.now()) as order:
            return states.set_tracking(order, body)

    def _order(self, order_id: int) -> JsonObject:
        order = self._orders.get(order_id)
        if order is None:
            raise basket_not_found()
        return order

    @contextmanager
    def _changing(self, order_id: int, now: str) -> Iterator[JsonObject]:
        """Work on a copy; store it, with a new `updated_at`, only if it changed.

        A refused request (422 or app error) leaves the order untouched.
        """
        with self._lock:
            order = self._order(order_id)
            draft = copy.deepcopy(order)
            yield draft
            if draft != order:
                draft["updated_at"] = now
                self._orders[order_id] = draft


def _wire_dates(values: Mapping[str, Any]) -> dict[str, Any]:
    """A private deep copy, with datetimes in the date fields put in the wire format."""
    result = copy.deepcopy(dict(values))
    for key in _DATE_KEYS:
        if isinstance(result.get(key), datetime):
            result[key] = format_timestamp(result[key])
    return result
