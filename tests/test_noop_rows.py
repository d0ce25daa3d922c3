"""Rows that need no call, decided in bulk (`replay.settled`, #14 item 4): the same
outcomes, messages, journal and API calls as the per-row replay, on random rows and
journal states, each side on its own real journal file against the real sandbox."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import filebridge.replay.rows as replay_rows_module
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay import Hold, OrderBook, RowWork, replay_rows
from filebridge.replay.fulfilment import FulfilmentRequest
from filebridge.replay.row import step_key
from filebridge.replay.settled import Settled, decide_settled
from filebridge.selldone import FULFILMENT_SEQUENCE, FulfilmentState, SelldoneClient

SHA = "sha256:noop"
MISSING_ORDER = 999_999
STATES = [s.value for s in FULFILMENT_SEQUENCE]
ASKED = [None, *FULFILMENT_SEQUENCE[1:]]
STEP_ACTIONS = [*STATES[1:], "delivery-returned", "tracking"]


@dataclass(frozen=True)
class Scenario:
    remembered: dict[int, tuple[str, str | None] | None]  # order → (state, tracking)
    rows: list[tuple[int, FulfilmentRequest]]  # (order, request), row = index + 2
    steps: list[tuple[int, str, str]]  # (row, action, state) left by earlier attempts
    held: set[int]


@st.composite
def scenarios(draw: st.DrawFn, orders: list[int]) -> Scenario:
    pool = [*orders, MISSING_ORDER]
    remembered = {
        order: draw(
            st.none()
            | st.tuples(st.sampled_from(STATES), st.sampled_from([None, "T-1", "T-2"]))
        )
        for order in pool
    }
    requests = st.builds(
        FulfilmentRequest,
        state=st.sampled_from(ASKED),
        returned=st.booleans().map(lambda b: b and draw(st.booleans())),
        tracking_code=st.sampled_from([None, None, "T-1", "T-2"]),
    )
    rows = draw(
        st.lists(st.tuples(st.sampled_from(pool), requests), min_size=1, max_size=14)
    )
    steps = draw(
        st.lists(
            st.tuples(
                st.integers(2, len(rows) + 1),
                st.sampled_from(STEP_ACTIONS),
                st.sampled_from(["planned", "confirmed", "confirmed", "sent"]),
            ),
            max_size=6,
            unique_by=lambda s: (s[0], s[1]),
        )
    )
    held = draw(st.sets(st.sampled_from([order for order, _ in rows]), max_size=1))
    return Scenario(remembered, rows, steps, held)


def request_valid(request: FulfilmentRequest) -> bool:
    return request.state is not None or request.returned or bool(request.tracking_code)


def build_journal(path: Path, scenario: Scenario) -> tuple[Journal, int, list[RowWork]]:
    journal = Journal.open(path)
    record = ledger.begin_claim(journal, "status.csv", path.parent, "2026-01-01")
    works = [
        RowWork(n + 2, order, request)
        for n, (order, request) in enumerate(scenario.rows)
        if request_valid(request)
    ]
    with journal.atomic():
        ledger.record_rows(
            journal, record.id, [(w.row, w.order_id, "pending", "") for w in works]
        )
        for order, known in scenario.remembered.items():
            if known is not None:
                code = known[1]
                ledger.remember_order(
                    journal, order, known[0], tracking=(code, None) if code else None
                )
        orders = {n + 2: order for n, (order, _) in enumerate(scenario.rows)}
        for row, action, state in scenario.steps:
            key = step_key(SHA, row, orders[row], action)
            payload: dict[str, Any] = {"kind": "state"}
            if action == "tracking":
                payload = {"kind": "tracking", "tracking_code": "T-1"}
            elif action == "delivery-returned":
                payload = {"kind": "delivery-returned"}
            ledger.plan_step(
                journal,
                key,
                file_id=record.id,
                row_number=row,
                order_id=orders[row],
                action=action,
                payload=payload,
            )
            ledger.mark_step(journal, key, state)
    return journal, record.id, works


def journal_facts(path: Path) -> tuple[list[Any], list[Any], list[Any]]:
    """Rows, steps and order states, without the times."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT row_number, order_id, outcome, message, calls FROM inbox_rows "
            "ORDER BY row_number"
        ).fetchall()
        steps = db.execute(
            "SELECT idempotency_key, action, payload, state, message FROM steps "
            "ORDER BY idempotency_key"
        ).fetchall()
        states = db.execute(
            "SELECT order_id, delivery_state, status, tracking_code, tracking_url, "
            "delivery_info FROM order_states ORDER BY order_id"
        ).fetchall()
    return rows, steps, states


def run_once(
    sandbox: Any, folder: Path, scenario: Scenario, *, bulk: bool
) -> tuple[Any, ...]:
    sandbox.reset()
    path = folder / ("bulk" if bulk else "per-row") / "filebridge.sqlite3"
    path.parent.mkdir()
    journal, file_id, works = build_journal(path, scenario)
    held = {
        order: Hold(order, file_id, 0, "SentOrder", "test", 60.0, _when())
        for order in scenario.held
    }
    with (
        journal,
        SelldoneClient(
            sandbox.url, sandbox.shop_id, sandbox.token, requests_per_minute=10**6
        ) as client,
    ):
        seen: list[int] = []
        result = replay_rows(
            client,
            journal,
            works,
            file_id=file_id,
            file_sha=SHA,
            book=OrderBook(client, journal),
            prior_calls={w.row: w.row % 3 for w in works},
            in_flight_grace=0.0,
            held=held,
            on_row=lambda outcome: seen.append(outcome.row),
        )
    # Per order, in order; across orders the senders' order is not defined (the
    # bulk step can change which order's lane comes first).
    calls: dict[str, list[tuple[str, str]]] = {}
    for c in sandbox.calls():
        order = (
            c.path.split("/baskets/")[1].split("/")[0] if "/baskets/" in c.path else ""
        )
        calls.setdefault(order, []).append((c.method, c.path))
    calls = dict(sorted(calls.items()))
    return (
        result.outcomes,
        result.calls,
        result.stopped,
        sorted(result.held),
        sorted(seen),
        calls,
        journal_facts(path),
    )


def _when() -> Any:
    from datetime import UTC, datetime

    return datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def orders(sandbox: Any) -> list[int]:
    return [
        o["id"]
        for o in sandbox.orders()
        if o["status"] == "Payed" and o["type"] == "PHYSICAL" and not o.get("reject")
    ][:5]


def per_row_only(*args: Any, **kwargs: Any) -> Settled:
    """The bulk step switched off: every row goes through `RowReplay`."""
    return Settled(rest=list(args[1]))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_bulk_decisions_equal_the_per_row_replay(
    sandbox: Any, orders: list[int], data: st.DataObject, monkeypatch: Any
) -> None:
    """Outcomes, messages, call counts, journal rows/steps/states and API calls are the
    same with and without the bulk step."""
    scenario = data.draw(scenarios(orders))
    with TemporaryDirectory() as name:
        folder = Path(name)
        bulk = run_once(sandbox, folder, scenario, bulk=True)
        with monkeypatch.context() as patch:
            patch.setattr(replay_rows_module, "settle_rows", per_row_only)
            slow = run_once(sandbox, folder, scenario, bulk=False)
    assert bulk == slow


def test_the_bulk_step_decides_the_rows_that_need_nothing() -> None:
    """Remembered SentOrder, asked SentOrder: decided, with the per-row messages; a
    later row of an order that needs a step, a row with a `sent` step, an unknown
    order and a held order's row are left to the per-row replay."""
    from filebridge.replay.order_book import OrderFacts

    sent = FulfilmentRequest(state=FulfilmentState.SENT_ORDER)
    rows = [
        RowWork(2, 1, sent),
        RowWork(3, 2, FulfilmentRequest(state=FulfilmentState.TO_CUSTOMER)),
        RowWork(4, 2, sent),
        RowWork(5, 3, sent),
        RowWork(6, 4, sent),
        RowWork(7, 5, sent),
        RowWork(8, 6, sent),
    ]
    facts = {n: OrderFacts("SentOrder", None, None, False) for n in (1, 2, 3, 5, 6)}
    settled = decide_settled(
        rows,
        facts=facts,
        steps={5: [("SentOrder", "sent")], 8: [("SentOrder", "confirmed")]},
        prior={2: 4},
        held={5},
    )
    decided = {o.row: (o.outcome, o.message, o.calls) for o in settled.outcomes}
    assert set(decided) == {2, 8}
    assert decided[2] == ("already-done", "order is already SentOrder; nothing sent", 4)
    assert decided[8][0] == "applied"
    assert decided[8][1].startswith("sent SentOrder")
    assert [w.row for w in settled.rest] == [3, 4, 5, 6, 7]
