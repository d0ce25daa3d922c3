"""Replays one inbox row's steps exactly once: journalled before and after each send.

The protocol is described in `replay`; this module is one row of it. The row's plan is
recorded (`planned`), each step is marked `sent` and committed right before its
request leaves (after every wait of the client: `before_send`), and the answer, the order's new known state and (on the last step) the row's
outcome are committed together. Steps a crash left `sent` are settled first
(`reconcile`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial
from typing import Protocol

from filebridge.errors import (
    ApiError,
    ApiRejectedError,
    ApiUnavailableError,
    AuthError,
    RequestFate,
    StopRequestedError,
    TransitionRejectedError,
)
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay.fulfilment import (
    Action,
    ActionKind,
    Plan,
    RowRequest,
    apply,
    parse_state,
    plan_actions,
    without_returned,
)
from filebridge.replay.order_book import OrderBook, OrderFacts
from filebridge.replay.reconcile import note_sent, reconcile_sent_steps, shows_step
from filebridge.selldone import FulfilmentState, SelldoneClient, SendHook

__all__ = ["RowOutcome", "RowReplay", "RowWork", "StopSignal", "row_label", "step_key"]

log = logging.getLogger(__name__)


def step_key(file_sha: str, row: int, order_id: int, action: str) -> str:
    """The idempotency key of one step of one row of one file content."""
    return f"{file_sha}:{row}:{order_id}:{action}"


class StopSignal(Protocol):
    """What a row looks at before each step (a `threading.Event`, or several)."""

    def is_set(self) -> bool: ...


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
    held: bool = False  # pending because its order is held (a doubtful step)


def row_label(source: str, row: int) -> str:
    """A row for the log: `status.csv row 12` (rows of several files interleave)."""
    return f"{source} row {row}" if source else f"row {row}"


class RowReplay:
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
        stop: StopSignal | None,
        in_flight_grace: float,
        source: str = "",
    ) -> None:
        self.in_flight_grace = in_flight_grace
        self.source = source  # the file's name, for the log
        self.client = client
        self.journal = journal
        self.book = book
        self.work = work
        self.file_id = file_id
        self.file_sha = file_sha
        self.calls = calls
        self.stop = stop
        self.sent: list[str] = ledger.confirmed_step_names(journal, file_id, work.row)
        self.ambiguous: set[str] = set()  # steps an attempt of which may have applied
        self.doubted: set[str] = set()  # steps looked for after an unanswered attempt

    @property
    def where(self) -> str:
        return row_label(self.source, self.work.row)

    def key(self, action: Action) -> str:
        return step_key(self.file_sha, self.work.row, self.work.order_id, action.name)

    def outcome(self, outcome: str, message: str) -> RowOutcome:
        return RowOutcome(
            self.work.row, self.work.order_id, outcome, message, self.calls
        )

    def _fetch(self) -> OrderFacts:
        self.calls += 1
        return self.book.fetch_with(self.client, self.work.order_id)

    def needs_fresh(self, facts: OrderFacts) -> bool:
        """Whether the row's plan on these facts must first be confirmed by a read:
        never reject a row, nor merge delivery_info, on remembered data alone."""
        if facts.fresh:
            return False
        plan = self._plan(facts)
        return plan.rejection is not None or _needs_fresh_order(plan, self.work.request)

    def finish(self, outcome: str, message: str) -> RowOutcome:
        """Record the row's outcome (and its call count) in the journal."""
        ledger.set_row(
            self.journal,
            self.file_id,
            self.work.row,
            outcome=outcome,
            message=message,
            calls=self.calls,
        )
        return self.outcome(outcome, message)

    def _reconcile(self) -> None:
        """Settle the row's steps left `sent` (`reconcile`): raises StepInFlightError
        while one of them may still be running in the shop."""
        reconcile_sent_steps(
            self.journal,
            file_id=self.file_id,
            row=self.work.row,
            order_id=self.work.order_id,
            fetch=self._fetch,
            sent=self.sent,
            in_flight_grace=self.in_flight_grace,
        )

    def run(self) -> RowOutcome:
        """Settle steps a crash left `sent`, plan on known or fresh facts, send."""
        self._reconcile()
        facts = self.book.get(self.work.order_id) or self._fetch()
        if self.needs_fresh(facts):
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
                    return self.finish(*self._final(plan))
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
        request: RowRequest | None = self.work.request
        if self.work.request.returned and ActionKind.RETURNED.value in self.sent:
            # Returned reached the shop in an earlier attempt of this row (its answer
            # was lost, or a later step of the row failed). The order has moved back
            # since, so planning Returned again would reject a row that was applied.
            request = without_returned(self.work.request)
        if request is None:
            return Plan()
        return plan_actions(
            facts.state,
            request,
            delivery_info=facts.delivery_info,
            tracking=facts.tracking,
        )

    def _send_all(self, plan: Plan, *, refreshed: bool) -> RowOutcome | Plan:
        """Send the plan's steps; a new Plan means "refreshed, try this instead"."""
        for index, action in enumerate(plan.actions):
            if self.stop is not None and self.stop.is_set():
                return self.finish("pending", "stopped before " + action.describe())
            key = self.key(action)
            record = ledger.step(self.journal, key)
            if record is not None and record.state == "confirmed":
                continue
            try:
                self.calls += 1
                self.book.count_call()
                facts = self._send(action, self._journalling(key))
            except StopRequestedError:
                # Stopped during a wait: this attempt never left. An earlier attempt
                # was retried, so it was not processed, unless a gateway's 503 hid
                # it: then the step stays `sent` (answered) and is settled by reading.
                with self.journal.atomic():
                    if key not in self.ambiguous:
                        ledger.mark_step(self.journal, key, "planned")
                    self.finish("pending", "stopped before " + action.describe())
                raise
            except ApiRejectedError as exc:
                shown = self._shown_after_doubt(key, action, exc)
                if shown is None:
                    return self._refused(key, action, exc, refreshed=refreshed)
                facts = shown
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
                if exc.fate is not RequestFate.MAY_BE_RUNNING or key in self.doubted:
                    raise  # the shop answered (it is failing), or a second time
                self.doubted.add(key)
                return self._look_after_doubt(action)
            except ApiError as exc:
                self._unanswered(key, action, exc)
                raise
            with self.journal.atomic():
                ledger.mark_step(self.journal, key, "confirmed")
                self.book.after(self.work.order_id, facts)
                self.sent.append(action.name)
                log.info(
                    "applied %s to order %d (%s)",
                    action.describe(),
                    self.work.order_id,
                    self.where,
                )
                if index == len(plan.actions) - 1:
                    return self.finish("applied", _applied_message(self.sent, plan))
                ledger.set_row(
                    self.journal,
                    self.file_id,
                    self.work.row,
                    outcome="pending",
                    message="in progress",
                    calls=self.calls,
                )
        return self.finish(*self._final(plan))

    def _refused(
        self, key: str, action: Action, exc: ApiRejectedError, *, refreshed: bool
    ) -> RowOutcome | Plan:
        """The shop refused the step: reject the row, or re-plan on fresh data once."""
        if not isinstance(exc, TransitionRejectedError):
            return self._reject(key, action, exc)
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
            "order %d is %s, not %s: re-planning %s",
            self.work.order_id,
            fresh.state,
            before.state if before else "?",
            self.where,
        )
        return self._plan(fresh)

    def _shown_after_doubt(
        self, key: str, action: Action, exc: ApiRejectedError
    ) -> OrderFacts | None:
        """After an ambiguous attempt (a 503 that a gateway may have sent after the shop
        applied the write), a refusal of the retry is not taken at face value: the
        order is read, and if it shows the step, the step was applied (returned)."""
        record = ledger.step(self.journal, key)
        if key not in self.ambiguous or record is None:
            return None
        facts = self._fetch()
        if not shows_step(record, facts):
            return None
        log.info(
            "order %d: Selldone refused the retry of %s (%s), but the order shows it: "
            "an earlier attempt was applied and its answer lost",
            self.work.order_id,
            action.describe(),
            exc.api_message or exc,
        )
        return facts

    def _journalling(self, key: str) -> SendHook:
        """The step is journalled `sent` after every wait, right before it leaves;
        `planned` again when an attempt provably was not processed (no connection, a
        429); answered but maybe applied (a gateway's 503) keeps it `sent` and makes a
        refusal of the retry be checked by reading (`_shown_after_doubt`)."""

        def mark(state: str) -> None:
            with self.journal.atomic():
                ledger.mark_step(self.journal, key, state)
            if state == "sent":
                note_sent(key)

        def maybe(message: str) -> None:
            self.ambiguous.add(key)
            with self.journal.atomic():
                ledger.mark_unanswered(self.journal, key, message, ended=True)

        return SendHook(
            sending=partial(mark, "sent"),
            unsent=partial(mark, "planned"),
            maybe_processed=maybe,
        )

    def _send(self, action: Action, hook: SendHook) -> OrderFacts:
        """One write; returns what the order looks like afterwards."""
        order_id = self.work.order_id
        before = self.book.get(order_id) or OrderFacts("", None, None, False)
        if action.kind is ActionKind.TRACKING:
            result = self.client.put_tracking(
                order_id,
                tracking_code=action.tracking_code,
                tracking_url=action.tracking_url,
                hook=hook,
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
            change = self.client.post_delivery_returned(order_id, hook=hook)
        else:
            if action.state is None:
                raise ValueError(f"state action without a state: {action!r}")
            change = self.client.post_state(
                order_id,
                action.state,
                items=action.items,
                delivery_info=action.delivery_info,
                hook=hook,
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

    def _look_after_doubt(self, action: Action) -> Plan:
        """A write left without an answer (a dropped connection, a timeout, a gateway's
        502/504) holds its order, not the run: one GET says whether the API is still
        there (if not, `ApiUnavailableError` stops the run as before) and whether the
        order already shows the step (applied: the row goes on, re-planned). Otherwise
        the step may still be running in the shop, and `StepInFlightError` holds this
        order until the settle time while every other order goes on."""
        log.warning(
            "order %d: %s got no answer; reading the order to see whether it was "
            "applied (%s)",
            self.work.order_id,
            action.describe(),
            self.where,
        )
        self._reconcile()
        return self._plan(self.book.get(self.work.order_id) or self._fetch())

    def _unanswered(self, key: str, action: Action, exc: ApiError) -> None:
        """The request ended without a usable answer; the row stays pending.

        What happened to the request is `exc.fate` (`selldone.responses` decides it). Not
        processed: the step is `planned` again. Otherwise it may have been applied: it
        stays `sent` and is reconciled, at once if the shop is done with it (`ended`),
        else only after the in-flight grace.
        """
        with self.journal.atomic():
            if exc.fate is RequestFate.NOT_PROCESSED and key not in self.ambiguous:
                ledger.mark_step(self.journal, key, "planned")
            else:
                # A 503 was answered: whatever a gateway let through is done, unless
                # the last attempt (a retry) may itself still be running there.
                ended = exc.fate is RequestFate.ENDED or (
                    key in self.ambiguous and exc.fate is not RequestFate.MAY_BE_RUNNING
                )
                ledger.mark_unanswered(self.journal, key, str(exc), ended=ended)
            self.finish("pending", f"{action.describe()} unconfirmed: {exc}")

    def _reject(self, key: str, action: Action, exc: ApiRejectedError) -> RowOutcome:
        message = f"Selldone refused {action.describe()}: {exc.api_message or exc}"
        if self.sent:
            message = "sent " + ", ".join(self.sent) + "; then " + message
        with self.journal.atomic():
            ledger.mark_step(self.journal, key, "rejected", str(exc))
            ledger.forget_planned_steps(self.journal, self.file_id, self.work.row)
            return self.finish("rejected", message)


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
