"""`filebridge status`: what happened lately and whether that is healthy (no API calls).

Two halves: `read_status` sums up the journal (last export, cursor, counts), and
`health` gives the facts a monitor needs (last run and last success per half, the last
error and whether it is past, pending/held/failed work, ignored inbox files, API
budget, journal health) with a verdict. `render` prints both for a person, `as_json`
for scripts; `status --check` exits with the verdict's monitoring-plugin code.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from filebridge.config import Settings
from filebridge.health import HealthFacts, RunFacts, Verdict, gather_facts, judge
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
    now: datetime | None = None  # as of when; dates the holds

    def lines(self) -> list[str]:
        duplicate = f"duplicate files skipped:     {self.duplicates}" + (
            f" (last: {self.last_duplicate})" if self.last_duplicate else ""
        )
        return [
            *self._lines(),
            duplicate,
            *_held_lines(self.held, self.write_settle, self.now),
        ]

    def _lines(self) -> list[str]:
        return [
            f"last export:        {_when(self.last_export_at) if self.last_export_at else 'never'}"
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
    held: tuple[ledger.HeldOrder, ...],
    write_settle: float | None,
    now: datetime | None = None,
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
            + _until_text(h.sent_at, write_settle, now)
        )
        lines.append(
            f"  order {h.order_id}: {h.action} ({where}) sent {h.sent_at or '?'}, "
            f"{why}; {settled}; {h.rows_waiting} rows wait"
        )
    return lines


def _until_text(
    sent_at: str | None, write_settle: float | None, now: datetime | None = None
) -> str:
    """When the hold ends. A `sent_at` in the future (this machine's clock went back
    since) counts as "just sent", as replay counts it: never more than the settle
    time from now."""
    if sent_at is None or write_settle is None:
        return "the write settle time has passed"
    try:
        sent = datetime.fromisoformat(sent_at)
    except ValueError:
        return "the write settle time has passed"
    if now is not None and sent.tzinfo is not None and sent > now:
        sent = now
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
        now=now,
    )


@dataclass(frozen=True)
class FullStatus:
    """The journal summary (None without a journal), the health facts and the verdict."""

    report: StatusReport | None
    facts: HealthFacts
    verdict: Verdict

    def lines(self) -> list[str]:
        return render(self)

    def as_json(self) -> str:
        data: dict[str, Any] = {
            "verdict": asdict(self.verdict) | {"exit_code": self.verdict.exit_code},
            "health": self.facts.as_dict(),
            "journal": None if self.report is None else asdict(self.report),
        }
        return json.dumps(data, indent=2, ensure_ascii=False, default=_iso)


def read_full_status(settings: Settings, *, now: datetime) -> FullStatus:
    """Everything `status` shows; never creates a journal that is not there yet."""
    if not settings.journal_path.exists():
        facts = gather_facts(settings, None, now)
        return FullStatus(None, facts, judge(facts, settings.health))
    with Journal.open(settings.journal_path) as journal:
        report = read_status(
            journal, now=now, write_settle=settings.selldone.write_settle_seconds
        )
        facts = gather_facts(settings, journal, now)
    return FullStatus(report, facts, judge(facts, settings.health))


def _when(text: str | None) -> str:
    """An ISO moment from the journal as a person reads it (UTC, to the second)."""
    return "?" if not text else text[:19].replace("T", " ") + " UTC"


def _run_text(run: RunFacts | None) -> str:
    if run is None:
        return "never"
    return (
        f"{_when(run.finished_at)} ({run.command}, exit {run.exit_code}: "
        f"{run.exit_name})"
    )


def render(status: FullStatus) -> list[str]:
    """The lines a person reads: the verdict first, then the facts behind it."""
    facts = status.facts
    lines = [f"health:             {status.verdict.line()}"]
    lines.append(f"last run:           {_run_text(facts.last_run)}")
    lines.append(f"last successful run: {_run_text(facts.last_success)}")
    for half in ("export", "inbox"):
        if facts.last_run_by_half.get(half) is None:
            continue
        lines.append(
            f"  {half}: last run {_run_text(facts.last_run_by_half[half])}; "
            f"last success {_run_text(facts.last_success_by_half.get(half))}"
        )
    if status.report is not None:
        # The summary's lines, its own `last error` line replaced by the one below;
        # its `held orders:` lines (with until when) stand for the held orders.
        report, summary = status.report.lines(), status.report._lines()
        lines += summary[:-1] + report[len(summary) :]
    lines.append(
        f"inbox work: {facts.files_pending} files unfinished ({facts.rows_pending} "
        f"rows pending); in the last {facts.recent_hours:g} h "
        f"{facts.files_failed_recent} files failed, {facts.rows_rejected_recent} rows "
        "rejected"
    )
    for ignored in facts.ignored_files:
        lines.append(
            f"  ignored in the inbox (scan of {_when(facts.inbox_scanned_at)}): "
            f"{ignored.name}: {ignored.why}"
        )
    if status.report is None:
        lines.append(f"held orders:        {len(facts.held_orders) or 'none'}")
    lines.append(
        f"doubtful steps:     {facts.doubtful_steps} (sent, no answer recorded yet)"
    )
    if facts.api_budget_per_hour:
        share = 100 * facts.api_calls_last_hour / facts.api_budget_per_hour
        lines.append(
            f"API budget, last hour: {facts.api_calls_last_hour} of "
            f"{facts.api_budget_per_hour} calls ({share:.0f} %)"
        )
    lines.append(f"journal:            {facts.journal}")
    lines.append("last error:         " + _error_text(facts))
    return lines


def _error_text(facts: HealthFacts) -> str:
    error = facts.last_error
    if error is None:
        return "none"
    text = (
        f"{_when(error.finished_at)} {error.error or error.exit_name} "
        f"(exit {error.exit_code})"
    )
    if facts.last_error_is_past:
        success = facts.last_success
        when = f" at {_when(success.finished_at)}" if success is not None else ""
        return f"{text} — past: a later run succeeded{when}"
    return f"{text} — still current: no run has succeeded since"


def _iso(value: object) -> str:
    """JSON for the report's moments (`now`)."""
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
