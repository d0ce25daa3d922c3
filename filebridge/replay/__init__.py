"""Validated rows → ordered API calls: fulfilment planning, one row's replay, a
file's rows in order, reconciliation of unanswered writes and the order book.

May import: `selldone`, `journal` and `errors`. Not `inbox`: the inbox calls replay,
never the other way round.
"""

from filebridge.replay.fulfilment import ActionKind, apply, parse_state, plan_actions
from filebridge.replay.order_book import OrderBook, OrderFacts
from filebridge.replay.row import RowOutcome, RowWork
from filebridge.replay.rows import Hold, replay_rows

__all__ = [
    "ActionKind",
    "Hold",
    "OrderBook",
    "OrderFacts",
    "RowOutcome",
    "RowWork",
    "apply",
    "parse_state",
    "plan_actions",
    "replay_rows",
]
