"""Replay: execute the planned steps of a file's inbox rows through the client, exactly once.

Every write is journalled before and after it is sent:

    planned  ──(commit)──►  sent  ──HTTP──►  confirmed | rejected   (one commit each)

* The plan of a row is recorded (`planned`) in the transaction that decides it.
* A step is marked `sent` and committed *before* the request leaves. If the process dies
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
from dataclasses import dataclass, field

from filebridge.errors import ApiRejectedError, ApiUnavailableError
from filebridge.journal import Journal
from filebridge.replay.order_book import OrderBook
from filebridge.replay.reconcile import StepInFlightError
from filebridge.replay.row import RowOutcome, RowReplay, RowWork
from filebridge.selldone import SelldoneClient

__all__ = ["ReplayResult", "replay_rows"]

log = logging.getLogger(__name__)


@dataclass
class ReplayResult:
    """The rows of one file as far as this run got."""

    outcomes: list[RowOutcome] = field(default_factory=list)
    calls: int = 0
    unavailable: ApiUnavailableError | None = None
    stopped: bool = False
    retry_in: float | None = None


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
) -> ReplayResult:
    """Replay `rows` (the file's pending valid rows, in file order).

    Stops early, leaving the remaining rows pending, when the API is unavailable,
    `stop` is set, or a maybe-sent step is too recent to check (`retry_in`; the grace
    defaults to the client's `write_settle`); re-raises `AuthError` after journalling.
    """
    grace = client.write_settle if in_flight_grace is None else in_flight_grace
    book = book or OrderBook(client, journal)
    result = ReplayResult()
    calls_before = book.calls
    prior = prior_calls or {}
    try:
        book.prefetch(w.order_id for w in rows)
    except ApiUnavailableError as exc:
        result.unavailable = exc
    except ApiRejectedError as exc:
        log.warning("listing orders was refused (%s); reading them one by one", exc)
    rows_left = [] if result.unavailable else list(rows)
    for index, work in enumerate(rows_left):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
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
        except StepInFlightError as exc:
            result.retry_in = exc.seconds
            result.stopped = True
            result.outcomes.append(
                runner.outcome("pending", "an earlier request may still be running")
            )
            break
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
    return result
