"""Everything the dashboard shows, gathered from the journal and the folders in one place.

The pages are driven only by the plain dataclasses this module returns, so a richer
source (the health verdict, `runs` table and order story of `filebridge status` and
`filebridge order`) replaces the functions here and nothing else. Reads only: the
journal through SQL, the folders through listings. Every time is turned into the
machine's local zone here (`local_time`), once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filebridge.config import Settings
from filebridge.errors import FilebridgeError
from filebridge.health import gather_facts, judge
from filebridge.inbox import PROCESSING_DIR
from filebridge.journal import Journal
from filebridge.log import RedactingFilter
from filebridge.outbox import load_mapping
from filebridge.status import StatusReport, read_status
from filebridge.tables import SUPPORTED_SUFFIXES, read_table

__all__ = [
    "DEALT_WITH_DIR",
    "BudgetBar",
    "BudgetChart",
    "ExportFile",
    "FailedFile",
    "Health",
    "InboxFile",
    "InboxPage",
    "InboxRow",
    "OrderExport",
    "OrderStep",
    "OrderStory",
    "RunLine",
    "api_budget",
    "failed_file_path",
    "health",
    "inbox_page",
    "list_exports",
    "local_time",
    "log_tail",
    "order_story",
    "outbox_file_path",
]

DEALT_WITH_DIR = "dealt-with"
"""Failed files a person marked as dealt with move to `failed/dealt-with/`."""
MAX_LISTED = 200  # rows per page: the newest first; a person wants the recent ones
MAX_READ_BYTES = 50 * 1024 * 1024  # an outbox file larger than this is not opened
_COLUMN = re.compile(r"column '([^']*)'")


def local_time(value: str | None) -> str:
    """An ISO time from the journal (UTC) as the machine's local time, to the second."""
    if not value:
        return ""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _local_of_timestamp(seconds: float) -> str:
    return (
        datetime.fromtimestamp(seconds, UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    )


# --- health ------------------------------------------------------------------------------


@dataclass(frozen=True)
class RunLine:
    """One thing a run did lately: an export file or an inbox file."""

    at: str
    what: str
    detail: str


@dataclass(frozen=True)
class BudgetBar:
    """One bar of the API budget chart, with its geometry in the SVG's units."""

    label: str
    calls: int
    x: float
    y: float
    height: float


@dataclass(frozen=True)
class BudgetChart:
    """API calls per bucket over the last hours, and the busiest minute against the limit."""

    hours: int
    bucket_minutes: int
    bars: tuple[BudgetBar, ...]
    total: int
    peak_minute: int
    per_minute_limit: int
    width: float
    height: float
    bar_width: float
    limit_y: float | None
    first_label: str
    last_label: str


@dataclass(frozen=True)
class OrderStep:
    """An API step of the inbox (planned → sent → confirmed or rejected)."""

    order_id: int
    action: str
    state: str
    file_name: str
    row_number: int | None
    planned_at: str
    sent_at: str
    finished_at: str
    message: str


@dataclass(frozen=True)
class Health:
    """The health page: a verdict with reasons, the `status` lines and what is waiting."""

    verdict: str
    reasons: tuple[str, ...]
    status: StatusReport
    status_lines: tuple[str, ...]
    runs: tuple[RunLine, ...]
    budget: BudgetChart
    held_orders: tuple[int, ...]
    doubtful_steps: tuple[OrderStep, ...]
    failed_waiting: int


_SEVERITY = {"OK": 0, "WARNING": 1, "UNKNOWN": 2, "CRITICAL": 3}


def health(
    settings: Settings, journal: Journal, *, now: datetime, hours: int = 6
) -> Health:
    """The health page's data as of `now`.

    The verdict is `filebridge status`'s (health.judge, the same the alerts and
    `status --check` use), made worse, never better, by what only the page sees: a last
    error newer than the last export, unfinished batches, doubtful steps, held rows and
    files in `failed/` not yet marked dealt with.
    """
    report = read_status(journal, now=now)
    steps = _doubtful_steps(journal)
    held = tuple(
        int(r[0])
        for r in journal.query(
            "SELECT DISTINCT order_id FROM inbox_rows WHERE outcome = 'pending' "
            "AND order_id IS NOT NULL ORDER BY order_id"
        )
    )
    failed = [f for f in _failed_files(settings) if not f.dealt_with]
    reasons: list[str] = []
    critical = report.last_error is not None and (
        report.last_export_at is None
        or (report.last_error_at or "") > report.last_export_at
    )
    if critical:
        reasons.append(f"last error at {local_time(report.last_error_at)}")
    if report.pending_batches:
        reasons.append(f"{report.pending_batches} unfinished export batch(es)")
    if steps:
        reasons.append(f"{len(steps)} doubtful API step(s) (sent, no answer yet)")
    if held:
        reasons.append(f"{len(held)} order(s) held by pending rows")
    if failed:
        reasons.append(f"{len(failed)} file(s) in failed/ to fix")
    own = "CRITICAL" if critical else "WARNING" if reasons else "OK"
    judged = judge(gather_facts(settings, journal, now), settings.health)
    verdict = max(own, judged.level, key=_SEVERITY.__getitem__)
    return Health(
        verdict=verdict,
        reasons=tuple(dict.fromkeys([r.text for r in judged.reasons] + reasons)),
        status=report,
        status_lines=tuple(report.lines()),
        runs=tuple(_last_runs(journal)),
        budget=api_budget(
            journal,
            now=now,
            hours=hours,
            per_minute_limit=settings.limits.requests_per_minute,
        ),
        held_orders=held,
        doubtful_steps=tuple(steps),
        failed_waiting=len(failed),
    )


def _last_runs(journal: Journal, limit: int = 10) -> list[RunLine]:
    """What the last runs did, newest first: published files and finished inbox files."""
    lines: list[tuple[str, RunLine]] = []
    for row in journal.query(
        "SELECT published_at, file_name, order_count, reexport FROM export_batches "
        "WHERE state = 'published' ORDER BY id DESC LIMIT ?",
        (limit,),
    ):
        kind = "re-export" if row["reexport"] else "export"
        lines.append(
            (
                str(row["published_at"]),
                RunLine(
                    local_time(row["published_at"]),
                    kind,
                    f"{row['file_name']}: {row['order_count']} order(s)",
                ),
            )
        )
    for row in journal.query(
        "SELECT finished_at, original_name, state, message FROM inbox_files "
        "WHERE finished_at IS NOT NULL ORDER BY id DESC LIMIT ?",
        (limit,),
    ):
        lines.append(
            (
                str(row["finished_at"]),
                RunLine(
                    local_time(row["finished_at"]),
                    f"inbox ({row['state']})",
                    f"{row['original_name']}: {row['message'] or ''}",
                ),
            )
        )
    lines.sort(key=lambda pair: pair[0], reverse=True)
    return [line for _, line in lines[:limit]]


CHART_WIDTH = 480.0
CHART_HEIGHT = 120.0


def api_budget(
    journal: Journal,
    *,
    now: datetime,
    hours: int = 6,
    bucket_minutes: int = 15,
    per_minute_limit: int = 80,
) -> BudgetChart:
    """API calls in each `bucket_minutes` of the last `hours`, scaled for a bar chart.

    The dashed line is what the budget allows in one bucket; the busiest single minute
    is reported beside it, since the limit is per minute.
    """
    start = now.astimezone(UTC) - timedelta(hours=hours)
    count = hours * 60 // bucket_minutes
    calls = [0] * count
    minutes: dict[str, int] = {}
    for row in journal.query(
        "SELECT at FROM api_calls WHERE at >= ?", (start.isoformat(),)
    ):
        try:
            moment = datetime.fromisoformat(str(row[0]))
        except ValueError:
            continue
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        index = int((moment - start).total_seconds() // (bucket_minutes * 60))
        if 0 <= index < count:
            calls[index] += 1
        minute = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M")
        minutes[minute] = minutes.get(minute, 0) + 1
    bucket_limit = per_minute_limit * bucket_minutes
    top = max([*calls, 1])
    scale_top = max(top, bucket_limit) if top * 4 >= bucket_limit else top
    bar_width = CHART_WIDTH / count
    bars = []
    for n, value in enumerate(calls):
        height = CHART_HEIGHT * value / scale_top
        moment = start + timedelta(minutes=n * bucket_minutes)
        bars.append(
            BudgetBar(
                label=f"{_local_of_timestamp(moment.timestamp())[11:16]}: {value} call(s)",
                calls=value,
                x=round(n * bar_width, 2),
                y=round(CHART_HEIGHT - height, 2),
                height=round(height, 2),
            )
        )
    limit_y = (
        round(CHART_HEIGHT - CHART_HEIGHT * bucket_limit / scale_top, 2)
        if bucket_limit <= scale_top
        else None
    )
    return BudgetChart(
        hours=hours,
        bucket_minutes=bucket_minutes,
        bars=tuple(bars),
        total=sum(calls),
        peak_minute=max(minutes.values(), default=0),
        per_minute_limit=per_minute_limit,
        width=CHART_WIDTH,
        height=CHART_HEIGHT,
        bar_width=round(bar_width, 2),
        limit_y=limit_y,
        first_label=_local_of_timestamp(start.timestamp())[11:16],
        last_label=_local_of_timestamp(now.timestamp())[11:16],
    )


def _doubtful_steps(journal: Journal) -> list[OrderStep]:
    """Steps sent without an answer filebridge trusts: they may or may not have landed."""
    return _steps(journal, "s.state = 'sent'", ())


def _steps(journal: Journal, where: str, params: Sequence[object]) -> list[OrderStep]:
    rows = journal.query(
        "SELECT s.*, f.original_name FROM steps s LEFT JOIN inbox_files f "
        f"ON f.id = s.file_id WHERE {where} ORDER BY s.id",
        params,
    )
    return [
        OrderStep(
            order_id=int(r["order_id"]),
            action=str(r["action"]),
            state=str(r["state"]),
            file_name=str(r["original_name"] or ""),
            row_number=None if r["row_number"] is None else int(r["row_number"]),
            planned_at=local_time(r["planned_at"]),
            sent_at=local_time(r["sent_at"]),
            finished_at=local_time(r["finished_at"]),
            message=str(r["message"] or ""),
        )
        for r in rows
    ]


# --- exports -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ExportFile:
    """One outbox file (an export batch) and whether it is still in the outbox."""

    batch_id: int
    file_name: str
    state: str
    created_at: str
    published_at: str
    order_count: int
    row_count: int
    reexport: bool
    present: bool


def list_exports(settings: Settings, journal: Journal) -> list[ExportFile]:
    """The export batches, newest first; `present` when the file is still in the outbox."""
    rows = journal.query(
        "SELECT * FROM export_batches ORDER BY id DESC LIMIT ?", (MAX_LISTED,)
    )
    return [
        ExportFile(
            batch_id=int(r["id"]),
            file_name=str(r["file_name"]),
            state=str(r["state"]),
            created_at=local_time(r["created_at"]),
            published_at=local_time(r["published_at"]),
            order_count=int(r["order_count"]),
            row_count=int(r["row_count"]),
            reexport=bool(r["reexport"]),
            present=_child(settings.folders.outbox, str(r["file_name"])) is not None,
        )
        for r in rows
    ]


def outbox_file_path(
    settings: Settings, journal: Journal, batch_id: int
) -> Path | None:
    """The published file of batch `batch_id`, only if it lies directly in the outbox."""
    row = journal.query_one(
        "SELECT file_name FROM export_batches WHERE id = ? AND state = 'published'",
        (batch_id,),
    )
    return None if row is None else _child(settings.folders.outbox, str(row[0]))


def _child(folder: Path, name: str) -> Path | None:
    """`folder/name` when `name` is a plain file directly in `folder`, else None.

    The name is looked up in the folder's listing rather than joined onto a path, so no
    `..`, separator, drive letter or link can lead outside the folder.
    """
    try:
        for entry in folder.iterdir():
            if entry.name == name:
                if entry.is_symlink() or not entry.is_file():
                    return None
                return entry
    except OSError:
        return None
    return None


# --- inbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class InboxRow:
    """One row of an inbox file with its outcome; `column` is named by rejections."""

    row_number: int
    order_id: int | None
    outcome: str
    message: str
    column: str


@dataclass(frozen=True)
class InboxFile:
    """One inbox file from the journal, with its rows."""

    id: int
    name: str
    state: str
    arrived_at: str
    finished_at: str
    message: str
    rows: tuple[InboxRow, ...]

    def count(self, outcome: str) -> int:
        return sum(1 for row in self.rows if row.outcome == outcome)


@dataclass(frozen=True)
class FailedFile:
    """A file in `failed/` (or, once dealt with, in `failed/dealt-with/`)."""

    name: str
    size: int
    modified: str
    dealt_with: bool


@dataclass(frozen=True)
class InboxPage:
    """Waiting files in the inbox, the journal's files, and what sits in `failed/`."""

    waiting: tuple[str, ...]
    files: tuple[InboxFile, ...]
    failed: tuple[FailedFile, ...]
    rejected: tuple[tuple[str, InboxRow], ...] = field(default=())

    def files_in(self, *states: str) -> list[InboxFile]:
        return [f for f in self.files if f.state in states]


def inbox_page(settings: Settings, journal: Journal) -> InboxPage:
    """The inbox page: files not read yet, files read (rows and outcomes), failed files."""
    files = journal.query(
        "SELECT * FROM inbox_files ORDER BY id DESC LIMIT ?", (MAX_LISTED,)
    )
    ids = [int(f["id"]) for f in files]
    rows_by_file: dict[int, list[InboxRow]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for r in journal.query(
            "SELECT * FROM inbox_rows WHERE file_id IN "
            f"({marks}) ORDER BY file_id, row_number",
            ids,
        ):
            rows_by_file[int(r["file_id"])].append(_inbox_row(r))
    records = tuple(
        InboxFile(
            id=int(f["id"]),
            name=str(f["original_name"]),
            state=str(f["state"]),
            arrived_at=local_time(f["arrived_at"]),
            finished_at=local_time(f["finished_at"]),
            message=str(f["message"] or ""),
            rows=tuple(rows_by_file[int(f["id"])]),
        )
        for f in files
    )
    rejected = tuple(
        (record.name, row)
        for record in records
        for row in record.rows
        if row.outcome == "rejected"
    )
    return InboxPage(
        waiting=tuple(_waiting(settings.folders.inbox)),
        files=records,
        failed=tuple(_failed_files(settings)),
        rejected=rejected,
    )


def _inbox_row(r: Any) -> InboxRow:
    message = str(r["message"])
    found = _COLUMN.search(message)
    order = r["order_id"]
    return InboxRow(
        row_number=int(r["row_number"]),
        order_id=None if order is None else int(order),
        outcome=str(r["outcome"]),
        message=message,
        column=found.group(1) if found else "",
    )


def _waiting(inbox: Path) -> list[str]:
    """Files in the inbox that no run has claimed yet (by name, oldest first)."""
    entries: list[tuple[float, str]] = []
    try:
        for p in inbox.iterdir():
            if p.name != PROCESSING_DIR and p.is_file() and not p.name.startswith("."):
                entries.append((p.stat().st_mtime, p.name))
    except (
        OSError
    ):  # the share is gone, or a file was taken meanwhile: show what we saw
        pass
    return [name for _, name in sorted(entries)]


def _failed_files(settings: Settings) -> list[FailedFile]:
    found: list[FailedFile] = []
    for folder, dealt in (
        (settings.folders.failed, False),
        (settings.folders.failed / DEALT_WITH_DIR, True),
    ):
        try:
            entries = sorted(folder.iterdir(), key=lambda p: p.name)
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink() or not entry.is_file() or entry.name.startswith("."):
                continue
            try:
                info = entry.stat()
            except OSError:  # moved meanwhile (a run, or another dashboard tab)
                continue
            found.append(
                FailedFile(
                    name=entry.name,
                    size=info.st_size,
                    modified=_local_of_timestamp(info.st_mtime),
                    dealt_with=dealt,
                )
            )
    return found


def failed_file_path(
    settings: Settings, name: str, *, dealt_with: bool = False
) -> Path | None:
    """A file in `failed/` (or `failed/dealt-with/`) by its listed name, else None."""
    folder = settings.folders.failed
    if dealt_with:
        folder = folder / DEALT_WITH_DIR
    if name.startswith("."):
        return None
    return _child(folder, name)


# --- one order ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OrderExport:
    """A file that holds the order: exported or re-exported, when, and its rows there."""

    batch_id: int
    file_name: str
    state: str
    at: str
    reexport: bool
    present: bool


@dataclass(frozen=True)
class OrderStory:
    """One order's whole story as the journal and the outbox know it."""

    order_id: int
    exports: tuple[OrderExport, ...]
    exported_at: str
    headers: tuple[str, ...]
    file_rows: tuple[tuple[str, ...], ...]
    rows_from: str
    inbox_rows: tuple[tuple[str, InboxRow, str], ...]
    steps: tuple[OrderStep, ...]
    delivery_state: str
    payment_status: str
    tracking_code: str
    known_at: str
    held: bool

    @property
    def found(self) -> bool:
        return bool(
            self.exports or self.inbox_rows or self.steps or self.delivery_state
        )


def order_story(
    journal: Journal, order_id: int, *, settings: Settings | None = None
) -> OrderStory:
    """Everything filebridge recorded about `order_id`; with `settings`, also its rows in
    the newest outbox file that holds it (what the ERP got)."""
    exports = [
        OrderExport(
            batch_id=int(r["id"]),
            file_name=str(r["file_name"]),
            state=str(r["state"]),
            at=local_time(r["published_at"] or r["created_at"]),
            reexport=bool(r["reexport"]),
            present=settings is not None
            and _child(settings.folders.outbox, str(r["file_name"])) is not None,
        )
        for r in journal.query(
            "SELECT b.* FROM batch_orders bo JOIN export_batches b ON b.id = bo.batch_id "
            "WHERE bo.order_id = ? ORDER BY b.id",
            (order_id,),
        )
    ]
    ledger = journal.query_one(
        "SELECT exported_at FROM exported_orders WHERE order_id = ?", (order_id,)
    )
    inbox_rows = tuple(
        (str(r["original_name"]), _inbox_row(r), local_time(r["arrived_at"]))
        for r in journal.query(
            "SELECT r.*, f.original_name, f.arrived_at FROM inbox_rows r "
            "JOIN inbox_files f ON f.id = r.file_id WHERE r.order_id = ? "
            "ORDER BY r.file_id, r.row_number",
            (order_id,),
        )
    )
    known = journal.query_one(
        "SELECT * FROM order_states WHERE order_id = ?", (order_id,)
    )
    headers: tuple[str, ...] = ()
    file_rows: tuple[tuple[str, ...], ...] = ()
    rows_from = ""
    shown = [e for e in exports if e.present and e.state == "published"]
    if settings is not None and shown:
        rows_from = shown[-1].file_name
        headers, file_rows = _rows_of_order(settings, rows_from, order_id)
    return OrderStory(
        order_id=order_id,
        exports=tuple(exports),
        exported_at="" if ledger is None else local_time(ledger[0]),
        headers=headers,
        file_rows=file_rows,
        rows_from=rows_from,
        inbox_rows=inbox_rows,
        steps=tuple(_steps(journal, "s.order_id = ?", (order_id,))),
        delivery_state="" if known is None else str(known["delivery_state"]),
        payment_status="" if known is None else str(known["status"] or ""),
        tracking_code="" if known is None else str(known["tracking_code"] or ""),
        known_at="" if known is None else local_time(known["known_at"]),
        held=any(row.outcome == "pending" for _, row, _ in inbox_rows),
    )


def _rows_of_order(
    settings: Settings, file_name: str, order_id: int
) -> tuple[tuple[str, ...], tuple[tuple[str, ...], ...]]:
    """The order's rows in an outbox file, found through the mapping's order-id column."""
    path = _child(settings.folders.outbox, file_name)
    if path is None or path.suffix.lower() not in SUPPORTED_SUFFIXES:
        return (), ()
    base = settings.source.parent if settings.source is not None else Path.cwd()
    try:
        spec = load_mapping(settings.export.mapping, base)
        key = next(c.header for c in spec.columns if c.source == "order.id")
        table = read_table(path, max_bytes=MAX_READ_BYTES)
    except (FilebridgeError, OSError, StopIteration):
        return (), ()
    if key not in table.headers:
        return (), ()
    wanted = str(order_id)
    rows = tuple(
        tuple(row.cells.get(h, "") for h in table.headers)
        for row in table.rows
        if row.cells.get(key) == wanted
    )
    return tuple(table.original_headers()), rows


# --- the log -----------------------------------------------------------------------------


def log_tail(
    settings: Settings, *, lines: int = 200, max_bytes: int = 256 * 1024
) -> list[str]:
    """The last `lines` lines of the log file, with the token redacted once more."""
    path = settings.log_path
    try:
        with path.open("rb") as handle:
            size = handle.seek(0, 2)
            handle.seek(max(0, size - max_bytes))
            data = handle.read()
    except OSError:
        return []
    text = data.decode("utf-8", errors="replace").splitlines()
    if len(data) == max_bytes:
        text = text[1:]  # the first line was cut
    hide = RedactingFilter([settings.selldone.token.get_secret_value()])
    return [hide.redact(line) for line in text[-lines:]]
