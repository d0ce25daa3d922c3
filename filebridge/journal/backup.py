"""Rolling backups of the journal, their restore, and the check that it is intact.

The journal is the only record of what was exported and applied: a lost one would
export every order again. So it is copied with SQLite's online backup API (a
consistent copy even while it is open) into `STATE/backups/`:

* `filebridge-latest.sqlite3` after every run that ended normally (replaced atomically),
* `filebridge-YYYY-MM-DD.sqlite3` once a day (the newest `KEEP_DAILY` are kept),
* `filebridge-before-MIGRATION.sqlite3` before a migration changes an existing journal.

`restore_journal` puts one back (the newest, or a chosen file) after checking it, and
keeps whatever was in the journal's place beside it (`.broken-…`), never deleting it.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from filebridge.errors import JournalMissingError, StorageError

__all__ = [
    "BACKUP_DIR",
    "KEEP_DAILY",
    "Backup",
    "backup_journal",
    "integrity_problems",
    "list_backups",
    "restore_journal",
    "rolling_backup",
]

BACKUP_DIR = "backups"
KEEP_DAILY = 7
_PREFIX = "filebridge-"
_SUFFIX = ".sqlite3"


@dataclass(frozen=True)
class Backup:
    """One backup file and when it was written (its mtime, for people to read)."""

    path: Path
    written_at: datetime


def backups_folder(journal_path: Path) -> Path:
    return journal_path.parent / BACKUP_DIR


def backup_journal(source: sqlite3.Connection, target: Path) -> Path:
    """Copy an open journal to `target` (online backup → temp file → os.replace)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = target.with_name(f".~{target.name}.partial")
    try:
        temp.unlink(missing_ok=True)
        copy = sqlite3.connect(str(temp))
        try:
            source.backup(copy)
        finally:
            copy.close()
        temp.replace(target)
    except (sqlite3.Error, OSError) as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(
            f"Cannot back up the journal to {target}: {exc}.",
            hint="Check free space and permissions in the state folder.",
        ) from exc
    return target


def rolling_backup(source: sqlite3.Connection, journal_path: Path) -> Path:
    """The after-run backup: `latest`, plus today's daily copy if there is none yet."""
    folder = backups_folder(journal_path)
    today = folder / f"{_PREFIX}{datetime.now(UTC):%Y-%m-%d}{_SUFFIX}"
    if not today.exists():
        backup_journal(source, today)
        dailies = sorted(
            p for p in folder.glob(f"{_PREFIX}????-??-??{_SUFFIX}") if p.is_file()
        )
        for old in dailies[:-KEEP_DAILY]:
            old.unlink(missing_ok=True)
    # Written last, so it is the newest file: restore's default.
    return backup_journal(source, folder / f"{_PREFIX}latest{_SUFFIX}")


def list_backups(journal_path: Path) -> list[Backup]:
    """The backups in the state folder, newest first."""
    folder = backups_folder(journal_path)
    if not folder.is_dir():
        return []
    found = [
        Backup(p, datetime.fromtimestamp(p.stat().st_mtime, UTC))
        for p in folder.glob(f"{_PREFIX}*{_SUFFIX}")
        if p.is_file() and p.stat().st_size > 0
    ]
    return sorted(found, key=lambda b: b.written_at, reverse=True)


def integrity_problems(path: Path) -> list[str]:
    """`PRAGMA integrity_check` on a journal file, read-only; [] when it is intact."""
    if not path.is_file():
        return [f"{path} does not exist"]
    if path.stat().st_size == 0:
        return [f"{path} is empty (0 bytes)"]
    try:
        with sqlite3.connect(f"file:{path.as_posix()}?mode=ro", uri=True) as db:
            rows = db.execute("PRAGMA integrity_check").fetchall()
            tables = {
                r[0]
                for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
            }
    except sqlite3.Error as exc:
        return [f"{path} cannot be read as a journal: {exc}"]
    problems = [str(r[0]) for r in rows if str(r[0]) != "ok"]
    if "_migrations" not in tables:
        problems.append(f"{path} is an SQLite file but not a filebridge journal")
    return problems


def restore_journal(journal_path: Path, source: Path | None = None) -> Path:
    """Put a backup in the journal's place; returns the file restored from.

    The newest intact backup by default. What was in the journal's place is kept as
    `filebridge.sqlite3.broken-TIME` (never deleted). Raises JournalMissingError when
    there is no intact backup to restore.
    """
    candidates = (
        [source] if source is not None else [b.path for b in list_backups(journal_path)]
    )
    chosen = next((c for c in candidates if not integrity_problems(c)), None)
    if chosen is None:
        raise JournalMissingError(
            "There is no intact journal backup to restore"
            + (
                f" ({source})."
                if source is not None
                else f" in {backups_folder(journal_path)}."
            ),
            hint="Name another copy with `filebridge journal restore --from FILE -c "
            "CONFIG` (e.g. from your file backup of the state folder).",
        )
    try:
        if journal_path.exists():
            stamp = f"{datetime.now(UTC):%Y%m%d-%H%M%S}"
            journal_path.replace(
                journal_path.with_name(f"{journal_path.name}.broken-{stamp}")
            )
        with sqlite3.connect(f"file:{chosen.as_posix()}?mode=ro", uri=True) as src:
            backup_journal(src, journal_path)
    except (sqlite3.Error, OSError) as exc:
        raise StorageError(
            f"Cannot restore the journal {journal_path} from {chosen}: {exc}.",
            hint="Check permissions in the state folder, then run the command again.",
        ) from exc
    return chosen
