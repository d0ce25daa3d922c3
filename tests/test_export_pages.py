"""Export paging without waste (#14 item 3): ties at page boundaries, changes while paging,
and at most one list call over the minimum, against the real sandbox over HTTP."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from filebridge.config import Settings, build_settings
from filebridge.journal import Journal
from filebridge.outbox.export import run_export
from filebridge.selldone import SelldoneClient

LIST_PATH = "/process-center/baskets-PHYSICAL"
BASE = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SANDBOX_EXAMPLES = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.fixture
def client(sandbox: Any) -> Iterator[SelldoneClient]:
    with SelldoneClient(
        sandbox.url, sandbox.shop_id, sandbox.token, requests_per_minute=1_000_000
    ) as api:
        yield api


def payed(sandbox: Any) -> set[int]:
    return {
        o["id"]
        for o in sandbox.orders()
        if o["status"] == "Payed" and o["type"] == "PHYSICAL"
    }


def list_calls(sandbox: Any) -> list[Any]:
    return [c for c in sandbox.calls() if c.path.endswith(LIST_PATH)]


def add_tied_groups(sandbox: Any, groups: list[int], *, old: bool = True) -> None:
    """Groups of orders, each sharing one `reserved_at` and one `updated_at` second."""
    for n, size in enumerate(groups):
        moment = BASE + timedelta(seconds=n) if old else datetime.now(UTC)
        sandbox.add_orders(size, reserved_at=moment, updated_at=moment)


@SANDBOX_EXAMPLES
@given(
    groups=st.lists(st.integers(1, 40), max_size=10),
    page_size=st.integers(2, 30),
)
def test_quiet_shop_ties_at_boundaries_each_order_once_within_one_call_of_minimum(
    sandbox: Any, client: SelldoneClient, groups: list[int], page_size: int
) -> None:
    """Many orders sharing one second across page boundaries: each yielded once, and
    the pages cost ceil(n / page) calls plus one check call when there is a boundary."""
    sandbox.reset()
    add_tied_groups(sandbox, groups)
    expected = payed(sandbox)
    sandbox.clear_calls()
    ids = [
        o.id
        for o in client.iter_orders(page_size=page_size, overlap=min(5, page_size - 1))
    ]
    assert len(ids) == len(set(ids))
    assert set(ids) == expected
    minimum = max(1, math.ceil(len(expected) / page_size))
    calls = list_calls(sandbox)
    assert len(calls) <= minimum + (1 if minimum > 1 else 0)
    pages = [c for c in calls if c.query["statuses[]"] == ["Payed"]]
    assert len(pages) == minimum  # no page re-reads a record


ACTIONS = st.sampled_from(
    ["cancel seen", "cancel unseen", "add new", "insert old", "touch seen", "pay back"]
)


@SANDBOX_EXAMPLES
@given(
    groups=st.lists(st.integers(1, 30), min_size=2, max_size=8),
    page_size=st.integers(2, 25),
    changes=st.lists(st.tuples(st.integers(1, 200), ACTIONS), max_size=8),
    data=st.data(),
)
def test_changes_while_paging_lose_no_order_that_matched_throughout(
    sandbox: Any,
    client: SelldoneClient,
    groups: list[int],
    page_size: int,
    changes: list[tuple[int, str]],
    data: st.DataObject,
) -> None:
    """Cancellations behind and ahead of the cursor, new orders, orders paid with an old
    tied `reserved_at`, touched orders: nothing twice, and every order that matched at
    the start and still matches at the end is yielded."""
    sandbox.reset()
    add_tied_groups(sandbox, groups)
    at_start = payed(sandbox)
    reserved = [o["id"] for o in sandbox.orders() if o["status"] == "Reserved"]
    cancelled: list[int] = []
    due = sorted(changes)
    yielded: list[int] = []
    for order in client.iter_orders(page_size=page_size, overlap=min(5, page_size - 1)):
        yielded.append(order.id)
        while due and due[0][0] == len(yielded):
            _, action = due.pop(0)
            unseen = sorted(payed(sandbox) - set(yielded))
            if action == "cancel seen":
                victim = data.draw(st.sampled_from(yielded))
                sandbox.update_order(victim, status="Canceled")
                cancelled.append(victim)
            elif action == "cancel unseen" and unseen:
                sandbox.update_order(
                    data.draw(st.sampled_from(unseen)), status="Canceled"
                )
            elif action == "add new":
                sandbox.add_order()
            elif action == "insert old":
                tie = BASE + timedelta(seconds=data.draw(st.integers(0, len(groups))))
                sandbox.add_order(reserved_at=tie, updated_at=datetime.now(UTC))
            elif action == "touch seen":
                sandbox.update_order(
                    data.draw(st.sampled_from(yielded)), delivery_state="OrderConfirm"
                )
            elif action == "pay back" and (cancelled or reserved):
                sandbox.update_order((cancelled or reserved).pop(), status="Payed")
    assert len(yielded) == len(set(yielded))
    assert at_start & payed(sandbox) <= set(yielded)
    ever = {o["id"] for o in sandbox.orders()}
    assert set(yielded) <= ever


def make_settings(tmp_path: Path, sandbox: Any, page_size: int) -> Settings:
    return build_settings(
        {
            "selldone": {
                "api_url": sandbox.url,
                "shop_id": sandbox.shop_id,
                "token": sandbox.token,
            },
            "export": {"since": "2000-01-01", "page_size": page_size},
        },
        base_dir=tmp_path,
        environ={},
    )


def exported_ids(outbox: Path) -> list[int]:
    """Order ids per file (each once per file), over all files of the outbox."""
    import csv

    ids: list[int] = []
    for path in sorted(outbox.glob("*.csv")):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            ids += sorted({int(row["order_id"]) for row in csv.DictReader(handle)})
    return ids


def test_export_runs_with_ties_at_the_cursor_and_page_boundaries_export_each_once(
    tmp_path: Path, sandbox: Any, client: SelldoneClient
) -> None:
    """Groups of 7 orders per second with pages of 7, then more orders in the cursor's
    own second: each exportable order lands in exactly one file, and each run spends at
    most one list call over ceil(matching / 7)."""
    settings = make_settings(tmp_path, sandbox, page_size=7)
    add_tied_groups(sandbox, [7, 14, 3, 7, 21])
    with Journal.open(tmp_path / "state" / "filebridge.sqlite3") as journal:
        for extra in (0, 9, 0):
            if extra:  # late orders sharing the newest second the cursor saw
                newest = max(o["updated_at"] for o in sandbox.orders())
                sandbox.add_orders(extra, updated_at=newest)
                sandbox.add_orders(extra)
            sandbox.clear_calls()
            run_export(settings, client, journal, now=datetime.now(UTC))
            matched = int(list_calls(sandbox)[0].query["limit"][0])
            assert matched == 7
            pages = max(1, math.ceil(len(payed(sandbox)) / 7))
            assert len(list_calls(sandbox)) <= pages + 1
    ids = exported_ids(settings.folders.outbox)
    exportable = {
        o["id"]
        for o in sandbox.orders()
        if o["status"] == "Payed" and not o.get("reject")
    }
    assert len(ids) == len(set(ids))
    assert set(ids) == exportable


def test_the_check_page_sees_everything_only_when_it_provably_does() -> None:
    """All matches on the page, or newest first and reaching back past `since` (a
    server that ignored the filter): seen. A full page all after `since`, or one not
    newest first: not seen, so the client pages again."""
    from filebridge.selldone.client import _sees_all_since
    from filebridge.selldone.models import OrdersPage

    since = int(BASE.timestamp())

    def page(offsets: list[int], total: int | None) -> OrdersPage:
        orders = [
            {"id": n, "updated_at": (BASE + timedelta(seconds=s)).isoformat()}
            for n, s in enumerate(offsets, start=1)
        ]
        return OrdersPage.model_validate({"orders": orders, "total": total})

    assert _sees_all_since(page([5, 3, 1], 3), since)
    assert _sees_all_since(page([], 0), since)
    assert _sees_all_since(
        page([9, 4, -1], 4000), since
    )  # filter ignored, reaches back
    assert not _sees_all_since(page([9, 4, 0], 4000), since)  # all at or after since
    assert not _sees_all_since(page([4, 9, -1], 4000), since)  # not newest first
    assert _sees_all_since(page([9, 4, -1], None), since)  # no total: by the stamps
