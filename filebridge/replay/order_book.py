"""What filebridge knows of each order's state: the journal's memory, fresh reads on demand.

An order's state is taken from `order_states` (every successful step and every read
updates it), else learnt in bulk (one list call for many unknown orders), else one GET.
`fresh` marks facts read from the API during this run: rows are never rejected, nor
delivery_info merged, on remembered facts alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from filebridge.journal import Journal, earliest_export_update
from filebridge.journal import inbox as ledger
from filebridge.selldone import MAX_PAGE_SIZE, Order, SelldoneClient

__all__ = ["PREFETCH_MIN_UNKNOWN", "OrderBook", "OrderFacts"]

log = logging.getLogger(__name__)

PREFETCH_MIN_UNKNOWN = 3
"""From this many orders of unknown state, one list call (≤250 orders) beats a GET each."""
PREFETCH_STATUSES = ("Payed", "COD")


@dataclass
class OrderFacts:
    """The planner's view of one order; `fresh` = read from the API during this run."""

    state: str
    tracking: tuple[str | None, str | None] | None
    delivery_info: dict[str, Any] | None
    fresh: bool


class OrderBook:
    """What this run knows about orders: the journal's `order_states` plus fresh reads.

    With `journal=None` (dry run) nothing is written anywhere.
    """

    def __init__(self, client: SelldoneClient, journal: Journal | None) -> None:
        self._client = client
        self._journal = journal
        self._facts: dict[int, OrderFacts] = {}
        self._calls = 0  # API calls this run: reads here, writes counted by replay.row
        self._lock = threading.Lock()  # replay's senders count from several threads

    @property
    def calls(self) -> int:
        return self._calls

    def count_call(self) -> None:
        with self._lock:
            self._calls += 1

    def get(self, order_id: int) -> OrderFacts | None:
        if order_id in self._facts:
            return self._facts[order_id]
        if self._journal is None:
            return None
        known = ledger.known_order(self._journal, order_id)
        if known is None:
            return None
        tracking = (
            None
            if known.tracking_code is None and known.tracking_url is None
            else (known.tracking_code or None, known.tracking_url or None)
        )
        facts = OrderFacts(known.delivery_state, tracking, known.delivery_info, False)
        self._facts[order_id] = facts
        return facts

    def cached(self, order_id: int) -> OrderFacts | None:
        """What this run already holds of the order, without asking the journal
        (`replay.settled` reads the journal for many orders at once)."""
        return self._facts.get(order_id)

    def fetch(self, order_id: int) -> OrderFacts:
        """GET the order (one call) and remember it."""
        return self.fetch_with(self._client, order_id)

    def fetch_with(self, client: SelldoneClient, order_id: int) -> OrderFacts:
        """`fetch` through `client` (a sender thread's own)."""
        self.count_call()
        order = client.get_order(order_id)
        return self.learn(order)

    def learn(self, order: Order) -> OrderFacts:
        info = order.delivery_info_raw()
        tracking = (
            order.delivery_info.tracking_code if order.delivery_info else None,
            order.delivery_info.tracking_url if order.delivery_info else None,
        )
        facts = OrderFacts(order.delivery_state or "", tracking, info, True)
        self._facts[order.id] = facts
        if self._journal is not None:
            ledger.remember_order(
                self._journal,
                order.id,
                facts.state,
                status=order.status or None,
                tracking=(tracking[0] or "", tracking[1] or ""),
                delivery_info=info,
            )
        return facts

    def prefetch(
        self, order_ids: Iterable[int], *, refresh: Iterable[int] = ()
    ) -> None:
        """Learn many orders with list calls instead of a GET each.

        `order_ids` whose state is unknown are learnt; `refresh` are known orders whose
        remembered state must be confirmed by a read (a resumed file, a plan that must
        not rest on remembered data). The pages are the orders updated since the oldest
        of them was exported (oldest first), which holds every exported one; for
        orders filebridge never exported, the newest orders. Paging goes on while a
        page still finds at least two wanted orders (cheaper than their GETs); orders
        no page held are fetched one by one later.
        """
        unknown = {i for i in order_ids if self.get(i) is None}
        wanted = unknown | {i for i in refresh if i not in self._fresh_ids()}
        if len(wanted) < PREFETCH_MIN_UNKNOWN:
            return
        since = (
            None
            if self._journal is None
            else earliest_export_update(self._journal, sorted(wanted))
        )
        missing = set(wanted)
        offset = 0
        pages = 0
        while missing:
            self.count_call()
            pages += 1
            page = self._client.list_orders(
                offset=offset,
                limit=MAX_PAGE_SIZE,
                statuses=PREFETCH_STATUSES,
                updated_since=None if since is None else since - 1,
                with_=(),
                sort_by="reserved_at",
                sort_desc=since is None,
            )
            found = [order for order in page.orders if order.id in missing]
            self._learn_all(found)
            missing -= {order.id for order in found}
            if len(page.orders) < MAX_PAGE_SIZE or len(found) < 2:
                break
            offset += len(page.orders)
        log.info(
            "learnt the state of %d of %d orders (%d unknown, %d to confirm) from "
            "%d list call%s",
            len(wanted) - len(missing),
            len(wanted),
            len(unknown),
            len(wanted - unknown),
            pages,
            "" if pages == 1 else "s",
        )

    def _fresh_ids(self) -> set[int]:
        return {i for i, facts in self._facts.items() if facts.fresh}

    def _learn_all(self, orders: list[Order]) -> None:
        if self._journal is not None:
            with self._journal.atomic():
                for order in orders:
                    self.learn(order)
        else:
            for order in orders:
                self.learn(order)

    def assume(self, order_id: int, facts: OrderFacts) -> None:
        """Take `facts` as the order's state without recording it (dry run)."""
        self._facts[order_id] = facts

    def after(self, order_id: int, facts: OrderFacts) -> None:
        """Remember the state a confirmed step left (caller holds the transaction)."""
        self._facts[order_id] = facts
        if self._journal is not None:
            ledger.remember_order(
                self._journal,
                order_id,
                facts.state,
                tracking=facts.tracking,
                delivery_info=facts.delivery_info,
            )
