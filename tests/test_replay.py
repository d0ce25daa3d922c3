"""Replay against the sandbox over HTTP: ordered steps, refresh on refusal, exactly once."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from filebridge.errors import AuthError
from filebridge.inbox.dry_run import plan_rows_dry
from filebridge.journal import inbox as ledger
from filebridge.journal.store import Journal
from filebridge.outbox.export import run_export
from filebridge.replay.fulfilment import FulfilmentRequest
from filebridge.replay.order_book import OrderBook
from filebridge.replay.row import RowWork, step_key
from filebridge.replay.rows import FileRows, replay_files, replay_rows
from filebridge.selldone.client import SelldoneClient
from filebridge.selldone.models import FulfilmentState as S
from tests.conftest import wait_until
from tests.inbox_support import assert_no_skip_no_repeat, make_settings, state_posts

SHA = "f" * 64


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite3") as j:
        yield j


@pytest.fixture
def client(sandbox) -> Iterator[SelldoneClient]:
    with SelldoneClient(
        sandbox.url,
        sandbox.shop_id,
        sandbox.token,
        requests_per_minute=100_000,
        timeout=5,
    ) as c:
        yield c


def register(journal: Journal, work: Sequence[RowWork]) -> int:
    """A claimed file with these rows pending, as inbox.py records it."""
    cursor = journal.execute(
        "INSERT INTO inbox_files(sha256, original_name, state, arrived_at) "
        "VALUES (?, 'status.csv', 'claimed', '2026-01-01')",
        (SHA,),
    )
    file_id = int(cursor.lastrowid or 0)
    ledger.record_rows(
        journal, file_id, [(w.row, w.order_id, "pending", "") for w in work]
    )
    return file_id


def replay(client, journal, work, **kwargs):
    file_id = register(journal, work)
    return replay_rows(client, journal, work, file_id=file_id, file_sha=SHA, **kwargs)


def left_sent(journal: Journal, file_id: int, order_id: int, state: str) -> str:
    """Row 2's state step as a crash leaves it: marked sent, no answer recorded."""
    key = step_key(SHA, 2, order_id, state)
    ledger.plan_step(
        journal,
        key,
        file_id=file_id,
        row_number=2,
        order_id=order_id,
        action=state,
        payload={"kind": "state", "name": state},
    )
    ledger.mark_step(journal, key, "sent")
    return key


def impatient_client(sandbox, *, write_settle: float) -> SelldoneClient:
    """A client that gives up on an answer after 0.5 s."""
    return SelldoneClient(
        sandbox.url,
        sandbox.shop_id,
        sandbox.token,
        requests_per_minute=100_000,
        timeout=0.5,
        write_settle=write_settle,
    )


def rows(*pairs):
    return [RowWork(n + 2, oid, req) for n, (oid, req) in enumerate(pairs)]


def test_replay_fills_gaps_in_order(sandbox, client, journal):
    """CheckQueue → ToCustomer is four POSTs, one per step, in sequence."""
    order = sandbox.add_order()
    result = replay(
        client, journal, rows((order["id"], FulfilmentRequest(state=S.TO_CUSTOMER)))
    )
    assert [o.outcome for o in result.outcomes] == ["applied"]
    assert state_posts(sandbox) == [
        (order["id"], "OrderConfirm"),
        (order["id"], "PreparingOrder"),
        (order["id"], "SentOrder"),
        (order["id"], "ToCustomer"),
    ]
    assert sandbox.get_order(order["id"])["delivery_state"] == "ToCustomer"
    assert result.outcomes[0].calls == 5  # one GET (unknown order) + four POSTs


def test_replay_second_row_uses_known_state(sandbox, client, journal):
    """A later row for the same order is planned from what the first row left: no GET."""
    order = sandbox.add_order()
    work = rows(
        (
            order["id"],
            FulfilmentRequest(state=S.ORDER_CONFIRM, items=(order["items"][0]["id"],)),
        ),
        (order["id"], FulfilmentRequest(state=S.SENT_ORDER, tracking_code="00340434")),
    )
    result = replay(client, journal, work)
    assert [o.outcome for o in result.outcomes] == ["applied", "applied"]
    gets = [c for c in sandbox.calls() if c.method == "GET"]
    assert len(gets) == 1
    shop = sandbox.get_order(order["id"])
    assert shop["delivery_state"] == "SentOrder"
    assert shop["delivery_info"]["tracking_code"] == "00340434"
    assert [i["check"] for i in shop["items"]] == [True] + [False] * (
        len(shop["items"]) - 1
    )
    assert_no_skip_no_repeat(sandbox, {order["id"]: "CheckQueue"})


def test_replay_already_past_is_already_done_without_post(sandbox, client, journal):
    """Asking for a state the order has passed sends nothing and says already-done."""
    order = sandbox.add_order(delivery_state="SentOrder")
    result = replay(
        client, journal, rows((order["id"], FulfilmentRequest(state=S.PREPARING_ORDER)))
    )
    (outcome,) = result.outcomes
    assert outcome.outcome == "already-done"
    assert "past PreparingOrder" in outcome.message
    assert [c.method for c in sandbox.calls()] == ["GET"]


def test_replay_stale_state_refreshes_once_and_replans(sandbox, client, journal):
    """A refused step from a stale remembered state → one GET, re-plan, then success."""
    order = sandbox.add_order(delivery_state="SentOrder")
    ledger.remember_order(journal, order["id"], "OrderConfirm")  # stale knowledge
    result = replay(
        client, journal, rows((order["id"], FulfilmentRequest(state=S.TO_CUSTOMER)))
    )
    assert [o.outcome for o in result.outcomes] == ["applied"]
    calls = [
        (c.method, c.path.rsplit("/", 1)[-1], c.body and c.body.get("state"))
        for c in sandbox.calls()
    ]
    assert calls == [
        ("POST", "state", "PreparingOrder"),  # refused: the order is past it
        ("GET", str(order["id"]), None),
        ("POST", "state", "ToCustomer"),
    ]
    assert sandbox.get_order(order["id"])["delivery_state"] == "ToCustomer"


def test_replay_remembered_checkqueue_is_reread_before_orderconfirm(
    sandbox, client, journal
):
    """OrderConfirm is never sent from remembered data: a re-confirm would reset item checks."""
    order = sandbox.add_order()
    ledger.remember_order(journal, order["id"], "CheckQueue")
    sandbox.update_order(
        order["id"], delivery_state="PreparingOrder"
    )  # done in the dashboard
    result = replay(
        client, journal, rows((order["id"], FulfilmentRequest(state=S.SENT_ORDER)))
    )
    assert [o.outcome for o in result.outcomes] == ["applied"]
    assert state_posts(sandbox) == [(order["id"], "SentOrder")]


def test_replay_refusal_that_stands_rejects_row_with_api_message(
    sandbox, client, journal
):
    """A cancelled order's step is refused; the row is rejected with the shop's words."""
    order = sandbox.add_order(status="Canceled")
    result = replay(
        client, journal, rows((order["id"], FulfilmentRequest(state=S.SENT_ORDER)))
    )
    (outcome,) = result.outcomes
    assert outcome.outcome == "rejected"
    assert outcome.message == (
        "Selldone refused POST state OrderConfirm: "
        f"Order {order['id']} has status Canceled; only Payed or COD orders can be processed."
    )
    assert [c.method for c in sandbox.calls()] == ["GET", "POST"]
    row = ledger.row_records(journal, 1)[2]
    assert row.outcome == "rejected"


def test_replay_unknown_order_rejected(sandbox, client, journal):
    """An order id the shop does not know (404) rejects that row, the next row goes on."""
    order = sandbox.add_order()
    result = replay(
        client,
        journal,
        rows(
            (999_999, FulfilmentRequest(state=S.ORDER_CONFIRM)),
            (order["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)),
        ),
    )
    assert [o.outcome for o in result.outcomes] == ["rejected", "applied"]
    assert result.outcomes[0].message == (
        "Order 999999 was not found in the shop (404: Basket not found.); check the order id."
    )
    assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"


def test_replay_invalid_tracking_url_rejected_after_earlier_steps(
    sandbox, client, journal
):
    """A 422 on the tracking PUT rejects the row and says which steps were already sent."""
    order = sandbox.add_order()
    result = replay(
        client,
        journal,
        rows(
            (
                order["id"],
                FulfilmentRequest(state=S.SENT_ORDER, tracking_url="not a url"),
            )
        ),
    )
    (outcome,) = result.outcomes
    assert outcome.outcome == "rejected"
    assert outcome.message.startswith(
        "sent OrderConfirm, PreparingOrder; then Selldone refused PUT tracking"
    )
    assert "valid URL" in outcome.message
    assert sandbox.get_order(order["id"])["delivery_state"] == "PreparingOrder"


def test_replay_returned_from_sent(sandbox, client, journal):
    """Returned calls delivery-returned once; the order is PreparingOrder again."""
    order = sandbox.add_order(delivery_state="SentOrder")
    result = replay(
        client, journal, rows((order["id"], FulfilmentRequest(returned=True)))
    )
    assert [o.outcome for o in result.outcomes] == ["applied"]
    posts = [c.path for c in sandbox.calls() if c.method == "POST"]
    assert posts == [
        f"/shops/{sandbox.shop_id}/process-center/baskets/{order['id']}/delivery-returned"
    ]
    assert sandbox.get_order(order["id"])["delivery_state"] == "PreparingOrder"


def test_replay_returned_not_sent_rejected_without_call(sandbox, client, journal):
    """Returned for an order that is not SentOrder is rejected; nothing is posted."""
    order = sandbox.add_order(delivery_state="PreparingOrder")
    result = replay(
        client, journal, rows((order["id"], FulfilmentRequest(returned=True)))
    )
    assert result.outcomes[0].outcome == "rejected"
    assert "fits only an order that was sent" in result.outcomes[0].message
    assert [c.method for c in sandbox.calls()] == ["GET"]


def test_replay_delivery_info_merged_into_existing(sandbox, client, journal):
    """Weight and carrier are merged into the order's existing delivery_info."""
    order = sandbox.add_order(delivery_state="OrderConfirm")
    before = sandbox.get_order(order["id"])["delivery_info"]
    request = FulfilmentRequest(
        state=S.PREPARING_ORDER, delivery_info={"weight": 2.5, "type": "PostFast"}
    )
    replay(client, journal, rows((order["id"], request)))
    after = sandbox.get_order(order["id"])["delivery_info"]
    assert after == {**before, "weight": 2.5, "type": "PostFast"}
    (post,) = [c for c in sandbox.calls() if c.method == "POST"]
    assert post.body["delivery_info"] == {**before, "weight": 2.5, "type": "PostFast"}


def test_replay_sent_step_already_applied_is_confirmed_without_resend(
    sandbox, client, journal
):
    """A step left 'sent' by a crash that did reach the shop is confirmed after one GET."""
    order = sandbox.add_order(delivery_state="OrderConfirm")  # the lost answer's effect
    work = rows((order["id"], FulfilmentRequest(state=S.PREPARING_ORDER)))
    file_id = register(journal, work)
    key = left_sent(journal, file_id, order["id"], "OrderConfirm")
    result = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
    )
    assert [o.outcome for o in result.outcomes] == ["applied"]
    assert state_posts(sandbox) == [(order["id"], "PreparingOrder")]
    assert ledger.step(journal, key).state == "confirmed"


def test_replay_sent_step_not_applied_is_resent(sandbox, client, journal):
    """A step left 'sent' that never reached the shop is sent again (once)."""
    order = sandbox.add_order()
    work = rows((order["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)))
    file_id = register(journal, work)
    left_sent(journal, file_id, order["id"], "OrderConfirm")
    result = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
    )
    assert [o.outcome for o in result.outcomes] == ["applied"]
    assert state_posts(sandbox) == [(order["id"], "OrderConfirm")]


def test_replay_recent_sent_step_waits_for_in_flight_request(sandbox, client, journal):
    """A maybe-sent step younger than the grace is not checked yet: the row stays pending."""
    order = sandbox.add_order()
    work = rows((order["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)))
    file_id = register(journal, work)
    key = left_sent(journal, file_id, order["id"], "OrderConfirm")
    result = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=30
    )
    assert not result.stopped  # only the order is held, not the file
    assert set(result.held) == {order["id"]}
    assert 29 < (result.retry_in or 0) <= 30
    assert [o.outcome for o in result.outcomes] == ["pending"]
    assert [c.method for c in sandbox.calls()] == ["GET"]  # looked, did not resend
    assert ledger.step(journal, key).state == "sent"
    # Asked again within the grace (a watcher woken by new files): no second look.
    again = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=30
    )
    assert again.retry_in is not None
    assert 28 < again.retry_in <= 30
    assert [c.method for c in sandbox.calls()] == ["GET"]


def test_replay_recent_sent_step_the_order_shows_is_confirmed_at_once(
    sandbox, client, journal
):
    """Within the grace, a maybe-sent step the order already shows needs no waiting."""
    order = sandbox.add_order(delivery_state="OrderConfirm")
    work = rows((order["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)))
    file_id = register(journal, work)
    key = left_sent(journal, file_id, order["id"], "OrderConfirm")
    result = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=30
    )
    assert [o.outcome for o in result.outcomes] == ["applied"]
    assert result.retry_in is None
    assert state_posts(sandbox) == []
    assert ledger.step(journal, key).state == "confirmed"


def test_replay_write_that_outlives_the_client_timeout_is_not_sent_twice(
    sandbox, journal
):
    """The client gives up, the shop applies the write later: no second POST (D1)."""
    order = sandbox.add_order()
    work = rows((order["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)))
    file_id = register(journal, work)
    sandbox.faults.delay_next(1.5, method="POST", path_contains="/state")
    with impatient_client(sandbox, write_settle=3.0) as impatient:
        assert impatient.write_settle == 3.0
        first = replay_rows(impatient, journal, work, file_id=file_id, file_sha=SHA)
        # Timed out: maybe applied. One GET does not show it yet: the order is held.
        assert first.unavailable is None
        assert set(first.held) == {order["id"]}
        assert first.retry_in is not None
        # At once, the order does not show it yet, but the request is still running.
        second = replay_rows(impatient, journal, work, file_id=file_id, file_sha=SHA)
        assert second.retry_in is not None
        assert second.retry_in > 0
        assert wait_until(
            lambda: sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"
        )
        # Once the grace has passed, one look settles it.
        third = replay_rows(
            impatient, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
        )
    assert [o.outcome for o in third.outcomes] == ["applied"]
    assert state_posts(sandbox) == [(order["id"], "OrderConfirm")]


def test_replay_503_then_a_timed_out_retry_is_held_not_resent(sandbox, journal):
    """The first attempt gets a 503 (retried), the retry outlives the client timeout:
    that retry may still be running in the shop, so the order is held for the settle
    time, not resent at once (found in review: it was applied twice)."""
    order = sandbox.add_order(delivery_state="PreparingOrder")
    work = rows((order["id"], FulfilmentRequest(state=S.SENT_ORDER)))
    file_id = register(journal, work)
    where = {"method": "POST", "path_contains": f"/{order['id']}/state"}
    sandbox.faults.fail_next(503, **where)
    sandbox.faults.delay_next(0.0, **where)  # the 503 takes the first delay slot
    sandbox.faults.delay_next(1.5, **where)  # the retry outlives the 0.5 s timeout
    with impatient_client(sandbox, write_settle=30.0) as impatient:
        first = replay_rows(impatient, journal, work, file_id=file_id, file_sha=SHA)
        assert set(first.held) == {order["id"]}
        assert wait_until(
            lambda: sandbox.get_order(order["id"])["delivery_state"] == "SentOrder"
        )
        done = replay_rows(
            impatient, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
        )
    assert [o.outcome for o in done.outcomes] == ["applied"]
    posts = [c.status for c in sandbox.calls() if c.method == "POST"]
    assert posts == [503, 200]  # the retry applied it; nothing sent a third time


def test_replay_files_keeps_each_row_in_its_own_file_when_the_api_goes_away(
    sandbox, client, journal
):
    """Two files replayed together, one sender; order Y's writes keep failing: the
    rows not reached are recorded in their own files (order Z has a row in each),
    and the applied row of the first file keeps its outcome."""
    x, y, z = (sandbox.add_order(delivery_state="OrderConfirm")["id"] for _ in range(3))
    go = FulfilmentRequest(state=S.PREPARING_ORDER)
    a_rows = rows((x, go), (y, go), (z, go))
    b_rows = [RowWork(2, z, FulfilmentRequest(state=S.SENT_ORDER))]
    a = register(journal, a_rows)
    b = register(journal, b_rows)
    sandbox.faults.fail_next(503, times=100, path_contains=f"/{y}/")
    first, second = replay_files(
        client,
        journal,
        [FileRows(a, SHA, a_rows), FileRows(b, "b" * 64, b_rows)],
        concurrency=1,
    )
    assert first.unavailable is not None
    assert [(o.order_id, o.outcome) for o in first.outcomes] == [
        (x, "applied"),
        (y, "pending"),
        (z, "pending"),
    ]
    assert [(o.order_id, o.outcome, o.message) for o in second.outcomes] == [
        (z, "pending", "not reached")
    ]
    assert ledger.row_records(journal, a)[2].outcome == "applied"


@pytest.mark.parametrize(("status", "waits"), [(500, False), (502, True), (504, True)])
def test_replay_write_answered_with_an_error_is_looked_at_by_its_answer(
    sandbox, client, journal, status, waits
):
    """A 500 means the shop is done with the request: check and resend at once. A
    gateway's 502/504 may hide a request still running behind it: wait the grace."""
    order = sandbox.add_order()
    work = rows((order["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)))
    file_id = register(journal, work)
    sandbox.faults.fail_next(status, method="POST", path_contains="/state")
    first = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=30
    )
    assert [o.outcome for o in first.outcomes] == ["pending"]
    second = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=30
    )
    posts = [c.status for c in sandbox.calls() if c.method == "POST"]
    if waits:
        assert second.retry_in is not None
        assert posts == [status]
    else:
        assert [o.outcome for o in second.outcomes] == ["applied"]
        assert posts == [status, 200]
        assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"


@pytest.mark.parametrize("tracking", [None, "RET-1"])
def test_replay_returned_whose_answer_was_lost_is_applied_not_rejected(
    sandbox, client, journal, tracking
):
    """delivery-returned lands but its answer is lost: one GET shows it, and the same
    run reports it applied (D2); nothing is sent twice, a rerun sends nothing."""
    order = sandbox.add_order(delivery_state="SentOrder")
    work = rows((order["id"], FulfilmentRequest(returned=True, tracking_code=tracking)))
    file_id = register(journal, work)
    sandbox.faults.drop_next(
        method="POST", path_contains="delivery-returned", after_processing=True
    )
    first = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
    )
    assert [o.outcome for o in first.outcomes] == ["applied"]
    assert "delivery-returned" in first.outcomes[0].message
    second = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
    )
    assert [o.outcome for o in second.outcomes] == ["applied"]
    assert second.calls == 0
    returned = [c for c in sandbox.calls() if "delivery-returned" in c.path]
    assert len(returned) == 1
    assert sandbox.get_order(order["id"])["delivery_state"] == "PreparingOrder"
    tracked = sandbox.get_order(order["id"]).get("delivery_info") or {}
    assert tracked.get("tracking_code") == tracking


def test_replay_dropped_connection_past_its_settle_time_is_looked_for_and_resent(
    sandbox, client, journal
):
    """A dropped write is unsure: one GET (the API is up, the order does not show it)
    and, with no settle time left, one resend in the same run; no double POST."""
    orders = [sandbox.add_order() for _ in range(2)]
    work = rows(
        *[(o["id"], FulfilmentRequest(state=S.PREPARING_ORDER)) for o in orders]
    )
    file_id = register(journal, work)
    sandbox.faults.drop_next(
        times=1, method="POST", path_contains=f"{orders[0]['id']}/state"
    )
    first = replay_rows(
        client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
    )
    assert first.unavailable is None
    assert [o.outcome for o in first.outcomes] == ["applied", "applied"]
    dropped = [c for c in sandbox.calls() if f"{orders[0]['id']}" in c.path]
    # read, the dropped OrderConfirm, the look, OrderConfirm again, PreparingOrder
    assert [c.method for c in dropped] == ["GET", "POST", "GET", "POST", "POST"]
    assert_no_skip_no_repeat(sandbox, {o["id"]: "CheckQueue" for o in orders})
    assert {sandbox.get_order(o["id"])["delivery_state"] for o in orders} == {
        "PreparingOrder"
    }


def test_replay_503_burst_and_429_recover_without_duplicates(sandbox, client, journal):
    """503s and a 429 with Retry-After are retried by the client; each step lands once."""
    orders = [sandbox.add_order() for _ in range(3)]
    sandbox.faults.fail_next(503, times=2, method="POST")
    sandbox.faults.fail_next(429, times=1, method="PUT", retry_after=1)
    work = rows(
        *[
            (
                o["id"],
                FulfilmentRequest(state=S.SENT_ORDER, tracking_code=f"T{o['id']}"),
            )
            for o in orders
        ]
    )
    result = replay(client, journal, work)
    assert [o.outcome for o in result.outcomes] == ["applied"] * 3
    assert_no_skip_no_repeat(sandbox, {o["id"]: "CheckQueue" for o in orders})
    for o in orders:
        shop = sandbox.get_order(o["id"])
        assert (shop["delivery_state"], shop["delivery_info"]["tracking_code"]) == (
            "SentOrder",
            f"T{o['id']}",
        )


def test_replay_revoked_token_stops_at_once_and_loses_nothing(sandbox, client, journal):
    """401 mid-file raises AuthError; the in-flight step is 'planned' again; rerun finishes."""
    orders = [sandbox.add_order() for _ in range(3)]
    work = rows(
        *[(o["id"], FulfilmentRequest(state=S.PREPARING_ORDER)) for o in orders]
    )
    file_id = register(journal, work)
    done = []

    def revoke_after_first(outcome):
        done.append(outcome)
        sandbox.faults.revoke_token()

    with pytest.raises(AuthError):
        replay_rows(
            client,
            journal,
            work,
            file_id=file_id,
            file_sha=SHA,
            on_row=revoke_after_first,
        )
    assert [o.outcome for o in done] == ["applied"]
    in_flight = ledger.step(journal, step_key(SHA, 3, orders[1]["id"], "OrderConfirm"))
    assert in_flight is not None
    assert in_flight.state == "planned"
    assert ledger.row_records(journal, file_id)[3].outcome == "pending"
    sandbox.faults.restore_token()
    rows_left = [
        w
        for w in work
        if ledger.row_records(journal, file_id)[w.row].outcome == "pending"
    ]
    again = replay_rows(client, journal, rows_left, file_id=file_id, file_sha=SHA)
    assert [o.outcome for o in again.outcomes] == ["applied", "applied"]
    assert_no_skip_no_repeat(sandbox, {o["id"]: "CheckQueue" for o in orders})


def test_replay_stop_event_finishes_current_step_then_stops(sandbox, client, journal):
    """A set stop event ends replay between steps; the journal has no half-done step."""
    import threading

    order = sandbox.add_order()
    stop = threading.Event()
    work = rows((order["id"], FulfilmentRequest(state=S.TO_CUSTOMER)))
    file_id = register(journal, work)

    def stop_after_first_post(record) -> None:
        if record.method == "POST":
            stop.set()

    with SelldoneClient(
        sandbox.url,
        sandbox.shop_id,
        sandbox.token,
        requests_per_minute=100_000,
        on_call=stop_after_first_post,
    ) as c:
        result = replay_rows(c, journal, work, file_id=file_id, file_sha=SHA, stop=stop)
    assert [o.outcome for o in result.outcomes] == ["pending"]
    steps = journal.query("SELECT action, state FROM steps ORDER BY id")
    assert [(r[0], r[1]) for r in steps if r[1] != "planned"] == [
        ("OrderConfirm", "confirmed")
    ]
    assert state_posts(sandbox) == [(order["id"], "OrderConfirm")]


def test_replay_prefetches_unknown_orders_with_one_list_call(sandbox, client, journal):
    """Many unknown orders cost one list call, not one GET each."""
    orders = [sandbox.add_order() for _ in range(5)]
    replay(
        client,
        journal,
        rows(*[(o["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)) for o in orders]),
    )
    gets = [c.path for c in sandbox.calls() if c.method == "GET"]
    assert gets == [f"/shops/{sandbox.shop_id}/process-center/baskets-PHYSICAL"]
    known = ledger.known_order(journal, orders[0]["id"])
    assert known is not None
    assert known.delivery_state == "OrderConfirm"


def test_replay_prefetch_finds_exported_orders_behind_a_page_of_newer_ones(
    sandbox, client, journal, tmp_path
):
    """The list call covers what was exported, even with 260 newer orders in the shop."""
    settings = make_settings(tmp_path, sandbox, extra='[export]\nsince = "2000-01-01"')
    wanted = sandbox.add_orders(5)
    exported = run_export(settings, client, journal, now=datetime.now(UTC))
    assert exported.orders >= 5
    sandbox.add_orders(260)  # the newest 250 orders no longer include `wanted`
    sandbox.clear_calls()
    result = replay(
        client,
        journal,
        rows(*[(o["id"], FulfilmentRequest(state=S.ORDER_CONFIRM)) for o in wanted]),
    )
    assert [o.outcome for o in result.outcomes] == ["applied"] * 5
    gets = [c for c in sandbox.calls() if c.method == "GET"]
    assert [c.path for c in gets] == [
        f"/shops/{sandbox.shop_id}/process-center/baskets-PHYSICAL"
    ]
    assert "updated_at" in gets[0].query


def test_plan_rows_dry_lists_calls_and_changes_nothing(sandbox, client, journal):
    """A dry run lists the calls it would make and sends no write."""
    order = sandbox.add_order()
    work = rows(
        (order["id"], FulfilmentRequest(state=S.PREPARING_ORDER)),
        (order["id"], FulfilmentRequest(state=S.SENT_ORDER, tracking_code="Z9")),
    )
    planned = plan_rows_dry(
        client, journal, work, source="s.csv", book=OrderBook(client, None)
    )
    assert [(p.row, p.method, p.description) for p in planned] == [
        (2, "POST", "POST state OrderConfirm"),
        (2, "POST", "POST state PreparingOrder"),
        (3, "PUT", "PUT tracking (code Z9)"),
        (3, "POST", "POST state SentOrder"),
    ]
    assert {c.method for c in sandbox.calls()} == {"GET"}
    assert sandbox.get_order(order["id"])["delivery_state"] == "CheckQueue"
    assert journal.query("SELECT count(*) FROM order_states")[0][0] == 0


def test_remember_order_roundtrips_delivery_info(journal):
    """order_states keeps delivery_info (numbers exact) and keeps old values on None."""
    ledger.remember_order(
        journal, 7, "OrderConfirm", delivery_info={"weight": 1.2}, tracking=("A", None)
    )
    ledger.remember_order(journal, 7, "PreparingOrder")
    known = ledger.known_order(journal, 7)
    assert known is not None
    assert (
        known.delivery_state,
        known.tracking_code,
        str(known.delivery_info["weight"]),
    ) == (
        "PreparingOrder",
        "A",
        "1.2",
    )
    assert datetime.fromisoformat(known.known_at) > datetime.now(UTC) - timedelta(
        minutes=1
    )
