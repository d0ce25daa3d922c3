"""Validated rows → ordered API calls: fulfilment planning, one row's replay, a
file's rows in order (or several small files' rows together), reconciliation of unanswered writes and the order book.

May import: `selldone`, `journal` and `errors`. Not `inbox`: the inbox calls replay,
never the other way round.
"""

from filebridge.replay.fulfilment import ActionKind, apply, parse_state, plan_actions
from filebridge.replay.order_book import OrderBook, OrderFacts
from filebridge.replay.row import RowOutcome, RowWork
from filebridge.replay.rows import (
    FileRows,
    Hold,
    ReplayResult,
    replay_files,
    replay_rows,
)

__all__ = [
    "ActionKind",
    "FileRows",
    "Hold",
    "OrderBook",
    "OrderFacts",
    "ReplayResult",
    "RowOutcome",
    "RowWork",
    "apply",
    "parse_state",
    "plan_actions",
    "replay_files",
    "replay_rows",
]
