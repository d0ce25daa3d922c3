"""Inbox use case, one pass: find complete files, claim, read → validate → replay → archive.

Finding files: a fresh listing of the inbox folder is the source of truth (events only
wake the watcher sooner). A file is taken when it is complete: size and mtime unchanged
between two looks, not empty, its age (by mtime, or since we first saw it unchanged when
the share's clock runs ahead) at least `settle_seconds`, and openable. A Windows sharing
violation means "later", never "failed". Hidden files, `~$` lock files, `*.tmp`,
`*.part`, extension-less temp names, directories and symlinks are ignored.

Claiming: the journal row is written first (intent, with the claimed name), then the file
is renamed into `inbox/.processing/` (atomic on one share; a second run loses the race
with FileNotFoundError), then hashed. At start, open claims are resumed before anything
new is taken. Files with the same content hash as an earlier file are not replayed
("duplicate of …") and are archived.

Finishing: the result file is written beside the archive destination recorded in the
journal, then the file is moved there (`archive/YYYY-MM-DD/`, never overwriting), then
the claim is closed. Rejected rows go to `failed/` in the original format; an unreadable
file goes to `failed/` with a `.error.txt`.
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from filebridge import inbox_ledger as ledger
from filebridge.config import Settings
from filebridge.errors import (
    ApiUnavailableError,
    InboxFileError,
    RowIssue,
    StorageError,
)
from filebridge.journal import Journal
from filebridge.readers import SUPPORTED_SUFFIXES, load_inbound_mapping, read_table
from filebridge.replay import (
    OrderBook,
    PlannedCall,
    RowWork,
    plan_rows_dry,
    replay_rows,
)
from filebridge.report import (
    Outcome,
    ResultLine,
    write_failed_rows,
    write_result_file,
    write_unreadable_explanation,
)
from filebridge.selldone import SelldoneClient
from filebridge.table_model import RawRow, Table
from filebridge.validation import InboxRow, ValidationResult, validate_table

__all__ = [
    "PROCESSING_DIR",
    "FileReport",
    "FileStat",
    "InboxResult",
    "ScanMemory",
    "files_ready",
    "ignore_reason",
    "is_stable",
    "run_inbox",
]

log = logging.getLogger(__name__)

PROCESSING_DIR = ".processing"
RESULT_SUFFIX = ".result.csv"
IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial")
HASH_CHUNK = 1 << 20
MEGABYTE = 1024 * 1024
NO_ROWS = (
    "The file has a header but no data rows. Add the rows under the header and drop "
    "the file into the inbox again."
)


# --- pure: which files are complete ---------------------------------------------------


@dataclass(frozen=True)
class FileStat:
    """One look at a file: size, mtime (epoch s) and when we first saw it like this."""

    size: int
    mtime: float
    seen_at: float


def is_stable(
    now_stat: FileStat,
    before_stat: FileStat | None,
    *,
    now: float,
    settle_seconds: float,
) -> bool:
    """Complete = unchanged since the last look, not empty, and settled long enough.

    The age counts from the older of mtime and "first seen unchanged", so a share whose
    clock runs ahead (mtime in the future) still settles by our own clock.
    """
    if before_stat is None or now_stat.size <= 0:
        return False
    if (now_stat.size, now_stat.mtime) != (before_stat.size, before_stat.mtime):
        return False
    return now - min(now_stat.mtime, before_stat.seen_at) >= settle_seconds


def files_ready(
    snapshot_now: Mapping[str, FileStat],
    snapshot_before: Mapping[str, FileStat],
    *,
    now: float,
    settle_seconds: float,
) -> list[str]:
    """The names that are complete, in arrival order (mtime, then name)."""
    ready = [
        name
        for name, stat in snapshot_now.items()
        if is_stable(
            stat, snapshot_before.get(name), now=now, settle_seconds=settle_seconds
        )
    ]
    return sorted(ready, key=lambda n: (snapshot_now[n].mtime, n))


def ignore_reason(name: str, supported: Iterable[str]) -> str | None:
    """Why an inbox file name is not ours to read (None: it is a candidate)."""
    lower = name.lower()
    if lower.startswith(IGNORED_PREFIXES):
        return "hidden or Excel lock file"
    if lower.endswith(IGNORED_SUFFIXES):
        return "temporary file"
    suffix = Path(lower).suffix
    if not suffix:
        return "no extension (an editor's temporary file?)"
    if suffix not in {s.lower() for s in supported}:
        return f"unsupported file type {suffix}"
    return None


def observe(
    raw: Mapping[str, tuple[int, float]],
    before: Mapping[str, FileStat],
    now: float,
) -> dict[str, FileStat]:
    """Turn (size, mtime) looks into FileStats, keeping `seen_at` while unchanged."""
    result: dict[str, FileStat] = {}
    for name, (size, mtime) in raw.items():
        old = before.get(name)
        unchanged = old is not None and (old.size, old.mtime) == (size, mtime)
        result[name] = FileStat(size, mtime, old.seen_at if unchanged and old else now)
    return result


# --- results --------------------------------------------------------------------------


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
    calls: int = 0
    archive_path: Path | None = None
    result_path: Path | None = None
    failed_path: Path | None = None


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


@dataclass
class ScanMemory:
    """What a long-running watcher keeps between passes."""

    snapshot: dict[str, FileStat] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)


# --- the pass -------------------------------------------------------------------------


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
) -> InboxResult:
    """Drain the inbox once: resume open claims, then take every complete file.

    `now` dates the archive folder and report names; `clock` (epoch seconds) is
    compared with file mtimes. `stop` ends the pass after the current API step (the
    file stays claimed and resumes next time). Raises `AuthError` at once (nothing is
    lost), `StorageError` if the inbox folder is unreachable.
    """
    pass_ = _Pass(settings, client, journal, now=now, clock=clock, stop=stop)
    result = InboxResult(dry_run=dry_run)
    memory = memory or ScanMemory()
    folders = settings.folders
    if not folders.inbox.is_dir():
        raise StorageError(
            f"The inbox folder {folders.inbox} does not exist or is unreachable.",
            hint="Check [folders] inbox and that the share is connected.",
        )
    if dry_run:
        return pass_.dry_run(result, memory)
    for folder in (pass_.processing, folders.archive, folders.failed):
        _mkdir(folder)
    for open_claim in ledger.open_claims(journal):
        if not pass_.resume(open_claim, result):
            return result
    for name in pass_.find_ready(result, memory):
        if stop is not None and stop.is_set():
            result.stopped = True
            break
        claimed = pass_.claim(name, result)
        if claimed is not None and not pass_.process(claimed, result):
            break
    return result


class _Pass:
    """The state of one pass (collaborators, folders, mapping)."""

    def __init__(
        self,
        settings: Settings,
        client: SelldoneClient,
        journal: Journal,
        *,
        now: datetime,
        clock: Callable[[], float],
        stop: threading.Event | None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.journal = journal
        self.now = now
        self.clock = clock
        self.stop = stop
        self.inbox = settings.folders.inbox
        self.processing = self.inbox / PROCESSING_DIR
        base = settings.source.parent if settings.source else Path.cwd()
        self.mapping = load_inbound_mapping(settings.inbox.mapping, base)
        self.max_bytes = int(settings.inbox.max_file_mb * MEGABYTE)
        self.stamp = now.strftime("%Y%m%d-%H%M%S")
        self.book = OrderBook(client, journal)  # one per pass: reads serve every file

    # -- finding --------------------------------------------------------------------

    def _listing(self, memory: ScanMemory) -> dict[str, tuple[int, float]]:
        found: dict[str, tuple[int, float]] = {}
        try:
            entries = list(os.scandir(self.inbox))
        except OSError as exc:
            raise StorageError(
                f"Cannot list the inbox folder {self.inbox}: {exc.strerror or exc}.",
                hint="Check [folders] inbox and that the share is connected.",
            ) from exc
        for entry in entries:
            try:
                if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                    continue
                reason = ignore_reason(entry.name, SUPPORTED_SUFFIXES)
                if reason is not None:
                    if reason.startswith("unsupported") and entry.name not in (
                        memory.reported
                    ):
                        memory.reported.add(entry.name)
                        log.warning(
                            "ignoring %s in the inbox: %s (filebridge reads %s)",
                            entry.name,
                            reason,
                            ", ".join(sorted(SUPPORTED_SUFFIXES)),
                        )
                    continue
                st = entry.stat(follow_symlinks=False)
            except FileNotFoundError:
                continue  # it went away between listing and stat (Excel's save dance)
            found[entry.name] = (st.st_size, st.st_mtime)
        return found

    def find_ready(self, result: InboxResult, memory: ScanMemory) -> list[str]:
        """Complete files in arrival order; updates `result.waiting` and the memory."""
        settle = self.settings.inbox.settle_seconds
        first = observe(self._listing(memory), memory.snapshot, self.clock())
        second_raw: dict[str, tuple[int, float]] = {}
        for name in first:
            try:
                st = (self.inbox / name).stat(follow_symlinks=False)
            except FileNotFoundError:
                continue
            second_raw[name] = (st.st_size, st.st_mtime)
        now = self.clock()
        second = observe(second_raw, first, now)
        memory.snapshot = second
        stable = files_ready(second, first, now=now, settle_seconds=settle)
        ready = [name for name in stable if self._openable(name)]
        due: list[float] = []
        for name, stat in second.items():
            if name in ready:
                continue
            result.waiting.append(name)
            if name in stable:
                continue  # open in another program: retried at the next rescan
            if stat.size == 0:
                if self._empty_for_too_long(stat, now):
                    ready.append(name)
                    result.waiting.remove(name)
                else:
                    due.append(self._empty_since(stat) + self._empty_grace() - now)
                continue
            due.append(min(stat.mtime, stat.seen_at) + settle - now)
        if due:
            result.next_check_in = max(0.0, min(due))
        return ready

    def _empty_grace(self) -> float:
        inbox = self.settings.inbox
        return max(inbox.empty_file_grace_seconds, inbox.settle_seconds)

    @staticmethod
    def _empty_since(stat: FileStat) -> float:
        return min(stat.mtime, stat.seen_at)

    def _empty_for_too_long(self, stat: FileStat, now: float) -> bool:
        return now - self._empty_since(stat) >= self._empty_grace()

    def _openable(self, name: str) -> bool:
        try:
            with (self.inbox / name).open("rb") as handle:
                handle.read(1)
        except PermissionError:
            log.info("%s is still open in another program; trying later", name)
            return False
        except FileNotFoundError:
            return False
        return True

    # -- claiming -------------------------------------------------------------------

    def claim(self, name: str, result: InboxResult) -> ledger.FileRecord | None:
        source = self.inbox / name
        try:
            mtime = source.stat().st_mtime
        except FileNotFoundError:
            return None
        arrived = datetime.fromtimestamp(mtime, UTC).isoformat()
        record = ledger.begin_claim(self.journal, name, self.processing, arrived)
        claimed = _claimed(record)
        try:
            source.replace(claimed)
        except FileNotFoundError:
            ledger.drop_claim(self.journal, record.id)
            log.info("%s was taken by another run", name)
            return None
        except PermissionError:
            ledger.drop_claim(self.journal, record.id)
            log.info("%s is locked by another program; trying later", name)
            result.waiting.append(name)
            return None
        except OSError as exc:
            ledger.drop_claim(self.journal, record.id)
            raise StorageError(
                f"Cannot move {source} to {claimed}: {exc.strerror or exc}.",
                hint="Check that filebridge may write to the inbox folder.",
            ) from exc
        ledger.set_sha(self.journal, record.id, _sha256(claimed))
        log.info("claimed %s", name)
        return ledger.file_record(self.journal, record.id)

    def resume(self, record: ledger.FileRecord, result: InboxResult) -> bool:
        """Continue a claim left open by an earlier run; False ends the pass."""
        claimed = _claimed(record)
        if claimed.exists():
            if not record.sha256:
                ledger.set_sha(self.journal, record.id, _sha256(claimed))
                record = ledger.file_record(self.journal, record.id)
            log.info("resuming %s", record.original_name)
            return self.process(record, result)
        if record.archive_path is not None and record.archive_path.exists():
            failed = self.settings.folders.failed
            state = "failed" if record.archive_path.parent == failed else "done"
            ledger.finish_file(self.journal, record.id, state, message="moved")
            return True
        if not ledger.row_records(self.journal, record.id):
            ledger.drop_claim(self.journal, record.id)  # the rename never happened
            return True
        ledger.finish_file(
            self.journal,
            record.id,
            "failed",
            message=f"{claimed} vanished before it was finished",
        )
        log.error("claimed file %s vanished; its pending rows are lost", claimed)
        return True

    # -- processing -----------------------------------------------------------------

    def process(self, record: ledger.FileRecord, result: InboxResult) -> bool:
        """Process one claimed file; False means "stop the pass" (API down, stop)."""
        report = FileReport(record.original_name, "pending")
        result.files.append(report)
        earlier = ledger.earlier_copy(self.journal, record.sha256, before=record.id)
        if earlier is not None:
            self._duplicate(record, earlier, report)
            return True
        claimed = _claimed(record)
        if claimed.stat().st_size == 0:
            self._unreadable(
                record,
                report,
                "The file is empty (0 bytes) and stayed empty for longer than "
                f"{self.settings.inbox.empty_file_grace_seconds:g} s. Save it again "
                "with its rows and drop it into the inbox.",
            )
            return True
        try:
            table = read_table(
                claimed,
                encoding=self.settings.inbox.encoding,
                sheet=self.settings.inbox.sheet,
                max_bytes=self.max_bytes,
            )
        except InboxFileError as exc:
            self._unreadable(record, report, _explain(exc))
            return True
        except OSError as exc:
            # Locked by another program or the share hiccuped: later, never "failed".
            # The pass stops so that later files cannot overtake this one's rows.
            report.message = f"cannot read it now ({exc.strerror or exc}); retrying"
            log.warning("%s: %s", record.original_name, report.message)
            return False
        checked = validate_table(table, self.mapping)
        if checked.file_issues:
            self._unreadable(record, report, "\n".join(checked.file_issues))
            return True
        if not checked.valid and not checked.rejected:
            self._unreadable(record, report, NO_ROWS)
            return True
        self._record_rows(record, checked)
        rows = ledger.row_records(self.journal, record.id)
        todo = [
            RowWork(r.row, r.order_id, r)
            for r in checked.valid
            if rows[r.row].outcome == "pending"
        ]
        replayed = replay_rows(
            self.client,
            self.journal,
            todo,
            file_id=record.id,
            file_sha=record.sha256,
            book=self.book,
            prior_calls={n: r.calls for n, r in rows.items()},
            stop=self.stop,
        )
        result.calls += replayed.calls
        report.calls = replayed.calls
        if replayed.unavailable is not None:
            result.unavailable = replayed.unavailable
        if replayed.stopped or replayed.unavailable is not None:
            self._count(report, ledger.row_records(self.journal, record.id))
            if replayed.unavailable is not None:
                report.message = str(replayed.unavailable)
            elif replayed.retry_in is not None:
                due = replayed.retry_in
                result.next_check_in = min(result.next_check_in or due, due)
                report.message = (
                    "a request of an earlier, interrupted run may still be running; "
                    f"its order is checked again in {due:.0f} s"
                )
            else:
                result.stopped = True
                report.message = "stopped; the file resumes on the next run"
            log.warning("%s left pending: %s", record.original_name, report.message)
            return False
        self._finish(record, report, table, checked)
        return True

    def _record_rows(
        self, record: ledger.FileRecord, checked: ValidationResult
    ) -> None:
        if ledger.row_records(self.journal, record.id):
            return
        entries: list[tuple[int, int | None, str, str]] = [
            (row.row, row.order_id, "pending", "") for row in checked.valid
        ]
        entries += [
            (raw.row, None, "rejected", "; ".join(i.describe() for i in issues))
            for raw, issues in checked.rejected
        ]
        with self.journal.atomic():
            ledger.record_rows(self.journal, record.id, sorted(entries))

    def _count(self, report: FileReport, rows: Mapping[int, ledger.RowRecord]) -> None:
        outcomes = [r.outcome for r in rows.values()]
        report.applied = outcomes.count("applied")
        report.already_done = outcomes.count("already-done")
        report.rejected = outcomes.count("rejected")
        report.pending = outcomes.count("pending")

    def _finish(
        self,
        record: ledger.FileRecord,
        report: FileReport,
        table: Table,
        checked: ValidationResult,
    ) -> None:
        rows = ledger.row_records(self.journal, record.id)
        self._count(report, rows)
        rejected = _rejected_rows(table, checked, rows)
        if rejected:
            report.failed_path = write_failed_rows(
                self.settings.folders.failed,
                record.original_name,
                table,
                rejected,
                stamp=self.stamp,
            )
        lines = [
            ResultLine(
                r.row_number, r.order_id, _outcome(r.outcome), r.message, r.calls
            )
            for r in rows.values()
        ]
        report.message = (
            f"{report.applied} applied, {report.already_done} already done, "
            f"{report.rejected} rejected"
        )
        self._archive(record, report, lines, "done")

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
    ) -> None:
        folder = self.settings.folders.archive / self.now.strftime("%Y-%m-%d")
        _mkdir(folder)
        target = record.archive_path
        if target is None or target.exists() or target.parent != folder:
            target = _unique(folder, record.original_name)
        result_path = target.with_name(target.name + RESULT_SUFFIX)
        ledger.set_destination(self.journal, record.id, target, result_path)
        write_result_file(result_path, lines)
        _move(_claimed(record), target)
        ledger.finish_file(self.journal, record.id, state, message=report.message)
        report.outcome = state
        report.archive_path = target
        report.result_path = result_path
        log.info("archived %s → %s (%s)", record.original_name, target, report.message)

    def _unreadable(
        self, record: ledger.FileRecord, report: FileReport, explanation: str
    ) -> None:
        failed = self.settings.folders.failed
        target = _unique(failed, record.original_name)
        ledger.set_destination(self.journal, record.id, target, target)
        report.failed_path = write_unreadable_explanation(
            failed, target.name, explanation, stamp=self.stamp
        )
        _move(_claimed(record), target)
        ledger.finish_file(self.journal, record.id, "failed", message=explanation)
        report.outcome = "failed"
        report.message = explanation
        report.archive_path = target
        log.warning("%s moved to failed/: %s", record.original_name, explanation)

    # -- dry run ----------------------------------------------------------------------

    def dry_run(self, result: InboxResult, memory: ScanMemory) -> InboxResult:
        """Plan every pending and complete file; claim, write and send nothing."""
        book = OrderBook(self.client, None)
        sources: list[tuple[str, Path, str]] = []
        for record in ledger.open_claims(self.journal):
            claimed = _claimed(record)
            if claimed.exists():
                sources.append((record.original_name, claimed, record.sha256))
        for name in self.find_ready(result, memory):
            path = self.inbox / name
            sources.append((name, path, _sha256(path)))
        for name, path, sha in sources:
            earlier = (
                ledger.earlier_copy(self.journal, sha, before=None) if sha else None
            )
            if earlier is not None and earlier.original_name != name:
                result.planned.append(
                    PlannedCall(
                        name, 0, 0, "-", f"duplicate of {earlier.original_name}"
                    )
                )
                continue
            try:
                table = read_table(
                    path,
                    encoding=self.settings.inbox.encoding,
                    sheet=self.settings.inbox.sheet,
                    max_bytes=self.max_bytes,
                )
            except InboxFileError as exc:
                result.planned.append(
                    PlannedCall(
                        name, 0, 0, "-", f"would go to failed/: {_explain(exc)}"
                    )
                )
                continue
            checked = validate_table(table, self.mapping)
            for raw, issues in checked.rejected:
                text = "; ".join(i.describe() for i in issues)
                result.planned.append(
                    PlannedCall(name, raw.row, 0, "-", f"rejected: {text}")
                )
            work = [RowWork(r.row, r.order_id, r) for r in checked.valid]
            result.planned.extend(
                plan_rows_dry(self.client, self.journal, work, source=name, book=book)
            )
        result.calls = book.calls
        return result


# --- helpers --------------------------------------------------------------------------


def _claimed(record: ledger.FileRecord) -> Path:
    if record.claimed_path is None:
        raise StorageError(f"inbox file #{record.id} has no claimed path")
    return record.claimed_path


def _rejected_rows(
    table: Table,
    checked: ValidationResult,
    rows: Mapping[int, ledger.RowRecord],
) -> list[tuple[RawRow, list[RowIssue]]]:
    """Every rejected row with its reasons, validation and API rejections alike."""
    by_row: dict[int, RawRow] = {raw.row: raw for raw in table.rows}
    issues: dict[int, list[RowIssue]] = {
        raw.row: list(found) for raw, found in checked.rejected
    }
    valid: dict[int, InboxRow] = {r.row: r for r in checked.valid}
    for number, record in rows.items():
        if record.outcome == "rejected" and number in valid:
            issues[number] = [RowIssue(number, "", "", record.message)]
    return [(by_row[n], issues[n]) for n in sorted(issues) if n in by_row]


def _outcome(text: str) -> Outcome:
    """A journal outcome as the report's type (the journal's CHECK allows no other)."""
    for known in ("applied", "already-done", "rejected", "pending"):
        if text == known:
            return known
    raise StorageError(f"unknown row outcome {text!r} in the journal")


def _explain(exc: InboxFileError) -> str:
    return exc.message + (f"\n{exc.hint}" if exc.hint else "")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise StorageError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    return digest.hexdigest()


def _unique(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem-2.ext`, … : never an existing file (or its result)."""
    base = Path(name)
    candidate = folder / name
    number = 1
    while (
        candidate.exists()
        or candidate.with_name(candidate.name + RESULT_SUFFIX).exists()
    ):
        number += 1
        candidate = folder / f"{base.stem}-{number}{base.suffix}"
    return candidate


def _move(source: Path, target: Path) -> None:
    try:
        source.replace(target)
    except OSError as exc:
        raise StorageError(
            f"Cannot move {source} to {target}: {exc.strerror or exc}.",
            hint="Check that filebridge may write to the archive and failed folders.",
        ) from exc


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the folder {folder}: {exc.strerror or exc}.",
            hint="Check [folders] in the config and the share's permissions.",
        ) from exc
