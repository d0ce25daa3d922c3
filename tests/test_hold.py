"""A doubtful write holds its order, not the inbox: every other row and file goes on.

Real HTTP to the sandbox; the doubtful step is made the way production makes it: a
proxy drops the connection of one state POST before the shop sees it, so filebridge
cannot know whether it was applied and must not send it again within the write settle
time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from filebridge.cli_text import inbox_summary
from filebridge.jobs import run_once
from filebridge.journal import inbox as ledger
from filebridge.journal.store import Journal
from filebridge.status import read_status
from tests.inbox_support import assert_no_skip_no_repeat, make_settings, write_csv

HEADER = ["order_id", "state"]
SETTLE_S = 120.0  # the doubtful step stays doubtful for the whole test


def test_hold_one_doubtful_order_lets_29_rows_and_a_second_file_through(
    tmp_path, sandbox
):
    """30 rows for 30 orders, the first order's write dropped unanswered: the same run
    applies the other 29 rows, the next one a second file; only the held order's rows
    wait; exit 1 both times."""
    settings = make_settings(
        tmp_path, sandbox, timeout_seconds=2.0, write_settle_seconds=SETTLE_S
    )
    ids = [o["id"] for o in sandbox.add_orders(36)]
    first, others = ids[:30], ids[30:]
    doubtful = first[0]
    write_csv(
        tmp_path / "inbox" / "a-statuses.csv",
        HEADER,
        [[i, "OrderConfirm"] for i in first],
    )
    sandbox.faults.drop_next(method="POST", path_contains=f"/{doubtful}/state")
    dropped = run_once(settings)
    assert dropped.exit_code == 1  # finished, but an order is held
    assert dropped.inbox is not None
    assert set(dropped.inbox.held) == {doubtful}
    assert dropped.inbox.rows_applied == 29  # the drop held one order, not the run

    write_csv(
        tmp_path / "inbox" / "b-more.csv",
        HEADER,
        [*([i, "OrderConfirm"] for i in others), [doubtful, "PreparingOrder"]],
    )
    result = run_once(settings)

    assert result.inbox is not None
    assert result.exit_code == 1  # finished, but an order is held
    assert set(result.inbox.held) == {doubtful}
    assert result.inbox.rows_applied == 29 + 6  # of both runs (the journal counts)
    assert result.inbox.rows_held == 2  # its row in each file
    for order_id in first[1:] + others:
        assert sandbox.get_order(order_id)["delivery_state"] == "OrderConfirm"
    assert sandbox.get_order(doubtful)["delivery_state"] == "CheckQueue"
    resent = [
        c for c in sandbox.calls() if c.method == "POST" and f"/{doubtful}/" in c.path
    ]
    assert len(resent) == 1  # the dropped one; nothing sent while in doubt
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))
    summary = inbox_summary(result.inbox)
    assert f"held: OrderConfirm of order {doubtful}" in summary
    assert "1 orders held, 2 rows wait" in summary

    with Journal.open(settings.journal_path) as journal:
        held = ledger.held_orders(journal)
        files = {f.original_name for f in ledger.open_claims(journal)}
        status = read_status(journal, now=datetime.now(UTC), write_settle=SETTLE_S)
    assert [(h.order_id, h.action, h.rows_waiting) for h in held] == [
        (doubtful, "OrderConfirm", 2)
    ]
    assert files == {"a-statuses.csv", "b-more.csv"}  # both wait for the held order
    lines = "\n".join(status.lines())
    assert "held orders:        1" in lines
    assert f"order {doubtful}: OrderConfirm (a-statuses.csv row 2)" in lines


def test_a_dropped_write_with_the_api_gone_still_stops_the_run(tmp_path, sandbox):
    """A drop is only one order's problem while the API answers: when the look at the
    order cannot be made either, the run stops as unavailable (exit 5); the next run
    settles the step by reading and every order gets each step once."""
    settle = 1.0  # the settle time is at least the timeout
    settings = make_settings(
        tmp_path, sandbox, timeout_seconds=settle, write_settle_seconds=settle
    )
    ids = [o["id"] for o in sandbox.add_orders(8)]
    write_csv(
        tmp_path / "inbox" / "a.csv", HEADER, [[i, "PreparingOrder"] for i in ids]
    )
    doubtful = ids[0]
    sandbox.faults.drop_next(method="POST", path_contains=f"/{doubtful}/state")
    sandbox.faults.fail_next(503, times=100, method="GET", path_contains=f"/{doubtful}")
    stopped = run_once(settings)
    assert stopped.exit_code == 5
    assert stopped.inbox is not None
    assert stopped.inbox.unavailable is not None

    sandbox.faults.clear()
    time.sleep(settle + 0.2)
    done = run_once(settings)
    assert done.exit_code == 0
    for order_id in ids:
        assert sandbox.get_order(order_id)["delivery_state"] == "PreparingOrder"
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))
