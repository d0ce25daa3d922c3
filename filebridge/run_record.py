"""Each command's start and end in the log file, and each run's row in the journal.

Under Task Scheduler nobody reads stderr: the log file is the record. So every command
that loads a config writes a start line and an end line (command, duration, what it
did, exit code and its name), and an error that ends it is logged with its exit code
and the hint the console shows. An error raised before logging was set up (a broken
config) still reaches the log when the state folder can be told from the config file.

`run`, `export` and `inbox` (not dry runs) also leave a row in the journal's `runs`
table, which `status` and the alerts judge health by. One run is in flight per
process, so the record is module state: the CLI begins it, `jobs` notes what each half
did, and the CLI finishes it with the exit code.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from filebridge import __version__
from filebridge.config import Settings, fallback_state_folder
from filebridge.errors import (
    EXIT_INTERRUPTED,
    AlreadyRunningError,
    FilebridgeError,
    exit_name,
)
from filebridge.log import file_logging_active, redact, setup_logging

if TYPE_CHECKING:
    from filebridge.journal import Journal

__all__ = [
    "RECORDED_COMMANDS",
    "RunRecord",
    "begin",
    "current",
    "finish",
    "record_tick",
]

log = logging.getLogger("filebridge.run")

RECORDED_COMMANDS = frozenset({"run", "export", "inbox", "watch"})
QUIET = {"console": False}  # the console already shows these lines its own way


@dataclass
class RunRecord:
    """What the command in flight has done so far."""

    command: str  # `run`, `export`, `mapping preview`, …
    config_path: Path
    started_at: str
    started: float = field(default_factory=time.monotonic)
    settings: Settings | None = None
    halves: dict[str, str] = field(default_factory=dict)
    summary: list[str] = field(default_factory=list)
    rows_rejected: int = 0
    files_failed: int = 0
    dry_run: bool = False
    error: FilebridgeError | None = None
    """An error that ended the run without an exception (the API gave out mid-inbox)."""
    hint: str | None = None
    """The hint the console showed for `error`, when it is not the error's own."""

    def attach(self, settings: Settings) -> None:
        """Logging is set up: write the start line."""
        self.settings = settings
        log.info(
            "start: filebridge %s -c %s (filebridge %s, pid %d)",
            self.command,
            settings.source or self.config_path,
            __version__,
            os.getpid(),
            extra=QUIET,
        )

    def half(self, name: str, outcome: str) -> None:
        """`export`/`inbox` went `ok` or `failed`."""
        self.halves[name] = outcome

    def note(self, text: str) -> None:
        self.summary.append(text)


_CURRENT: RunRecord | None = None


def begin(command: str, config_path: Path) -> RunRecord:
    """A command starts working with this config (before it is even loaded)."""
    global _CURRENT  # one command per process
    from filebridge.journal import utc_now_iso

    _CURRENT = RunRecord(command, config_path, started_at=utc_now_iso())
    return _CURRENT


def current() -> RunRecord | None:
    """The run in flight, or None (tests calling `jobs` directly, `status`)."""
    return _CURRENT


def finish(exit_code: int, error: BaseException | None = None) -> None:
    """Log the error (if any) and the end line, record the run, then forget it.

    Never raises: the exit code is already decided, and a journal that cannot take the
    run's row is itself logged.
    """
    global _CURRENT  # one command per process
    record, _CURRENT = _CURRENT, None
    if record is None:
        return
    if not file_logging_active():
        _log_to_fallback(record)
    if error is None and record.error is not None:
        error = record.error
    if isinstance(error, FilebridgeError):
        text = redact(str(error))
        advice = record.hint if record.error is error and record.hint else error.hint
        hint = f" | hint: {redact(advice)}" if advice else ""
        level = (
            logging.WARNING if isinstance(error, AlreadyRunningError) else logging.ERROR
        )
        log.log(
            level,
            "error: %s%s | exit %d (%s)",
            text,
            hint,
            exit_code,
            exit_name(exit_code),
            extra=QUIET,
        )
    seconds = time.monotonic() - record.started
    did = "; ".join(record.summary) or "nothing"
    log.info(
        "end: filebridge %s after %.1f s: %s | exit %d (%s)",
        record.command,
        seconds,
        did,
        exit_code,
        exit_name(exit_code),
        extra=QUIET,
    )
    if _is_recorded(record, exit_code, error):
        _record_in_journal(record, exit_code, error)


def _is_recorded(
    record: RunRecord, exit_code: int, error: BaseException | None
) -> bool:
    """A run that did nothing (another held the lock, a dry run) leaves no row."""
    return (
        record.command in RECORDED_COMMANDS
        and record.settings is not None
        and not record.dry_run
        and not isinstance(error, AlreadyRunningError)
        and (exit_code != EXIT_INTERRUPTED or bool(record.halves))
        and record.settings.journal_path.exists()
    )


def _record_in_journal(
    record: RunRecord, exit_code: int, error: BaseException | None
) -> None:
    from filebridge.journal import Journal, runs

    settings = record.settings
    if settings is None:  # _is_recorded checked it; this tells mypy
        return
    message = (
        None
        if error is None
        else redact(f"{type(error).__name__}: {error}")
        if isinstance(error, FilebridgeError)
        else f"{type(error).__name__} (a bug; the traceback is in the log file)"
    )
    try:
        with Journal.open(settings.journal_path) as journal:
            runs.record_run(
                journal,
                command=record.command,
                started_at=record.started_at,
                exit_code=exit_code,
                exit_name=exit_name(exit_code),
                export_outcome=record.halves.get("export"),
                inbox_outcome=record.halves.get("inbox"),
                summary="; ".join(record.summary),
                error=message,
                rows_rejected=record.rows_rejected,
                files_failed=record.files_failed,
            )
            _raise_alerts(settings, journal)
    except FilebridgeError as exc:
        log.warning("could not record this run in the journal: %s", redact(str(exc)))


def record_tick(
    settings: Settings,
    journal: Journal,
    *,
    started_at: str,
    halves: dict[str, str],
    summary: str,
    error: FilebridgeError | None,
) -> None:
    """A watcher's export tick as one run (with the inbox passes since the last one).

    A watcher never ends while it works, so `status` and the alerts judge it by these.
    """
    from filebridge.journal import runs

    code = error.exit_code if error is not None else 0
    try:
        runs.record_run(
            journal,
            command="watch",
            started_at=started_at,
            exit_code=code,
            exit_name=exit_name(code),
            export_outcome=halves.get("export"),
            inbox_outcome=halves.get("inbox"),
            summary=summary,
            error=None if error is None else redact(f"{type(error).__name__}: {error}"),
        )
        _raise_alerts(settings, journal)
    except FilebridgeError as exc:
        log.warning("could not record the watcher's tick: %s", redact(str(exc)))


def _raise_alerts(settings: Settings, journal: Journal) -> None:
    """After a recorded run: one alert per new incident, one per recovery."""
    if not settings.alerts.urls:
        return  # the alerts module (and apprise) are imported only when needed
    from filebridge.alerts import raise_alerts

    raise_alerts(settings, journal)


def _log_to_fallback(record: RunRecord) -> None:
    """Set up the log file from the config's state folder, if it can be told."""
    state = (
        record.settings.folders.state
        if record.settings is not None
        else fallback_state_folder(record.config_path)
    )
    if state is None or not state.is_dir():
        return
    try:
        setup_logging(log_file=state / "filebridge.log", console=False)
    except FilebridgeError:
        return
