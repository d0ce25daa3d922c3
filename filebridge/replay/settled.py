"""Rows that need no API call, decided in bulk from the journal (issue #14, item 4).

A file of 20,000 rows of which most are already done must not cost a few journal round
trips and a commit (an fsync: the journal is synchronous=FULL) per row. This module
reads what `RowReplay.run` would read for every row at once (the known states of the
file's orders, the steps of all its rows), decides the rows whose plan has no step on
those remembered facts, and records their outcomes in a few transactions. Every other
row goes to the per-row replay, unchanged.

The decision mirrors `RowReplay.run` for a row with nothing to send, and leaves to it
every row where it would do more than look (`tests/test_noop_rows.py` compares both
on random rows and journal states):

* a row with a step left `sent` needs reconciling (a GET): not decided here;
* an order with no remembered state needs reading: not decided here;
* a plan with steps, or a rejection (never decided on remembered facts alone): not
  decided here, and later rows of that order wait for the per-row replay too, since
  they are planned on the state it leaves;
* a row of a held order is not decided here (it waits behind the hold);
* otherwise: `applied` if steps of the row were confirmed by an earlier attempt, else
  `already-done`, with the per-row replay's messages and the row's call count so far.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field

from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay.fulfilment import (
    ActionKind,
    Plan,
    RowRequest,
    plan_actions,
    without_returned,
)
from filebridge.replay.order_book import OrderFacts
from filebridge.replay.row import RowOutcome, RowWork

__all__ = ["ROWS_PER_TRANSACTION", "Settled", "decide_settled", "settle_rows"]

ROWS_PER_TRANSACTION = 5000
"""Outcomes per commit: few fsyncs, and the journal is never locked for long."""


@dataclass
class Settled:
    """Rows decided without a call (`outcomes`, file order) and the rows left to replay
    (`rest`, file order); `planned` are decided rows that had planned steps to drop."""

    outcomes: list[RowOutcome] = field(default_factory=list)
    rest: list[RowWork] = field(default_factory=list)
    planned: set[int] = field(default_factory=set)


def remembered(known: ledger.KnownOrder) -> OrderFacts:
    """The facts `OrderBook.get` makes of a remembered order (never fresh)."""
    tracking = (
        None
        if known.tracking_code is None and known.tracking_url is None
        else (known.tracking_code or None, known.tracking_url or None)
    )
    return OrderFacts(known.delivery_state, tracking, known.delivery_info, False)


def decide_settled(
    rows: Sequence[RowWork],
    *,
    facts: Mapping[int, OrderFacts],
    steps: Mapping[int, Sequence[tuple[str, str]]],
    prior: Mapping[int, int],
    held: Collection[int],
) -> Settled:
    """Split `rows` (file order) into no-op outcomes and rows to replay (pure).

    `facts` are the orders' known facts, `steps` each row's (action, state) in the
    order planned, `prior` each row's calls so far, `held` the held orders.
    """
    settled = Settled()
    waiting: set[int] = set(held)  # orders whose next rows must go through replay
    for work in rows:
        known = facts.get(work.order_id)
        row_steps = steps.get(work.row, ())
        if (
            work.order_id in waiting
            or known is None
            or any(state == "sent" for _, state in row_steps)
        ):
            waiting.add(work.order_id)
            settled.rest.append(work)
            continue
        sent = [action for action, state in row_steps if state == "confirmed"]
        plan = _plan(work.request, known, sent)
        if plan.actions or plan.rejection is not None:
            waiting.add(work.order_id)
            settled.rest.append(work)
            continue
        if sent:  # as RowReplay._final
            message = "sent " + ", ".join(sent)
            outcome = "applied", message + (f"; {plan.message}" if plan.message else "")
        else:
            outcome = "already-done", plan.message or "nothing to send"
        settled.outcomes.append(
            RowOutcome(work.row, work.order_id, *outcome, prior.get(work.row, 0))
        )
        if any(state == "planned" for _, state in row_steps):
            settled.planned.add(work.row)
    return settled


def _plan(request: RowRequest, facts: OrderFacts, sent: Sequence[str]) -> Plan:
    """As `RowReplay._plan`: a Returned an earlier attempt sent is not planned again."""
    asked: RowRequest | None = request
    if request.returned and ActionKind.RETURNED.value in sent:
        asked = without_returned(request)
    if asked is None:
        return Plan()
    return plan_actions(
        facts.state, asked, delivery_info=facts.delivery_info, tracking=facts.tracking
    )


def settle_rows(
    journal: Journal,
    rows: Sequence[RowWork],
    *,
    file_id: int,
    prior: Mapping[int, int],
    held: Collection[int],
    cached: Callable[[int], OrderFacts | None] = lambda order_id: None,
    on_row: Callable[[RowOutcome], None] | None = None,
) -> Settled:
    """Decide and record the rows of one file that need no call (module docstring).

    `cached` gives what the pass's order book already holds of an order (it wins over
    the journal, as in `OrderBook.get`).
    """
    ids = {w.order_id for w in rows}
    facts = {i: f for i in ids if (f := cached(i)) is not None}
    known = ledger.known_orders(journal, ids - facts.keys())
    facts.update((i, remembered(k)) for i, k in known.items())
    settled = decide_settled(
        rows,
        facts=facts,
        steps=ledger.row_step_states(journal, file_id),
        prior=prior,
        held=held,
    )
    for start in range(0, len(settled.outcomes), ROWS_PER_TRANSACTION):
        chunk = settled.outcomes[start : start + ROWS_PER_TRANSACTION]
        with journal.atomic():
            ledger.settle_rows(
                journal,
                file_id,
                [(o.row, o.outcome, o.message, o.calls) for o in chunk],
                planned=settled.planned.intersection(o.row for o in chunk),
            )
        if on_row is not None:
            for outcome in chunk:
                on_row(outcome)
    return settled
