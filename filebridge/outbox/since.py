"""`export.since` after the first run, and `export --since DATE`: exporting history on purpose.

`export.since` only says where the very first export starts; after it, the journal's
cursor decides. A person who edits `since` later expects older orders to come, and
nothing happens, so the value the first run used is kept in the journal: a changed value
is logged once and `filebridge check` says what it does and does not do now.
`filebridge export --since DATE` is the documented way to export older orders: it reads
from DATE and, as every export, skips what the ledger says was already exported.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, time

from filebridge.errors import ConfigError
from filebridge.journal import Journal
from filebridge.journal import exports as ledger

__all__ = ["NOTED_KEY", "SINCE_KEY", "log_changed_since", "parse_since", "since_note"]

log = logging.getLogger(__name__)

SINCE_KEY = "export.since_first_run"  # the `export.since` the first export started from
NOTED_KEY = "export.since_noted"  # the changed value already logged about


def iso_moment(text: str) -> datetime:
    """An ISO date or date-time (naive means UTC); ValueError when it is neither."""
    value = text.strip()
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        moment = datetime.combine(date.fromisoformat(value), time(), tzinfo=UTC)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def parse_since(text: str) -> int:
    """`--since DATE`: an ISO date or date-time (naive means UTC) → Unix seconds."""
    try:
        return int(iso_moment(text).timestamp())
    except ValueError as exc:
        raise ConfigError(
            f"--since {text!r} is not a date.",
            hint="Write a date such as --since 2026-01-31 (or 2026-01-31T08:00).",
        ) from exc


def remember_first_since(journal: Journal, since: str) -> None:
    """Called by the first export (no cursor yet): the `since` it starts from."""
    journal.set_meta(SINCE_KEY, since)


def since_note(configured: str, journal: Journal) -> str | None:
    """What a `since` that differs from the first run's does now; None when it does not."""
    cursor = ledger.get_cursor(journal)
    if cursor is None:
        return None  # the next export is the first: `since` is used as written
    first = journal.get_meta(SINCE_KEY)
    if first is not None and first.strip() == configured.strip():
        return None
    moment = datetime.fromtimestamp(cursor, UTC).isoformat(timespec="seconds")
    was = f" (the first export used {first!r})" if first is not None else ""
    target = configured if configured.strip().lower() != "now" else "DATE"
    return (
        f"export.since = {configured!r} no longer changes anything{was}: it applies only "
        f"to the first export, and the export now continues from its cursor ({moment}); "
        "it neither re-exports nor skips orders. To export older orders once, run "
        f"`filebridge export --since {target}`: it exports the orders updated since then "
        "that were never exported, each exactly once."
    )


def log_changed_since(configured: str, journal: Journal) -> None:
    """Log the note once per changed value (the journal remembers which was logged)."""
    if journal.get_meta(SINCE_KEY) is None and ledger.get_cursor(journal) is not None:
        remember_first_since(journal, configured)  # a journal older than this record
        return
    note = since_note(configured, journal)
    if note is None or journal.get_meta(NOTED_KEY) == configured:
        return
    log.warning("%s", note)
    journal.set_meta(NOTED_KEY, configured)
