"""The SQLite journal: named migrations, `atomic()` units, and the whole schema in one place.

Every decision and its record are written in one transaction (`with journal.atomic():`).
Queries that belong to one use case live in that use case's ledger module
(`journal.exports`, `journal.inbox`), which take a `Journal`; the schema stays here so a newcomer
reads it in one place. To change the schema, append a new named migration: never edit one that
has shipped.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from filebridge.errors import FilebridgeError, JournalMissingError, StorageError
from filebridge.journal.backup import backup_journal, backups_folder, list_backups

BUSY_TIMEOUT_S = 30.0
INITIALISED_KEY = "journal.initialised_at"

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def _run_ddl(db: sqlite3.Connection, script: str) -> None:
    """Run DDL statements one by one: `executescript` would COMMIT the migration's
    transaction half-way, so a crash could leave a half-applied schema."""
    for statement in script.split(";"):
        lines = [ln for ln in statement.splitlines() if not ln.strip().startswith("--")]
        if "".join(lines).strip():
            db.execute("\n".join(lines))


def _m0001_core(db: sqlite3.Connection) -> None:
    _run_ddl(
        db,
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE api_calls (
            id     INTEGER PRIMARY KEY,
            at     TEXT NOT NULL,
            method TEXT NOT NULL,
            path   TEXT NOT NULL,
            status INTEGER
        );
        CREATE INDEX api_calls_at ON api_calls(at);
        CREATE TABLE events (
            id      INTEGER PRIMARY KEY,
            at      TEXT NOT NULL,
            level   TEXT NOT NULL,
            message TEXT NOT NULL
        );
        """,
    )


def _m0002_export(db: sqlite3.Connection) -> None:
    _run_ddl(
        db,
        """
        -- One output file. pending → published | rolled_back.
        CREATE TABLE export_batches (
            id           INTEGER PRIMARY KEY,
            file_name    TEXT NOT NULL,
            temp_name    TEXT NOT NULL,
            state        TEXT NOT NULL
                         CHECK (state IN ('pending', 'published', 'rolled_back')),
            created_at   TEXT NOT NULL,
            published_at TEXT,
            order_count  INTEGER NOT NULL DEFAULT 0,
            row_count    INTEGER NOT NULL DEFAULT 0,
            cursor_after INTEGER,
            reexport     INTEGER NOT NULL DEFAULT 0
        );
        -- Which orders a batch holds (also for re-exports and rollback).
        CREATE TABLE batch_orders (
            batch_id   INTEGER NOT NULL REFERENCES export_batches(id),
            order_id   INTEGER NOT NULL,
            updated_at TEXT,
            PRIMARY KEY (batch_id, order_id)
        );
        -- The export ledger: an order id appears here once it is in a published file.
        CREATE TABLE exported_orders (
            order_id    INTEGER PRIMARY KEY,
            batch_id    INTEGER NOT NULL REFERENCES export_batches(id),
            exported_at TEXT NOT NULL
        );
        """,
    )


def _m0003_inbox(db: sqlite3.Connection) -> None:
    _run_ddl(
        db,
        """
        -- One inbox file, recognised by content hash.
        CREATE TABLE inbox_files (
            id            INTEGER PRIMARY KEY,
            sha256        TEXT NOT NULL,
            original_name TEXT NOT NULL,
            claimed_path  TEXT,
            state         TEXT NOT NULL
                          CHECK (state IN ('claimed', 'done', 'failed', 'duplicate')),
            arrived_at    TEXT NOT NULL,
            finished_at   TEXT,
            archive_path  TEXT,
            result_path   TEXT,
            message       TEXT
        );
        CREATE INDEX inbox_files_sha ON inbox_files(sha256);
        -- One row of a file, with its outcome.
        CREATE TABLE inbox_rows (
            file_id    INTEGER NOT NULL REFERENCES inbox_files(id),
            row_number INTEGER NOT NULL,
            order_id   INTEGER,
            outcome    TEXT NOT NULL
                       CHECK (outcome IN ('pending', 'applied', 'already-done', 'rejected')),
            message    TEXT NOT NULL DEFAULT '',
            calls      INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (file_id, row_number)
        );
        -- Every API step: planned → sent → confirmed (or rejected). The key makes a step unique.
        CREATE TABLE steps (
            id              INTEGER PRIMARY KEY,
            idempotency_key TEXT NOT NULL UNIQUE,
            file_id         INTEGER REFERENCES inbox_files(id),
            row_number      INTEGER,
            order_id        INTEGER NOT NULL,
            action          TEXT NOT NULL,
            payload         TEXT NOT NULL DEFAULT '{}',
            state           TEXT NOT NULL
                            CHECK (state IN ('planned', 'sent', 'confirmed', 'rejected')),
            planned_at      TEXT NOT NULL,
            sent_at         TEXT,
            finished_at     TEXT,
            message         TEXT NOT NULL DEFAULT ''
        );
        CREATE INDEX steps_order ON steps(order_id);
        -- What filebridge last knew of an order, so replay spends no call it can avoid.
        CREATE TABLE order_states (
            order_id       INTEGER PRIMARY KEY,
            delivery_state TEXT NOT NULL,
            status         TEXT,
            tracking_code  TEXT,
            tracking_url   TEXT,
            delivery_info  TEXT,
            known_at       TEXT NOT NULL
        );
        """,
    )


def _m0004_step_checks(db: sqlite3.Connection) -> None:
    _run_ddl(
        db,
        """
        -- When a maybe-sent step was last looked for in the order and not found yet.
        ALTER TABLE steps ADD COLUMN checked_at TEXT;
        """,
    )


def _m0005_replay_holds(db: sqlite3.Connection) -> None:
    """The journal says that it was initialised (and when), so a missing or empty one
    is never mistaken for a fresh install once it has existed (`JournalMissingError`)."""
    db.execute(
        "INSERT OR IGNORE INTO meta(key, value) VALUES (?, ?)",
        (INITIALISED_KEY, utc_now_iso()),
    )


def _m0006_runs_and_alerts(db: sqlite3.Connection) -> None:
    _run_ddl(
        db,
        """
        -- One command run (run, export, inbox, a watcher's export tick), for `status`.
        -- A half's outcome: 'ok', 'failed', or NULL when that half did not run.
        CREATE TABLE runs (
            id             INTEGER PRIMARY KEY,
            command        TEXT NOT NULL,
            started_at     TEXT NOT NULL,
            finished_at    TEXT NOT NULL,
            exit_code      INTEGER NOT NULL,
            exit_name      TEXT NOT NULL,
            export_outcome TEXT CHECK (export_outcome IN ('ok', 'failed')),
            inbox_outcome  TEXT CHECK (inbox_outcome IN ('ok', 'failed')),
            summary        TEXT NOT NULL DEFAULT '',
            error          TEXT,
            rows_rejected  INTEGER NOT NULL DEFAULT 0,
            files_failed   INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX runs_finished ON runs(finished_at);
        -- One alert incident: opened once, closed once (then a recovery message).
        CREATE TABLE incidents (
            id          INTEGER PRIMARY KEY,
            kind        TEXT NOT NULL,
            opened_at   TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            closed_at   TEXT,
            message     TEXT NOT NULL,
            alerted     INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX incidents_open ON incidents(kind, closed_at);
        """,
    )


MIGRATIONS: list[Migration] = [
    ("0001_core", _m0001_core),
    ("0002_export", _m0002_export),
    ("0003_inbox", _m0003_inbox),
    ("0004_step_checks", _m0004_step_checks),
    ("0005_replay_holds", _m0005_replay_holds),
    ("0006_runs_and_alerts", _m0006_runs_and_alerts),
]


def restore_hint(path: Path) -> str:
    """The command that puts the newest backup back, and what else to know."""
    found = list_backups(path)
    newest = (
        f"the newest backup is {found[0].path} ({found[0].written_at:%Y-%m-%d %H:%M} "
        "UTC)"
        if found
        else f"no backup was found in {backups_folder(path)}; name a copy with "
        "--from FILE"
    )
    return (
        f"Run `filebridge journal restore -c CONFIG` ({newest}). To start over on "
        "purpose, move the whole state folder away first."
    )


def earlier_runs(path: Path, evidence: Iterable[Path] = ()) -> list[Path]:
    """What shows that filebridge ran on this state folder before (with a journal).

    Its journal backups (every run that used the journal leaves `latest`) and the
    caller's `evidence` (files filebridge left in the archive or inbox/.processing).
    Not the log: `init`, `check` and `status` write it before any journal exists, so
    a fresh install would be refused; nor file times, which follow the local clock.
    """
    found = [p for p in evidence if p.exists()]
    found.extend(b.path for b in list_backups(path))
    return found


def utc_now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


class Journal:
    """A migrated SQLite journal file. Use `Journal.open(path)` as a context manager."""

    def __init__(self, connection: sqlite3.Connection, path: Path) -> None:
        self._db = connection
        self.path = path
        self._depth = 0
        # One connection, many threads (replay sends several orders at once): a
        # transaction holds the lock from BEGIN to COMMIT, so another thread's write
        # can never land inside it; plain reads and writes take it too. Transactions
        # are short (no HTTP inside one), so this serialises without stalling.
        self._lock = threading.RLock()

    @classmethod
    def open(
        cls,
        path: Path,
        migrations: Sequence[Migration] = MIGRATIONS,
        *,
        evidence: Iterable[Path] = (),
    ) -> Journal:
        """Open (or create) and migrate the journal.

        Refuses to create one in place of a missing or empty (0-byte) journal when the
        state folder shows earlier runs (`earlier_runs`), and to use an unreadable one:
        `JournalMissingError` with the restore command, instead of starting over and
        exporting every order again.
        """
        missing = not path.exists() or (path.is_file() and path.stat().st_size == 0)
        if missing:
            shown = earlier_runs(path, evidence)
            if shown:
                what = "is missing" if not path.exists() else "is empty (0 bytes)"
                raise JournalMissingError(
                    f"The journal {path} {what}, but this state folder shows earlier "
                    f"runs ({', '.join(str(p) for p in shown[:3])}). Starting over "
                    "would export every order again, so nothing was done.",
                    hint=restore_hint(path),
                )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            connection = sqlite3.connect(
                str(path),
                timeout=BUSY_TIMEOUT_S,
                isolation_level=None,
                check_same_thread=False,
            )
            connection.row_factory = sqlite3.Row
            # DELETE journal mode: WAL needs shared memory and fails on network shares.
            connection.execute("PRAGMA journal_mode=DELETE")
            connection.execute("PRAGMA synchronous=FULL")
            connection.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            error = StorageError(
                f"Cannot open the journal {path}: {exc}.",
                hint="Check that the state folder exists and is writable.",
            )
            error.__cause__ = exc
            raise _explained(path, error) from exc
        journal = cls(connection, path)
        try:
            journal._migrate(migrations)
        except StorageError as exc:
            connection.close()
            raise _explained(path, exc) from exc
        return journal

    def _migrate(self, migrations: Sequence[Migration]) -> None:
        with self._translated("migrate"):
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS _migrations "
                "(name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {row[0] for row in self._db.execute("SELECT name FROM _migrations")}
        for name, apply in migrations:
            if name in done:
                continue
            if done:  # an existing journal is about to change: keep a copy first
                backup_journal(
                    self._db,
                    backups_folder(self.path) / f"filebridge-before-{name}.sqlite3",
                )
            with self.atomic():
                apply(self._db)
                self._db.execute(
                    "INSERT INTO _migrations(name, applied_at) VALUES (?, ?)",
                    (name, utc_now_iso()),
                )

    def backup(self) -> Path:
        """The rolling after-run backup (`journal_backup.rolling_backup`)."""
        from filebridge.journal.backup import rolling_backup

        with self._lock:
            return rolling_backup(self._db, self.path)

    def applied_migrations(self) -> list[str]:
        return [r[0] for r in self.query("SELECT name FROM _migrations ORDER BY name")]

    def unknown_migrations(self) -> list[str]:
        """Migrations this journal has that this filebridge does not know (newer)."""
        known = {name for name, _ in MIGRATIONS}
        return sorted(set(self.applied_migrations()) - known)

    # -- transactions -------------------------------------------------------------------

    @contextmanager
    def atomic(self) -> Iterator[Journal]:
        """One transaction (BEGIN IMMEDIATE); nested blocks become savepoints."""
        with self._lock, self._transaction() as journal:
            yield journal

    @contextmanager
    def _transaction(self) -> Iterator[Journal]:
        savepoint = f"sp{self._depth}"
        with self._translated("transaction"):
            if self._depth == 0:
                self._db.execute("BEGIN IMMEDIATE")
            else:
                self._db.execute(f"SAVEPOINT {savepoint}")
        self._depth += 1
        try:
            yield self
        except BaseException:
            self._depth -= 1
            with self._translated("rollback"):
                if self._depth == 0:
                    self._db.execute("ROLLBACK")
                else:
                    self._db.execute(f"ROLLBACK TO {savepoint}")
                    self._db.execute(f"RELEASE {savepoint}")
            raise
        self._depth -= 1
        with self._translated("commit"):
            if self._depth == 0:
                self._db.execute("COMMIT")
            else:
                self._db.execute(f"RELEASE {savepoint}")

    @contextmanager
    def _translated(self, what: str) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise StorageError(
                f"The journal {self.path} failed during {what}: {exc}.",
                hint="Check disk space and that no other program locks the state folder.",
            ) from exc

    # -- plain access -------------------------------------------------------------------

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        with self._lock, self._translated("a write"):
            return self._db.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> sqlite3.Cursor:
        with self._lock, self._translated("a write"):
            return self._db.executemany(sql, params)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock, self._translated("a read"):
            return list(self._db.execute(sql, params))

    def query_one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def get_meta(self, key: str) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return None if row is None else str(row[0])

    def set_meta(self, key: str, value: str) -> None:
        self.execute(
            "INSERT INTO meta(key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    def record_api_call(
        self, method: str, path: str, status: int | None, at: str | None = None
    ) -> None:
        """Count one API call (for `filebridge status`); path only, never query or token."""
        self.execute(
            "INSERT INTO api_calls(at, method, path, status) VALUES (?, ?, ?, ?)",
            (at or utc_now_iso(), method, path, status),
        )

    def record_event(self, level: str, message: str) -> None:
        self.execute(
            "INSERT INTO events(at, level, message) VALUES (?, ?, ?)",
            (utc_now_iso(), level, message),
        )

    # -- lifecycle ----------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _explained(path: Path, exc: StorageError) -> FilebridgeError:
    """A journal that cannot be read or written, with the command that fixes it."""
    cause = exc.__cause__
    text = str(cause or exc)
    if "readonly" in text or "read-only" in text:
        return StorageError(
            f"The journal {path} is read-only ({text}).",
            hint="Give this account write access to the state folder and the journal "
            "(Properties > Security), or, if it is damaged, " + restore_hint(path),
        )
    if isinstance(cause, sqlite3.DatabaseError):
        return JournalMissingError(
            f"The journal {path} cannot be read ({text}): it is damaged.",
            hint=restore_hint(path),
        )
    return exc
