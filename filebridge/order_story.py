"""`filebridge order ORDER_ID`: one order's whole story, from the journal alone.

When it was exported and in which file(s) (re-exports too), every inbox row that named
it (file, row, outcome, message), every API step (planned, sent, confirmed or
rejected, with times and answers), what filebridge last knew of it, and whether it is
held behind a doubtful step (sent, never answered). No API call is made unless the
caller asks for the shop's current state (`--refresh`), and even then nothing is
written.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

from filebridge.journal import Journal

__all__ = ["OrderStory", "read_story"]


@dataclass(frozen=True)
class ExportEntry:
    batch_id: int
    file_name: str
    state: str  # pending | published | rolled_back
    created_at: str
    published_at: str | None
    reexport: bool


@dataclass(frozen=True)
class RowEntry:
    file_name: str
    file_state: str
    row: int
    outcome: str
    message: str
    calls: int
    arrived_at: str
    archive_path: str | None


@dataclass(frozen=True)
class StepEntry:
    action: str
    state: str
    planned_at: str
    sent_at: str | None
    finished_at: str | None
    checked_at: str | None
    message: str
    file_name: str | None
    row: int | None


@dataclass
class OrderStory:
    """Everything the journal knows of one order, in time order within each part."""

    order_id: int
    exports: list[ExportEntry] = field(default_factory=list)
    rows: list[RowEntry] = field(default_factory=list)
    steps: list[StepEntry] = field(default_factory=list)
    known: dict[str, Any] | None = None
    shop_now: dict[str, Any] | None = None

    @property
    def held(self) -> bool:
        """A step was sent and never answered: later rows wait until it is settled."""
        return any(s.state == "sent" for s in self.steps)

    @property
    def is_known(self) -> bool:
        return bool(self.exports or self.rows or self.steps or self.known)

    def as_json(self) -> str:
        data = asdict(self) | {"held": self.held}
        return json.dumps(data, indent=2, ensure_ascii=False)

    def lines(self) -> list[str]:
        out = [f"order {self.order_id}"]
        if not self.is_known:
            out.append("  the journal knows nothing of this order")
            return out
        out.append("exports:")
        out += [
            f"  {e.published_at or e.created_at}  "
            f"{'re-exported' if e.reexport else 'exported'} in {e.file_name} "
            f"(batch {e.batch_id}, {e.state})"
            for e in self.exports
        ] or ["  never exported"]
        out.append("inbox rows:")
        out += [
            f"  {r.arrived_at}  {r.file_name} row {r.row}: {r.outcome}"
            + (f": {r.message}" if r.message else "")
            + f" ({r.calls} API calls)"
            for r in self.rows
        ] or ["  none"]
        out.append("API steps:")
        for s in self.steps:
            times = f"planned {s.planned_at}"
            if s.sent_at:
                times += f", sent {s.sent_at}"
            if s.finished_at:
                times += f", answered {s.finished_at}"
            if s.checked_at:
                times += f", checked {s.checked_at}"
            where = f" ({s.file_name} row {s.row})" if s.file_name else ""
            answer = f": {s.message}" if s.message else ""
            out.append(f"  {s.action} {s.state}{where}; {times}{answer}")
        if not self.steps:
            out.append("  none")
        known = self.known
        out.append(
            "last known state: "
            + (
                "unknown (never read from the shop)"
                if known is None
                else f"{known['delivery_state']} (status {known['status'] or '?'}, "
                f"tracking {known['tracking_code'] or '-'}), as of {known['known_at']}"
            )
        )
        out.append(
            "held: "
            + (
                "yes, behind a step sent without an answer; it is checked in the "
                "shop at the next run"
                if self.held
                else "no"
            )
        )
        if self.shop_now is not None:
            out.append(
                f"shop now (--refresh): {self.shop_now['delivery_state']} "
                f"(status {self.shop_now['status']}, tracking "
                f"{self.shop_now['tracking_code'] or '-'})"
            )
        return out


def read_story(journal: Journal, order_id: int) -> OrderStory:
    """Read one order's story from the journal (no API call)."""
    story = OrderStory(order_id)
    story.exports = [
        ExportEntry(
            int(r["id"]),
            str(r["file_name"]),
            str(r["state"]),
            str(r["created_at"]),
            r["published_at"],
            bool(r["reexport"]),
        )
        for r in journal.query(
            "SELECT b.id, b.file_name, b.state, b.created_at, b.published_at, "
            "b.reexport FROM batch_orders o JOIN export_batches b ON b.id = o.batch_id "
            "WHERE o.order_id = ? ORDER BY b.id",
            (order_id,),
        )
    ]
    story.rows = [
        RowEntry(
            str(r["original_name"]),
            str(r["state"]),
            int(r["row_number"]),
            str(r["outcome"]),
            str(r["message"]),
            int(r["calls"]),
            str(r["arrived_at"]),
            r["archive_path"],
        )
        for r in journal.query(
            "SELECT f.original_name, f.state, f.arrived_at, f.archive_path, "
            "r.row_number, r.outcome, r.message, r.calls FROM inbox_rows r "
            "JOIN inbox_files f ON f.id = r.file_id WHERE r.order_id = ? "
            "ORDER BY f.id, r.row_number",
            (order_id,),
        )
    ]
    story.steps = [
        StepEntry(
            str(r["action"]),
            str(r["state"]),
            str(r["planned_at"]),
            r["sent_at"],
            r["finished_at"],
            r["checked_at"],
            str(r["message"]),
            r["original_name"],
            None if r["row_number"] is None else int(r["row_number"]),
        )
        for r in journal.query(
            "SELECT s.*, f.original_name FROM steps s "
            "LEFT JOIN inbox_files f ON f.id = s.file_id "
            "WHERE s.order_id = ? ORDER BY s.id",
            (order_id,),
        )
    ]
    known = journal.query_one(
        "SELECT delivery_state, status, tracking_code, tracking_url, known_at "
        "FROM order_states WHERE order_id = ?",
        (order_id,),
    )
    story.known = None if known is None else dict(known)
    return story
