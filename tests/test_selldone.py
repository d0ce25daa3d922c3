"""SelldoneClient over real HTTP against the sandbox, and the client-side rate limiter.

No request is mocked: faults are armed on the sandbox, and the sandbox's call log is the
evidence of what went over the wire. The limiter's own tests use an injected fake clock.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import stamina
from hypothesis import given, settings
from hypothesis import strategies as st

from filebridge.errors import (
    ApiRejectedError,
    ApiUnavailableError,
    AuthError,
    RequestFate,
    TransitionRejectedError,
)
from filebridge.selldone.client import CallRecord, SelldoneClient
from filebridge.selldone.models import FulfilmentState, Order
from filebridge.selldone.ratelimit import RateLimiter

F = FulfilmentState
LIST_PATH = "/process-center/baskets-PHYSICAL"


# --- helpers ----------------------------------------------------------------------------


class FakeClock:
    """A clock that only moves when the limiter sleeps (or the test advances it)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def max_in_window(times: list[float], window: float) -> int:
    """The largest number of `times` inside any half-open interval of length `window`."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, t in enumerate(ordered):
        while t - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def make_client(sandbox: Any, **kwargs: Any) -> SelldoneClient:
    kwargs.setdefault("timeout", 5.0)
    kwargs.setdefault("limiter", RateLimiter(100_000))
    token = kwargs.pop("token", sandbox.token)
    return SelldoneClient(sandbox.url, sandbox.shop_id, token, **kwargs)


@pytest.fixture
def client(sandbox: Any) -> Iterator[SelldoneClient]:
    with make_client(sandbox) as c:
        yield c


def payed_ids(sandbox: Any) -> set[int]:
    return {
        o["id"]
        for o in sandbox.orders()
        if o["status"] == "Payed" and o["type"] == "PHYSICAL"
    }


def fill_to(sandbox: Any, count: int) -> set[int]:
    """Add Payed orders until the shop has `count` Payed PHYSICAL orders."""
    missing = count - len(payed_ids(sandbox))
    if missing > 0:
        sandbox.add_orders(missing)
    ids = payed_ids(sandbox)
    assert len(ids) == count
    return ids


def first_order_in(sandbox: Any, state: str) -> int:
    for order in sandbox.orders():
        if (
            order["delivery_state"] == state
            and order["status"] in ("Payed", "COD")
            and order["type"] == "PHYSICAL"
            and not order.get("reject")
        ):
            return int(order["id"])
    return int(sandbox.add_order(delivery_state=state)["id"])


def calls_to(sandbox: Any, method: str, fragment: str) -> list[Any]:
    return [c for c in sandbox.calls() if c.method == method and fragment in c.path]


def wait_for(predicate: Any, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return bool(predicate())


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# --- rate limiter (fake clock, no sleeping) ---------------------------------------------


def test_limiter_never_exceeds_budget_in_any_window():
    """55 back-to-back acquires at 10 per 2 s never put 11 starts in one 2 s window."""
    clock = FakeClock()
    limiter = RateLimiter(
        10, window_seconds=2.0, margin_seconds=0.0, clock=clock, sleep=clock.sleep
    )
    starts = []
    for _ in range(55):
        limiter.acquire()
        starts.append(clock.now)
    assert max_in_window(starts, 2.0 - 1e-9) == 10
    assert starts[10] - starts[0] >= 2.0
    assert clock.now - 1000.0 == pytest.approx(10.0)  # 5 full windows waited


@settings(max_examples=60)
@given(
    per_window=st.integers(1, 8),
    gaps=st.lists(st.floats(0, 1.5, allow_nan=False), min_size=1, max_size=60),
)
def test_limiter_property_any_arrival_pattern(per_window, gaps):
    """For any arrival pattern, no window of 1 s (+margin) holds more than N starts."""
    clock = FakeClock()
    limiter = RateLimiter(
        per_window,
        window_seconds=1.0,
        margin_seconds=0.05,
        clock=clock,
        sleep=clock.sleep,
    )
    arrival = clock.now
    starts = []
    for gap in gaps:
        arrival += gap
        clock.now = max(clock.now, arrival)
        limiter.acquire()
        starts.append(clock.now)
    assert max_in_window(starts, 1.05 - 1e-9) <= per_window
    assert all(s >= a for s, a in zip(starts, sorted(starts), strict=True))


def test_limiter_pause_until_holds_every_caller_back():
    """After pause_until(t) no acquire returns before t, even with budget left."""
    clock = FakeClock()
    limiter = RateLimiter(80, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.pause_until(clock.now + 7.5)
    assert limiter.pause_remaining() == pytest.approx(7.5)
    waited = limiter.acquire()
    assert waited == pytest.approx(7.5)
    assert clock.now == pytest.approx(1007.5)
    assert limiter.pause_remaining() == 0


def test_limiter_pause_is_never_shortened():
    """A later, shorter pause does not cut an earlier, longer one."""
    clock = FakeClock()
    limiter = RateLimiter(5, clock=clock, sleep=clock.sleep)
    limiter.pause_for(30)
    limiter.pause_for(1)
    limiter.acquire()
    assert clock.now == pytest.approx(1030.0)


def test_limiter_is_thread_safe_in_real_time():
    """Four threads sharing one limiter (6 per 0.3 s) never exceed it in any window."""
    limiter = RateLimiter(6, window_seconds=0.3, margin_seconds=0.0)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(6):
            limiter.acquire()
            with lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(starts) == 24
    assert max_in_window(starts, 0.3 - 0.01) <= 6


def test_limiter_rejects_a_nonsense_budget():
    """A budget below 1 is a programming error, reported at construction."""
    with pytest.raises(ValueError, match="per_window"):
        RateLimiter(0)


# --- reading and paging -----------------------------------------------------------------


def test_list_orders_sends_the_documented_query(sandbox, client):
    """Arrays go as key[]=v, the sort is oldest-first and updated_at is in seconds."""
    since = int(datetime(2020, 1, 1, tzinfo=UTC).timestamp())
    page = client.list_orders(offset=0, limit=7, updated_since=since)
    (call,) = calls_to(sandbox, "GET", LIST_PATH)
    assert call.query["statuses[]"] == ["Payed"]
    assert call.query["with[]"] == ["items", "buyer", "products"]
    assert call.query["sortBy"] == ["reserved_at"]
    assert call.query["sortDesc"] == ["false"]
    assert call.query["updated_at"] == [str(since)]
    assert call.query["limit"] == ["7"]
    assert len(page.orders) == 7
    assert page.total == len(payed_ids(sandbox))
    reserved = [o.reserved_at for o in page.orders]
    assert reserved == sorted(reserved)  # type: ignore[type-var]


def test_base_url_with_trailing_slash_and_default_limiter(sandbox):
    """A trailing slash in base_url is harmless; the default limiter has the given budget."""
    with SelldoneClient(
        sandbox.url + "/", sandbox.shop_id, sandbox.token, requests_per_minute=7
    ) as c:
        assert len(c.list_orders(offset=0, limit=2).orders) == 2
        assert (c.limiter.per_window, c.limiter.window_seconds) == (7, 60.0)
    assert [call.path for call in sandbox.calls()] == [
        f"/shops/{sandbox.shop_id}/process-center/baskets-PHYSICAL"
    ]


def test_updated_since_returns_only_recently_updated_orders(sandbox, client):
    """An order touched now is returned for updated_since=now-5s; old ones are not."""
    target = sorted(payed_ids(sandbox))[0]
    sandbox.update_order(target, delivery_price=1.25)
    since = int(time.time()) - 5
    ids = [o.id for o in client.iter_orders(updated_since=since)]
    assert target in ids
    recent = [
        o["id"]
        for o in sandbox.orders()
        if o["status"] == "Payed"
        and datetime.fromisoformat(o["updated_at"]).timestamp() >= since
    ]
    assert sorted(ids) == sorted(recent)


def test_iter_orders_pages_1000_orders_exactly_once(sandbox, client):
    """1,000 Payed orders in pages of 100 come out once each, in ~11 calls."""
    expected = fill_to(sandbox, 1000)
    sandbox.clear_calls()
    ids = [o.id for o in client.iter_orders(page_size=100)]
    assert len(ids) == len(set(ids)) == 1000
    assert set(ids) == expected
    assert len(calls_to(sandbox, "GET", LIST_PATH)) == 11  # 95 new ids per page


def test_plain_offset_paging_oldest_first_survives_appended_orders(sandbox, client):
    """Paging oldest-first while orders arrive: new orders append, none lost or doubled."""
    before = fill_to(sandbox, 1000)
    seen: list[int] = []
    offset = 0
    while True:
        page = client.list_orders(offset=offset, limit=100)
        if not page.orders:
            break
        seen += [o.id for o in page.orders]
        offset += len(page.orders)
        if offset < 800:
            sandbox.add_orders(10)  # arrive between page requests
    assert len(seen) == len(set(seen))
    assert set(seen) == payed_ids(sandbox)
    assert before < set(seen)


def test_iter_orders_with_orders_inserted_and_added_mid_way(sandbox, client):
    """New orders, an order inserted early (a shift) and cancellations lose nothing."""
    fill_to(sandbox, 1000)
    cancelled: set[int] = set()
    yielded: list[int] = []
    for order in client.iter_orders(page_size=100):
        yielded.append(order.id)
        if len(yielded) % 100 == 50 and len(yielded) < 800:
            sandbox.add_orders(7)
            # reserved long ago: sorts before everything, shifting later pages by one
            sandbox.add_order(reserved_at=datetime(2001, 1, 1, tzinfo=UTC))
            cancelled_id = yielded[len(yielded) // 2]
            sandbox.update_order(cancelled_id, status="Canceled")
            cancelled.add(cancelled_id)
    assert len(yielded) == len(set(yielded))
    at_end = payed_ids(sandbox)
    assert at_end <= set(yielded)
    assert set(yielded) - at_end == cancelled
    assert len(at_end) > 1000


def test_iter_orders_check_call_catches_a_shift_with_unchanged_total(sandbox, client):
    """One order cancelled behind the cursor and one added keep `total`: the check call
    after the pass sees the cancelled one, and a second pass re-reads from its page on."""
    fill_to(sandbox, 1000)
    sandbox.clear_calls()
    yielded: list[int] = []
    for order in client.iter_orders(page_size=100):
        yielded.append(order.id)
        if len(yielded) == 500:  # page 5 read, page 6 not yet requested
            sandbox.update_order(yielded[450], status="Canceled")
            sandbox.add_order()
    assert len(yielded) == len(set(yielded)) == 1001
    assert payed_ids(sandbox) <= set(yielded)
    calls = calls_to(sandbox, "GET", LIST_PATH)
    assert [c.query["statuses[]"] for c in calls].count(["Payed"]) == len(calls) - 1
    check = next(n for n, c in enumerate(calls) if c.query["statuses[]"] != ["Payed"])
    assert check == 10  # ten pages without overlap, then the check call
    # from the cancelled order's page (offset 400), less the one order that left
    assert calls[check + 1].query["offset"] == ["399"]


def test_iter_orders_repasses_when_earlier_orders_leave_the_filter(sandbox, client):
    """Orders cancelled behind the cursor shift later ones back; a second pass finds them."""
    fill_to(sandbox, 1000)
    yielded: list[int] = []
    for order in client.iter_orders(page_size=100):
        yielded.append(order.id)
        if len(yielded) == 300:
            for early in yielded[:40]:  # far more than the 5-record overlap
                sandbox.update_order(early, status="Canceled")
    assert len(yielded) == len(set(yielded)) == 1000
    assert payed_ids(sandbox) <= set(yielded)


def test_iter_orders_while_another_thread_adds_orders(sandbox, client):
    """Orders added by another thread during paging are all yielded, none twice."""
    before = fill_to(sandbox, 600)
    started = threading.Event()
    added: list[int] = []

    def add_orders() -> None:
        started.wait(10)
        for _ in range(60):
            added.append(sandbox.add_order()["id"])

    adder = threading.Thread(target=add_orders)
    adder.start()
    yielded: list[int] = []
    try:
        for order in client.iter_orders(page_size=100):
            yielded.append(order.id)
            if len(yielded) == 150:
                started.set()
            if len(yielded) == 300:
                adder.join(10)  # all additions land before the later pages are read
    finally:
        started.set()
        adder.join(10)
    assert len(added) == 60
    assert len(yielded) == len(set(yielded))
    assert set(yielded) == before | set(added)


def test_get_order_parses_the_basket(sandbox, client):
    """GET one order returns the parsed order with items, money and SKUs."""
    raw = sandbox.get_order(sorted(payed_ids(sandbox))[0])
    order = client.get_order(raw["id"])
    assert isinstance(order, Order)
    assert order.id == raw["id"]
    assert order.price == Decimal(str(raw["price"]))
    assert [i.id for i in order.items] == [i["id"] for i in raw["items"]]
    assert order.reserved_at is not None
    assert order.reserved_at.tzinfo is not None
    for item, raw_item in zip(order.items, raw["items"], strict=True):
        variant_sku = (raw_item.get("variant") or {}).get("sku")
        product_sku = (raw_item.get("product") or {}).get("sku")
        assert item.resolved_sku() == (variant_sku or product_sku or None)


# --- writes -------------------------------------------------------------------------------


def test_post_state_walks_the_sequence_step_by_step(sandbox, client):
    """Each step is accepted in order; ToCustomer sets delivery_at; re-sending is no change."""
    order_id = first_order_in(sandbox, "CheckQueue")
    items = [i["id"] for i in sandbox.get_order(order_id)["items"]]
    first = client.post_state(order_id, F.ORDER_CONFIRM, items=items[:1])
    assert (first.delivery_state, first.changed) == ("OrderConfirm", True)
    assert [i["check"] for i in sandbox.get_order(order_id)["items"]] == [
        i == items[0] for i in items
    ]
    info = client.get_order(order_id).delivery_info_raw()
    info["weight"] = Decimal("2.5")
    prepared = client.post_state(order_id, F.PREPARING_ORDER, delivery_info=info)
    assert prepared.fulfilment_state is F.PREPARING_ORDER
    assert sandbox.get_order(order_id)["delivery_info"]["weight"] == 2.5
    assert client.post_state(order_id, F.SENT_ORDER).changed
    done = client.post_state(order_id, F.TO_CUSTOMER)
    assert done.delivery_state == "ToCustomer"
    assert done.delivery_at is not None
    assert done.delivery_at.tzinfo is not None
    assert done.raw["changed"] is True
    assert sandbox.get_order(order_id)["delivery_state"] == "ToCustomer"


def test_delivery_returned_moves_a_sent_order_back(sandbox, client):
    """delivery-returned on a SentOrder answers with the new state and changes it."""
    order_id = first_order_in(sandbox, "SentOrder")
    change = client.post_delivery_returned(order_id)
    assert change.changed
    assert sandbox.get_order(order_id)["delivery_state"] == change.delivery_state
    assert change.delivery_state != "SentOrder"


def test_tracking_round_trip_lands_in_delivery_info(sandbox, client):
    """PUT tracking stores code and URL in the order's delivery_info."""
    order_id = first_order_in(sandbox, "PreparingOrder")
    url = "https://www.dhl.de/track?id=00340434161094042557"
    result = client.put_tracking(
        order_id, tracking_code="00340434161094042557", tracking_url=url
    )
    assert result.tracking_code == "00340434161094042557"
    assert result.delivery_info is not None
    assert result.delivery_info.tracking_url == url
    again = client.get_order(order_id)
    assert again.delivery_info is not None
    assert again.delivery_info.tracking_code == "00340434161094042557"
    assert again.delivery_info_raw()["tracking_url"] == url


# --- error classification -----------------------------------------------------------------


def test_skipped_step_is_a_transition_rejection_with_the_api_message(sandbox, client):
    """CheckQueue → SentOrder comes back as {error:true} on HTTP 200: TransitionRejectedError."""
    order_id = first_order_in(sandbox, "CheckQueue")
    with pytest.raises(TransitionRejectedError) as caught:
        client.post_state(order_id, F.SENT_ORDER)
    error = caught.value
    assert error.status == 200
    assert error.api_message
    assert error.api_message in str(error)
    assert error.path.endswith(f"/baskets/{order_id}/state")
    assert sandbox.get_order(order_id)["delivery_state"] == "CheckQueue"


def test_app_error_on_200_carries_the_error_msg(sandbox, client):
    """A 200 `{error: true, error_msg}` is rejected with exactly that message."""
    body = {"error": True, "error_msg": "Order is not in a valid state.", "code": 1234}
    sandbox.faults.fail_next(status=200, body=body, method="POST")
    order_id = first_order_in(sandbox, "CheckQueue")
    with pytest.raises(TransitionRejectedError) as transition:
        client.post_state(order_id, F.ORDER_CONFIRM)
    assert transition.value.api_message == "Order is not in a valid state."
    sandbox.faults.fail_next(status=200, body=body, method="GET")
    with pytest.raises(ApiRejectedError) as read:
        client.get_order(order_id)
    assert not isinstance(read.value, TransitionRejectedError)
    assert read.value.api_message == "Order is not in a valid state."


def test_app_error_on_422_is_still_a_transition_rejection(sandbox, client):
    """With app errors sent as HTTP 422 the refusal is still TransitionRejectedError."""
    sandbox.options.app_error_status = 422
    order_id = first_order_in(sandbox, "CheckQueue")
    with pytest.raises(TransitionRejectedError) as caught:
        client.post_state(order_id, F.TO_CUSTOMER)
    assert caught.value.status == 422
    assert caught.value.api_message


def test_invalid_tracking_url_gives_field_errors(sandbox, client):
    """A 422 validation answer carries Laravel's per-field messages."""
    order_id = first_order_in(sandbox, "PreparingOrder")
    with pytest.raises(ApiRejectedError) as caught:
        client.put_tracking(order_id, tracking_code="X1", tracking_url="not a url")
    error = caught.value
    assert error.status == 422
    assert list(error.field_errors) == ["tracking_url"]
    assert "valid URL" in error.field_errors["tracking_url"][0]
    assert "tracking_url" in str(error)
    assert len(calls_to(sandbox, "PUT", "/tracking")) == 1


def test_unknown_order_is_rejected_with_404(sandbox, client):
    """An unknown order id is ApiRejectedError 404 for reads and for state changes."""
    with pytest.raises(ApiRejectedError) as read:
        client.get_order(999_999_999)
    assert read.value.status == 404
    assert "404 on GET" in str(read.value)
    with pytest.raises(ApiRejectedError) as write:
        client.post_state(999_999_999, F.ORDER_CONFIRM)
    assert write.value.status == 404
    assert not isinstance(write.value, TransitionRejectedError)


def test_wrong_token_raises_auth_error_after_one_attempt(sandbox):
    """401 is not retried: one call in the log, and the hint says how to fix it."""
    with (
        make_client(sandbox, token="wrong-token") as bad,
        pytest.raises(AuthError) as caught,
    ):
        bad.list_orders(offset=0)
    assert caught.value.status == 401
    assert "SELLDONE_TOKEN" in (caught.value.hint or "")
    assert len(sandbox.calls()) == 1


def test_revoked_token_raises_auth_error(sandbox, client):
    """A token revoked between calls turns the next call into AuthError."""
    client.list_orders(offset=0, limit=1)
    sandbox.faults.revoke_token()
    with pytest.raises(AuthError):
        client.get_order(sorted(payed_ids(sandbox))[0])
    assert [c.status for c in sandbox.calls()] == [200, 401]


def test_missing_write_scope_is_auth_error_with_api_message(sandbox, client):
    """A read-only token gets 403 on a write: AuthError with the shop's message."""
    sandbox.options.scopes = {"read"}
    order_id = first_order_in(sandbox, "CheckQueue")
    with pytest.raises(AuthError) as caught:
        client.post_state(order_id, F.ORDER_CONFIRM)
    assert caught.value.status == 403
    assert caught.value.api_message
    assert str(sandbox.shop_id) in (caught.value.hint or "")


def test_html_page_on_200_is_unavailable(sandbox, client):
    """A 200 with an HTML body (a proxy page) is ApiUnavailableError, not a crash."""
    sandbox.faults.fail_next(status=200, body="<html><body>Maintenance</body></html>")
    with pytest.raises(ApiUnavailableError) as caught:
        client.list_orders(offset=0)
    assert "not JSON" in str(caught.value)


# --- retries --------------------------------------------------------------------------


def test_get_recovers_after_three_503(sandbox, client):
    """Three 503s then success: the read is retried and returns the order."""
    order_id = sorted(payed_ids(sandbox))[0]
    sandbox.faults.fail_next(status=503, times=3, method="GET")
    with stamina.set_testing(True, attempts=5):
        order = client.get_order(order_id)
    assert order.id == order_id
    assert [c.status for c in sandbox.calls()] == [503, 503, 503, 200]


def test_get_gives_up_after_the_attempt_budget(sandbox, client):
    """A read failing every time ends in ApiUnavailableError saying nothing was lost."""
    sandbox.faults.fail_next(status=502, times=10, method="GET")
    with (
        stamina.set_testing(True, attempts=3),
        pytest.raises(ApiUnavailableError) as caught,
    ):
        client.list_orders(offset=0)
    assert caught.value.status == 502
    assert "nothing was lost" in (caught.value.hint or "")
    assert len(sandbox.calls()) == 3


def test_429_retry_after_pauses_the_shared_limiter(sandbox):
    """A 429 with Retry-After: 1 pauses the shared limiter and the retry succeeds later."""
    limiter = RateLimiter(100_000)
    records: list[CallRecord] = []
    with make_client(sandbox, limiter=limiter, on_call=records.append) as c:
        sandbox.faults.fail_next(status=429, retry_after=1, method="GET")
        started = time.monotonic()
        page = c.list_orders(offset=0, limit=3)
        elapsed = time.monotonic() - started
    assert len(page.orders) == 3
    assert [r.status for r in records] == [429, 200]
    assert (records[1].at - records[0].at) >= timedelta(seconds=0.9)
    assert elapsed >= 0.9
    assert [c.status for c in sandbox.calls()] == [429, 200]


def test_429_pause_holds_back_a_second_client(sandbox):
    """Another client sharing the limiter waits out the Retry-After too."""
    limiter = RateLimiter(100_000)
    seen_pause: list[float] = []

    def on_call(record: CallRecord) -> None:
        if record.status == 429:
            seen_pause.append(limiter.pause_remaining())

    sandbox.faults.fail_next(status=429, retry_after=1, times=1)
    with (
        make_client(sandbox, limiter=limiter, on_call=on_call) as export,
        make_client(sandbox, limiter=limiter) as replay,
    ):
        export.list_orders(offset=0, limit=1)  # hits the 429, waits, retries
        assert seen_pause
        assert 0.5 < seen_pause[0] <= 1.0
        limiter.pause_for(0.5)  # as if another 429 had just arrived
        started = time.monotonic()
        replay.list_orders(offset=0, limit=1)
        assert time.monotonic() - started >= 0.45


def test_dropped_connection_on_get_is_retried(sandbox, client):
    """A connection closed without an answer is retried for a read."""
    sandbox.faults.drop_next(method="GET")
    page = client.list_orders(offset=0, limit=2)
    assert len(page.orders) == 2
    assert [c.status for c in sandbox.calls()] == [0, 200]


def test_read_timeout_on_get_is_retried(sandbox):
    """A read that times out is retried and then succeeds."""
    sandbox.faults.delay_next(1.5, method="GET")
    with make_client(sandbox, timeout=0.5) as c:
        page = c.list_orders(offset=0, limit=2)
    assert len(page.orders) == 2
    assert wait_for(lambda: len(sandbox.calls()) == 2)


def test_write_answered_500_is_not_retried(sandbox, client):
    """A POST answered 500 may have been applied: one attempt, ApiUnavailableError."""
    order_id = first_order_in(sandbox, "CheckQueue")
    sandbox.faults.fail_next(status=500, method="POST")
    with pytest.raises(ApiUnavailableError) as caught:
        client.post_state(order_id, F.ORDER_CONFIRM)
    assert caught.value.status == 500
    assert "re-reads" in (caught.value.hint or "")
    assert len(calls_to(sandbox, "POST", "/state")) == 1


def test_write_on_dropped_connection_is_not_retried(sandbox, client):
    """A POST whose connection dropped is not repeated blindly."""
    order_id = first_order_in(sandbox, "CheckQueue")
    sandbox.faults.drop_next(method="POST")
    with pytest.raises(ApiUnavailableError) as caught:
        client.post_state(order_id, F.ORDER_CONFIRM)
    assert caught.value.fate is RequestFate.MAY_BE_RUNNING
    assert [c.status for c in calls_to(sandbox, "POST", "/state")] == [0]
    assert sandbox.get_order(order_id)["delivery_state"] == "CheckQueue"


def test_write_read_timeout_is_not_retried_although_applied(sandbox):
    """A POST that timed out was applied server-side; the client must not send it again."""
    order_id = first_order_in(sandbox, "CheckQueue")
    sandbox.faults.delay_next(1.0, method="POST")
    with (
        make_client(sandbox, timeout=0.3) as c,
        pytest.raises(ApiUnavailableError) as caught,
    ):
        c.post_state(order_id, F.ORDER_CONFIRM)
    assert "did not answer" in str(caught.value)
    assert caught.value.fate is RequestFate.MAY_BE_RUNNING
    assert wait_for(lambda: len(calls_to(sandbox, "POST", "/state")) == 1)
    time.sleep(0.3)  # give a (wrong) second attempt time to show up
    assert len(calls_to(sandbox, "POST", "/state")) == 1
    assert sandbox.get_order(order_id)["delivery_state"] == "OrderConfirm"


@pytest.mark.parametrize("status", [503, 429])
def test_write_rejected_before_processing_is_retried(sandbox, client, status):
    """A POST answered 503 or 429 was not processed, so it is retried and applied once."""
    order_id = first_order_in(sandbox, "CheckQueue")
    sandbox.faults.fail_next(status=status, method="POST", retry_after=1)
    change = client.post_state(order_id, F.ORDER_CONFIRM)
    assert change.changed
    assert [c.status for c in calls_to(sandbox, "POST", "/state")] == [status, 200]


@pytest.mark.parametrize(
    ("status", "fate"),
    [
        (429, RequestFate.NOT_PROCESSED),
        (503, RequestFate.NOT_PROCESSED),
        (500, RequestFate.ENDED),
        (502, RequestFate.MAY_BE_RUNNING),
        (504, RequestFate.MAY_BE_RUNNING),
    ],
)
def test_failed_write_says_what_the_shop_did_with_it(sandbox, client, status, fate):
    """The error tells replay whether to resend, look at once, or wait for the shop."""
    order_id = first_order_in(sandbox, "CheckQueue")
    sandbox.faults.fail_next(status=status, times=10, method="POST", retry_after=0)
    with (
        stamina.set_testing(True, attempts=2),
        pytest.raises(ApiUnavailableError) as caught,
    ):
        client.post_state(order_id, F.ORDER_CONFIRM)
    assert caught.value.status == status
    assert caught.value.fate is fate


def test_write_retried_when_connection_refused(sandbox):
    """Nobody listening: the write provably never arrived, so all attempts are made."""
    records: list[CallRecord] = []
    with (
        SelldoneClient(
            f"http://127.0.0.1:{unused_port()}",
            sandbox.shop_id,
            sandbox.token,
            timeout=2.0,
            limiter=RateLimiter(100_000),
            on_call=records.append,
        ) as c,
        stamina.set_testing(True, attempts=3),
        pytest.raises(ApiUnavailableError) as caught,
    ):
        c.post_state(1, F.ORDER_CONFIRM)
    assert [(r.method, r.status) for r in records] == [("POST", None)] * 3
    assert "could not connect" in str(caught.value)
    assert caught.value.fate is RequestFate.NOT_PROCESSED
    assert "after 3 attempts" in str(caught.value)


def test_on_call_sees_every_attempt(sandbox):
    """The journal hook gets one record per HTTP attempt, with path but no query."""
    records: list[CallRecord] = []
    sandbox.faults.fail_next(status=503, times=1, method="GET")
    with make_client(sandbox, on_call=records.append) as c:
        c.list_orders(offset=0, limit=1)
    assert [(r.method, r.status) for r in records] == [("GET", 503), ("GET", 200)]
    assert all(
        r.path.endswith("/baskets-PHYSICAL") and "?" not in r.path for r in records
    )
    assert all(r.at.tzinfo is not None for r in records)


# --- rate limit against the sandbox ---------------------------------------------------------


def test_client_limiter_keeps_the_sandbox_budget(sandbox):
    """Two clients sharing a 20-per-2s limiter: never more than 20 in any 2 s, no 429."""
    sandbox.set_rate_limit(20, window_seconds=2.0)
    limiter = RateLimiter(20, window_seconds=2.0)
    order_id = sorted(payed_ids(sandbox))[0]
    errors: list[BaseException] = []

    def work(c: SelldoneClient) -> None:
        try:
            for _ in range(25):
                c.get_order(order_id)
        except BaseException as exc:  # noqa: BLE001  (reported by the assert below)
            errors.append(exc)

    with (
        make_client(sandbox, limiter=limiter) as a,
        make_client(sandbox, limiter=limiter) as b,
    ):
        threads = [threading.Thread(target=work, args=(c,)) for c in (a, b)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
    assert errors == []
    calls = sandbox.calls()
    assert len(calls) == 50
    assert {c.status for c in calls} == {200}
    assert max_in_window([c.at for c in calls], 2.0 - 0.05) <= 20


# --- secrets ------------------------------------------------------------------------------


def test_token_never_in_errors_repr_or_logs(sandbox, caplog):
    """The token appears in no error text, hint, repr, cause or log line (DEBUG)."""
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    client = make_client(sandbox, timeout=0.3)
    texts.append(repr(client))
    order_id = first_order_in(sandbox, "CheckQueue")
    client.get_order(order_id)  # a call that carried the token successfully

    def provoke(arm: Any, call: Any) -> None:
        arm()
        with stamina.set_testing(True, attempts=2), pytest.raises(Exception) as caught:
            call()
        sandbox.faults.clear()
        error = caught.value
        texts.extend([str(error), repr(error), str(getattr(error, "hint", ""))])
        if error.__cause__ is not None:
            texts.extend([str(error.__cause__), repr(error.__cause__)])

    provoke(
        lambda: sandbox.faults.fail_next(status=500, times=2),
        lambda: client.get_order(order_id),
    )
    provoke(
        lambda: sandbox.faults.drop_next(times=2), lambda: client.list_orders(offset=0)
    )
    provoke(
        lambda: sandbox.faults.delay_next(1.0, times=2),
        lambda: client.get_order(order_id),
    )
    provoke(lambda: None, lambda: client.post_state(order_id, F.SENT_ORDER))
    provoke(lambda: None, lambda: client.get_order(999_999_999))
    provoke(lambda: None, lambda: client.put_tracking(order_id, tracking_url="nope"))
    provoke(sandbox.faults.revoke_token, lambda: client.get_order(order_id))
    with make_client(sandbox, token="x" + sandbox.token) as wrong:
        provoke(lambda: None, lambda: wrong.list_orders(offset=0))
        texts.append(repr(wrong))
    client.close()
    texts.append(caplog.text)
    texts.extend(r.getMessage() for r in caplog.records)
    assert len(texts) > 30
    assert all(sandbox.token not in text for text in texts)
    assert any("selldone" in r.name for r in caplog.records)
