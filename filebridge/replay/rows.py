"""Replay: execute the planned steps of a file's inbox rows through the client, exactly once.

Every write is journalled before and after it is sent:

    planned  ──(commit)──►  sent  ──HTTP──►  confirmed | rejected   (one commit each)

* The plan of a row is recorded (`planned`) in the transaction that decides it.
* A step is marked `sent` and committed *right before* the request leaves, after every
  wait of the client (budget, Retry-After, backoff). If the process dies
  after that, the step is "maybe applied": the next run re-reads the order (one GET) and
  marks it confirmed if the order already reached it, otherwise sends it again. A step
  is therefore never sent twice after a crash, and never lost.
* The answer, the order's new known state (`order_states`) and, on the last step, the
  row's outcome are committed in one transaction.
* The idempotency key is `sha256:row:order:action`, so re-running a file finds its steps.

What an order's state is: taken from `order_states` (every successful step and every
read updates it), else learnt in bulk (one list call for many unknown orders), else one
GET. If the shop refuses a step as not fitting (`TransitionRejectedError`), the order is
re-read once and the row re-planned; if the refusal stands, the row is rejected with
the API's message. A plan that would reject the row or needs the order's delivery_info
is also made on fresh data first.

A doubtful step (maybe still running in the shop, `StepInFlightError`) holds only its
order: the row stays pending, later rows of the same order (in this file and, through
the shared `held` map, in later files of the pass) stay pending behind it, and every
other row goes on in file order.

Errors: `ApiRejectedError` (404, 422, app errors) rejects one row; `ApiUnavailableError`
leaves this row and the rest of the file pending (returned, not raised, as
`ReplayResult.unavailable`); `AuthError` restores the in-flight step to `planned` (a
401/403 is answered before anything is applied) and is re-raised at once.

Here: the rows of one file in order. One row's steps are `replay.row`; settling the
steps a crash left `sent` is `reconcile`; what is known of each order is `order_book`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from filebridge.errors import (
    ApiRejectedError,
    ApiUnavailableError,
    StopRequestedError,
)
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay.order_book import OrderBook
from filebridge.replay.reconcile import StepInFlightError
from filebridge.replay.row import RowOutcome, RowReplay, RowWork
from filebridge.replay.settled import settle_rows
from filebridge.selldone import SelldoneClient

__all__ = ["Hold", "ReplayResult", "replay_rows"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Hold:
    """An order held for this pass: a step of it may still be running in the shop.

    `until` is when it is looked at again (this machine's clock, for people to read);
    `retry_in` is the same as a duration, which is what waits use.
    """

    order_id: int
    file_id: int
    row: int
    action: str
    reason: str
    retry_in: float
    until: datetime

    def describe(self) -> str:
        return (
            f"held: {self.action} of order {self.order_id} may still be running in "
            f"the shop ({self.reason}); checked again in {self.retry_in:.0f} s, at "
            f"{self.until:%Y-%m-%d %H:%M:%S} UTC"
        )

    def behind(self) -> str:
        return (
            f"held: waits behind {self.action} of order {self.order_id} (row "
            f"{self.row} of an earlier file or this one), which may still be running "
            f"in the shop; checked again at {self.until:%Y-%m-%d %H:%M:%S} UTC"
        )


@dataclass
class ReplayResult:
    """The rows of one file as far as this run got; `held` are the pass's held orders."""

    outcomes: list[RowOutcome] = field(default_factory=list)
    calls: int = 0
    unavailable: ApiUnavailableError | None = None
    stopped: bool = False
    retry_in: float | None = None
    held: dict[int, Hold] = field(default_factory=dict)

    @property
    def held_rows(self) -> int:
        return sum(1 for o in self.outcomes if o.held)


def _read_refused(order_id: int, exc: ApiRejectedError) -> str:
    if exc.status == 404:
        return (
            f"Order {order_id} was not found in the shop (404: "
            f"{exc.api_message or 'not found'}); check the order id."
        )
    return f"Selldone refused to read order {order_id}: {exc.api_message or exc}"


def replay_rows(
    client: SelldoneClient,
    journal: Journal,
    rows: Sequence[RowWork],
    *,
    file_id: int,
    file_sha: str,
    book: OrderBook | None = None,
    prior_calls: dict[int, int] | None = None,
    stop: threading.Event | None = None,
    on_row: Callable[[RowOutcome], None] | None = None,
    in_flight_grace: float | None = None,
    held: dict[int, Hold] | None = None,
) -> ReplayResult:
    """Replay `rows` (the file's pending valid rows, in file order).

    Stops early, leaving the remaining rows pending, when the API is unavailable or
    `stop` is set; re-raises `AuthError` after journalling. A maybe-sent step too
    recent to check (the grace defaults to the client's `write_settle`) holds its
    order: it joins `held` (shared by the files of one pass), the rows of held orders
    stay pending and `retry_in` says when to look again; the other rows go on.
    """
    grace = client.write_settle if in_flight_grace is None else in_flight_grace
    book = book or OrderBook(client, journal)
    result = ReplayResult(held=held if held is not None else {})
    calls_before = book.calls
    prior = prior_calls or {}
    if stop is None or not stop.is_set():
        # Rows that need no call, decided in bulk first (replay.settled, #14 item 4).
        settled = settle_rows(
            journal, rows, file_id=file_id, prior=prior, held=result.held.keys(),
            cached=book.cached, on_row=on_row,
        )  # fmt: skip
        result.outcomes, rows = settled.outcomes, settled.rest
    try:
        book.prefetch(w.order_id for w in rows)
    except StopRequestedError:
        result.stopped = True
        return result
    except ApiUnavailableError as exc:
        result.unavailable = exc
    except ApiRejectedError as exc:
        log.warning("listing orders was refused (%s); reading them one by one", exc)
    rows_left = [] if result.unavailable else list(rows)
    for index, work in enumerate(rows_left):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        blocker = result.held.get(work.order_id)
        if blocker is not None:
            result.outcomes.append(_wait_behind(journal, file_id, work, blocker, prior))
            continue
        runner = RowReplay(
            client,
            journal,
            book,
            work,
            file_id=file_id,
            file_sha=file_sha,
            calls=prior.get(work.row, 0),
            stop=stop,
            in_flight_grace=grace,
        )
        try:
            outcome = runner.run()
        except StopRequestedError:
            # A stop during a wait of the client: nothing left for this row.
            result.stopped = True
            result.outcomes.append(runner.outcome("pending", "stopped"))
            break
        except StepInFlightError as exc:
            hold = Hold(
                work.order_id,
                file_id,
                work.row,
                exc.action,
                exc.reason,
                exc.seconds,
                datetime.now(UTC) + timedelta(seconds=exc.seconds),
            )
            result.held[work.order_id] = hold
            result.retry_in = min(result.retry_in or exc.seconds, exc.seconds)
            log.warning("row %d: %s", work.row, hold.describe())
            outcome = runner.finish("pending", hold.describe())
            result.outcomes.append(replace(outcome, held=True))
            continue
        except ApiRejectedError as exc:
            # A GET of this order was refused (404 unknown order, ...): reject the row.
            outcome = runner.finish("rejected", _read_refused(work.order_id, exc))
        except ApiUnavailableError as exc:
            result.unavailable = exc
            result.outcomes.append(runner.outcome("pending", str(exc)))
            result.outcomes.extend(
                RowOutcome(
                    w.row, w.order_id, "pending", "not reached", prior.get(w.row, 0)
                )
                for w in rows_left[index + 1 :]
            )
            break
        result.outcomes.append(outcome)
        if on_row is not None:
            on_row(outcome)
        if outcome.outcome == "pending":
            result.stopped = True
            break
    result.calls = book.calls - calls_before
    result.outcomes.sort(key=lambda o: o.row)  # the bulk-decided rows in file order
    return result


def _wait_behind(
    journal: Journal,
    file_id: int,
    work: RowWork,
    blocker: Hold,
    prior: dict[int, int],
) -> RowOutcome:
    """A row of a held order: it stays pending (and says why) so the order keeps its
    sequence; nothing is sent for it in this pass."""
    message = blocker.behind()
    calls = prior.get(work.row, 0)
    with journal.atomic():
        ledger.set_row(
            journal, file_id, work.row, outcome="pending", message=message, calls=calls
        )
    log.info("row %d: %s", work.row, message)
    return RowOutcome(work.row, work.order_id, "pending", message, calls, held=True)
