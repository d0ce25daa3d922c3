"""The SQLite journal: migrations once, atomic units roll back together."""

from __future__ import annotations

from pathlib import Path

import pytest

from filebridge.journal.store import MIGRATIONS, Journal


def test_migrations_apply_once_and_are_recorded(tmp_path: Path) -> None:
    """Opening twice applies nothing the second time."""
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as journal:
        assert journal.applied_migrations() == [name for name, _ in MIGRATIONS]
    with Journal.open(path) as journal:
        assert journal.applied_migrations() == [name for name, _ in MIGRATIONS]
        tables = {
            r[0]
            for r in journal.query("SELECT name FROM sqlite_master WHERE type='table'")
        }
        assert {"export_batches", "exported_orders", "inbox_files", "steps"} <= tables


def test_atomic_rolls_back_everything_on_error(tmp_path: Path) -> None:
    """A failure inside the unit leaves no partial record."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        with pytest.raises(RuntimeError), journal.atomic():
            journal.set_meta("cursor", "1")
            raise RuntimeError("crash between decision and record")
        assert journal.get_meta("cursor") is None


def test_nested_atomic_is_a_savepoint(tmp_path: Path) -> None:
    """An inner failure rolls back the inner part only."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        with journal.atomic():
            journal.set_meta("a", "1")
            with pytest.raises(ValueError), journal.atomic():
                journal.set_meta("b", "2")
                raise ValueError
        assert journal.get_meta("a") == "1"
        assert journal.get_meta("b") is None


def test_committed_data_survives_reopen(tmp_path: Path) -> None:
    """What was committed is on disk for the next process."""
    path = tmp_path / "j.sqlite3"
    with Journal.open(path) as journal, journal.atomic():
        journal.set_meta("cursor", "1700000000")
        journal.record_api_call("GET", "/shops/1/process-center/baskets-PHYSICAL", 200)
    with Journal.open(path) as journal:
        assert journal.get_meta("cursor") == "1700000000"
        assert journal.query_one("SELECT count(*) FROM api_calls")[0] == 1
