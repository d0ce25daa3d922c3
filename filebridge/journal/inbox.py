"""The inbox's queries on the journal: claimed files, row outcomes, API steps, known orders.

Each function is one statement or one small `atomic()` unit; callers group several into
one transaction when a decision and its record must land together (`with
journal.atomic():` nests as a savepoint).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from filebridge.journal.store import Journal, utc_now_iso

__all__ = [
    "FileRecord",
    "HeldOrder",
    "KnownOrder",
    "RowRecord",
    "StepRecord",
    "begin_claim",
    "changed_since",
    "confirmed_step_names",
    "drop_claim",
    "earlier_copy",
    "finish_file",
    "forget_planned_steps",
    "held_orders",
    "ignored_files",
    "known_order",
    "known_orders",
    "mark_checked",
    "mark_step",
    "mark_unanswered",
    "open_claims",
    "plan_step",
    "record_rows",
    "remember_ignored",
    "remember_order",
    "restamp_future_sends",
    "row_records",
    "row_step_states",
    "sent_steps",
    "set_destination",
    "set_row",
    "set_sha",
    "settle_rows",
    "step",
]

IDS_PER_QUERY = 500  # well below SQLite's limit of bound parameters per statement
MAX_CLAIMED_NAME_BYTES = 200
"""A claimed name must fit the 255-byte (ext4) and 255-character (NTFS) name limits."""


@dataclass(frozen=True)
class FileRecord:
    """One row of `inbox_files`."""

    id: int
    sha256: str
    original_name: str
    claimed_path: Path | None
    state: str
    arrived_at: str
    archive_path: Path | None
    result_path: Path | None
    message: str | None


@dataclass(frozen=True)
class RowRecord:
    """One row of `inbox_rows`."""

    row_number: int
    order_id: int | None
    outcome: str
    message: str
    calls: int


@dataclass(frozen=True)
class StepRecord:
    """One row of `steps`."""

    key: str
    file_id: int | None
    row_number: int | None
    order_id: int
    action: str
    payload: dict[str, Any]
    state: str
    message: str
    sent_at: str | None = None
    finished_at: str | None = None
    checked_at: str | None = None


@dataclass(frozen=True)
class HeldOrder:
    """An order whose rows wait: one of its steps is `sent` and not settled yet.

    `sent_at` is when the doubtful request left; `finished_at` is set when the shop
    answered it (with an error), i.e. it is no longer running there and the next run
    settles it at once. `rows_waiting` counts its pending rows in unfinished files.
    """

    order_id: int
    action: str
    file_name: str | None
    row_number: int | None
    sent_at: str | None
    finished_at: str | None
    message: str
    rows_waiting: int


@dataclass(frozen=True)
class KnownOrder:
    """What filebridge last knew of an order (`order_states`)."""

    order_id: int
    delivery_state: str
    status: str | None
    tracking_code: str | None
    tracking_url: str | None
    delivery_info: dict[str, Any] | None
    known_at: str


# --- files ----------------------------------------------------------------------------


def _file(row: Any) -> FileRecord:
    return FileRecord(
        id=int(row["id"]),
        sha256=str(row["sha256"]),
        original_name=str(row["original_name"]),
        claimed_path=Path(row["claimed_path"]) if row["claimed_path"] else None,
        state=str(row["state"]),
        arrived_at=str(row["arrived_at"]),
        archive_path=Path(row["archive_path"]) if row["archive_path"] else None,
        result_path=Path(row["result_path"]) if row["result_path"] else None,
        message=row["message"],
    )


def begin_claim(
    journal: Journal, original_name: str, processing_dir: Path, arrived_at: str
) -> FileRecord:
    """Record the intent to claim a file, before it is renamed into `processing_dir`.

    The claimed name starts with the journal id, so it is unique and a file in
    `.processing/` without a journal row is known to belong to someone else.
    """
    with journal.atomic():
        cursor = journal.execute(
            "INSERT INTO inbox_files(sha256, original_name, state, arrived_at) "
            "VALUES ('', ?, 'claimed', ?)",
            (original_name, arrived_at),
        )
        file_id = int(cursor.lastrowid or 0)
        claimed = processing_dir / _claimed_name(file_id, original_name)
        journal.execute(
            "UPDATE inbox_files SET claimed_path = ? WHERE id = ?",
            (str(claimed), file_id),
        )
    return file_record(journal, file_id)


def _claimed_name(file_id: int, original_name: str) -> str:
    """`000012-orders.csv`; for a name near the 255-byte limit, `000012.csv`.

    The original name stays in the journal: only the claimed copy's name is shortened,
    so a long name can still be renamed into `.processing/`.
    """
    name = f"{file_id:06d}-{original_name}"
    if len(name.encode("utf-8")) <= MAX_CLAIMED_NAME_BYTES:
        return name
    suffix = Path(original_name).suffix
    return f"{file_id:06d}{suffix if len(suffix) <= 16 else ''}"


def file_record(journal: Journal, file_id: int) -> FileRecord:
    row = journal.query_one("SELECT * FROM inbox_files WHERE id = ?", (file_id,))
    if row is None:
        raise KeyError(file_id)
    return _file(row)


def set_sha(journal: Journal, file_id: int, sha256: str) -> None:
    journal.execute("UPDATE inbox_files SET sha256 = ? WHERE id = ?", (sha256, file_id))


def drop_claim(journal: Journal, file_id: int) -> None:
    """Forget a claim whose rename never happened (no rows or steps refer to it)."""
    with journal.atomic():
        journal.execute("DELETE FROM inbox_rows WHERE file_id = ?", (file_id,))
        journal.execute(
            "DELETE FROM steps WHERE file_id = ? AND state = 'planned'", (file_id,)
        )
        journal.execute("DELETE FROM inbox_files WHERE id = ?", (file_id,))


def open_claims(journal: Journal) -> list[FileRecord]:
    """Files claimed but not finished, in claim (= arrival) order."""
    rows = journal.query(
        "SELECT * FROM inbox_files WHERE state = 'claimed' ORDER BY id"
    )
    return [_file(r) for r in rows]


def earlier_copy(
    journal: Journal, sha256: str, before: int | None
) -> FileRecord | None:
    """The latest file with this content that was (or is being) replayed, claimed
    before `before` (the latest: a copy repeats the copy it follows).

    `before=None` looks at every claim (a dry run, which claims nothing itself).
    """
    row = journal.query_one(
        "SELECT * FROM inbox_files WHERE sha256 = ? AND id < ? "
        "AND state IN ('claimed', 'done') ORDER BY id DESC LIMIT 1",
        (sha256, before if before is not None else 2**62),
    )
    return None if row is None else _file(row)


def changed_since(journal: Journal, earlier_id: int, file_id: int) -> list[int]:
    """Orders of file `earlier_id` that a file claimed between it and `file_id` changed
    (a confirmed step): identical content after that is a new instruction, not a copy."""
    rows = journal.query(
        "SELECT DISTINCT s.order_id FROM steps s WHERE s.state = 'confirmed' "
        "AND s.file_id > ? AND s.file_id < ? AND s.order_id IN "
        "(SELECT order_id FROM inbox_rows WHERE file_id = ? AND order_id IS NOT NULL) "
        "ORDER BY s.order_id",
        (earlier_id, file_id, earlier_id),
    )
    return [int(r[0]) for r in rows]


def set_destination(
    journal: Journal, file_id: int, archive_path: Path, result_path: Path
) -> None:
    """Record where the file is about to be moved (so a crash mid-move is resumable)."""
    journal.execute(
        "UPDATE inbox_files SET archive_path = ?, result_path = ? WHERE id = ?",
        (str(archive_path), str(result_path), file_id),
    )


def finish_file(
    journal: Journal,
    file_id: int,
    state: str,
    *,
    message: str,
    archive_path: Path | None = None,
    result_path: Path | None = None,
) -> None:
    journal.execute(
        "UPDATE inbox_files SET state = ?, message = ?, finished_at = ?, "
        "archive_path = COALESCE(?, archive_path), "
        "result_path = COALESCE(?, result_path) WHERE id = ?",
        (
            state,
            message,
            utc_now_iso(),
            None if archive_path is None else str(archive_path),
            None if result_path is None else str(result_path),
            file_id,
        ),
    )


# --- rows -----------------------------------------------------------------------------


def record_rows(
    journal: Journal, file_id: int, rows: Iterable[tuple[int, int | None, str, str]]
) -> None:
    """Insert (row_number, order_id, outcome, message) rows not recorded yet."""
    for row_number, order_id, outcome, message in rows:
        journal.execute(
            "INSERT OR IGNORE INTO inbox_rows"
            "(file_id, row_number, order_id, outcome, message) VALUES (?, ?, ?, ?, ?)",
            (file_id, row_number, order_id, outcome, message),
        )


def row_records(journal: Journal, file_id: int) -> dict[int, RowRecord]:
    rows = journal.query(
        "SELECT row_number, order_id, outcome, message, calls FROM inbox_rows "
        "WHERE file_id = ? ORDER BY row_number",
        (file_id,),
    )
    return {
        int(r["row_number"]): RowRecord(
            row_number=int(r["row_number"]),
            order_id=None if r["order_id"] is None else int(r["order_id"]),
            outcome=str(r["outcome"]),
            message=str(r["message"]),
            calls=int(r["calls"]),
        )
        for r in rows
    }


def set_row(
    journal: Journal,
    file_id: int,
    row_number: int,
    *,
    outcome: str,
    message: str,
    calls: int,
) -> None:
    journal.execute(
        "UPDATE inbox_rows SET outcome = ?, message = ?, calls = ? "
        "WHERE file_id = ? AND row_number = ?",
        (outcome, message, calls, file_id, row_number),
    )


# --- steps ----------------------------------------------------------------------------


def _step(row: Any) -> StepRecord:
    return StepRecord(
        key=str(row["idempotency_key"]),
        file_id=None if row["file_id"] is None else int(row["file_id"]),
        row_number=None if row["row_number"] is None else int(row["row_number"]),
        order_id=int(row["order_id"]),
        action=str(row["action"]),
        payload=json.loads(row["payload"]),
        state=str(row["state"]),
        message=str(row["message"]),
        sent_at=row["sent_at"],
        finished_at=row["finished_at"],
        checked_at=row["checked_at"],
    )


def step(journal: Journal, key: str) -> StepRecord | None:
    row = journal.query_one("SELECT * FROM steps WHERE idempotency_key = ?", (key,))
    return None if row is None else _step(row)


def plan_step(
    journal: Journal,
    key: str,
    *,
    file_id: int,
    row_number: int,
    order_id: int,
    action: str,
    payload: Mapping[str, Any],
) -> None:
    """Record a planned step; a key seen before keeps its state (never re-planned)."""
    journal.execute(
        "INSERT OR IGNORE INTO steps(idempotency_key, file_id, row_number, order_id, "
        "action, payload, state, planned_at) VALUES (?, ?, ?, ?, ?, ?, 'planned', ?)",
        (
            key,
            file_id,
            row_number,
            order_id,
            action,
            json.dumps(payload, default=_json_number),
            utc_now_iso(),
        ),
    )


def mark_step(journal: Journal, key: str, state: str, message: str = "") -> None:
    """Move a step to `state`.

    `sent` stamps sent_at and clears finished_at (a request is now in flight);
    `confirmed` and `rejected` stamp finished_at; `planned` (never sent, or refused
    before processing) stamps nothing.
    """
    stamps = {
        "planned": "",
        "sent": ", sent_at = ?, finished_at = NULL, checked_at = NULL",
        "confirmed": ", finished_at = ?",
        "rejected": ", finished_at = ?",
    }
    if state not in stamps:
        raise ValueError(state)
    now = [utc_now_iso()] if stamps[state] else []
    journal.execute(
        f"UPDATE steps SET state = ?, message = ?{stamps[state]} "
        "WHERE idempotency_key = ?",
        (state, message, *now, key),
    )


def mark_unanswered(journal: Journal, key: str, message: str, *, ended: bool) -> None:
    """A `sent` step without an answer we trust (maybe applied).

    `ended`: the shop answered, so it is done with the request (finished_at is
    stamped); otherwise it may still be running there.
    """
    journal.execute(
        "UPDATE steps SET message = ?, finished_at = ? WHERE idempotency_key = ?",
        (message, utc_now_iso() if ended else None, key),
    )


def restamp_future_sends(journal: Journal, file_id: int, row_number: int) -> int:
    """Clamp the row's `sent` steps stamped in the future (the clock went back) to now.

    The wait for a maybe-running request counts from its send time; one in the future
    would make it last as long as the clock jump. Now is the earliest time we can vouch
    for, so the wait is at most the settle time from here. Returns how many changed.
    """
    now = utc_now_iso()
    cursor = journal.execute(
        "UPDATE steps SET sent_at = ? WHERE file_id = ? AND row_number = ? "
        "AND state = 'sent' AND sent_at > ?",
        (now, file_id, row_number, now),
    )
    return int(cursor.rowcount)


def shift_doubtful_sends(journal: Journal, seconds: float) -> int:
    """Move the send times of every `sent` step by `seconds` (the clock jumped between
    runs by that much: `jobs.share_budget`), so their settle time counts in real time."""
    rows = journal.query(
        "SELECT id, sent_at FROM steps WHERE state = 'sent' AND sent_at IS NOT NULL"
    )
    for row in rows:
        moment = datetime.fromisoformat(str(row["sent_at"]))
        journal.execute(
            "UPDATE steps SET sent_at = ? WHERE id = ?",
            ((moment + timedelta(seconds=seconds)).isoformat(), row["id"]),
        )
    return len(rows)


def mark_checked(journal: Journal, key: str) -> None:
    """A `sent` step was looked for in the order and is not there yet."""
    journal.execute(
        "UPDATE steps SET checked_at = ? WHERE idempotency_key = ?",
        (utc_now_iso(), key),
    )


def forget_planned_steps(journal: Journal, file_id: int, row_number: int) -> None:
    """Drop a row's steps that were planned but never sent (before re-planning it)."""
    journal.execute(
        "DELETE FROM steps WHERE file_id = ? AND row_number = ? AND state = 'planned'",
        (file_id, row_number),
    )


def sent_steps(journal: Journal, file_id: int, row_number: int) -> list[StepRecord]:
    """Steps marked sent whose answer never got recorded: they need reconciling."""
    rows = journal.query(
        "SELECT * FROM steps WHERE file_id = ? AND row_number = ? AND state = 'sent' "
        "ORDER BY id",
        (file_id, row_number),
    )
    return [_step(r) for r in rows]


def held_orders(journal: Journal) -> list[HeldOrder]:
    """Orders held by a doubtful (`sent`, unsettled) step, oldest first, for `status`.

    One line per order: its oldest doubtful step, and how many of its rows in claimed
    files are still pending behind it.
    """
    rows = journal.query(
        "SELECT s.order_id, s.action, f.original_name, s.row_number, s.sent_at, "
        "s.finished_at, s.message, ("
        "  SELECT count(*) FROM inbox_rows r JOIN inbox_files g ON g.id = r.file_id "
        "  WHERE r.order_id = s.order_id AND r.outcome = 'pending' "
        "  AND g.state = 'claimed') AS waiting "
        "FROM steps s LEFT JOIN inbox_files f ON f.id = s.file_id "
        "WHERE s.state = 'sent' ORDER BY s.id"
    )
    found: dict[int, HeldOrder] = {}
    for r in rows:
        order_id = int(r["order_id"])
        if order_id in found:
            continue
        found[order_id] = HeldOrder(
            order_id=order_id,
            action=str(r["action"]),
            file_name=r["original_name"],
            row_number=None if r["row_number"] is None else int(r["row_number"]),
            sent_at=r["sent_at"],
            finished_at=r["finished_at"],
            message=str(r["message"] or ""),
            rows_waiting=int(r["waiting"]),
        )
    return list(found.values())


def row_step_states(journal: Journal, file_id: int) -> dict[int, list[tuple[str, str]]]:
    """(action, state) of every step of every row of a file, in the order they were
    planned (as `confirmed_step_names` orders them): one query for the whole file."""
    found: dict[int, list[tuple[str, str]]] = {}
    for row in journal.query(
        "SELECT row_number, action, state FROM steps WHERE file_id = ? "
        "AND row_number IS NOT NULL ORDER BY id",
        (file_id,),
    ):
        found.setdefault(int(row[0]), []).append((str(row[1]), str(row[2])))
    return found


def settle_rows(
    journal: Journal,
    file_id: int,
    outcomes: Iterable[tuple[int, str, str, int]],
    *,
    planned: Iterable[int] = (),
) -> None:
    """Record many rows' final (row_number, outcome, message, calls) that needed no
    step. `planned` are those of the rows that have planned-but-unsent steps: they are
    dropped, as `forget_planned_steps` does before a row is planned again. The caller
    holds the transaction."""
    rows = sorted(set(planned))
    for start in range(0, len(rows), IDS_PER_QUERY):
        chunk = rows[start : start + IDS_PER_QUERY]
        journal.execute(
            "DELETE FROM steps WHERE file_id = ? AND state = 'planned' "
            f"AND row_number IN ({', '.join('?' * len(chunk))})",
            (file_id, *chunk),
        )
    for row, outcome, message, calls in outcomes:
        journal.execute(
            "UPDATE inbox_rows SET outcome = ?, message = ?, calls = ? "
            "WHERE file_id = ? AND row_number = ?",
            (outcome, message, calls, file_id, row),
        )


def confirmed_step_names(journal: Journal, file_id: int, row_number: int) -> list[str]:
    rows = journal.query(
        "SELECT action FROM steps WHERE file_id = ? AND row_number = ? "
        "AND state = 'confirmed' ORDER BY id",
        (file_id, row_number),
    )
    return [str(r[0]) for r in rows]


# --- known orders ---------------------------------------------------------------------


def known_order(journal: Journal, order_id: int) -> KnownOrder | None:
    row = journal.query_one(
        "SELECT * FROM order_states WHERE order_id = ?", (order_id,)
    )
    return None if row is None else _known(row)


def known_orders(journal: Journal, order_ids: Iterable[int]) -> dict[int, KnownOrder]:
    """`known_order` for many orders in a few queries (chunks of `IDS_PER_QUERY`)."""
    wanted = sorted(set(order_ids))
    found: dict[int, KnownOrder] = {}
    for start in range(0, len(wanted), IDS_PER_QUERY):
        chunk = wanted[start : start + IDS_PER_QUERY]
        marks = ", ".join("?" * len(chunk))
        for row in journal.query(
            f"SELECT * FROM order_states WHERE order_id IN ({marks})", chunk
        ):
            found[int(row["order_id"])] = _known(row)
    return found


def _known(row: Any) -> KnownOrder:
    info = row["delivery_info"]
    return KnownOrder(
        order_id=int(row["order_id"]),
        delivery_state=str(row["delivery_state"]),
        status=row["status"],
        tracking_code=row["tracking_code"],
        tracking_url=row["tracking_url"],
        delivery_info=None if info is None else json.loads(info, parse_float=Decimal),
        known_at=str(row["known_at"]),
    )


def remember_order(
    journal: Journal,
    order_id: int,
    delivery_state: str,
    *,
    status: str | None = None,
    tracking: tuple[str | None, str | None] | None = None,
    delivery_info: Mapping[str, Any] | None = None,
) -> None:
    """Upsert what we know now; None arguments keep what was known before."""
    code, url = tracking if tracking is not None else (None, None)
    info = (
        None
        if delivery_info is None
        else json.dumps(dict(delivery_info), default=_json_number)
    )
    journal.execute(
        "INSERT INTO order_states(order_id, delivery_state, status, tracking_code, "
        "tracking_url, delivery_info, known_at) VALUES (?, ?, ?, ?, ?, ?, ?) "
        "ON CONFLICT(order_id) DO UPDATE SET "
        "delivery_state = excluded.delivery_state, "
        "status = COALESCE(excluded.status, status), "
        "tracking_code = COALESCE(excluded.tracking_code, tracking_code), "
        "tracking_url = COALESCE(excluded.tracking_url, tracking_url), "
        "delivery_info = COALESCE(excluded.delivery_info, delivery_info), "
        "known_at = excluded.known_at",
        (order_id, delivery_state, status, code, url, info, utc_now_iso()),
    )


def _json_number(value: object) -> object:
    """Decimals from the API go back into JSON as numbers (exact for shop values)."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


# --- what the last scan left alone ----------------------------------------------------

IGNORED_KEY = "inbox.ignored"


def remember_ignored(journal: Journal, files: Iterable[tuple[str, str]]) -> None:
    """The files of the inbox that the last scan will never read, with why (`status`)."""
    data = {"at": utc_now_iso(), "files": [list(f) for f in files]}
    journal.set_meta(IGNORED_KEY, json.dumps(data))


def ignored_files(journal: Journal) -> tuple[str | None, list[tuple[str, str]]]:
    """(when the inbox was last scanned, [(name, why)]) as `remember_ignored` kept it."""
    text = journal.get_meta(IGNORED_KEY)
    if text is None:
        return None, []
    data = json.loads(text)
    return data.get("at"), [(str(n), str(w)) for n, w in data.get("files", [])]
