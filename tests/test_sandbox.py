"""Contract tests of the Selldone sandbox, over real HTTP on loopback."""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import requests

from filebridge.sandbox import (
    HOSTILE_STRINGS,
    SEED_EPOCH,
    SHARED_SECOND,
    Sandbox,
    serve_forever_cli,
    start_sandbox,
)

SANDBOX_DIR = Path(__file__).parents[1] / "filebridge" / "sandbox"
WIRE_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000000Z")
START = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
PROCESSABLE = {"Payed", "COD"}


class ManualClock:
    """A wall clock that moves only when told to."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        self.moment += timedelta(seconds=seconds)


class TickClock:
    """A monotonic clock for the rate limiter, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


WALL = ManualClock(START)


@pytest.fixture(scope="module")
def shared_box():
    with start_sandbox(orders=40, seed=1, wall_clock=WALL) as box:
        yield box


@pytest.fixture
def box(shared_box):
    WALL.moment = START
    shared_box.reset()
    return shared_box


def api(box, method, path, *, token=None, shop_id=None, **kwargs):
    """One request to the process-center API of the sandbox."""
    shop = box.shop_id if shop_id is None else shop_id
    headers = {
        "Authorization": f"Bearer {token or box.token}",
        "Accept": "application/json",
    }
    headers.update(kwargs.pop("headers", {}))
    url = f"{box.url}/shops/{shop}/process-center{path}"
    return requests.request(method, url, headers=headers, timeout=5, **kwargs)


def list_orders(box, query=""):
    response = api(box, "GET", f"/baskets-PHYSICAL?{query}")
    assert response.status_code == 200, response.text
    return response.json()


def post_state(box, order_id, state, **body):
    return api(box, "POST", f"/baskets/{order_id}/state", json={"state": state, **body})


def first_order(box, *, state="CheckQueue", status="Payed", min_items=1):
    """The first seeded order in `state` that the shop may process."""
    return next(
        order
        for order in box.orders()
        if order["delivery_state"] == state
        and order["status"] == status
        and not order["reject"]
        and len(order["items"]) >= min_items
    )


def all_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from all_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from all_strings(item)


# --- auth, access, routing ------------------------------------------------------------


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Token {token}", "bearer"]
)
def test_auth_bad_or_missing_token_is_401(box, authorization):
    """Without a valid bearer token every API route answers Laravel's 401."""
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization.format(token=box.token)
    url = f"{box.url}/shops/{box.shop_id}/process-center/baskets-PHYSICAL"
    response = requests.get(url, headers=headers, timeout=5)
    assert response.status_code == 401
    assert response.json() == {"message": "Unauthenticated."}


def test_auth_other_shop_is_403(box):
    """A shop id other than the token's shop answers 403 with the access error body."""
    response = api(box, "GET", "/baskets-PHYSICAL", shop_id=box.shop_id + 1)
    assert response.status_code == 403
    assert response.json() == {
        "error": True,
        "error_msg": "This token does not have access to this section.",
        "code": 201,
    }


def test_auth_read_only_token_cannot_write(box):
    """With scopes={"read"} reads work and every write route answers 403."""
    box.options.scopes = {"read"}
    order = first_order(box)
    assert api(box, "GET", f"/baskets/{order['id']}").status_code == 200
    writes = [
        post_state(box, order["id"], "OrderConfirm"),
        api(box, "POST", f"/baskets/{order['id']}/delivery-returned"),
        api(
            box, "PUT", f"/baskets/{order['id']}/tracking", json={"tracking_code": "1"}
        ),
    ]
    assert [r.status_code for r in writes] == [403, 403, 403]
    assert box.get_order(order["id"]) == order


def test_routing_unknown_path_404_and_wrong_method_405(box):
    """Unknown paths answer 404 {"message"}; a known path with the wrong method 405."""
    missing = requests.get(f"{box.url}/shops/{box.shop_id}/nothing", timeout=5)
    assert (missing.status_code, missing.json()) == (404, {"message": "Not Found."})
    wrong = api(box, "GET", "/baskets/15000/state")
    assert wrong.status_code == 405
    assert wrong.headers["Allow"] == "POST"


def test_basket_endpoint_returns_full_order_or_404(box):
    """GET .../baskets/{id} wraps the full order in "basket"; unknown ids answer 404."""
    order = next(o for o in box.orders() if any(i["variant"] for i in o["items"]))
    response = api(box, "GET", f"/baskets/{order['id']}")
    assert response.status_code == 200
    assert response.json() == {"basket": order}
    assert {"product", "variant"} <= set(response.json()["basket"]["items"][0])
    assert "buyer" in response.json()["basket"]
    missing = api(box, "GET", "/baskets/99")
    assert missing.status_code == 404
    assert missing.json() == {"error": True, "error_msg": "Basket not found."}


# --- list: validation, paging, filters ------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ("limit=251", "limit", "The limit field must not be greater than 250."),
        ("limit=0", "limit", "The limit field must be at least 1."),
        ("offset=-1", "offset", "The offset field must be at least 0."),
        ("limit=ten", "limit", "The limit field must be an integer."),
        ("statuses=Payed", "statuses", "The statuses field must be an array."),
        ("with=items", "with", "The with field must be an array."),
        ("statuses[]=Paid", "statuses.0", "The selected statuses.0 is invalid."),
        ("sortBy=price", "sortBy", "The selected sort by is invalid."),
        (
            "updated_at=2024-01-01",
            "updated_at",
            "The updated at field must be an integer.",
        ),
    ],
)
def test_list_invalid_query_is_422(box, query, field, message):
    """Out-of-range or malformed list parameters answer Laravel's 422 shape."""
    response = api(box, "GET", f"/baskets-PHYSICAL?{query}")
    assert response.status_code == 422
    assert response.json() == {"message": message, "errors": {field: [message]}}


def test_list_paging_total_and_pages_cover_all_matches(box):
    """Pages of 7 concatenate to each Payed/COD order once; total counts all matches."""
    expected = {o["id"] for o in box.orders() if o["status"] in PROCESSABLE}
    seen, totals, offset = [], set(), 0
    while True:
        page = list_orders(box, f"offset={offset}&limit=7")
        totals.add(page["total"])
        if not page["orders"]:
            break
        assert len(page["orders"]) <= 7
        seen += [o["id"] for o in page["orders"]]
        offset += 7
    assert totals == {len(expected)}
    assert len(seen) == len(set(seen))
    assert set(seen) == expected
    assert seen == sorted(seen, reverse=True)  # default: most recent (highest id) first


def test_list_default_statuses_are_payed_and_cod(box):
    """Without statuses[] only Payed and COD come back; statuses[] selects others."""
    default = list_orders(box, "limit=250")
    assert {o["status"] for o in default["orders"]} == PROCESSABLE
    chosen = list_orders(box, "limit=250&statuses[]=Reserved&statuses[]=Canceled")
    expected = [o for o in box.orders() if o["status"] in {"Reserved", "Canceled"}]
    assert chosen["total"] == len(expected) > 0
    assert {o["status"] for o in chosen["orders"]} == {"Reserved", "Canceled"}


def test_list_other_types_are_empty(box):
    """Only PHYSICAL orders exist, so other basket types list nothing."""
    response = api(box, "GET", "/baskets-VIRTUAL")
    assert response.json() == {"orders": [], "total": 0}


def test_list_with_controls_relations(box):
    """with[] decides whether items, product/variant and buyer keys appear."""
    bare = list_orders(box, "limit=250")["orders"]
    assert all("items" not in o and "buyer" not in o for o in bare)
    items = list_orders(box, "limit=250&with[]=items")["orders"]
    assert all(o["items"] for o in items)
    assert all(
        "product" not in i and "variant" not in i for o in items for i in o["items"]
    )
    full = list_orders(box, "limit=250&with[]=items&with[]=products&with[]=buyer")
    lines = [i for o in full["orders"] for i in o["items"]]
    assert all({"product", "variant"} <= set(i) for i in lines)
    assert any(i["variant"] is None for i in lines)
    assert any(i["variant"] is not None for i in lines)
    assert any(o["buyer"] is None and o["user_id"] is None for o in full["orders"])


def test_list_updated_at_filter_seconds_and_milliseconds(box):
    """updated_at keeps orders updated at or after it, in seconds or milliseconds."""
    cursor = int(SHARED_SECOND.timestamp())
    expected = sorted(
        o["id"]
        for o in box.orders()
        if o["status"] in PROCESSABLE
        and datetime.fromisoformat(o["updated_at"]) >= SHARED_SECOND
    )
    shared = [
        o for o in box.orders() if o["updated_at"] == "2026-11-20T07:00:00.000000Z"
    ]
    in_seconds = list_orders(box, f"limit=250&updated_at={cursor}")
    in_millis = list_orders(box, f"limit=250&updated_at={cursor * 1000}")
    assert sorted(o["id"] for o in in_seconds["orders"]) == expected
    assert sorted(o["id"] for o in in_millis["orders"]) == expected
    assert in_seconds["total"] == len(expected)
    shared_processable = {o["id"] for o in shared if o["status"] in PROCESSABLE}
    assert shared_processable <= set(expected)
    box.options.updated_at_inclusive = False
    strict = list_orders(box, f"limit=250&updated_at={cursor}")
    assert {o["id"] for o in strict["orders"]} == set(expected) - shared_processable


def test_list_sorting_and_filters(box):
    """sortBy/sortDesc order the list; product_id and customer_id filter it."""
    oldest = list_orders(box, "limit=250&sortBy=reserved_at&sortDesc=false")["orders"]
    stamps = [o["reserved_at"] for o in oldest]
    assert stamps == sorted(stamps)
    newest = list_orders(box, "limit=250&sortBy=updated_at&sortDesc=1")["orders"]
    keys = [(o["updated_at"], o["id"]) for o in newest]
    assert keys == sorted(keys, reverse=True)
    product = list_orders(box, "limit=250&product_id=2455&with[]=items")["orders"]
    assert product
    assert all(any(i["product_id"] == 2455 for i in o["items"]) for o in product)
    customer_id = next(o["customer_id"] for o in oldest if o["customer_id"])
    mine = list_orders(box, f"limit=250&customer_id={customer_id}")["orders"]
    assert mine
    assert {o["customer_id"] for o in mine} == {customer_id}


def test_list_add_order_during_paging_shifts_offsets(box):
    """A new order shifts newest-first pages (one repeat) but not oldest-first ones."""
    first = list_orders(box, "limit=10")
    box.add_order()
    second = list_orders(box, "offset=10&limit=10")
    assert second["total"] == first["total"] + 1
    assert second["orders"][0]["id"] == first["orders"][-1]["id"]
    box.reset()
    query = "sortBy=id&sortDesc=false&limit=10"
    old_first = list_orders(box, query)
    added = box.add_order()
    old_second = list_orders(box, query + "&offset=10")
    assert not {o["id"] for o in old_first["orders"]} & {
        o["id"] for o in old_second["orders"]
    }
    last_page = list_orders(box, query + f"&offset={old_second['total'] - 1}")
    assert last_page["orders"][0]["id"] == added["id"]


# --- fulfilment states ----------------------------------------------------------------


def test_state_skip_is_app_error_on_http_200(box):
    """CheckQueue → SentOrder answers 200 with error/error_msg and changes nothing."""
    order = first_order(box)
    response = post_state(box, order["id"], "SentOrder")
    assert response.status_code == 200
    body = response.json()
    assert body["error"] is True
    assert "CheckQueue" in body["error_msg"]
    assert "SentOrder" in body["error_msg"]
    assert body["code"] == 1234
    assert box.get_order(order["id"]) == order


def test_state_skip_policy_and_error_status_are_switchable(box):
    """skip_policy="accept" allows a jump; app_error_status moves errors to 422."""
    waiting = [o for o in box.orders() if o["delivery_state"] == "CheckQueue"]
    payed = [o for o in waiting if o["status"] == "Payed" and not o["reject"]]
    order, other = payed[:2]
    box.options.app_error_status = 422
    refused = post_state(box, order["id"], "SentOrder")
    assert refused.status_code == 422
    assert refused.json()["error"] is True
    box.options.skip_policy = "accept"
    jumped = post_state(box, other["id"], "SentOrder")
    assert jumped.json() == {"delivery_state": "SentOrder", "changed": True}
    assert all(item["check"] for item in box.get_order(other["id"])["items"])


def test_state_step_by_step_to_customer(box):
    """Each step in order succeeds; confirm sets item checks, ToCustomer delivery_at."""
    order = first_order(box, min_items=2)
    keep, drop = order["items"][0]["id"], order["items"][1]["id"]
    confirm = post_state(
        box, order["id"], "OrderConfirm", list=[keep], delivery_info=None
    )
    body = confirm.json()
    assert (body["delivery_state"], body["updated"], body["changed"]) == (
        "OrderConfirm",
        1,
        True,
    )
    assert {i["id"]: i["check"] for i in body["items"]} == {
        i["id"]: i["id"] == keep for i in order["items"]
    }
    assert drop not in [i["id"] for i in body["items"] if i["check"]]
    preparing = post_state(
        box, order["id"], "PreparingOrder", delivery_info={"weight": 2.5}
    )
    assert preparing.json() == {"delivery_state": "PreparingOrder", "changed": True}
    info = box.get_order(order["id"])["delivery_info"]
    assert info["weight"] == 2.5
    assert info["type"] == order["delivery_info"]["type"]  # merged, not replaced
    sent = post_state(box, order["id"], "SentOrder")
    assert sent.json() == {"delivery_state": "SentOrder", "changed": True}
    WALL.advance(90)
    delivered = post_state(box, order["id"], "ToCustomer").json()
    assert delivered == {
        "delivery_state": "ToCustomer",
        "delivery_at": "2026-12-01T10:01:30.000000Z",
        "changed": True,
    }
    final = box.get_order(order["id"])
    assert final["delivery_state"] == "ToCustomer"
    assert final["delivery_at"] == final["updated_at"] == delivered["delivery_at"]


def test_state_resend_is_unchanged_and_keeps_updated_at(box):
    """Re-sending the current state answers changed:false and leaves the order alone."""
    order = first_order(box, state="SentOrder")
    response = post_state(box, order["id"], "SentOrder")
    assert response.json() == {"delivery_state": "SentOrder", "changed": False}
    assert box.get_order(order["id"]) == order


def test_state_backward_is_app_error_but_reconfirm_is_allowed(box):
    """Moving back is refused; OrderConfirm re-sent in PreparingOrder keeps state."""
    order = first_order(box)
    box.update_order(order["id"], delivery_state="PreparingOrder")
    back = post_state(box, order["id"], "CheckQueue").json()
    assert back["error"] is True
    assert "PreparingOrder" in back["error_msg"]
    assert "CheckQueue" in back["error_msg"]
    again = post_state(box, order["id"], "OrderConfirm", list=None).json()
    assert again["delivery_state"] == "PreparingOrder"
    assert again["changed"] is False
    assert again["updated"] == len(order["items"])
    assert box.get_order(order["id"])["delivery_state"] == "PreparingOrder"


@pytest.mark.parametrize(
    "change",
    [{"status": "Reserved"}, {"status": "Canceled"}, {"reject": "PricingFault"}],
)
def test_state_refused_for_unpaid_or_rejected_orders(box, change):
    """Orders that are not Payed/COD, or are rejected, cannot change state."""
    order = first_order(box)
    box.update_order(order["id"], **change)
    body = post_state(box, order["id"], "OrderConfirm").json()
    assert body["error"] is True
    assert str(order["id"]) in body["error_msg"]
    assert box.get_order(order["id"])["delivery_state"] == "CheckQueue"


def test_state_unknown_state_422_and_unknown_order_404(box):
    """A state name outside the enum is a 422; an unknown basket a 404."""
    order = first_order(box)
    response = post_state(box, order["id"], "Shipped")
    assert response.status_code == 422
    assert response.json()["errors"] == {"state": ["The selected state is invalid."]}
    missing = post_state(box, 1, "OrderConfirm")
    assert missing.status_code == 404
    assert missing.json() == {"error": True, "error_msg": "Basket not found."}


def test_delivery_returned_only_from_sent_order(box):
    """delivery-returned moves SentOrder back to PreparingOrder; elsewhere it fails."""
    sent = first_order(box, state="SentOrder")
    waiting = first_order(box)
    refused = api(box, "POST", f"/baskets/{waiting['id']}/delivery-returned").json()
    assert refused["error"] is True
    returned = api(box, "POST", f"/baskets/{sent['id']}/delivery-returned", json={})
    assert returned.json() == {"delivery_state": "PreparingOrder", "changed": True}
    assert box.get_order(sent["id"])["delivery_state"] == "PreparingOrder"


def test_tracking_lands_in_delivery_info_and_bumps_updated_at(box):
    """PUT tracking stores code and URL in delivery_info and moves updated_at to now."""
    order = first_order(box)
    url = "https://www.dhl.de/track?id=00340434161094042557"
    response = api(
        box,
        "PUT",
        f"/baskets/{order['id']}/tracking",
        json={"tracking_code": "00340434161094042557", "tracking_url": url},
    )
    body = response.json()
    assert (body["tracking_code"], body["tracking_url"], body["success"]) == (
        "00340434161094042557",
        url,
        True,
    )
    assert "https:\\/\\/www.dhl.de" in response.text  # Laravel escapes slashes
    stored = box.get_order(order["id"])
    assert stored["delivery_info"] == body["delivery_info"]
    assert stored["delivery_info"]["tracking_url"] == url
    assert stored["delivery_info"]["type"] == order["delivery_info"]["type"]
    assert stored["updated_at"] == "2026-12-01T10:00:00.000000Z" != order["updated_at"]
    since = list_orders(box, f"updated_at={int(START.timestamp())}")
    assert [o["id"] for o in since["orders"]] == [order["id"]]


@pytest.mark.parametrize(
    "url", ["not a url", "ftp://files.example/x", "https://", "www.dhl.de/track"]
)
def test_tracking_invalid_url_is_422(box, url):
    """A tracking_url that is not an http(s) URL with a host answers 422."""
    order = first_order(box)
    response = api(
        box, "PUT", f"/baskets/{order['id']}/tracking", json={"tracking_url": url}
    )
    assert response.status_code == 422
    message = "The tracking url field must be a valid URL."
    assert response.json() == {
        "message": message,
        "errors": {"tracking_url": [message]},
    }
    assert box.get_order(order["id"]) == order


# --- rate limit -----------------------------------------------------------------------


def test_rate_limit_429_after_budget_with_headers(box):
    """With 5 per window the 6th request gets 429 with Retry-After and limit headers."""
    box.set_rate_limit(5)
    answers = [api(box, "GET", "/baskets-PHYSICAL?limit=1") for _ in range(6)]
    assert [r.status_code for r in answers] == [200] * 5 + [429]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers[:5]] == list("43210")
    refused = answers[-1]
    assert refused.json() == {"message": "Too Many Attempts."}
    assert refused.headers["X-RateLimit-Limit"] == "5"
    assert refused.headers["X-RateLimit-Remaining"] == "0"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


def test_rate_limit_window_slides_on_injected_clock():
    """Retry-After counts down on the limiter's clock; a slot frees after the window."""
    clock = TickClock()
    with start_sandbox(orders=3, rate_per_minute=2, rate_clock=clock) as small:
        assert api(small, "GET", "/baskets-PHYSICAL").status_code == 200
        clock.now += 20
        assert api(small, "GET", "/baskets-PHYSICAL").status_code == 200
        clock.now += 10
        refused = api(small, "GET", "/baskets-PHYSICAL")
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "30")
        clock.now += 30
        assert api(small, "GET", "/baskets-PHYSICAL").status_code == 200
        refused = api(small, "GET", "/baskets-PHYSICAL")
        assert (refused.status_code, refused.headers["Retry-After"]) == (429, "20")
        assert [c.status for c in small.calls()] == [200, 200, 429, 200, 429]


# --- faults ---------------------------------------------------------------------------


def test_fault_fail_next_twice_then_ok(box):
    """fail_next(503, times=2) answers the next two matching requests with 503."""
    box.faults.fail_next(503, times=2, method="GET", path_contains="baskets-PHYSICAL")
    statuses = [api(box, "GET", "/baskets-PHYSICAL").status_code for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert [c.status for c in box.calls()] == [503, 503, 200]


def test_fault_fail_next_429_and_custom_body(box):
    """A 429 fault carries Retry-After; a str body is sent as text/html."""
    box.faults.fail_next(429, retry_after=7)
    box.faults.fail_next(502, body="<html>Bad Gateway</html>")
    throttled = api(box, "GET", "/baskets-PHYSICAL")
    assert (throttled.status_code, throttled.headers["Retry-After"]) == (429, "7")
    assert throttled.json() == {"message": "Too Many Attempts."}
    gateway = api(box, "GET", "/baskets-PHYSICAL")
    assert gateway.status_code == 502
    assert gateway.text == "<html>Bad Gateway</html>"


def test_fault_drop_next_is_a_connection_error(box):
    """drop_next closes the connection unanswered, before the shop sees the request."""
    order = first_order(box)
    box.faults.drop_next(method="POST")
    assert api(box, "GET", "/baskets-PHYSICAL").status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        post_state(box, order["id"], "OrderConfirm")
    assert box.get_order(order["id"]) == order
    assert post_state(box, order["id"], "OrderConfirm").json()["changed"] is True
    assert [(c.method, c.status) for c in box.calls()] == [
        ("GET", 200),
        ("POST", 0),
        ("POST", 200),
    ]


def test_reset_waits_for_a_delayed_write_its_client_gave_up_on(box):
    """A write still being handled (its client timed out) lands before the reset, never
    in the fresh shop, whose order ids start over (a test's write leaked into the next
    test's shop on CI)."""
    order = first_order(box)
    box.faults.delay_next(1.0, method="PUT")
    url = f"{box.url}/shops/{box.shop_id}/process-center/baskets/{order['id']}/tracking"
    headers = {"Authorization": f"Bearer {box.token}", "Accept": "application/json"}
    with pytest.raises(requests.exceptions.Timeout):
        requests.put(url, json={"tracking_code": "LEAK"}, headers=headers, timeout=0.2)
    box.reset()
    time.sleep(1.1)  # past the delay: without the wait, the write lands only now
    fresh = box.get_order(order["id"])
    assert (fresh.get("delivery_info") or {}).get("tracking_code") != "LEAK"
    assert box.calls() == []


def test_fault_drop_after_processing_applies_the_write(box):
    """drop_next(after_processing=True) applies the write and loses only the answer."""
    order = first_order(box)
    box.faults.drop_next(path_contains="/state", after_processing=True)
    with pytest.raises(requests.exceptions.ConnectionError):
        post_state(box, order["id"], "OrderConfirm")
    assert box.get_order(order["id"])["delivery_state"] == "OrderConfirm"
    assert post_state(box, order["id"], "OrderConfirm").json()["changed"] is False


def test_fault_delay_next_makes_a_client_time_out(box):
    """delay_next holds the answer back long enough for a short client timeout."""
    box.faults.delay_next(0.3)
    url = f"{box.url}/shops/{box.shop_id}/process-center/baskets-PHYSICAL"
    with pytest.raises(requests.exceptions.ReadTimeout):
        requests.get(
            url, headers={"Authorization": f"Bearer {box.token}"}, timeout=0.05
        )
    started = time.monotonic()
    assert api(box, "GET", "/baskets-PHYSICAL").status_code == 200
    assert time.monotonic() - started < 0.3
    deadline = time.monotonic() + 5  # the delayed request still completes on the server
    while len(box.calls()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert [c.status for c in box.calls()] == [200, 200]


def test_fault_revoke_then_restore_token(box):
    """A revoked token gets 401 on every route until it is restored."""
    box.faults.revoke_token()
    revoked = api(box, "GET", "/baskets-PHYSICAL")
    assert (revoked.status_code, revoked.json()) == (
        401,
        {"message": "Unauthenticated."},
    )
    box.faults.restore_token()
    assert api(box, "GET", "/baskets-PHYSICAL").status_code == 200


def test_calls_record_method_path_query_status_and_body(box):
    """calls() lists every API request with what was sent and the status answered."""
    order = first_order(box)
    api(box, "GET", "/baskets-PHYSICAL?limit=3&with[]=items&with[]=buyer")
    post_state(box, order["id"], "SentOrder")
    api(box, "GET", "/baskets-PHYSICAL", token="wrong")
    calls = box.calls()
    base = f"/shops/{box.shop_id}/process-center"
    assert [(c.method, c.path, c.status) for c in calls] == [
        ("GET", f"{base}/baskets-PHYSICAL", 200),
        ("POST", f"{base}/baskets/{order['id']}/state", 200),
        ("GET", f"{base}/baskets-PHYSICAL", 401),
    ]
    assert calls[0].query == {"limit": ["3"], "with[]": ["items", "buyer"]}
    assert calls[1].body == {"state": "SentOrder"}
    assert calls[0].at <= calls[1].at <= calls[2].at
    box.clear_calls()
    assert box.calls() == []


# --- seed -----------------------------------------------------------------------------


def test_seed_same_seed_same_orders(box):
    """The same seed builds identical orders; another seed builds different ones."""
    with start_sandbox(seed=1, wall_clock=WALL) as twin, start_sandbox(seed=2) as other:
        assert twin.orders() == box.orders()
        assert other.orders() != box.orders()


def test_seed_contains_the_edge_cases(box):
    """The seeded shop has guests, leading zeros, hostile text, a shared second, etc."""
    orders = box.orders()
    assert len(orders) == 40
    assert orders[0]["id"] == 15000
    assert orders[0]["items"][0]["id"] == 23990
    processable = [o for o in orders if o["status"] in PROCESSABLE]
    assert any(o["buyer"] is None and o["user_id"] is None for o in processable)
    postals = {o["receiver_info"]["postal"] for o in orders if o["receiver_info"]}
    assert {"01067", "00501"} <= postals
    texts = {s for o in processable for s in all_strings(o)}
    assert set(HOSTILE_STRINGS) <= texts
    assert "+49 30 5550123" in texts
    assert {"Zoë Ünal", "李雷", "مریم رضایی"} <= texts
    assert max(Counter(o["updated_at"] for o in orders).values()) >= 5
    assert {"COD", "Reserved", "Canceled", "Open"} <= {o["status"] for o in orders}
    assert any(isinstance(i["count"], float) for o in orders for i in o["items"])
    assert all(WIRE_TIME.fullmatch(o["updated_at"]) for o in orders)
    assert all(
        o["updated_at"] <= SEED_EPOCH.strftime("%Y-%m-%dT%H:%M:%S.000000Z")
        for o in orders
    )
    lines = [i for o in orders for i in o["items"] if i["variant"]]
    skus = {(i["product"]["sku"], i["variant"]["sku"]) for i in lines}
    assert any(product and variant is None for product, variant in skus)
    assert any(product is None and variant is None for product, variant in skus)


def test_seed_money_adds_up_without_float_artifacts(box):
    """price = items gross − discount + delivery, and every amount has ≤ 2 decimals."""
    response = api(box, "GET", "/baskets-PHYSICAL?limit=250&with[]=items")
    orders = json.loads(response.text, parse_float=Decimal)["orders"]
    for order in orders:
        gross = sum(i["count"] * (i["price"] + i["dis"]) for i in order["items"])
        assert gross - order["discount"] + order["delivery_price"] == order["price"]
        amounts = [order["price"], order["discount"], order["delivery_price"]]
        amounts += [i["price"] for i in order["items"]]
        assert all(-amount.as_tuple().exponent <= 2 for amount in amounts)


# --- control surface ------------------------------------------------------------------


def test_add_and_update_order(box):
    """add_order builds a Payed CheckQueue order now; update_order merges and bumps."""
    added = box.add_order(status="COD", buyer=None)
    assert added["id"] > max(o["id"] for o in box.orders() if o["id"] != added["id"])
    assert (added["status"], added["delivery_state"], added["buyer"]) == (
        "COD",
        "CheckQueue",
        None,
    )
    assert added["updated_at"] == "2026-12-01T10:00:00.000000Z"
    assert all(i["basket_id"] == added["id"] for i in added["items"])
    WALL.advance(5)
    changed = box.update_order(added["id"], label="TRX999")
    assert (changed["label"], changed["updated_at"]) == (
        "TRX999",
        "2026-12-01T10:00:05.000000Z",
    )
    many = box.add_orders(3, updated_at="2026-12-01T09:00:00.000000Z")
    assert len({o["id"] for o in many}) == 3
    assert {o["updated_at"] for o in many} == {"2026-12-01T09:00:00.000000Z"}
    assert box.get_order(added["id"]) == changed
    with pytest.raises(KeyError):
        box.get_order(1)


def test_http_control_surface(box):
    """/__sandbox__/ adds orders, arms faults, lists calls and resets, with no token."""
    control = f"{box.url}/__sandbox__"
    added = requests.post(
        f"{control}/orders", json={"count": 2, "status": "COD"}, timeout=5
    )
    assert [o["status"] for o in added.json()["orders"]] == ["COD", "COD"]
    assert len(requests.get(f"{control}/orders", timeout=5).json()["orders"]) == 42
    order_id = added.json()["orders"][0]["id"]
    patched = requests.patch(
        f"{control}/orders/{order_id}", json={"label": "X1"}, timeout=5
    )
    assert patched.json()["order"]["label"] == "X1"
    armed = requests.post(
        f"{control}/faults", json={"kind": "fail", "status": 500}, timeout=5
    )
    assert armed.json() == {"armed": "fail"}
    failed = api(box, "GET", "/baskets-PHYSICAL")
    assert (failed.status_code, failed.json()) == (500, {"message": "Server Error"})
    calls = requests.get(f"{control}/calls", timeout=5).json()["calls"]
    assert [(c["method"], c["status"]) for c in calls] == [("GET", 500)]
    bad = requests.post(f"{control}/faults", json={"kind": "explode"}, timeout=5)
    assert bad.status_code == 400
    limit = requests.post(f"{control}/rate-limit", json={"per_minute": 3}, timeout=5)
    assert limit.json() == {"per_minute": 3, "window_seconds": 60.0}
    assert requests.post(f"{control}/reset", timeout=5).json() == {"ok": True}
    assert len(box.orders()) == 40
    assert box.calls() == []
    assert box.rate_limiter.limit == 80


def test_reset_restores_the_seeded_shop(box):
    """reset() undoes order changes, faults, options, rate limit and the call log."""
    seeded = box.orders()
    order = first_order(box)
    post_state(box, order["id"], "OrderConfirm")
    box.add_order()
    box.faults.fail_next(500, times=5)
    box.faults.revoke_token()
    box.options.skip_policy = "accept"
    box.set_rate_limit(1)
    box.reset()
    assert box.orders() == seeded
    assert box.options.skip_policy == "error"
    assert api(box, "GET", "/baskets-PHYSICAL").status_code == 200
    assert api(box, "GET", "/baskets-PHYSICAL").status_code == 200
    assert [c.status for c in box.calls()] == [200, 200]


def test_options_reject_unknown_values(box):
    """Options refuse values the sandbox cannot honour."""
    with pytest.raises(ValueError, match="skip_policy"):
        box.options.skip_policy = "ignore"
    with pytest.raises(ValueError, match="scopes"):
        box.options.scopes = {"admin"}
    with pytest.raises(ValueError, match="times"):
        box.faults.fail_next(503, times=0)


# --- packaging ------------------------------------------------------------------------


def test_sandbox_imports_only_stdlib_and_itself():
    """The sandbox imports nothing from filebridge outside filebridge/sandbox/."""
    for path in SANDBOX_DIR.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                assert node.level in (0, 1), path
                if node.level == 0:
                    assert node.module is not None
                    root = node.module.split(".")[0]
                    assert root in sys.stdlib_module_names or root == "__future__", path
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    assert alias.name.split(".")[0] in sys.stdlib_module_names, path


def test_serve_forever_cli_prints_how_to_connect():
    """The CLI entry point prints URL, shop id and token, and serves until stopped."""
    out, stop = io.StringIO(), threading.Event()
    runner = threading.Thread(
        target=serve_forever_cli,
        args=(0, 5, 3, 80, "tok-123"),
        kwargs={"out": out, "stop": stop},
    )
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while "Ctrl-C" not in out.getvalue() and time.monotonic() < deadline:
            time.sleep(0.01)
        text = out.getvalue()
        url = re.search(r"listening on (http://\S+)", text)
        assert url is not None
        assert "token:   tok-123" in text
        assert "shop id: 12345" in text
        info = requests.get(f"{url[1]}/__sandbox__/info", timeout=5).json()
        assert info == {"url": url[1], "shop_id": 12345, "token": "tok-123"}
    finally:
        stop.set()
        runner.join(5)
    assert not runner.is_alive()


def test_module_entry_point_has_help():
    """`python -m filebridge.sandbox --help` documents the options."""
    result = subprocess.run(
        [sys.executable, "-m", "filebridge.sandbox", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=SANDBOX_DIR.parents[1],
    )
    for option in ("--port", "--orders", "--seed", "--rate-per-minute", "--token"):
        assert option in result.stdout


def test_sandbox_object_is_a_context_manager():
    """Leaving the with-block stops the server, so its port refuses connections."""
    with Sandbox(orders=2) as small:
        url = small.url
        assert requests.get(f"{url}/__sandbox__/info", timeout=5).status_code == 200
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"{url}/__sandbox__/info", timeout=5)
