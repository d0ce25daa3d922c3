"""Inbox use case, one pass: resume open claims, then claim and process each complete file.

The parts: `inbox.scan` finds the complete files (`inbox.readiness` holds the pure
rules), `inbox.moves` claims and files them away, `inbox.file` processes one claimed
file (read → validate → replay → archive), `dry_run` plans without touching anything.
Open claims are resumed before anything new is taken, so files are replayed in
arrival order; the pass stops at the first file that cannot finish now (API down,
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
from filebridge.inbox.file import FileProcessor, FileReport
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
    for open_claim in ledger.open_claims(journal):
        if open_claim.id not in memory.swept_claims:
            # Once per claim and process: a killed run's temps cannot reappear, and
            # failed/ may be a big folder on a share, listed on every watcher wake.
            remove_partial_reports(open_claim, folders.failed)
            memory.swept_claims.add(open_claim.id)
        if not _resume(files, open_claim, result):
            return result
    for name in _scan(settings, result, memory, clock, journal):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        claimed = claim(
            journal, folders.inbox / name, processing, waiting=result.waiting
        )
        if claimed is not None and not _process(files, claimed, result):
            break
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


def _resume(
    files: FileProcessor, record: ledger.FileRecord, result: InboxResult
) -> bool:
    """Continue a claim left open by an earlier run; False ends the pass."""
    claimed = claimed_path(record)
    if not claimed.exists():
        settle_vanished(files.journal, record, files.settings.folders.failed)
        return True
    if not record.sha256:
        ledger.set_sha(files.journal, record.id, sha256_of(claimed))
        record = ledger.file_record(files.journal, record.id)
    log.info("resuming %s", record.original_name)
    return _process(files, record, result)


def _process(
    files: FileProcessor, record: ledger.FileRecord, result: InboxResult
) -> bool:
    """Process one claimed file into `result`; False ends the pass."""
    report = FileReport(record.original_name, "pending")
    result.files.append(report)
    halt = files.process(record, report)
    result.calls += report.calls
    for hold in files.held.values():
        result.next_check_in = min(result.next_check_in or hold.retry_in, hold.retry_in)
    if halt is None:
        return True
    if halt.unavailable is not None:
        result.unavailable = halt.unavailable
    if halt.retry_in is not None:
        due = halt.retry_in
        result.next_check_in = min(result.next_check_in or due, due)
    if halt.stopped:
        result.stopped = True
    return False
