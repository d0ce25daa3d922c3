"""Replay: execute the planned steps of inbox rows through the client, exactly once.

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
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from filebridge import inbox_ledger as ledger
from filebridge.errors import (
    ApiError,
    ApiRejectedError,
    ApiUnavailableError,
    AuthError,
    TransitionRejectedError,
)
from filebridge.fulfilment import (
    Action,
    ActionKind,
    Plan,
    RowRequest,
    apply,
    parse_state,
    plan_actions,
)
from filebridge.journal import Journal
from filebridge.models import FULFILMENT_SEQUENCE, FulfilmentState, Order
from filebridge.selldone import MAX_PAGE_SIZE, SelldoneClient

__all__ = [
    "PREFETCH_MIN_UNKNOWN",
    "OrderBook",
    "OrderFacts",
    "PlannedCall",
    "ReplayResult",
    "RowOutcome",
    "RowWork",
    "plan_rows_dry",
    "replay_rows",
    "step_key",
]

log = logging.getLogger(__name__)

PREFETCH_MIN_UNKNOWN = 3
"""From this many orders of unknown state, one list call (≤250 orders) beats a GET each."""
PREFETCH_STATUSES = ("Payed", "COD")


def step_key(file_sha: str, row: int, order_id: int, action: str) -> str:
    """The idempotency key of one step of one row of one file content."""
    return f"{file_sha}:{row}:{order_id}:{action}"


@dataclass(frozen=True)
class RowWork:
    """A valid inbox row to replay."""

    row: int
    order_id: int
    request: RowRequest


@dataclass(frozen=True)
class RowOutcome:
    """What happened to one row; `calls` counts API calls made for it (all runs)."""

    row: int
    order_id: int
    outcome: str  # applied | already-done | rejected | pending
    message: str
    calls: int


@dataclass(frozen=True)
class PlannedCall:
    """One call a dry run would make."""

    source: str
    row: int
    order_id: int
    method: str
    description: str


@dataclass
class ReplayResult:
    """The rows of one file as far as this run got."""

    outcomes: list[RowOutcome] = field(default_factory=list)
    calls: int = 0
    unavailable: ApiUnavailableError | None = None
    stopped: bool = False
    retry_in: float | None = None


@dataclass
class OrderFacts:
    """The planner's view of one order; `fresh` = read from the API during this run."""

    state: str
    tracking: tuple[str | None, str | None] | None
    delivery_info: dict[str, Any] | None
    fresh: bool


class OrderBook:
    """What this run knows about orders: the journal's `order_states` plus fresh reads.

    With `journal=None` (dry run) nothing is written anywhere.
    """

    def __init__(self, client: SelldoneClient, journal: Journal | None) -> None:
        self._client = client
        self._journal = journal
        self._facts: dict[int, OrderFacts] = {}
        self.calls = 0

    def get(self, order_id: int) -> OrderFacts | None:
        if order_id in self._facts:
            return self._facts[order_id]
        if self._journal is None:
            return None
        known = ledger.known_order(self._journal, order_id)
        if known is None:
            return None
        tracking = (
            None
            if known.tracking_code is None and known.tracking_url is None
            else (known.tracking_code or None, known.tracking_url or None)
        )
        facts = OrderFacts(known.delivery_state, tracking, known.delivery_info, False)
        self._facts[order_id] = facts
        return facts

    def fetch(self, order_id: int) -> OrderFacts:
        """GET the order (one call) and remember it."""
        self.calls += 1
        order = self._client.get_order(order_id)
        return self.learn(order)

    def learn(self, order: Order) -> OrderFacts:
        info = order.delivery_info_raw()
        tracking = (
            order.delivery_info.tracking_code if order.delivery_info else None,
            order.delivery_info.tracking_url if order.delivery_info else None,
        )
        facts = OrderFacts(order.delivery_state or "", tracking, info, True)
        self._facts[order.id] = facts
        if self._journal is not None:
            ledger.remember_order(
                self._journal,
                order.id,
                facts.state,
                status=order.status or None,
                tracking=(tracking[0] or "", tracking[1] or ""),
                delivery_info=info,
            )
        return facts

    def prefetch(self, order_ids: Iterable[int]) -> None:
        """Learn many unknown orders with one list call (newest orders first).

        Orders not on that page (older, or not Payed/COD) are fetched one by one later.
        """
        unknown = sorted({i for i in order_ids if self.get(i) is None})
        if len(unknown) < PREFETCH_MIN_UNKNOWN:
            return
        self.calls += 1
        page = self._client.list_orders(
            offset=0,
            limit=MAX_PAGE_SIZE,
            statuses=PREFETCH_STATUSES,
            with_=(),
            sort_by="reserved_at",
            sort_desc=True,
        )
        wanted = set(unknown)
        found = [order for order in page.orders if order.id in wanted]
        if self._journal is not None:
            with self._journal.atomic():
                for order in found:
                    self.learn(order)
        else:
            for order in found:
                self.learn(order)
        log.info(
            "learnt the state of %d of %d unknown orders from one list call",
            len(found),
            len(unknown),
        )

    def assume(self, order_id: int, facts: OrderFacts) -> None:
        """Take `facts` as the order's state without recording it (dry run)."""
        self._facts[order_id] = facts

    def after(self, order_id: int, facts: OrderFacts) -> None:
        """Remember the state a confirmed step left (caller holds the transaction)."""
        self._facts[order_id] = facts
        if self._journal is not None:
            ledger.remember_order(
                self._journal,
                order_id,
                facts.state,
                tracking=facts.tracking,
                delivery_info=facts.delivery_info,
            )


# --- one row -------------------------------------------------------------------------


class _DeferredError(Exception):
    """A maybe-sent step is too recent to check; retry after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry in {seconds:.1f} s")
        self.seconds = seconds


class _Row:
    """Replays one row; `calls` accumulates across runs (the journal keeps the count)."""

    def __init__(
        self,
        client: SelldoneClient,
        journal: Journal,
        book: OrderBook,
        work: RowWork,
        *,
        file_id: int,
        file_sha: str,
        calls: int,
        stop: threading.Event | None,
        in_flight_grace: float,
    ) -> None:
        self.in_flight_grace = in_flight_grace
        self.client = client
        self.journal = journal
        self.book = book
        self.work = work
        self.file_id = file_id
        self.file_sha = file_sha
        self.calls = calls
        self.stop = stop
        self.sent: list[str] = ledger.confirmed_step_names(journal, file_id, work.row)

    def key(self, action: Action) -> str:
        return step_key(self.file_sha, self.work.row, self.work.order_id, action.name)

    def outcome(self, outcome: str, message: str) -> RowOutcome:
        return RowOutcome(
            self.work.row, self.work.order_id, outcome, message, self.calls
        )

    def _fetch(self) -> OrderFacts:
        self.calls += 1
        return self.book.fetch(self.work.order_id)

    def _finish(self, outcome: str, message: str) -> RowOutcome:
        ledger.set_row(
            self.journal,
            self.file_id,
            self.work.row,
            outcome=outcome,
            message=message,
            calls=self.calls,
        )
        return self.outcome(outcome, message)

    def run(self) -> RowOutcome:
        self._reconcile()
        facts = self.book.get(self.work.order_id) or self._fetch()
        plan = self._plan(facts)
        stale = not facts.fresh and (
            plan.rejection is not None or _needs_fresh_order(plan, self.work.request)
        )
        if stale:
            # Never reject a row, nor merge delivery_info, on remembered data alone.
            facts = self._fetch()
            plan = self._plan(facts)
        refreshed = facts.fresh
        while True:
            with self.journal.atomic():
                ledger.forget_planned_steps(self.journal, self.file_id, self.work.row)
                for action in plan.actions:
                    ledger.plan_step(
                        self.journal,
                        self.key(action),
                        file_id=self.file_id,
                        row_number=self.work.row,
                        order_id=self.work.order_id,
                        action=action.name,
                        payload=action.payload(),
                    )
                if not plan.actions:
                    return self._finish(*self._final(plan))
            retry = self._send_all(plan, refreshed=refreshed)
            if isinstance(retry, RowOutcome):
                return retry
            refreshed = True
            plan = retry

    def _final(self, plan: Plan) -> tuple[str, str]:
        if plan.rejection is not None:
            return "rejected", plan.rejection
        if self.sent:
            return "applied", _applied_message(self.sent, plan)
        return "already-done", plan.message or "nothing to send"

    def _plan(self, facts: OrderFacts) -> Plan:
        return plan_actions(
            facts.state,
            self.work.request,
            delivery_info=facts.delivery_info,
            tracking=facts.tracking,
        )

    def _send_all(self, plan: Plan, *, refreshed: bool) -> RowOutcome | Plan:
        """Send the plan's steps; a new Plan means "refreshed, try this instead"."""
        for index, action in enumerate(plan.actions):
            if self.stop is not None and self.stop.is_set():
                return self._finish("pending", "stopped before " + action.describe())
            key = self.key(action)
            record = ledger.step(self.journal, key)
            if record is not None and record.state == "confirmed":
                continue
            with self.journal.atomic():
                ledger.mark_step(self.journal, key, "sent")
            try:
                self.calls += 1
                self.book.calls += 1
                facts = self._send(action)
            except TransitionRejectedError as exc:
                with self.journal.atomic():
                    ledger.mark_step(self.journal, key, "planned")
                if refreshed:
                    return self._reject(key, action, exc)
                before = self.book.get(self.work.order_id)
                fresh = self._fetch()
                if before is not None and fresh.state == before.state:
                    # Same state as we planned from: the refusal is about something else.
                    return self._reject(key, action, exc)
                log.info(
                    "order %d is %s, not %s: re-planning row %d",
                    self.work.order_id,
                    fresh.state,
                    before.state if before else "?",
                    self.work.row,
                )
                return self._plan(fresh)
            except ApiRejectedError as exc:
                return self._reject(key, action, exc)
            except AuthError:
                with self.journal.atomic():
                    ledger.mark_step(self.journal, key, "planned")
                    ledger.set_row(
                        self.journal,
                        self.file_id,
                        self.work.row,
                        outcome="pending",
                        message="stopped: the token was rejected",
                        calls=self.calls,
                    )
                raise
            except ApiUnavailableError as exc:
                self._unanswered(key, action, exc)
                raise
            except ApiError as exc:
                self._unanswered(key, action, exc)
                raise
            with self.journal.atomic():
                ledger.mark_step(self.journal, key, "confirmed")
                self.book.after(self.work.order_id, facts)
                self.sent.append(action.name)
                log.info(
                    "applied %s to order %d (row %d)",
                    action.describe(),
                    self.work.order_id,
                    self.work.row,
                )
                if index == len(plan.actions) - 1:
                    return self._finish("applied", _applied_message(self.sent, plan))
                ledger.set_row(
                    self.journal,
                    self.file_id,
                    self.work.row,
                    outcome="pending",
                    message="in progress",
                    calls=self.calls,
                )
        return self._finish(*self._final(plan))

    def _send(self, action: Action) -> OrderFacts:
        """One write; returns what the order looks like afterwards."""
        order_id = self.work.order_id
        before = self.book.get(order_id) or OrderFacts("", None, None, False)
        if action.kind is ActionKind.TRACKING:
            result = self.client.put_tracking(
                order_id,
                tracking_code=action.tracking_code,
                tracking_url=action.tracking_url,
            )
            info = (
                result.delivery_info.raw()
                if result.delivery_info is not None
                else before.delivery_info
            )
            tracking = (
                result.tracking_code or action.tracking_code,
                result.tracking_url or action.tracking_url,
            )
            return OrderFacts(before.state, tracking, info, before.fresh)
        if action.kind is ActionKind.RETURNED:
            change = self.client.post_delivery_returned(order_id)
        else:
            if action.state is None:
                raise ValueError(f"state action without a state: {action!r}")
            change = self.client.post_state(
                order_id,
                action.state,
                items=action.items,
                delivery_info=action.delivery_info,
            )
        modelled = apply(
            parse_state(before.state) or FulfilmentState.CHECK_QUEUE, action
        )
        state = change.delivery_state or modelled.value
        info = (
            dict(action.delivery_info)
            if action.delivery_info is not None
            else before.delivery_info
        )
        return OrderFacts(state, before.tracking, info, before.fresh)

    def _unanswered(self, key: str, action: Action, exc: ApiError) -> None:
        """The request ended without a usable answer; the row stays pending.

        429 and 503 are answered before the shop processes anything, so the step is
        `planned` again. Otherwise it may have been applied: it stays `sent` (marked
        as ended, so no in-flight grace applies) and the next run reconciles it.
        """
        with self.journal.atomic():
            if exc.status in (429, 503):
                ledger.mark_step(self.journal, key, "planned")
            else:
                ledger.mark_unanswered(self.journal, key, str(exc))
            self._finish("pending", f"{action.describe()} unconfirmed: {exc}")

    def _reject(self, key: str, action: Action, exc: ApiRejectedError) -> RowOutcome:
        message = f"Selldone refused {action.describe()}: {exc.api_message or exc}"
        if self.sent:
            message = "sent " + ", ".join(self.sent) + "; then " + message
        with self.journal.atomic():
            ledger.mark_step(self.journal, key, "rejected", str(exc))
            ledger.forget_planned_steps(self.journal, self.file_id, self.work.row)
            return self._finish("rejected", message)

    def _reconcile(self) -> None:
        """Steps left `sent` by a crash or an unsure failure: did they reach the shop?

        A request sent less than `in_flight_grace` seconds ago may still be running on
        the server (the process that sent it died, the server did not notice); reading
        the order now could miss it and send the step twice, so the row waits.
        """
        pending = ledger.sent_steps(self.journal, self.file_id, self.work.row)
        if not pending:
            return
        now = datetime.now(UTC)
        for record in pending:
            if record.finished_at is not None:
                continue  # the request ended in this process: nothing is in flight
            age = (
                now - datetime.fromisoformat(record.sent_at or now.isoformat())
            ).total_seconds()
            if age < self.in_flight_grace:
                raise _DeferredError(self.in_flight_grace - age)
        facts = self._fetch()
        for record in pending:
            reached = _reached(record, facts)
            with self.journal.atomic():
                ledger.mark_step(
                    self.journal,
                    record.key,
                    "confirmed" if reached else "planned",
                    "reconciled: the order already had it" if reached else "",
                )
                if reached:
                    self.sent.append(record.action)
            log.info(
                "order %d: step %s %s",
                self.work.order_id,
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


def _read_refused(order_id: int, exc: ApiRejectedError) -> str:
    if exc.status == 404:
        return (
            f"Order {order_id} was not found in the shop (404: "
            f"{exc.api_message or 'not found'}); check the order id."
        )
    return f"Selldone refused to read order {order_id}: {exc.api_message or exc}"


def _needs_fresh_order(plan: Plan, request: RowRequest) -> bool:
    """Steps that must not be planned from remembered data.

    OrderConfirm: the shop also accepts it as a *re-confirm* in OrderConfirm and
    PreparingOrder, rewriting the item checks, so a remembered CheckQueue that is stale
    would not be refused but would silently undo a confirmation made in the dashboard.
    PreparingOrder with changes: the existing delivery_info must be current to merge.
    """
    for action in plan.actions:
        if action.state is FulfilmentState.ORDER_CONFIRM:
            return True
        if action.state is FulfilmentState.PREPARING_ORDER and request.delivery_info:
            return True
    return False


def _applied_message(sent: Sequence[str], plan: Plan) -> str:
    text = "sent " + ", ".join(sent)
    return text + (f"; {plan.message}" if plan.message else "")


# --- whole files ---------------------------------------------------------------------


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
    defaults to the client's timeout); re-raises `AuthError` after journalling.
    """
    grace = client.timeout if in_flight_grace is None else in_flight_grace
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
        runner = _Row(
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
        except _DeferredError as exc:
            result.retry_in = exc.seconds
            result.stopped = True
            result.outcomes.append(
                runner.outcome("pending", "an earlier request may still be running")
            )
            break
        except ApiRejectedError as exc:
            # A GET of this order was refused (404 unknown order, ...): reject the row.
            outcome = runner._finish("rejected", _read_refused(work.order_id, exc))
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


def plan_rows_dry(
    client: SelldoneClient,
    journal: Journal,
    rows: Sequence[RowWork],
    *,
    source: str,
    book: OrderBook,
) -> list[PlannedCall]:
    """The calls `replay_rows` would make, planning on an in-memory copy of each order.

    Reads (the journal, GET/list calls) are allowed; nothing is written anywhere.
    """
    del journal  # the book reads the journal; kept for symmetry with replay_rows
    book.prefetch(w.order_id for w in rows)
    planned: list[PlannedCall] = []
    for work in rows:
        facts = book.get(work.order_id) or book.fetch(work.order_id)
        plan = plan_actions(
            facts.state,
            work.request,
            delivery_info=facts.delivery_info,
            tracking=facts.tracking,
        )
        if plan.rejection is not None:
            planned.append(
                PlannedCall(source, work.row, work.order_id, "-", plan.rejection)
            )
            continue
        state = parse_state(facts.state) or FulfilmentState.CHECK_QUEUE
        tracking = facts.tracking
        for action in plan.actions:
            planned.append(
                PlannedCall(
                    source, work.row, work.order_id, action.method, action.describe()
                )
            )
            state = apply(state, action)
            if action.kind is ActionKind.TRACKING:
                tracking = (action.tracking_code, action.tracking_url)
        if not plan.actions:
            planned.append(
                PlannedCall(source, work.row, work.order_id, "-", plan.message)
            )
        book.assume(
            work.order_id,
            OrderFacts(state.value, tracking, facts.delivery_info, facts.fresh),
        )
    return planned
