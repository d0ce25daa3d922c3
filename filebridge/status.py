"""`filebridge status`: what happened lately, read from the journal (no API calls)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from filebridge.journal import CURSOR_KEY, Journal
from filebridge.journal import inbox as ledger


@dataclass(frozen=True)
class StatusReport:
    """A snapshot for a person: enough to answer "is it working?" without opening SQLite."""

    last_export_at: str | None
    last_export_file: str | None
    cursor: str | None
    orders_exported_today: int
    pending_batches: int
    inbox_pending: int
    inbox_done: int
    inbox_failed: int
    rows_rejected: int
    last_error: str | None
    last_error_at: str | None
    api_calls_last_hour: int
    duplicates: int = 0
    last_duplicate: str | None = None
    held: tuple[ledger.HeldOrder, ...] = ()
    write_settle: float | None = None

    def lines(self) -> list[str]:
        duplicate = f"duplicate files skipped:     {self.duplicates}" + (
            f" (last: {self.last_duplicate})" if self.last_duplicate else ""
        )
        return [
            *self._lines(),
            duplicate,
            *_held_lines(self.held, self.write_settle),
        ]

    def _lines(self) -> list[str]:
        return [
            f"last export:        {self.last_export_at or 'never'}"
            + (f" → {self.last_export_file}" if self.last_export_file else ""),
            f"export cursor:      {_cursor_text(self.cursor)}",
            f"orders exported today (UTC): {self.orders_exported_today}",
            f"unfinished export batches:   {self.pending_batches}",
            f"inbox files: {self.inbox_pending} pending, {self.inbox_done} processed, "
            f"{self.inbox_failed} failed; {self.rows_rejected} rows rejected in total",
            f"API calls in the last hour:  {self.api_calls_last_hour}",
            "last error:         "
            + (
                f"{self.last_error_at} {self.last_error}" if self.last_error else "none"
            ),
        ]


def _held_lines(
    held: tuple[ledger.HeldOrder, ...], write_settle: float | None
) -> list[str]:
    """`held orders:` and one line per order whose rows wait behind a doubtful step."""
    lines = [f"held orders:        {len(held) or 'none'}"]
    for h in held:
        where = f"{h.file_name} row {h.row_number}" if h.file_name else "a row"
        why = h.message or "the run that sent it ended before its answer came"
        settled = (
            "answered with an error: settled on the next run"
            if h.finished_at
            else "may still be running in the shop: settled on the first run after "
            + _until_text(h.sent_at, write_settle)
        )
        lines.append(
            f"  order {h.order_id}: {h.action} ({where}) sent {h.sent_at or '?'}, "
            f"{why}; {settled}; {h.rows_waiting} rows wait"
        )
    return lines


def _until_text(sent_at: str | None, write_settle: float | None) -> str:
    if sent_at is None or write_settle is None:
        return "the write settle time has passed"
    try:
        sent = datetime.fromisoformat(sent_at)
    except ValueError:
        return "the write settle time has passed"
    return f"{sent + timedelta(seconds=write_settle):%Y-%m-%d %H:%M:%S} UTC"


def _cursor_text(cursor: str | None) -> str:
    if cursor is None:
        return "not set (the first export starts at [export] since)"
    try:
        moment = datetime.fromtimestamp(int(cursor), UTC)
    except ValueError:
        return cursor
    return f"{moment.isoformat()} ({cursor})"


def _last_duplicate(journal: Journal) -> str | None:
    row = journal.query_one(
        "SELECT original_name, message FROM inbox_files WHERE state = 'duplicate' "
        "ORDER BY id DESC LIMIT 1"
    )
    return None if row is None else f"{row[0]}: {row[1]}"


def _count(journal: Journal, sql: str, params: tuple[object, ...] = ()) -> int:
    row = journal.query_one(sql, params)
    return int(row[0]) if row is not None and row[0] is not None else 0


def read_status(
    journal: Journal, *, now: datetime, write_settle: float | None = None
) -> StatusReport:
    """Summarise the journal as of `now` (UTC); `write_settle` dates the holds."""
    today = now.astimezone(UTC).date().isoformat()
    hour_ago = (now - timedelta(hours=1)).astimezone(UTC).isoformat()
    last = journal.query_one(
        "SELECT published_at, file_name FROM export_batches WHERE state = 'published' "
        "ORDER BY published_at DESC LIMIT 1"
    )
    error = journal.query_one(
        "SELECT at, message FROM events WHERE level IN ('ERROR', 'CRITICAL') "
        "ORDER BY id DESC LIMIT 1"
    )
    return StatusReport(
        last_export_at=None if last is None else str(last[0]),
        last_export_file=None if last is None else str(last[1]),
        cursor=journal.get_meta(CURSOR_KEY),
        orders_exported_today=_count(
            journal,
            "SELECT count(*) FROM exported_orders WHERE substr(exported_at, 1, 10) = ?",
            (today,),
        ),
        pending_batches=_count(
            journal, "SELECT count(*) FROM export_batches WHERE state = 'pending'"
        ),
        inbox_pending=_count(
            journal, "SELECT count(*) FROM inbox_files WHERE state = 'claimed'"
        ),
        inbox_done=_count(
            journal,
            "SELECT count(*) FROM inbox_files WHERE state IN ('done', 'duplicate')",
        ),
        inbox_failed=_count(
            journal, "SELECT count(*) FROM inbox_files WHERE state = 'failed'"
        ),
        rows_rejected=_count(
            journal, "SELECT count(*) FROM inbox_rows WHERE outcome = 'rejected'"
        ),
        last_error=None if error is None else str(error[1]),
        last_error_at=None if error is None else str(error[0]),
        api_calls_last_hour=_count(
            journal, "SELECT count(*) FROM api_calls WHERE at >= ?", (hour_ago,)
        ),
        duplicates=_count(
            journal, "SELECT count(*) FROM inbox_files WHERE state = 'duplicate'"
        ),
        last_duplicate=_last_duplicate(journal),
        held=tuple(ledger.held_orders(journal)),
        write_settle=write_settle,
    )
