"""The inbox dry run: the calls a pass would make, claiming, writing and sending nothing.

Reads are allowed (the folder, the files, the journal, GET and list calls); each order
is planned on an in-memory copy that the planned steps advance, so a second row of the
same order is planned on the state the first would leave.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from filebridge.errors import InboxFileError
from filebridge.inbox.file import FileProcessor, explain
from filebridge.inbox.moves import claimed_path, sha256_of
from filebridge.inbox.validation import order_id_texts, validate_table
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay import (
    ActionKind,
    OrderBook,
    OrderFacts,
    RowWork,
    apply,
    parse_state,
    plan_actions,
)
from filebridge.selldone import FulfilmentState, SelldoneClient

__all__ = ["PlannedCall", "plan_pass", "plan_rows_dry"]


@dataclass(frozen=True)
class PlannedCall:
    """One call a dry run would make."""

    source: str
    row: int
    order_id: int | str  # 0: no order; text: an id as written that did not parse
    method: str  # "-": no call (rejected, nothing to do, duplicate, unreadable)
    description: str  # a call's description starts with its method

    @property
    def is_call(self) -> bool:
        return self.method != "-"


def plan_pass(
    files: FileProcessor, inbox: Path, ready: Sequence[str]
) -> tuple[list[PlannedCall], int]:
    """Plan every open claim and the `ready` files of `inbox`; (planned calls, API calls)."""
    journal = files.journal
    book = OrderBook(files.client, None)
    planned: list[PlannedCall] = []
    sources: list[tuple[str, Path, str]] = []
    for record in ledger.open_claims(journal):
        claimed = claimed_path(record)
        if claimed.exists():
            sources.append((record.original_name, claimed, record.sha256))
    for name in ready:
        path = inbox / name
        sources.append((name, path, sha256_of(path)))
    for name, path, sha in sources:
        earlier = ledger.earlier_copy(journal, sha, before=None) if sha else None
        if earlier is not None and earlier.original_name != name:
            planned.append(
                PlannedCall(name, 0, 0, "-", f"duplicate of {earlier.original_name}")
            )
            continue
        try:
            table = files.read(path)
        except InboxFileError as exc:
            planned.append(
                PlannedCall(name, 0, 0, "-", f"would go to failed/: {explain(exc)}")
            )
            continue
        checked = validate_table(table, files.mapping)
        written = order_id_texts(
            table, files.mapping, (raw for raw, _ in checked.rejected)
        )
        for raw, issues in checked.rejected:
            text = "; ".join(i.describe() for i in issues)
            order = written.get(raw.row) or 0
            planned.append(PlannedCall(name, raw.row, order, "-", f"rejected: {text}"))
        work = [RowWork(r.row, r.order_id, r) for r in checked.valid]
        planned.extend(
            plan_rows_dry(files.client, journal, work, source=name, book=book)
        )
    return planned, book.calls


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
