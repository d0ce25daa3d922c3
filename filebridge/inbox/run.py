"""Inbox use case, one pass: resume open claims, then claim and process each complete file.

The parts: `inbox.scan` finds the complete files (`inbox.readiness` holds the pure
rules), `inbox.moves` claims and files them away, `inbox.file` processes claimed
files (read → validate → replay → archive), `dry_run` plans without touching anything.
Open claims are resumed before anything new is taken, so files are replayed in
arrival order (small consecutive files together, their orders side by side: `_Batch`); the pass stops at the first file that cannot finish now (API down,
`stop`, a file locked while being read), and that file resumes first next time. A
held order (a doubtful step) does not stop the pass: only its rows wait, in every
file, and the files with such rows stay claimed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from filebridge.config import Settings
from filebridge.errors import ApiUnavailableError, StorageError
from filebridge.folders import ensure_folder
from filebridge.inbox.dry_run import PlannedCall, plan_pass
from filebridge.inbox.file import FileProcessor, FileReport, Halt, ReadyFile
from filebridge.inbox.moves import (
    PROCESSING_DIR,
    claim,
    claimed_path,
    remove_partial_reports,
    settle_vanished,
    sha256_of,
)
from filebridge.inbox.readiness import ScanMemory
from filebridge.inbox.scan import scan_inbox
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.replay import Hold
from filebridge.selldone import SelldoneClient

__all__ = ["FileReport", "InboxResult", "run_inbox"]

log = logging.getLogger(__name__)

BATCH_ROWS = 1000  # pending rows replayed together at most (see `_Batch`)
BATCH_FILES = 200  # and files

INBOX_UNREACHABLE_HINT = "Check [folders] inbox and that the share is connected."


@dataclass
class InboxResult:
    """One pass over the inbox. A run that rejected rows is an outcome, not an error.

    `unavailable` is set when the API kept failing: the affected file stays claimed with
    its rows pending, and the next run resumes it. `waiting` are files not yet complete;
    `next_check_in` says when the first of them may be (seconds), for the watcher.
    """

    files: list[FileReport] = field(default_factory=list)
    waiting: list[str] = field(default_factory=list)
    planned: list[PlannedCall] = field(default_factory=list)
    calls: int = 0
    unavailable: ApiUnavailableError | None = None
    stopped: bool = False
    next_check_in: float | None = None
    dry_run: bool = False
    held: dict[int, Hold] = field(default_factory=dict)

    @property
    def files_processed(self) -> int:
        return sum(1 for f in self.files if f.outcome in ("done", "duplicate"))

    @property
    def files_failed(self) -> int:
        return sum(1 for f in self.files if f.outcome == "failed")

    @property
    def rows_applied(self) -> int:
        return sum(f.applied for f in self.files)

    @property
    def rows_already_done(self) -> int:
        return sum(f.already_done for f in self.files)

    @property
    def rows_rejected(self) -> int:
        return sum(f.rejected for f in self.files)

    @property
    def rows_pending(self) -> int:
        return sum(f.pending for f in self.files)

    @property
    def rows_held(self) -> int:
        return sum(f.held for f in self.files)


def run_inbox(
    settings: Settings,
    client: SelldoneClient,
    journal: Journal,
    *,
    now: datetime,
    dry_run: bool = False,
    clock: Callable[[], float] = time.time,
    stop: threading.Event | None = None,
    memory: ScanMemory | None = None,
    progress: Callable[[str], None] | None = None,
) -> InboxResult:
    """Drain the inbox once: resume open claims, then take every complete file.

    `now` dates the archive folder and report names; `clock` (epoch seconds) is
    compared with file mtimes. `stop` ends the pass after the current API step (the
    file stays claimed and resumes next time). Raises `AuthError` at once (nothing is
    lost), `StorageError` if the inbox folder is unreachable. `progress` receives the
    state of long work (`inbox: a.csv: row 1200 of 20000`).
    """
    files = FileProcessor(
        settings, client, journal, now=now, stop=stop, progress=progress
    )
    result = InboxResult(dry_run=dry_run, held=files.held)
    memory = memory or ScanMemory()
    folders = settings.folders
    if not folders.inbox.is_dir():
        raise StorageError(
            f"The inbox folder {folders.inbox} does not exist or is unreachable.",
            hint=INBOX_UNREACHABLE_HINT,
        )
    if dry_run:
        ready = _scan(settings, result, memory, clock)
        result.planned, result.calls = plan_pass(files, folders.inbox, ready)
        return result
    processing = folders.inbox / PROCESSING_DIR
    ensure_folder(
        processing,
        what="the inbox's work folder",
        hint=INBOX_UNREACHABLE_HINT,
        parents=False,
    )
    for folder in (folders.archive, folders.failed):
        ensure_folder(folder)
    batch = _Batch(files, result)
    for open_claim in ledger.open_claims(journal):
        if open_claim.id not in memory.swept_claims:
            # Once per claim and process: a killed run's temps cannot reappear, and
            # failed/ may be a big folder on a share, listed on every watcher wake.
            remove_partial_reports(open_claim, folders.failed)
            memory.swept_claims.add(open_claim.id)
        if not _resume(batch, open_claim):
            return result
    for name in _scan(settings, result, memory, clock, journal):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        claimed = claim(
            journal, folders.inbox / name, processing, waiting=result.waiting
        )
        if claimed is not None and not batch.add(claimed):
            return result
    batch.flush()
    return result


def _scan(
    settings: Settings,
    result: InboxResult,
    memory: ScanMemory,
    clock: Callable[[], float],
    journal: Journal | None = None,
) -> list[str]:
    """The complete files in arrival order; the others go to `result.waiting`.

    With a `journal` (not in a dry run), what the scan left alone is remembered there.
    """
    found = scan_inbox(settings.folders.inbox, settings.inbox, memory, clock)
    if journal is not None:
        ledger.remember_ignored(journal, found.ignored)
    result.waiting.extend(found.waiting)
    if found.next_check_in is not None:
        result.next_check_in = found.next_check_in
    return found.ready


def _resume(batch: _Batch, record: ledger.FileRecord) -> bool:
    """Continue a claim left open by an earlier run; False ends the pass."""
    claimed = claimed_path(record)
    journal = batch.files.journal
    if not claimed.exists():
        settle_vanished(journal, record, batch.files.settings.folders.failed)
        return True
    if not record.sha256:
        ledger.set_sha(journal, record.id, sha256_of(claimed))
        record = ledger.file_record(journal, record.id)
    log.info("resuming %s", record.original_name)
    return batch.add(record)


class _Batch:
    """Claimed files, read and checked, whose rows are replayed together.

    An ERP that writes one file per shipment would otherwise have one order in flight
    at a time (files are replayed in arrival order), and at any latency above
    60 s / budget the budget goes unused. So the pending rows of consecutive files are
    replayed as one piece (`FileProcessor.replay`): their orders side by side, each
    order's rows in file order, then row order, exactly as one file's. A batch is
    replayed when its rows reach `BATCH_ROWS` (a big file goes alone: memory stays
    about one file's), before a file whose content was seen before (whether it is a
    copy depends on what the files before it did), and at the end of the pass.
    """

    def __init__(self, files: FileProcessor, result: InboxResult) -> None:
        self.files = files
        self.result = result
        self.ready: list[ReadyFile] = []
        self.rows = 0

    def add(self, record: ledger.FileRecord) -> bool:
        """Take one claimed file (arrival order); False ends the pass."""
        journal = self.files.journal
        if (
            self.ready
            and ledger.earlier_copy(journal, record.sha256, before=record.id)
            and not self.flush()
        ):
            return False
        report = FileReport(record.original_name, "pending")
        self.result.files.append(report)
        ready = self.files.prepare(record, report)
        if isinstance(ready, Halt):
            # This file cannot be read now: those before it go; nothing after it.
            self.flush()
            self._halt(ready)
            return False
        if ready is None:
            return True
        self.ready.append(ready)
        self.rows += len(ready.rows.rows)
        if self.rows >= BATCH_ROWS or len(self.ready) >= BATCH_FILES:
            return self.flush()
        return True

    def flush(self) -> bool:
        """Replay the batch and conclude each file; False ends the pass."""
        ready, self.ready, self.rows = self.ready, [], 0
        if not ready:
            return True
        go_on = True
        for item, replayed in zip(ready, self.files.replay(ready), strict=True):
            halt = self.files.conclude(item, replayed)
            self.result.calls += item.report.calls
            if halt is not None:
                self._halt(halt)
                go_on = False
        for hold in self.files.held.values():
            self.result.next_check_in = min(
                self.result.next_check_in or hold.retry_in, hold.retry_in
            )
        return go_on

    def _halt(self, halt: Halt) -> None:
        result = self.result
        if halt.unavailable is not None:
            result.unavailable = halt.unavailable
        if halt.stopped:
            result.stopped = True
