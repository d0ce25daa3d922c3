"""API economy measured from the sandbox's call log: no call that can be avoided."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from filebridge.inbox.run import run_inbox
from filebridge.journal.store import Journal
from tests.inbox_support import (
    assert_no_skip_no_repeat,
    make_client,
    make_settings,
    write_csv,
)

ORDERS = 50
MAX_CALLS_PER_ORDER = 4.4


def test_fifty_orders_checkqueue_to_sent_with_tracking_within_budget(tmp_path, sandbox):
    """50 unknown orders CheckQueue → SentOrder + tracking cost ≤ 4.4 calls each (min 4)."""
    settings = make_settings(tmp_path, sandbox)
    orders = sandbox.add_orders(ORDERS)
    write_csv(
        settings.folders.inbox / "shipped.csv",
        ["order_id", "state", "tracking_code", "tracking_url"],
        [
            [
                o["id"],
                "SentOrder",
                f"00340{o['id']}",
                f"https://track.example/{o['id']}",
            ]
            for o in orders
        ],
    )
    sandbox.clear_calls()
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
    ):
        result = run_inbox(settings, client, journal, now=datetime.now(UTC))
    calls = sandbox.calls()
    per_order = len(calls) / ORDERS
    print(f"\n{len(calls)} calls for {ORDERS} orders = {per_order:.2f} per order")
    assert result.rows_applied == ORDERS
    assert per_order <= MAX_CALLS_PER_ORDER
    kinds = Counter((c.method, c.path.rsplit("/", 1)[-1]) for c in calls)
    assert kinds == {
        ("POST", "state"): 3 * ORDERS,
        ("PUT", "tracking"): ORDERS,
        ("GET", "baskets-PHYSICAL"): 1,
    }
    assert result.calls == len(calls)
    assert_no_skip_no_repeat(sandbox, {o["id"]: "CheckQueue" for o in orders})
    for order in orders:
        shop = sandbox.get_order(order["id"])
        assert shop["delivery_state"] == "SentOrder"
        assert shop["delivery_info"]["tracking_code"] == f"00340{order['id']}"


def test_known_orders_cost_one_call_per_step(tmp_path, sandbox):
    """A later file for orders filebridge moved itself needs no read at all."""
    settings = make_settings(tmp_path, sandbox)
    orders = sandbox.add_orders(10)
    header = ["order_id", "state"]
    write_csv(
        settings.folders.inbox / "a.csv",
        header,
        [[o["id"], "SentOrder"] for o in orders],
    )
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
    ):
        run_inbox(settings, client, journal, now=datetime.now(UTC))
        sandbox.clear_calls()
        write_csv(
            settings.folders.inbox / "b.csv",
            header,
            [[o["id"], "ToCustomer"] for o in orders]
            + [[o["id"], "SentOrder"] for o in orders],
        )
        result = run_inbox(settings, client, journal, now=datetime.now(UTC))
    assert (result.rows_applied, result.rows_already_done) == (10, 10)
    assert [c.method for c in sandbox.calls()] == ["POST"] * 10
