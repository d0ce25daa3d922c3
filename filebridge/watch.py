"""Long-running inbox watcher: file events only wake the scan; a periodic rescan always runs.

Watchdog is an accelerator, not the source of truth (field-notes §6): native observers
miss events on network shares and after buffer overflows, and a `PollingObserver` can die
silently when a share drops. So:

* every event (created, modified, moved, closed, deleted; not our own opens) sets a
  wake-up flag; a short quiet period debounces bursts; then one full `run_inbox` pass;
* a full pass also runs every `poll_seconds`, and as soon as a waiting file may have
  settled (`InboxResult.next_check_in`), events or not;
* the observer is checked before each pass and restarted (with a log line) when its
  thread or an emitter died, when it failed to start, or when the inbox folder was
  replaced (a remounted share); a missing inbox folder is logged once and retried;
* `stop` is honoured between passes and between API steps (run_inbox finishes the step
  in flight, journals it, and leaves the rest of the file claimed for the next start).

`AuthError` ends the watcher (after stopping the observer): nothing will work until a
person fixes the token. Everything else a pass raises as `StorageError` or
`ApiUnavailableError` is logged and retried on the next tick.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

from watchdog.events import (
    EVENT_TYPE_CLOSED_NO_WRITE,
    EVENT_TYPE_OPENED,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from filebridge.config import Settings
from filebridge.errors import ApiError, AuthError, StorageError
from filebridge.inbox import PROCESSING_DIR, InboxResult, ScanMemory, run_inbox
from filebridge.journal import Journal
from filebridge.progress import Progress
from filebridge.selldone import SelldoneClient

__all__ = ["DEBOUNCE_S", "InboxWatcher", "next_wait", "watch_inbox"]

log = logging.getLogger(__name__)

DEBOUNCE_S = 0.1
"""Quiet time after an event before scanning (a burst of events → one pass)."""
MAX_DEBOUNCE_S = 1.0
"""A never-ending event storm still gets a pass at least this often."""
STOP_CHECK_S = 0.1
"""How quickly a set `stop` is noticed while idle."""
SETTLE_MARGIN_S = 0.05
"""Scan this long after a waiting file may have settled (mtime resolution, clock drift)."""

_IGNORED_EVENTS = frozenset({EVENT_TYPE_OPENED, EVENT_TYPE_CLOSED_NO_WRITE})


def next_wait(result: InboxResult | None, poll_seconds: float) -> float:
    """Seconds until the next pass: the poll interval, or sooner for a settling file.

    A pass that found the API unavailable waits the full interval before retrying.
    """
    if result is None or result.unavailable is not None:
        return poll_seconds
    if result.next_check_in is None:
        return poll_seconds
    return min(poll_seconds, result.next_check_in + SETTLE_MARGIN_S)


class _WakeOnEvent(FileSystemEventHandler):
    """Any relevant event in the inbox only sets the wake-up flag."""

    def __init__(self, wake: threading.Event, processing: Path) -> None:
        self._wake = wake
        self._processing = str(processing)

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type in _IGNORED_EVENTS:
            return
        source = os.fsdecode(event.src_path)
        dest = os.fsdecode(event.dest_path) if event.dest_path else ""
        if (dest or source).startswith(self._processing):
            return  # our own claims and moves, not news
        self._wake.set()


class InboxWatcher:
    """The watch loop with its observer; `watch_inbox` is the one-call form.

    `observer` is the running watchdog observer (None while the folder is unreachable).
    `on_tick` runs in the loop's thread before every pass (the CLI's hook to export
    when `export.interval_minutes` is due, sharing the client and its limiter);
    `on_pass` gets every pass's result.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        clock: Callable[[], float] = time.time,
        on_pass: Callable[[InboxResult], None] | None = None,
        on_tick: Callable[[], None] | None = None,
        wake: threading.Event | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.on_pass = on_pass
        self.on_tick = on_tick
        self.progress = progress
        self.wake = wake or threading.Event()  # set by file events (or a request)
        self.memory = ScanMemory()
        self.observer: BaseObserver | None = None
        self.restarts = 0
        self._folder_id: tuple[int, int] | None = None
        self._unreachable_logged = False

    # -- observer supervision -------------------------------------------------------

    def ensure_observer(self) -> None:
        """Start the observer, or restart it when it died or the folder was replaced."""
        inbox = self.settings.folders.inbox
        try:
            st = inbox.stat()
        except OSError:
            if not self._unreachable_logged:
                log.warning(
                    "the inbox folder %s is unreachable; retrying every %g s",
                    inbox,
                    self.settings.inbox.poll_seconds,
                )
                self._unreachable_logged = True
            self.stop_observer()
            return
        if self._unreachable_logged:
            log.warning("the inbox folder %s is reachable again", inbox)
            self._unreachable_logged = False
        folder_id = (st.st_dev, st.st_ino)
        observer = self.observer
        if observer is not None and self._healthy(observer):
            if folder_id == self._folder_id:
                return
            log.warning(
                "the inbox folder %s was replaced; restarting the observer", inbox
            )
        elif observer is not None:
            log.warning("the inbox observer stopped working; restarting it")
        if observer is not None:
            self.restarts += 1
        self.stop_observer()
        self._start(inbox, folder_id)

    def _start(self, inbox: Path, folder_id: tuple[int, int]) -> None:
        polling = self.settings.inbox.polling
        observer: BaseObserver = (
            PollingObserver(timeout=self.settings.inbox.poll_seconds)
            if polling
            else Observer()
        )
        observer.schedule(
            _WakeOnEvent(self.wake, inbox / PROCESSING_DIR), str(inbox), recursive=False
        )
        try:
            observer.start()
        except OSError as exc:
            # e.g. the inotify watch limit: periodic rescans still find every file.
            log.error("cannot watch %s (%s); relying on periodic rescans", inbox, exc)
            return
        self.observer = observer
        self._folder_id = folder_id
        log.info(
            "watching %s with the %s observer",
            inbox,
            "polling" if polling else "native",
        )

    @staticmethod
    def _healthy(observer: BaseObserver) -> bool:
        return observer.is_alive() and all(e.is_alive() for e in observer.emitters)

    def stop_observer(self) -> None:
        observer, self.observer = self.observer, None
        if observer is None:
            return
        observer.stop()
        if observer.is_alive():
            observer.join(timeout=5)

    # -- the loop ---------------------------------------------------------------------

    def run(
        self, client: SelldoneClient, journal: Journal, *, stop: threading.Event
    ) -> None:
        """Pass, wait for an event or the next due time, repeat until `stop` is set."""
        try:
            while not stop.is_set():
                self.ensure_observer()
                self.wake.clear()
                if self.on_tick is not None:
                    self.on_tick()
                result = self.one_pass(client, journal, stop)
                if stop.is_set():
                    break
                self._wait(next_wait(result, self.settings.inbox.poll_seconds), stop)
        finally:
            self.stop_observer()

    def one_pass(
        self, client: SelldoneClient, journal: Journal, stop: threading.Event
    ) -> InboxResult | None:
        try:
            result = run_inbox(
                self.settings,
                client,
                journal,
                now=datetime.now(UTC),
                clock=self.clock,
                stop=stop,
                memory=self.memory,
                progress=None if self.progress is None else self.progress.update,
            )
        except StorageError as exc:
            log.warning("inbox pass skipped: %s", exc)
            return None
        except AuthError:
            raise
        except ApiError as exc:
            # An answer of an unexpected shape: log it; the next pass tries again.
            log.error("inbox pass ended early: %s", exc)
            return None
        finally:
            if self.progress is not None:
                self.progress.idle()  # no progress lines while the watcher waits
        if result.unavailable is not None:
            log.warning(
                "Selldone is unavailable; pending rows resume in %g s: %s",
                self.settings.inbox.poll_seconds,
                result.unavailable,
            )
        if self.on_pass is not None:
            self.on_pass(result)
        return result

    def _wait(self, seconds: float, stop: threading.Event) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            if self.wake.wait(min(remaining, STOP_CHECK_S)):
                self._debounce(stop)
                return

    def _debounce(self, stop: threading.Event) -> None:
        limit = time.monotonic() + MAX_DEBOUNCE_S
        while not stop.is_set() and time.monotonic() < limit:
            self.wake.clear()
            if not self.wake.wait(DEBOUNCE_S):
                return


def watch_inbox(
    settings: Settings,
    client_factory: Callable[[Journal], AbstractContextManager[SelldoneClient]],
    journal_factory: Callable[[], AbstractContextManager[Journal]],
    *,
    stop: threading.Event,
    on_pass: Callable[[InboxResult], None] | None = None,
    on_tick: Callable[[], None] | None = None,
    clock: Callable[[], float] = time.time,
    wake: threading.Event | None = None,
    progress: Progress | None = None,
) -> None:
    """Watch the inbox until `stop` is set (the CLI sets it on Ctrl-C/SIGTERM).

    `client_factory` gets the open journal, so the client can count its calls there
    (`jobs.open_client(settings, journal=journal)`). Setting `wake` starts the next
    tick and pass early (the dashboard's requests).

    Returns normally after a clean stop; raises `AuthError` when the token is refused.
    """
    watcher = InboxWatcher(
        settings,
        clock=clock,
        on_pass=on_pass,
        on_tick=on_tick,
        wake=wake,
        progress=progress,
    )
    with journal_factory() as journal, client_factory(journal) as client:
        watcher.run(client, journal, stop=stop)
