"""The export's queries on the journal: cursor, export ledger, batches (pending → published).

The schema is in `journal.py` (migration `0002_export`). A batch row in state `pending`
means: its temp file was complete and fsynced when the row was written. Publishing it
(`mark_published`) records every order of the batch in `exported_orders` and advances the
cursor in the same transaction, so the ledger and the cursor can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from sqlite3 import Row as SqliteRow

from filebridge.journal.store import Journal

__all__ = [
    "CURSOR_KEY",
    "Batch",
    "earliest_export_update",
    "exported_among",
    "get_cursor",
    "is_exported",
    "mark_published",
    "mark_rolled_back",
    "next_batch_id",
    "pending_batches",
    "pending_order_ids",
    "record_pending_batch",
    "rename_batch_file",
    "set_cursor",
]

CURSOR_KEY = "export.cursor"
_CHUNK = 500  # ids per IN (...) query, below SQLite's variable limit


@dataclass(frozen=True)
class Batch:
    """One row of `export_batches`."""

    id: int
    file_name: str
    temp_name: str
    state: str
    order_count: int
    row_count: int
    cursor_after: int | None
    reexport: bool


def get_cursor(journal: Journal) -> int | None:
    """The export cursor: Unix seconds (server time) of the newest order handled."""
    value = journal.get_meta(CURSOR_KEY)
    return None if value is None else int(value)


def set_cursor(journal: Journal, value: int) -> None:
    journal.set_meta(CURSOR_KEY, str(int(value)))


def is_exported(journal: Journal, order_id: int) -> bool:
    row = journal.query_one(
        "SELECT 1 FROM exported_orders WHERE order_id = ?", (order_id,)
    )
    return row is not None


def exported_among(journal: Journal, order_ids: Iterable[int]) -> set[int]:
    """The ids of `order_ids` that the ledger already holds."""
    ids = list(order_ids)
    found: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        rows = journal.query(
            f"SELECT order_id FROM exported_orders WHERE order_id IN ({marks})", chunk
        )
        found.update(int(row[0]) for row in rows)
    return found


def earliest_export_update(journal: Journal, order_ids: Iterable[int]) -> int | None:
    """The oldest `updated_at` (Unix seconds) with which any of these orders was exported.

    An order's `updated_at` only grows, so every one of them that was exported is
    among the orders updated since then: replay lists that window instead of guessing.
    None when none of them was exported.
    """
    ids = list(order_ids)
    earliest: datetime | None = None
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        row = journal.query_one(
            "SELECT MIN(b.updated_at) FROM batch_orders AS b JOIN exported_orders AS e "
            f"ON e.batch_id = b.batch_id AND e.order_id = b.order_id "
            f"WHERE b.order_id IN ({marks})",
            chunk,
        )
        if row is None or row[0] is None:
            continue
        moment = datetime.fromisoformat(str(row[0]))
        earliest = moment if earliest is None else min(earliest, moment)
    return None if earliest is None else int(earliest.timestamp())


def next_batch_id(journal: Journal) -> int:
    """The id the next batch will get (one run at a time holds the lock)."""
    row = journal.query_one("SELECT COALESCE(MAX(id), 0) + 1 FROM export_batches")
    return 1 if row is None else int(row[0])


def record_pending_batch(
    journal: Journal,
    *,
    batch_id: int,
    file_name: str,
    temp_name: str,
    created_at: str,
    orders: Sequence[tuple[int, str | None]],
    row_count: int,
    cursor_after: int | None,
    reexport: bool,
) -> None:
    """Record a complete temp file as a pending batch, with its orders, atomically."""
    with journal.atomic():
        journal.execute(
            "INSERT INTO export_batches(id, file_name, temp_name, state, created_at, "
            "order_count, row_count, cursor_after, reexport) "
            "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?)",
            (
                batch_id,
                file_name,
                temp_name,
                created_at,
                len(orders),
                row_count,
                cursor_after,
                int(reexport),
            ),
        )
        for order_id, updated_at in orders:
            journal.execute(
                "INSERT OR IGNORE INTO batch_orders(batch_id, order_id, updated_at) "
                "VALUES (?, ?, ?)",
                (batch_id, order_id, updated_at),
            )


def _batch(row: SqliteRow) -> Batch:
    values = tuple(row)
    return Batch(
        id=int(values[0]),
        file_name=str(values[1]),
        temp_name=str(values[2]),
        state=str(values[3]),
        order_count=int(values[4]),
        row_count=int(values[5]),
        cursor_after=None if values[6] is None else int(values[6]),
        reexport=bool(values[7]),
    )


_BATCH_COLUMNS = (
    "id, file_name, temp_name, state, order_count, row_count, cursor_after, reexport"
)


def pending_batches(journal: Journal) -> list[Batch]:
    rows = journal.query(
        f"SELECT {_BATCH_COLUMNS} FROM export_batches WHERE state = 'pending' "
        "ORDER BY id"
    )
    return [_batch(row) for row in rows]


def pending_order_ids(journal: Journal) -> set[int]:
    """Orders in pending batches (they are published or rolled back at the next run)."""
    rows = journal.query(
        "SELECT bo.order_id FROM batch_orders bo JOIN export_batches b "
        "ON b.id = bo.batch_id WHERE b.state = 'pending' AND b.reexport = 0"
    )
    return {int(row[0]) for row in rows}


def rename_batch_file(journal: Journal, batch_id: int, file_name: str) -> None:
    journal.execute(
        "UPDATE export_batches SET file_name = ? WHERE id = ?", (file_name, batch_id)
    )


def mark_published(journal: Journal, batch: Batch, *, published_at: str) -> None:
    """The file is in place: ledger + cursor + batch state, in one transaction.

    A re-export changes neither the ledger nor the cursor.
    """
    with journal.atomic():
        journal.execute(
            "UPDATE export_batches SET state = 'published', published_at = ? "
            "WHERE id = ? AND state = 'pending'",
            (published_at, batch.id),
        )
        if batch.reexport:
            return
        journal.execute(
            "INSERT OR IGNORE INTO exported_orders(order_id, batch_id, exported_at) "
            "SELECT order_id, batch_id, ? FROM batch_orders WHERE batch_id = ?",
            (published_at, batch.id),
        )
        if batch.cursor_after is not None:
            current = get_cursor(journal)
            if current is None or batch.cursor_after > current:
                set_cursor(journal, batch.cursor_after)


def mark_rolled_back(journal: Journal, batch_id: int) -> None:
    """The batch's file is gone: its orders stay out of the ledger, to be fetched again."""
    journal.execute(
        "UPDATE export_batches SET state = 'rolled_back' "
        "WHERE id = ? AND state = 'pending'",
        (batch_id,),
    )
