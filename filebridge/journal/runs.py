"""The record of runs and alert incidents: what `status` and the alerts judge health by.

The schema is migration `0006_runs_and_alerts` in `store`. A run is recorded once it
ended (its exit code known); a watcher records one per export tick. An incident is
opened once per condition (auth failure, API down, …) and closed once when it clears,
so an alert goes out once per incident, not once per run.
"""

from __future__ import annotations

from dataclasses import dataclass
from sqlite3 import Row as SqliteRow

from filebridge.journal.store import Journal, utc_now_iso

__all__ = [
    "HALVES",
    "Incident",
    "RunRow",
    "close_incident",
    "last_alert_at",
    "last_failure",
    "last_run",
    "last_success",
    "open_incident",
    "open_incidents",
    "recent_runs",
    "record_run",
    "touch_incident",
]

HALVES = ("export", "inbox")


@dataclass(frozen=True)
class RunRow:
    """One row of `runs`."""

    id: int
    command: str
    started_at: str
    finished_at: str
    exit_code: int
    exit_name: str
    export_outcome: str | None
    inbox_outcome: str | None
    summary: str
    error: str | None
    rows_rejected: int
    files_failed: int


@dataclass(frozen=True)
class Incident:
    """One row of `incidents`."""

    id: int
    kind: str
    opened_at: str
    last_seen_at: str
    closed_at: str | None
    message: str
    alerted: bool


def record_run(
    journal: Journal,
    *,
    command: str,
    started_at: str,
    exit_code: int,
    exit_name: str,
    export_outcome: str | None,
    inbox_outcome: str | None,
    summary: str,
    error: str | None,
    rows_rejected: int = 0,
    files_failed: int = 0,
    finished_at: str | None = None,
) -> int:
    cursor = journal.execute(
        "INSERT INTO runs(command, started_at, finished_at, exit_code, exit_name, "
        "export_outcome, inbox_outcome, summary, error, rows_rejected, files_failed) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            command,
            started_at,
            finished_at or utc_now_iso(),
            exit_code,
            exit_name,
            export_outcome,
            inbox_outcome,
            summary,
            error,
            rows_rejected,
            files_failed,
        ),
    )
    return int(cursor.lastrowid or 0)


def _run(row: SqliteRow) -> RunRow:
    return RunRow(
        id=int(row["id"]),
        command=str(row["command"]),
        started_at=str(row["started_at"]),
        finished_at=str(row["finished_at"]),
        exit_code=int(row["exit_code"]),
        exit_name=str(row["exit_name"]),
        export_outcome=row["export_outcome"],
        inbox_outcome=row["inbox_outcome"],
        summary=str(row["summary"]),
        error=row["error"],
        rows_rejected=int(row["rows_rejected"]),
        files_failed=int(row["files_failed"]),
    )


def _half_column(half: str) -> str:
    if half not in HALVES:
        raise ValueError(half)
    return f"{half}_outcome"


def last_run(journal: Journal, half: str | None = None) -> RunRow | None:
    """The newest run (that ran `half`, when given), whatever its outcome."""
    where = "" if half is None else f"WHERE {_half_column(half)} IS NOT NULL"
    row = journal.query_one(f"SELECT * FROM runs {where} ORDER BY id DESC LIMIT 1")
    return None if row is None else _run(row)


def last_success(journal: Journal, half: str | None = None) -> RunRow | None:
    """The newest run whose `half` (or, without one, every half it ran) went through."""
    if half is None:
        where = (
            "(export_outcome IS NULL OR export_outcome = 'ok') AND "
            "(inbox_outcome IS NULL OR inbox_outcome = 'ok') AND "
            "COALESCE(export_outcome, inbox_outcome) IS NOT NULL"
        )
    else:
        where = f"{_half_column(half)} = 'ok'"
    row = journal.query_one(
        f"SELECT * FROM runs WHERE {where} ORDER BY id DESC LIMIT 1"
    )
    return None if row is None else _run(row)


def last_failure(journal: Journal) -> RunRow | None:
    """The newest run that ended in an error (not: rejected rows, overlap, Ctrl-C)."""
    row = journal.query_one(
        "SELECT * FROM runs WHERE exit_code NOT IN (0, 1, 6, 130) "
        "ORDER BY id DESC LIMIT 1"
    )
    return None if row is None else _run(row)


def recent_runs(journal: Journal, limit: int = 20) -> list[RunRow]:
    """The newest runs, newest first."""
    rows = journal.query("SELECT * FROM runs ORDER BY id DESC LIMIT ?", (limit,))
    return [_run(r) for r in rows]


# --- incidents ------------------------------------------------------------------------


def _incident(row: SqliteRow) -> Incident:
    return Incident(
        id=int(row["id"]),
        kind=str(row["kind"]),
        opened_at=str(row["opened_at"]),
        last_seen_at=str(row["last_seen_at"]),
        closed_at=row["closed_at"],
        message=str(row["message"]),
        alerted=bool(row["alerted"]),
    )


def open_incidents(journal: Journal) -> dict[str, Incident]:
    """The incidents not closed yet, by kind (at most one open per kind)."""
    rows = journal.query("SELECT * FROM incidents WHERE closed_at IS NULL ORDER BY id")
    return {str(r["kind"]): _incident(r) for r in rows}


def open_incident(journal: Journal, kind: str, message: str, *, alerted: bool) -> int:
    now = utc_now_iso()
    cursor = journal.execute(
        "INSERT INTO incidents(kind, opened_at, last_seen_at, message, alerted) "
        "VALUES (?, ?, ?, ?, ?)",
        (kind, now, now, message, int(alerted)),
    )
    return int(cursor.lastrowid or 0)


def touch_incident(journal: Journal, incident_id: int, message: str) -> None:
    """The condition still holds: note when it was last seen, and how it reads now."""
    journal.execute(
        "UPDATE incidents SET last_seen_at = ?, message = ? WHERE id = ?",
        (utc_now_iso(), message, incident_id),
    )


def close_incident(journal: Journal, incident_id: int) -> None:
    journal.execute(
        "UPDATE incidents SET closed_at = ? WHERE id = ? AND closed_at IS NULL",
        (utc_now_iso(), incident_id),
    )


def last_alert_at(journal: Journal, kind: str) -> str | None:
    """When an alert of this kind last went out (for the quiet period)."""
    row = journal.query_one(
        "SELECT MAX(opened_at) FROM incidents WHERE kind = ? AND alerted = 1", (kind,)
    )
    return None if row is None or row[0] is None else str(row[0])
