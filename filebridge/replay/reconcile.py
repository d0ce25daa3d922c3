"""Crash recovery for replay: did the steps a run left `sent` reach the shop?

A step is marked `sent` and committed before its request leaves. If the process died
after that (or the request ended without an answer we trust), the next run re-reads the
order (one GET) and marks each such step `confirmed` if the order already shows it,
otherwise `planned` again, so it is sent once more, but only once the shop must be done
with the first request: a write the client gave up on may still be running there
(`selldone.write_settle_seconds`). A step is therefore never sent twice, and never lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay.fulfilment import ActionKind, parse_state
from filebridge.replay.order_book import OrderFacts
from filebridge.selldone import FULFILMENT_SEQUENCE, FulfilmentState

__all__ = ["StepInFlightError", "note_sent", "reconcile_sent_steps", "shows_step"]

log = logging.getLogger(__name__)

_SENT_HERE: dict[str, float] = {}
"""Idempotency key → monotonic time, for the steps this process sent: their age is
the monotonic clock's, whatever the wall clock did since."""


def note_sent(key: str) -> None:
    """The step's request is leaving now (called right after it is journalled `sent`)."""
    now = time.monotonic()
    if len(_SENT_HERE) >= _SENT_HERE_MAX:  # a watcher runs for months: forget old ones
        for old in [k for k, at in _SENT_HERE.items() if now - at > 3600]:
            del _SENT_HERE[old]
    _SENT_HERE[key] = now


_SENT_HERE_MAX = 10_000


class StepInFlightError(Exception):
    """A maybe-sent step is too recent to check; retry after `seconds`.

    `action` names the doubtful step and `reason` says why it is in doubt (what the
    journal recorded when its answer did not come), for the run's summary and status.
    """

    def __init__(self, seconds: float, action: str = "", reason: str = "") -> None:
        super().__init__(f"retry in {seconds:.1f} s")
        self.seconds = seconds
        self.action = action
        self.reason = reason


def _doubt(
    records: list[ledger.StepRecord], waits: dict[str, float]
) -> StepInFlightError:
    """The error for the young, unsettled steps among `records` (the longest wait)."""
    young = [r for r in records if waits[r.key] > 0]
    record = max(young, key=lambda r: waits[r.key])
    reason = record.message or "the run that sent it ended before its answer came"
    return StepInFlightError(waits[record.key], record.action, reason)


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

    A write sent less than `in_flight_grace` seconds ago may still be running in the
    shop: the process that sent it died, or the client gave up waiting (a timeout, a
    dropped connection) while the server went on. The order is read (one GET) and a
    step it already shows is confirmed at once; a young step it does not show yet is
    left `sent` and `StepInFlightError` says when to look again, because sending it
    now could apply it twice. Old steps the order does not show are planned again, and
    so are steps whose request the shop answered (with an error: it is done with it).
    """
    if ledger.sent_steps(journal, file_id, row):
        with journal.atomic():
            if ledger.restamp_future_sends(journal, file_id, row):
                log.warning(
                    "order %d: a step was sent 'in the future' (the clock went back); "
                    "its settle time counts from now",
                    order_id,
                )
    pending = ledger.sent_steps(journal, file_id, row)
    if not pending:
        return
    now = datetime.now(UTC)
    waits = {
        r.key: 0.0 if r.finished_at else in_flight_grace - _age(r, now) for r in pending
    }
    if all(waits[r.key] > 0 and r.checked_at for r in pending):
        # Already looked for since they were sent: nothing new to learn before then.
        raise _doubt(pending, waits)
    facts = fetch()
    unsettled: list[ledger.StepRecord] = []
    for record in pending:
        reached = shows_step(record, facts)
        if not reached and waits[record.key] > 0:
            with journal.atomic():
                ledger.mark_checked(journal, record.key)
            unsettled.append(record)
            continue
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
    if unsettled:
        raise _doubt(unsettled, waits)


def _age(record: ledger.StepRecord, now: datetime) -> float:
    """Seconds since the step's request left (0 if the journal has no time).

    A step this process sent is aged by the monotonic clock. Otherwise never negative:
    a `sent_at` in the future (the clock went back since) counts as "just sent", so the
    wait is at most the grace, never the grace plus the jump; and a clock jumped
    *ahead* between runs has been taken out of the stored times (`jobs.share_budget`,
    measured by the monotonic clock), so a write still running in the shop is not
    taken for an old one and sent again.
    """
    here = _SENT_HERE.get(record.key)
    if here is not None:
        return max(0.0, time.monotonic() - here)
    if record.sent_at is None:
        return 0.0
    return max(0.0, (now - datetime.fromisoformat(record.sent_at)).total_seconds())


def shows_step(record: ledger.StepRecord, facts: OrderFacts) -> bool:
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
