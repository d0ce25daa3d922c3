"""Crash recovery for replay: did the steps a run left `sent` reach the shop?

A step is marked `sent` and committed before its request leaves. If the process died
after that (or the request ended without an answer we trust), the next run re-reads the
order (one GET) and marks each such step `confirmed` if the order already shows it,
otherwise `planned` again, so it is sent once more. A step is therefore never sent twice
after a crash, and never lost.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime

from filebridge import inbox_ledger as ledger
from filebridge.fulfilment import ActionKind, parse_state
from filebridge.journal import Journal
from filebridge.models import FULFILMENT_SEQUENCE, FulfilmentState
from filebridge.order_book import OrderFacts

__all__ = ["StepInFlightError", "reconcile_sent_steps"]

log = logging.getLogger(__name__)


class StepInFlightError(Exception):
    """A maybe-sent step is too recent to check; retry after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry in {seconds:.1f} s")
        self.seconds = seconds


def reconcile_sent_steps(
    journal: Journal,
    *,
    file_id: int,
    row: int,
    order_id: int,
    fetch: Callable[[], OrderFacts],
    sent: list[str],
    in_flight_grace: float,
) -> None:
    """Settle the row's steps left `sent`; the names found applied join `sent`.

    A request sent less than `in_flight_grace` seconds ago may still be running on the
    server (the process that sent it died, the server did not notice); reading the
    order now could miss it and send the step twice, so `StepInFlightError` says when
    to look again. `fetch` reads the order (one GET) when anything is to be settled.
    """
    pending = ledger.sent_steps(journal, file_id, row)
    if not pending:
        return
    now = datetime.now(UTC)
    for record in pending:
        if record.finished_at is not None:
            continue  # the request ended in this process: nothing is in flight
        age = (
            now - datetime.fromisoformat(record.sent_at or now.isoformat())
        ).total_seconds()
        if age < in_flight_grace:
            raise StepInFlightError(in_flight_grace - age)
    facts = fetch()
    for record in pending:
        reached = _reached(record, facts)
        with journal.atomic():
            ledger.mark_step(
                journal,
                record.key,
                "confirmed" if reached else "planned",
                "reconciled: the order already had it" if reached else "",
            )
            if reached:
                sent.append(record.action)
        log.info(
            "order %d: step %s %s",
            order_id,
            record.action,
            "had reached the shop" if reached else "had not reached the shop",
        )


def _reached(record: ledger.StepRecord, facts: OrderFacts) -> bool:
    """Whether a maybe-sent step is visible in the order as just read."""
    state = parse_state(facts.state)
    kind = record.payload.get("kind")
    if kind == ActionKind.TRACKING.value:
        code, url = facts.tracking or (None, None)
        want_code = record.payload.get("tracking_code")
        want_url = record.payload.get("tracking_url")
        return (want_code is None or want_code == code) and (
            want_url is None or want_url == url
        )
    if state is None:
        return False
    if kind == ActionKind.RETURNED.value:
        return FULFILMENT_SEQUENCE.index(state) < FULFILMENT_SEQUENCE.index(
            FulfilmentState.SENT_ORDER
        )
    target = parse_state(record.action)
    return target is not None and FULFILMENT_SEQUENCE.index(
        state
    ) >= FULFILMENT_SEQUENCE.index(target)
