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

Several orders at once (`limits.concurrency` senders, each with a client of its own
on the one shared rate limiter): the rows are grouped by order, one sender replays an
order's rows in file order, so two steps of one order are never in flight together,
and the journal (one SQLite connection behind a lock, short transactions) stays a
single writer. A 429 pauses the shared limiter, so every sender waits. A stop, an
unavailable API or a refused token halts all senders: none starts another request,
those in flight finish and are journalled for what they are.

What a resumed file must re-read (remembered states a plan must not rest on) is
confirmed in bulk, with the unknown orders, through the list endpoint
(`OrderBook.prefetch`); single GETs are left for orders the list did not hold.

Errors: `ApiRejectedError` (404, 422, app errors) rejects one row; a write left without
an answer is looked for at once by `replay.row` and, if the order does not show it yet,
holds its order (`StepInFlightError`) like any doubtful step; `ApiUnavailableError`
(the API kept failing, or that look failed too) leaves this row and the rest of the file
pending (returned, not raised, as
`ReplayResult.unavailable`); `AuthError` restores the in-flight step to `planned` (a
401/403 is answered before anything is applied) and is re-raised at once.

Here: the rows of one file in order. One row's steps are `replay.row`; settling the
steps a crash left `sent` is `reconcile`; what is known of each order is `order_book`.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from filebridge.errors import (
    ApiRejectedError,
    ApiUnavailableError,
    AuthError,
    StopRequestedError,
)
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay.order_book import OrderBook
from filebridge.replay.reconcile import StepInFlightError
from filebridge.replay.row import RowOutcome, RowReplay, RowWork, row_label
from filebridge.replay.settled import settle_rows
from filebridge.selldone import SelldoneClient

HALT_POLL_S = 0.05  # how soon a stop reaches senders waiting outside the limiter

__all__ = ["FileRows", "Hold", "ReplayResult", "replay_files", "replay_rows"]

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


@dataclass(frozen=True)
class FileRows:
    """One file's part of a replay: its pending valid rows (file order), what they cost
    in earlier runs (`prior`: row → calls) and who hears of each finished row."""

    file_id: int
    file_sha: str
    rows: Sequence[RowWork]
    prior: Mapping[int, int] = field(default_factory=dict)
    on_row: Callable[[RowOutcome], None] | None = None
    name: str = ""  # the file's name, for the log


@dataclass(frozen=True)
class _Item:
    """A row and the file it belongs to."""

    file: FileRows
    work: RowWork

    @property
    def prior_calls(self) -> int:
        return self.file.prior.get(self.work.row, 0)


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
    concurrency: int = 1,
) -> ReplayResult:
    """Replay `rows` (the file's pending valid rows, in file order): `replay_files` for
    one file."""
    part = FileRows(file_id, file_sha, rows, prior_calls or {}, on_row)
    return replay_files(
        client,
        journal,
        [part],
        book=book,
        stop=stop,
        in_flight_grace=in_flight_grace,
        held=held,
        concurrency=concurrency,
    )[0]


def replay_files(
    client: SelldoneClient,
    journal: Journal,
    files: Sequence[FileRows],
    *,
    book: OrderBook | None = None,
    stop: threading.Event | None = None,
    in_flight_grace: float | None = None,
    held: dict[int, Hold] | None = None,
    concurrency: int = 1,
) -> list[ReplayResult]:
    """Replay the rows of `files` (in arrival order) as one piece of work; a result per
    file.

    Up to `concurrency` orders are replayed at once, each by one sender with a client
    of its own (`client.fork`) on the shared budget; the rows of one order, across the
    files, go to one sender in file order and then row order, so an order's steps never
    overlap and keep their sequence, while small files (one per shipment) fill the
    budget together. Stops early, leaving the remaining rows pending, when the API is
    unavailable or `stop` is set (no sender starts a request after that; those in
    flight finish and are journalled); re-raises `AuthError` after journalling. A
    maybe-sent step too recent to check (the grace defaults to the client's
    `write_settle`) holds its order: it joins `held` (shared by the files of one
    pass), the rows of held orders stay pending and `retry_in` says when to look
    again; the other rows go on. The results share `unavailable`, `stopped`,
    `retry_in` and `held`; each has its file's outcomes and calls.
    """
    replay = _Replay(
        client,
        journal,
        book or OrderBook(client, journal),
        stop=stop,
        grace=client.write_settle if in_flight_grace is None else in_flight_grace,
        held=held if held is not None else {},
    )
    return replay.run(files, max(1, concurrency))


class _Replay:
    """One replay: the order lanes of its files, the senders, and what they found."""

    def __init__(
        self,
        client: SelldoneClient,
        journal: Journal,
        book: OrderBook,
        *,
        stop: threading.Event | None,
        grace: float,
        held: dict[int, Hold],
    ) -> None:
        self.client = client
        self.journal = journal
        self.book = book
        self.stop = stop
        self.grace = grace
        self.result = ReplayResult(held=held)  # the shared part of every file's result
        # Set when a sender found the API down or the token refused, or on `stop`:
        # no sender starts another request (`RateLimiter.halted_by`).
        self.halt = threading.Event()
        self.lock = threading.Lock()  # guards `result` and `failure`
        self.failure: BaseException | None = None  # re-raised once senders are done
        self.outcomes: dict[tuple[int, int], RowOutcome] = {}  # (file, row) →

    def run(self, files: Sequence[FileRows], concurrency: int) -> list[ReplayResult]:
        calls_before = self.book.calls
        items: list[_Item] = []
        decided: set[int] = set()  # orders whose first row needed nothing
        waiting: set[int] = set()  # orders with a row left to replay in a file before
        for part in files:
            if self.stop is not None and self.stop.is_set():
                items += (_Item(part, w) for w in part.rows)
                continue
            # Rows that need no call, decided in bulk first (`replay.settled`); an
            # order with a row left in an earlier file is planned after that row.
            settled = settle_rows(
                self.journal, part.rows, file_id=part.file_id, prior=part.prior,
                held=self.result.held.keys() | waiting, cached=self.book.cached,
                on_row=part.on_row,
            )  # fmt: skip
            self.outcomes.update(((part.file_id, o.row), o) for o in settled.outcomes)
            decided |= {o.order_id for o in settled.outcomes} - waiting
            items += (_Item(part, w) for w in settled.rest)
            waiting |= {w.order_id for w in settled.rest}
        try:
            self.book.prefetch(
                (i.work.order_id for i in items),
                refresh=self._to_confirm(items, decided),
            )
        except StopRequestedError:
            self.result.stopped = True
            items = []
        except ApiUnavailableError as exc:
            self.result.unavailable = exc
        except ApiRejectedError as exc:
            log.warning("listing orders was refused (%s); reading them one by one", exc)
        if self.result.unavailable is None and items:
            lanes = _lanes(items)
            if concurrency == 1 or len(lanes) <= 1:
                for lane in lanes:
                    self._lane(self.client, lane)
            else:
                self._in_parallel(lanes, min(concurrency, len(lanes)))
        if self.failure is not None:
            raise self.failure
        return self._results(files, self.book.calls - calls_before)

    def _results(self, files: Sequence[FileRows], calls: int) -> list[ReplayResult]:
        """A result per file; the calls of a row count for its file, the bulk reads
        (list calls) for the first file."""
        results: list[ReplayResult] = []
        for part in files:
            outcomes = [
                self.outcomes[(part.file_id, w.row)]
                for w in part.rows
                if (part.file_id, w.row) in self.outcomes
            ]
            spent = sum(max(0, o.calls - part.prior.get(o.row, 0)) for o in outcomes)
            results.append(replace(self.result, outcomes=outcomes, calls=spent))
        if results:
            rest = calls - sum(r.calls for r in results)
            results[0].calls += max(0, rest)
        return results

    def _to_confirm(self, items: Sequence[_Item], decided: set[int]) -> list[int]:
        """Known orders whose remembered state their first row must not be planned on.

        Only the first row of each order: a later row plans on what the earlier ones
        left (and reads then if it must), as the per-row replay always did. `decided`
        orders had their first row settled in bulk (it needed nothing).
        """
        wanted: set[int] = set()
        looked = set(decided)
        for item in items:
            order_id = item.work.order_id
            if order_id in looked or order_id in self.result.held:
                continue
            looked.add(order_id)
            facts = self.book.get(order_id)
            if (
                facts is not None
                and not facts.fresh
                and self._runner(self.client, item).needs_fresh(facts)
            ):
                wanted.add(order_id)
        return sorted(wanted)

    def _runner(self, client: SelldoneClient, item: _Item) -> RowReplay:
        return RowReplay(
            client,
            self.journal,
            self.book,
            item.work,
            file_id=item.file.file_id,
            file_sha=item.file.file_sha,
            calls=item.prior_calls,
            stop=self,
            in_flight_grace=self.grace,
            source=item.file.name,
        )

    def _in_parallel(self, lanes: list[list[_Item]], senders: int) -> None:
        """The lanes on `senders` threads, each with a client (session) of its own."""
        clients: queue.SimpleQueue[SelldoneClient] = queue.SimpleQueue()
        forks = [self.client.fork() for _ in range(senders)]
        for fork in forks:
            clients.put(fork)

        def send(lane: list[_Item]) -> None:
            client = clients.get()
            try:
                with client.limiter.halted_by(self.halt):
                    self._lane(client, lane)
            except BaseException as exc:  # noqa: BLE001 - a bug or storage error: re-raised by `run`
                self._fail(exc)
            finally:
                clients.put(client)

        try:
            with ThreadPoolExecutor(
                max_workers=senders, thread_name_prefix="filebridge-sender"
            ) as pool:
                pending = {pool.submit(send, lane) for lane in lanes}
                while pending:
                    _, pending = wait(pending, timeout=HALT_POLL_S)
                    if self.stop is not None and self.stop.is_set():
                        self.halt.set()
        finally:
            for fork in forks:
                fork.close()

    def _fail(self, exc: BaseException) -> None:
        with self.lock:
            if self.failure is None:
                self.failure = exc
        self.halt.set()

    def is_set(self) -> bool:
        """Stopped or halted (a `StopSignal` for the rows): no new step starts."""
        if self.stop is not None and self.stop.is_set():
            self.halt.set()
        return self.halt.is_set()

    def _lane(self, client: SelldoneClient, lane: list[_Item]) -> None:
        """One order's rows, in file order, through `client`."""
        for index, item in enumerate(lane):
            if self.is_set():
                if self.result.unavailable is not None:
                    self._not_reached(lane[index:])
                else:
                    with self.lock:
                        self.result.stopped = True
                return
            blocker = self.result.held.get(item.work.order_id)
            if blocker is not None:
                self._record(item.file, _wait_behind(self.journal, item, blocker))
                continue
            if not self._row(client, item):
                self._not_reached(lane[index + 1 :])
                return

    def _not_reached(self, items: Sequence[_Item]) -> None:
        """With the API unavailable, the lane's rows left say so (each in its file)."""
        if self.result.unavailable is None:
            return
        for i in items:
            outcome = RowOutcome(
                i.work.row, i.work.order_id, "pending", "not reached", i.prior_calls
            )
            self._record(i.file, outcome)

    def _record(
        self, part: FileRows, *outcomes: RowOutcome, counted: bool = False
    ) -> None:
        with self.lock:
            for outcome in outcomes:
                self.outcomes[(part.file_id, outcome.row)] = outcome
                if counted and part.on_row is not None:
                    part.on_row(outcome)

    def _row(self, client: SelldoneClient, item: _Item) -> bool:
        """Replay one row; False when its lane (and, but for a hold, the file) ends."""
        work, part = item.work, item.file
        runner = self._runner(client, item)
        try:
            outcome = runner.run()
        except StopRequestedError:
            # A stop during a wait of the client: nothing left for this row.
            with self.lock:
                self.result.stopped = True
            self.halt.set()
            self._record(part, runner.outcome("pending", "stopped"))
            return False
        except StepInFlightError as exc:
            hold = Hold(
                work.order_id,
                part.file_id,
                work.row,
                exc.action,
                exc.reason,
                exc.seconds,
                datetime.now(UTC) + timedelta(seconds=exc.seconds),
            )
            with self.lock:
                self.result.held[work.order_id] = hold
                self.result.retry_in = min(
                    self.result.retry_in or exc.seconds, exc.seconds
                )
            log.warning("%s: %s", runner.where, hold.describe())
            outcome = runner.finish("pending", hold.describe())
            self._record(part, replace(outcome, held=True))
            return True
        except ApiRejectedError as exc:
            # A GET of this order was refused (404 unknown order, ...): reject the row.
            outcome = runner.finish("rejected", _read_refused(work.order_id, exc))
        except ApiUnavailableError as exc:
            with self.lock:
                if self.result.unavailable is None:
                    self.result.unavailable = exc
            self.halt.set()
            self._record(part, runner.outcome("pending", str(exc)))
            return False
        except AuthError as exc:
            self._fail(exc)
            return False
        self._record(part, outcome, counted=True)
        if outcome.outcome == "pending":
            with self.lock:
                self.result.stopped = True
            self.halt.set()
            return False
        return True


def _lanes(items: Sequence[_Item]) -> list[list[_Item]]:
    """The rows grouped by order, in file (then row) order within each, orders by
    their first row."""
    lanes: dict[int, list[_Item]] = {}
    for item in items:
        lanes.setdefault(item.work.order_id, []).append(item)
    return list(lanes.values())


def _wait_behind(journal: Journal, item: _Item, blocker: Hold) -> RowOutcome:
    """A row of a held order: it stays pending (and says why) so the order keeps its
    sequence; nothing is sent for it in this pass."""
    work = item.work
    message = blocker.behind()
    calls = item.prior_calls
    with journal.atomic():
        ledger.set_row(
            journal,
            item.file.file_id,
            work.row,
            outcome="pending",
            message=message,
            calls=calls,
        )
    log.info("%s: %s", row_label(item.file.name, work.row), message)
    return RowOutcome(work.row, work.order_id, "pending", message, calls, held=True)
