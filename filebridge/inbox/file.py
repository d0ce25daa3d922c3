"""Claimed inbox files: read → validate (`prepare`) → replay their rows (`replay`, several
small files together) → archive, or to failed/ (`conclude`).

Files with the same content hash as an earlier file are not replayed ("duplicate of …")
and are archived, unless a file claimed in between changed one of the earlier copy's
orders: then the same bytes are a new instruction and are replayed like a new file
(rows already done send nothing). The result file is written beside the archived file; rejected rows go
to `failed/` in the original format; an unreadable file goes to `failed/` with a
`.error.txt`. When the API is unavailable or the pass is stopped, the file stays claimed
with its rows pending and resumes on the next run. Rows of a held order (a doubtful
step, see `replay`) also keep their file claimed, but the pass goes on: the holds are
shared by the files of one pass (`FileProcessor.held`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from filebridge.config import Settings
from filebridge.errors import (
    ApiUnavailableError,
    InboxFileError,
    RowIssue,
    StorageError,
)
from filebridge.inbox.inbound_mapping import InboundMapping, parse_inbound_mapping
from filebridge.inbox.moves import archive, claimed_path, move_to_failed
from filebridge.inbox.report import Outcome, ResultLine, write_failed_rows
from filebridge.inbox.validation import (
    ValidationResult,
    order_id_texts,
    validate_table,
)
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.presets import INBOUND, read_mapping_text
from filebridge.replay import (
    FileRows,
    Hold,
    OrderBook,
    ReplayResult,
    RowOutcome,
    RowWork,
    replay_files,
)
from filebridge.selldone import SelldoneClient
from filebridge.tables import RawRow, Table, TableFormat, read_table

__all__ = ["FileProcessor", "FileReport", "Halt", "ReadyFile", "explain"]

log = logging.getLogger(__name__)

MEGABYTE = 1024 * 1024
NO_ROWS = (
    "The file has a header but no data rows. Add the rows under the header and drop "
    "the file into the inbox again."
)


@dataclass
class FileReport:
    """What happened to one inbox file in this pass."""

    name: str
    outcome: str  # done | duplicate | failed | pending
    message: str = ""
    applied: int = 0
    already_done: int = 0
    rejected: int = 0
    pending: int = 0
    held: int = 0
    calls: int = 0
    archive_path: Path | None = None
    result_path: Path | None = None
    failed_path: Path | None = None


@dataclass(frozen=True)
class Halt:
    """Why the pass ends at this file, which stays claimed and resumes later.

    None of the fields set: the file could not be read just now (locked, share hiccup).
    """

    unavailable: ApiUnavailableError | None = None
    stopped: bool = False


@dataclass(frozen=True)
class ReadyFile:
    """A claimed file read, checked and recorded: its pending rows wait to be replayed."""

    record: ledger.FileRecord
    report: FileReport
    table: Table
    checked: ValidationResult
    rows: FileRows


class FileProcessor:
    """Processes the claimed files of one pass (collaborators, mapping, order book)."""

    def __init__(
        self,
        settings: Settings,
        client: SelldoneClient,
        journal: Journal,
        *,
        now: datetime,
        stop: threading.Event | None,
        progress: Callable[[str], None] | None = None,
    ) -> None:
        self.settings = settings
        self.progress = progress
        self.client = client
        self.journal = journal
        self.now = now
        self.stop = stop
        base = settings.source.parent if settings.source else Path.cwd()
        self.mapping = load_inbound_mapping(settings.inbox.mapping, base)
        self.max_bytes = int(settings.inbox.max_file_mb * MEGABYTE)
        self.stamp = now.strftime("%Y%m%d-%H%M%S")
        self.book = OrderBook(client, journal)  # one per pass: reads serve every file
        self.held: dict[int, Hold] = {}  # orders held in this pass, shared by its files

    def read(self, path: Path) -> Table:
        """The file's rows as text; raises `InboxFileError` saying why it is unreadable."""
        return read_table(
            path,
            encoding=self.settings.inbox.encoding,
            sheet=self.settings.inbox.sheet,
            max_bytes=self.max_bytes,
        )

    def prepare(
        self, record: ledger.FileRecord, report: FileReport
    ) -> ReadyFile | Halt | None:
        """Read, check and record one claimed file's rows: a ReadyFile to replay, or
        None when the file is dealt with already (a duplicate, unreadable: moved), or
        a Halt that ends the pass (it cannot be read just now)."""
        earlier = ledger.earlier_copy(self.journal, record.sha256, before=record.id)
        key_sha = record.sha256
        if earlier is not None:
            # Rows recorded: an earlier pass already decided to replay it (resumed).
            started = bool(ledger.row_records(self.journal, record.id))
            changed = (
                []
                if started
                else ledger.changed_since(self.journal, earlier.id, record.id)
            )
            if not started and not changed:
                self._duplicate(record, earlier, report)
                return None
            # Same bytes, but its orders changed since the first copy: a new
            # instruction (ship, return, ship again). Its steps get keys of their own.
            key_sha = f"{record.sha256}@{record.id}"
            if changed:
                log.info(
                    "%s has the same content as %s, but orders %s changed since: "
                    "replayed as a new file",
                    record.original_name,
                    earlier.original_name,
                    ", ".join(map(str, changed)),
                )
        claimed = claimed_path(record)
        if claimed.stat().st_size == 0:
            self._unreadable(
                record,
                report,
                "The file is empty (0 bytes) and stayed empty for longer than "
                f"{self.settings.inbox.empty_file_grace_seconds:g} s. Save it again "
                "with its rows and drop it into the inbox.",
            )
            return None
        try:
            table = self.read(claimed)
        except InboxFileError as exc:
            # The reader names the claimed file (`000012-orders.xls`); a person knows
            # only the name they dropped.
            text = explain(exc).replace(claimed.name, record.original_name)
            self._unreadable(record, report, text)
            return None
        except OSError as exc:
            # Locked by another program or the share hiccuped: later, never "failed".
            # The pass stops so that later files cannot overtake this one's rows.
            report.message = f"cannot read it now ({exc.strerror or exc}); retrying"
            log.warning("%s: %s", record.original_name, report.message)
            return Halt()
        checked = validate_table(table, self.mapping)
        if checked.file_issues:
            self._unreadable(record, report, "\n".join(checked.file_issues))
            return None
        if not checked.valid and not checked.rejected:
            self._unreadable(record, report, NO_ROWS)
            return None
        self._record_rows(record, checked)
        rows = ledger.row_records(self.journal, record.id)
        todo = [
            RowWork(r.row, r.order_id, r)
            for r in checked.valid
            if rows[r.row].outcome == "pending"
        ]
        part = FileRows(
            record.id,
            key_sha,
            todo,
            {n: r.calls for n, r in rows.items()},
            self._row_counter(record.original_name, len(rows), len(todo)),
            record.original_name,
        )
        return ReadyFile(record, report, table, checked, part)

    def replay(self, files: Sequence[ReadyFile]) -> list[ReplayResult]:
        """Replay the rows of `files` (arrival order) together: orders side by side
        across the files, each order's rows in sequence (`replay.replay_files`)."""
        return replay_files(
            self.client,
            self.journal,
            [f.rows for f in files],
            book=self.book,
            stop=self.stop,
            held=self.held,
            concurrency=self.settings.limits.concurrency,
        )

    def conclude(self, ready: ReadyFile, replayed: ReplayResult) -> Halt | None:
        """Archive the replayed file, or leave it claimed (held rows, or a Halt)."""
        record, report = ready.record, ready.report
        report.calls = replayed.calls
        report.held = replayed.held_rows
        unfinished = any(o.outcome == "pending" for o in replayed.outcomes) or len(
            replayed.outcomes
        ) < len(ready.rows.rows)
        if (replayed.stopped or replayed.unavailable is not None) and unfinished:
            _count(report, ledger.row_records(self.journal, record.id))
            if replayed.unavailable is not None:
                halt = Halt(unavailable=replayed.unavailable)
                report.message = str(replayed.unavailable)
            else:  # stopped (held orders are looked at again by `InboxResult`)
                halt = Halt(stopped=True)
                report.message = "stopped; the file resumes on the next run"
            log.warning("%s left pending: %s", record.original_name, report.message)
            return halt
        if replayed.held_rows:
            _count(report, ledger.row_records(self.journal, record.id))
            orders = sorted({o.order_id for o in replayed.outcomes if o.held})
            report.message = (
                f"{replayed.held_rows} rows held (orders "
                f"{', '.join(map(str, orders))}); the other rows went on; the file "
                "stays in processing/ and resumes on the next run"
            )
            log.warning("%s: %s", record.original_name, report.message)
            return None
        self._finish(record, report, ready.table, ready.checked)
        return None

    def _row_counter(
        self, name: str, total: int, todo: int
    ) -> Callable[[RowOutcome], None] | None:
        """Tells `progress` how far replay is through the file's rows."""
        progress = self.progress
        if progress is None:
            return None
        done = total - todo
        progress(f"inbox: {name}: {done} of {total} rows done")

        def count(outcome: RowOutcome) -> None:
            nonlocal done
            done += 1
            progress(f"inbox: {name}: {done} of {total} rows done")

        return count

    def _record_rows(
        self, record: ledger.FileRecord, checked: ValidationResult
    ) -> None:
        if ledger.row_records(self.journal, record.id):
            return
        entries: list[tuple[int, int | None, str, str]] = [
            (row.row, row.order_id, "pending", "") for row in checked.valid
        ]
        entries += [
            (
                raw.row,
                checked.rejected_orders.get(raw.row),
                "rejected",
                "; ".join(i.describe() for i in issues),
            )
            for raw, issues in checked.rejected
        ]
        with self.journal.atomic():
            ledger.record_rows(self.journal, record.id, sorted(entries))

    def _finish(
        self,
        record: ledger.FileRecord,
        report: FileReport,
        table: Table,
        checked: ValidationResult,
    ) -> None:
        rows = ledger.row_records(self.journal, record.id)
        _count(report, rows)
        rejected = _rejected_rows(table, checked, rows)
        _log_rejected(record.original_name, rejected, rows)
        if rejected:
            report.failed_path = write_failed_rows(
                self.settings.folders.failed,
                record.original_name,
                table,
                rejected,
                stamp=self.stamp,
            )
        written = order_id_texts(table, self.mapping, (raw for raw, _ in rejected))
        lines = [
            ResultLine(
                r.row_number,
                r.order_id if r.order_id is not None else written.get(r.row_number),
                _outcome(r.outcome),
                r.message,
                r.calls,
            )
            for r in rows.values()
        ]
        report.message = (
            f"{report.applied} applied, {report.already_done} already done, "
            f"{report.rejected} rejected"
        )
        self._archive(record, report, lines, "done", table.format)

    def _duplicate(
        self,
        record: ledger.FileRecord,
        earlier: ledger.FileRecord,
        report: FileReport,
    ) -> None:
        where = f" (archived as {earlier.archive_path})" if earlier.archive_path else ""
        report.message = (
            f"duplicate of {earlier.original_name}{where}: same content, not replayed"
        )
        log.info("%s is a %s", record.original_name, report.message)
        line = ResultLine(0, None, "already-done", report.message, 0)
        self._archive(record, report, [line], "duplicate")

    def _archive(
        self,
        record: ledger.FileRecord,
        report: FileReport,
        lines: list[ResultLine],
        state: str,
        source: TableFormat | None = None,
    ) -> None:
        folder = self.settings.folders.archive / self.now.strftime("%Y-%m-%d")
        target, result_path = archive(
            self.journal,
            record,
            folder,
            lines,
            state=state,
            message=report.message,
            source=source,
        )
        report.outcome = state
        report.archive_path = target
        report.result_path = result_path
        log.info("archived %s → %s (%s)", record.original_name, target, report.message)

    def _unreadable(
        self, record: ledger.FileRecord, report: FileReport, explanation: str
    ) -> None:
        target, explained = move_to_failed(
            self.journal,
            record,
            self.settings.folders.failed,
            explanation,
            stamp=self.stamp,
        )
        report.failed_path = explained
        report.outcome = "failed"
        report.message = explanation
        report.archive_path = target
        log.warning("%s moved to failed/: %s", record.original_name, explanation)


def _log_rejected(
    name: str,
    rejected: list[tuple[RawRow, list[RowIssue]]],
    rows: Mapping[int, ledger.RowRecord],
) -> None:
    """Every rejected row into the log file: file, row, order, column, reason."""
    for raw, issues in rejected:
        known = rows.get(raw.row)
        order = known.order_id if known is not None else None
        for issue in issues:
            log.info(
                "rejected %s row %d, order %s, column %s: %s",
                name,
                raw.row,
                order if order is not None else "?",
                repr(issue.column) if issue.column else "-",
                issue.message + (f" (value {issue.value!r})" if issue.value else ""),
            )


def explain(exc: InboxFileError) -> str:
    """Why a file is unreadable and what to do, as written into its `.error.txt`."""
    return exc.message + (f"\n{exc.hint}" if exc.hint else "")


def _count(report: FileReport, rows: Mapping[int, ledger.RowRecord]) -> None:
    outcomes = [r.outcome for r in rows.values()]
    report.applied = outcomes.count("applied")
    report.already_done = outcomes.count("already-done")
    report.rejected = outcomes.count("rejected")
    report.pending = outcomes.count("pending")


def _rejected_rows(
    table: Table,
    checked: ValidationResult,
    rows: Mapping[int, ledger.RowRecord],
) -> list[tuple[RawRow, list[RowIssue]]]:
    """Every rejected row with its reasons, validation and API rejections alike."""
    issues: dict[int, list[RowIssue]] = {
        raw.row: list(found) for raw, found in checked.rejected
    }
    by_row = {raw.row: raw for raw, _ in checked.rejected}
    refused = [
        n for n, r in rows.items() if r.outcome == "rejected" and n not in issues
    ]
    if refused:  # valid rows the API refused: their cells come from the table
        valid = {r.row for r in checked.valid}
        for number in refused:
            if number in valid:
                issues[number] = [RowIssue(number, "", "", rows[number].message)]
        by_row.update(table.rows_numbered(issues.keys() - by_row.keys()))
    return [(by_row[n], issues[n]) for n in sorted(issues) if n in by_row]


def _outcome(text: str) -> Outcome:
    """A journal outcome as the report's type (the journal's CHECK allows no other)."""
    for known in ("applied", "already-done", "rejected", "pending"):
        if text == known:
            return known
    raise StorageError(f"unknown row outcome {text!r} in the journal")


def load_inbound_mapping(name_or_path: str, base_dir: Path) -> InboundMapping:
    """A preset by name (`default` → presets/inbox-default.toml) or a mapping file."""
    return parse_inbound_mapping(*read_mapping_text(name_or_path, base_dir, INBOUND))
