"""Ambiguous answers on writes are settled by reading the order, never taken at face value.

Each write (state POST, delivery-returned, tracking PUT) meets each way its answer can
be in doubt: a 5xx before or after the shop applied it, a dropped connection before or
after, and a timeout (the shop applies it later). Replays over real HTTP to the sandbox
until the row is settled: it must end `applied`, with the write's effect in the order,
and never `rejected` because the shop refused a retry of something it had done.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from filebridge.journal import inbox as ledger
from filebridge.journal.store import Journal
from filebridge.replay.fulfilment import FulfilmentRequest
from filebridge.replay.row import RowWork
from filebridge.replay.rows import replay_rows
from filebridge.selldone.client import SelldoneClient
from filebridge.selldone.models import FulfilmentState as S
from tests.conftest import wait_until

SHA = "a" * 64
TIMEOUT_S = 0.5


@dataclass(frozen=True)
class Write:
    name: str
    start: str
    request: FulfilmentRequest
    method: str
    path: str

    def done(self, order: dict) -> bool:
        if self.name == "tracking":
            return (order.get("delivery_info") or {}).get("tracking_code") == "TRK-9"
        want = "PreparingOrder" if self.name == "returned" else "SentOrder"
        return order["delivery_state"] == want


WRITES = [
    Write(
        "state",
        "PreparingOrder",
        FulfilmentRequest(state=S.SENT_ORDER),
        "POST",
        "/state",
    ),
    Write(
        "returned",
        "SentOrder",
        FulfilmentRequest(returned=True),
        "POST",
        "delivery-returned",
    ),
    Write(
        "tracking",
        "SentOrder",
        FulfilmentRequest(tracking_code="TRK-9"),
        "PUT",
        "/tracking",
    ),
]
FAULTS = [
    *(
        f"{status}-{when}"
        for status in (500, 502, 503, 504)
        for when in ("before", "after")
    ),
    "drop-before",
    "drop-after",
    "timeout",
]


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    with Journal.open(tmp_path / "journal.sqlite3") as j:
        yield j


def arm(sandbox, fault: str, write: Write, order_id: int) -> None:
    where = {"method": write.method, "path_contains": f"/{order_id}/"}
    kind, _, when = fault.partition("-")
    after = when == "after"
    if kind == "timeout":
        sandbox.faults.delay_next(TIMEOUT_S * 3, **where)
    elif kind == "drop":
        sandbox.faults.drop_next(after_processing=after, **where)
    else:
        # A gateway's error page: every attempt of this write gets it once.
        sandbox.faults.fail_next(int(kind), after_processing=after, **where)


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("write", WRITES, ids=lambda w: w.name)
def test_ambiguous_write_is_settled_by_reading(sandbox, journal, write, fault):
    """The row ends applied, the order shows the write once, nothing is rejected."""
    order = sandbox.add_order(delivery_state=write.start)
    work = [RowWork(2, order["id"], write.request)]
    cursor = journal.execute(
        "INSERT INTO inbox_files(sha256, original_name, state, arrived_at) "
        "VALUES (?, 'a.csv', 'claimed', '2026-01-01')",
        (SHA,),
    )
    file_id = int(cursor.lastrowid or 0)
    ledger.record_rows(journal, file_id, [(2, order["id"], "pending", "")])
    arm(sandbox, fault, write, order["id"])
    outcomes = []
    with SelldoneClient(
        sandbox.url,
        sandbox.shop_id,
        sandbox.token,
        requests_per_minute=100_000,
        timeout=TIMEOUT_S,
    ) as client:
        for _ in range(4):
            result = replay_rows(
                client, journal, work, file_id=file_id, file_sha=SHA, in_flight_grace=0
            )
            outcomes.append(result.outcomes[0].outcome)
            if outcomes[-1] != "pending":
                break
            # A slow write is still running in the shop: let it finish first (the
            # grace would, in production; it is 0 here to keep the test quick).
            wait_until(
                lambda: write.done(sandbox.get_order(order["id"])), TIMEOUT_S * 4
            )
    assert outcomes[-1] == "applied", (outcomes, result.outcomes[0].message)
    assert write.done(sandbox.get_order(order["id"]))
    writes = [
        c for c in sandbox.calls() if c.method == write.method and write.path in c.path
    ]
    assert len(writes) <= 2  # the failed attempt and at most one more
