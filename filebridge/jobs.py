"""One pass, shared by `filebridge run` and every `watch` tick: lock → export → drain inbox."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from filebridge import run_record
from filebridge.cli_text import export_summary, inbox_summary
from filebridge.config import FolderSettings, Settings
from filebridge.errors import (
    EXIT_CLEAN,
    EXIT_REJECTED_ROWS,
    AlreadyRunningError,
    ApiUnavailableError,
    ConfigError,
    FilebridgeError,
    StopRequestedError,
    StorageError,
)
from filebridge.folders import require_folders
from filebridge.inbox import PROCESSING_DIR, RESULT_SUFFIX, InboxResult, run_inbox
from filebridge.journal import Journal, utc_now_iso
from filebridge.journal import inbox as ledger
from filebridge.locking import single_instance
from filebridge.log import redact
from filebridge.outbox import ExportResult, run_export
from filebridge.progress import Progress
from filebridge.selldone import CallRecord, RateLimiter, SelldoneClient
from filebridge.watch import watch_inbox

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RunResult:
    """What one pass did; a run that rejected rows is an outcome, not an exception."""

    export: ExportResult | None
    inbox: InboxResult | None

    @property
    def rejected_rows(self) -> int:
        return (
            0
            if self.inbox is None
            else self.inbox.rows_rejected + self.inbox.files_failed
        )

    @property
    def exit_code(self) -> int:
        """5 when the API gave out mid-inbox (rows stay pending), 1 for rejections or
        held orders (finished, but not clean), else 0."""
        if self.inbox is not None and self.inbox.unavailable is not None:
            return ApiUnavailableError.exit_code
        held = self.inbox is not None and bool(self.inbox.held)
        return EXIT_REJECTED_ROWS if self.rejected_rows or held else EXIT_CLEAN


def make_limiter(
    settings: Settings, stop: threading.Event | None = None
) -> RateLimiter:
    """One limiter per process: export and replay share the API budget.

    `stop` ends every wait of the client at once and lets no request start after it.
    """
    limiter = RateLimiter(settings.limits.requests_per_minute, window_seconds=60.0)
    limiter.stop = stop
    return limiter


LAST_START_KEY = "ratelimit.last_start"
LAST_START_MONOTONIC_KEY = "ratelimit.last_start_monotonic"
RECENT_STARTS_KEY = "ratelimit.recent_starts"
CLOCK_JUMP_S = 2.0  # wall and monotonic clocks may drift apart this much (NTP slewing)
UNANSWERED_KEY = "ratelimit.unanswered"


def share_budget(limiter: RateLimiter, journal: Journal) -> None:
    """Carry the API budget over from earlier processes on this state folder.

    A fresh limiter would begin with a full budget, so back-to-back runs, or a watcher
    restarted after a crash, could spend twice the budget in one window. The new one
    counts the request starts of the last window (`_earlier_starts`): every start is
    noted before its request is sent, so requests in flight when a process died count
    too (a call is journalled only after its answer).

    Clock-proof: times stored "in the future" (this machine's clock went back since
    they were written) are clamped to now, in the journal too, so they count for one
    window from now and then age out: no wait exceeds one window.
    """
    now_clock = time.monotonic()
    now = datetime.now(UTC)
    span = timedelta(seconds=limiter.window_seconds + limiter.margin_seconds)
    jump = _clock_jump(journal, now, now_clock)
    if jump:
        before = now - timedelta(seconds=jump)  # now, on the clock before the jump
        _translate_recent_times(journal, jump, since=before - span - span)
    horizon = now - span
    clamped = journal.execute(
        "UPDATE api_calls SET at = ? WHERE at > ?", (now.isoformat(), now.isoformat())
    ).rowcount
    if clamped:
        log.warning(
            "%d API calls were journalled in the future (the clock went back): "
            "counted as made now",
            clamped,
        )
    starts = _earlier_starts(journal, now, horizon)
    # A stored time in the future (this machine's clock went back since) counts as
    # "just now": no wait can exceed one window, whatever the clock did.
    moments = [min(m, now) for m in starts if m > horizon]
    limiter.preload(now_clock - (now - m).total_seconds() for m in moments)
    if moments:
        log.info("%d API calls of earlier runs count against this minute", len(moments))

    recent: deque[str] = deque(
        (m.isoformat() for m in sorted(moments)), maxlen=limiter.per_window
    )
    lock = threading.Lock()

    def note_start() -> None:
        # Every start, not only the last: with several senders, several requests may
        # be in flight when the process is killed, and none of them is journalled yet.
        with lock:
            stamp = utc_now_iso()
            recent.append(stamp)
            starts_json = json.dumps(list(recent))
            with journal.atomic():
                journal.set_meta(LAST_START_KEY, stamp)
                journal.set_meta(LAST_START_MONOTONIC_KEY, repr(time.monotonic()))
                journal.set_meta(RECENT_STARTS_KEY, starts_json)

    limiter.on_start = note_start


def _earlier_starts(
    journal: Journal, now: datetime, horizon: datetime
) -> list[datetime]:
    """The request starts of earlier processes since `horizon`.

    Every start is noted as it is made (`RECENT_STARTS_KEY`, the last `per_window`),
    answered or not: the complete list, where the journalled calls miss the requests
    in flight when a process died. A journal from before that note counts its
    journalled calls, plus the last start if no call covers it (`UNANSWERED_KEY`).
    """
    noted = [
        m
        for m in map(_moment, json.loads(journal.get_meta(RECENT_STARTS_KEY) or "[]"))
        if m is not None
    ]
    if noted:
        return noted
    rows = journal.query(
        "SELECT at FROM api_calls WHERE at >= ?",
        ((horizon - timedelta(seconds=1)).isoformat(),),
    )
    starts = [m for m in (_moment(row["at"]) for row in rows) if m is not None]
    unanswered = [
        min(moment, now)
        for moment in map(_moment, json.loads(journal.get_meta(UNANSWERED_KEY) or "[]"))
        if moment is not None and moment > horizon
    ]
    last = _moment(journal.get_meta(LAST_START_KEY))
    if last is not None and last > now:
        last = now
        journal.set_meta(LAST_START_KEY, now.isoformat())
    covered = any(s >= last for s in starts) if last is not None else True
    if last is not None and last > horizon and not covered and last not in unanswered:
        unanswered.append(last)
    journal.set_meta(UNANSWERED_KEY, json.dumps([m.isoformat() for m in unanswered]))
    return [*starts, *unanswered]


def _clock_jump(journal: Journal, now: datetime, now_clock: float) -> float:
    """Seconds the wall clock moved beyond the real time passed since the last start.

    The last start is kept with the monotonic clock's reading too (the same for every
    process until the machine restarts). If the wall clock moved since by more than
    the monotonic clock did, it jumped (ahead, or back). 0 after a restart (the
    monotonic clock is behind the stored reading), with nothing stored, or within
    `CLOCK_JUMP_S`.
    """
    last = _moment(journal.get_meta(LAST_START_KEY))
    try:
        last_clock = float(journal.get_meta(LAST_START_MONOTONIC_KEY) or "nan")
    except ValueError:
        return 0.0
    if last is None or not last_clock <= now_clock:
        return 0.0
    jump = (now - last).total_seconds() - (now_clock - last_clock)
    return jump if abs(jump) > CLOCK_JUMP_S else 0.0


def _translate_recent_times(journal: Journal, jump: float, *, since: datetime) -> None:
    """Move the journal's recent times onto the wall clock as it is now.

    The calls of the last minutes (the API budget), the steps in doubt (their settle
    time) and the last start: written on the clock before the jump, they are judged
    by the real time passed, so calls a second old still count after an hour's jump
    ahead, and a write still running in the shop is not taken for an old one.
    """
    shift = timedelta(seconds=jump)
    log.warning(
        "this machine's clock moved %.0f s %s since the last API call (by the "
        "monotonic clock); the journal's recent times are moved with it",
        abs(jump),
        "ahead" if jump > 0 else "back",
    )
    with journal.atomic():
        for row in journal.query(
            "SELECT rowid AS n, at FROM api_calls WHERE at >= ?", (since.isoformat(),)
        ):
            moment = _moment(row["at"])
            if moment is not None:
                journal.execute(
                    "UPDATE api_calls SET at = ? WHERE rowid = ?",
                    ((moment + shift).isoformat(), row["n"]),
                )
        ledger.shift_doubtful_sends(journal, jump)
        last = _moment(journal.get_meta(LAST_START_KEY))
        if last is not None:
            journal.set_meta(LAST_START_KEY, (last + shift).isoformat())
        unanswered = [
            (m + shift).isoformat()
            for m in map(_moment, json.loads(journal.get_meta(UNANSWERED_KEY) or "[]"))
            if m is not None
        ]
        journal.set_meta(UNANSWERED_KEY, json.dumps(unanswered))
        noted = [
            (m + shift).isoformat()
            for m in map(
                _moment, json.loads(journal.get_meta(RECENT_STARTS_KEY) or "[]")
            )
            if m is not None
        ]
        journal.set_meta(RECENT_STARTS_KEY, json.dumps(noted))


def _moment(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def open_client(
    settings: Settings,
    *,
    journal: Journal | None = None,
    limiter: RateLimiter | None = None,
    require_token: bool = True,
) -> SelldoneClient:
    """A client for the configured shop; every HTTP attempt is counted in the journal."""
    token = settings.selldone.token.get_secret_value()
    if not token and require_token:
        raise ConfigError(
            "No Selldone token is configured.",
            hint="Set the SELLDONE_TOKEN environment variable or [selldone] token; "
            "`filebridge auth-url` prints the link that creates one.",
        )
    on_call: Callable[[CallRecord], None] | None = None
    if journal is not None:
        counted = journal

        def on_call(record: CallRecord) -> None:
            counted.record_api_call(
                record.method, record.path, record.status, record.at.isoformat()
            )

    limiter = limiter or make_limiter(settings)
    if journal is not None:
        share_budget(limiter, journal)
    return SelldoneClient(
        settings.selldone.api_url,
        settings.selldone.shop_id,
        settings.selldone.token,
        timeout=settings.selldone.timeout_seconds,
        write_settle=settings.selldone.write_settle_seconds,
        limiter=limiter,
        requests_per_minute=settings.limits.requests_per_minute,
        on_call=on_call,
    )


def configured_folders(settings: Settings) -> dict[str, Path]:
    """`[folders]` key → path, in the order of the settings table."""
    return {
        name: getattr(settings.folders, name) for name in FolderSettings.model_fields
    }


def require_configured_folders(settings: Settings, *, watching: bool = False) -> None:
    """Stop (exit 3, logged) before any work when a configured folder does not exist.

    `watch` waits for a missing inbox instead (logged and retried, as a share outage
    is while it runs), so a restart during an outage does not stop it.
    """
    folders = configured_folders(settings)
    if watching:
        folders.pop("inbox")
    try:
        require_folders(folders, config=settings.source)
    except ConfigError as exc:
        log.error("%s", exc)
        raise


@contextmanager
def recording_failures(journal: Journal) -> Iterator[None]:
    """Keep the last error in the journal for `filebridge status`, then re-raise it."""
    try:
        yield
    except FilebridgeError as exc:
        journal.record_event("ERROR", redact(f"{type(exc).__name__}: {exc}"))
        raise


def run_pass(
    settings: Settings,
    journal: Journal,
    client: SelldoneClient,
    *,
    now: datetime | None = None,
    do_export: bool = True,
    do_inbox: bool = True,
    dry_run: bool = False,
    reexport: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    since: int | None = None,
    inbox_progress: Callable[[str], None] | None = None,
) -> RunResult:
    """Export, then drain the inbox, with collaborators passed in (watch reuses them).

    `stop` ends the inbox drain after the API step in flight; the rest resumes next run.
    """
    moment = now or datetime.now(UTC)
    record = run_record.current()
    if record is not None:
        record.dry_run = dry_run
    with recording_failures(journal):
        exported = None
        if do_export:
            with _half(record, "export"):
                exported = run_export(
                    settings,
                    client,
                    journal,
                    now=moment,
                    dry_run=dry_run,
                    reexport=reexport,
                    progress=progress,
                    since=since,
                )
            if record is not None:
                record.note(export_summary(exported))
        drained = None
        if do_inbox and not (stop is not None and stop.is_set()):
            with _half(record, "inbox"):
                drained = run_inbox(
                    settings,
                    client,
                    journal,
                    now=moment,
                    dry_run=dry_run,
                    stop=stop,
                    progress=inbox_progress,
                )
            if record is not None:
                record.note(inbox_summary(drained))
                record.rows_rejected = drained.rows_rejected
                record.files_failed = drained.files_failed
                if drained.unavailable is not None:
                    record.half("inbox", "failed")
    return RunResult(export=exported, inbox=drained)


@contextmanager
def _half(record: run_record.RunRecord | None, name: str) -> Iterator[None]:
    """Note in the run's record whether the `export` or `inbox` half went through."""
    try:
        yield
    except BaseException:
        if record is not None:
            record.half(name, "failed")
        raise
    if record is not None:
        record.half(name, "ok")


def run_once(
    settings: Settings,
    *,
    do_export: bool = True,
    do_inbox: bool = True,
    dry_run: bool = False,
    reexport: Sequence[int] = (),
    progress: Callable[[int], None] | None = None,
    stop: threading.Event | None = None,
    since: int | None = None,
    inbox_progress: Callable[[str], None] | None = None,
) -> RunResult:
    """One locked pass for Task Scheduler; a second concurrent pass exits at once.

    A dry run takes no lock: it writes nothing, so it may look while a real run works.
    """
    require_configured_folders(settings)
    lock = _no_lock() if dry_run else single_instance(settings.lock_path)
    with (
        lock,
        Journal.open(
            settings.journal_path, evidence=earlier_files(settings)
        ) as journal,
        open_client(
            settings,
            journal=None if dry_run else journal,
            limiter=make_limiter(settings, stop),
        ) as client,
    ):
        result = run_pass(
            settings,
            journal,
            client,
            do_export=do_export,
            do_inbox=do_inbox,
            dry_run=dry_run,
            reexport=reexport,
            progress=progress,
            stop=stop,
            since=since,
            inbox_progress=inbox_progress,
        )
        if not dry_run:
            keep_backup(journal)
        return result


@contextmanager
def _no_lock() -> Iterator[None]:
    yield


def earlier_files(settings: Settings) -> list[Path]:
    """Files filebridge left after earlier runs (a result file in the archive, a claimed
    inbox file): with them, a missing journal is a lost one, not a fresh install."""
    found: list[Path] = []
    archive = settings.folders.archive
    if archive.is_dir():
        first = next(archive.rglob(f"*{RESULT_SUFFIX}"), None)
        if first is not None:
            found.append(first)
    processing = settings.folders.inbox / PROCESSING_DIR
    if processing.is_dir():
        found.extend(p for p in processing.iterdir() if p.is_file())
    return found[:3]


def keep_backup(journal: Journal) -> None:
    """The after-run journal backup; a failure is logged, never fails the run."""
    try:
        journal.backup()
    except StorageError as exc:
        log.warning("journal backup skipped: %s", exc)


class ExportTimer:
    """Runs the export when it is due; outages are logged and retried next interval.

    Called before every inbox pass of the watcher, so export and replay share one
    client (one rate limiter) and one journal, in one thread.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        monotonic: Callable[[], float],
        on_export: Callable[[ExportResult], None] | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.progress = progress
        self.monotonic = monotonic
        self.on_export = on_export
        self.next_due = monotonic()  # export at start, then every interval
        self.inbox_outcome: str | None = None
        """How the inbox passes since the last tick went (`note_pass`)."""

    def note_pass(self, result: InboxResult) -> None:
        """An inbox pass ended: 'failed' if Selldone gave out, else 'ok' (sticky fail)."""
        if result.unavailable is not None:
            self.inbox_outcome = "failed"
        elif self.inbox_outcome is None:
            self.inbox_outcome = "ok"

    def tick(self, client: SelldoneClient, journal: Journal) -> None:
        if self.monotonic() < self.next_due:
            return
        self.next_due = self.monotonic() + self.settings.export.interval_minutes * 60
        started = utc_now_iso()
        halves = {} if self.inbox_outcome is None else {"inbox": self.inbox_outcome}
        self.inbox_outcome = None
        try:
            with recording_failures(journal):
                result = run_export(
                    settings=self.settings,
                    client=client,
                    journal=journal,
                    now=datetime.now(UTC),
                    progress=None if self.progress is None else self.progress.exporting,
                )
        except StopRequestedError:
            log.info("export stopped before its next request")
            return
        except (ApiUnavailableError, StorageError) as exc:
            if self.progress is not None:
                self.progress.idle()
            log.warning("export skipped, retrying at the next interval: %s", exc)
            run_record.record_tick(
                self.settings,
                journal,
                started_at=started,
                halves=halves | {"export": "failed"},
                summary="export skipped",
                error=exc,
            )
            return
        run_record.record_tick(
            self.settings,
            journal,
            started_at=started,
            halves=halves | {"export": "ok"},
            summary=export_summary(result),
            error=None,
        )
        if self.progress is not None:
            self.progress.idle()
        if self.on_export is not None:
            self.on_export(result)


class WatchRequests:
    """Re-exports asked of a running watcher from another thread (the dashboard).

    `watch` holds the state folder's lock, so a re-export cannot take it: the request
    runs in the watcher's loop instead, with its client, limiter and journal, before
    the next inbox pass (`wake` starts that pass early).
    """

    def __init__(self) -> None:
        self.wake = threading.Event()
        self._queue: queue.SimpleQueue[tuple[int, Future[ExportResult]]] = (
            queue.SimpleQueue()
        )

    def reexport(self, order_id: int, *, timeout: float) -> ExportResult:
        """Ask for one re-export and wait for it, at most `timeout` seconds."""
        future: Future[ExportResult] = Future()
        self._queue.put((order_id, future))
        self.wake.set()
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            if future.cancel():
                raise AlreadyRunningError(
                    f"The watcher stayed busy for {timeout:g} s; order {order_id} "
                    "was not re-exported.",
                    hint="Try again when the current inbox file is done.",
                ) from None
            return future.result()  # it started meanwhile: wait for its end

    def run_due(
        self, settings: Settings, client: SelldoneClient, journal: Journal
    ) -> None:
        """Run every waiting request (in the watcher's thread)."""
        while True:
            try:
                order_id, future = self._queue.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                with recording_failures(journal):
                    result = run_export(
                        settings,
                        client,
                        journal,
                        now=datetime.now(UTC),
                        reexport=(order_id,),
                    )
            except FilebridgeError as exc:
                future.set_exception(exc)
            else:
                future.set_result(result)


def run_watch(
    settings: Settings,
    *,
    stop: threading.Event,
    on_export: Callable[[ExportResult], None] | None = None,
    on_pass: Callable[[InboxResult], None] | None = None,
    monotonic: Callable[[], float] = time.monotonic,
    requests: WatchRequests | None = None,
) -> None:
    """Long-running mode: inbox watching plus an export every `export.interval_minutes`.

    Holds the state folder's lock for its whole life, so a scheduled `run` started
    meanwhile exits at once with the already-running code. Returns after `stop` is set;
    raises AuthError when the token is refused (nothing works until a person acts).
    """
    require_configured_folders(settings, watching=True)
    progress = Progress()  # log lines only: a watcher's console shows summaries
    timer = ExportTimer(
        settings, monotonic=monotonic, on_export=on_export, progress=progress
    )
    limiter = make_limiter(settings, stop)
    opened: dict[str, Any] = {}

    @contextmanager
    def journal_factory() -> Iterator[Journal]:
        evidence = earlier_files(settings)
        with Journal.open(settings.journal_path, evidence=evidence) as journal:
            opened["journal"] = journal
            yield journal
            keep_backup(journal)

    @contextmanager
    def client_factory(journal: Journal) -> Iterator[SelldoneClient]:
        with open_client(settings, journal=journal, limiter=limiter) as client:
            opened["client"] = client
            yield client

    def on_tick() -> None:
        timer.tick(opened["client"], opened["journal"])
        if requests is not None:
            requests.run_due(settings, opened["client"], opened["journal"])

    def after_pass(result: InboxResult) -> None:
        timer.note_pass(result)
        if on_pass is not None:
            on_pass(result)

    with single_instance(settings.lock_path), progress:
        log.info(
            "watching %s (%s); exporting every %g min",
            settings.folders.inbox,
            "polling" if settings.inbox.polling else "native events",
            settings.export.interval_minutes,
        )
        watch_inbox(
            settings,
            client_factory,
            journal_factory,
            stop=stop,
            on_pass=after_pass,
            on_tick=on_tick,
            wake=None if requests is None else requests.wake,
            progress=progress,
        )
        log.info("watcher stopped cleanly")
