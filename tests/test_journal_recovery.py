"""A lost journal is never a fresh start: refused with exit 10, restored by the command.

Real `filebridge` processes against the in-process sandbox, a real SQLite journal that
is zeroed, deleted or overwritten with garbage the way a full disk, a sync tool or an
antivirus does it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from filebridge.journal.store import Journal
from tests.inbox_support import write_config

pytestmark = pytest.mark.slow


def filebridge(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FILEBRIDGE_")}
    return subprocess.run(
        [sys.executable, "-m", "filebridge", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )


@pytest.fixture
def exported(tmp_path, sandbox) -> Path:
    """A state folder after one export of every paid order."""
    config = write_config(tmp_path, sandbox, extra='[export]\nsince = "2000-01-01"\n')
    first = filebridge("export", "-c", str(config))
    assert first.returncode == 0, first.stderr
    assert "exported" in first.stdout
    return config


def outbox_files(tmp_path: Path) -> list[Path]:
    return sorted(p for p in (tmp_path / "outbox").glob("orders-*") if p.is_file())


def test_recovery_zero_byte_journal_refused_restored_not_reexported(tmp_path, exported):
    """0-byte journal: exit 10 naming the restore command; after `journal restore`
    the next export finds nothing new (no order exported twice)."""
    journal = tmp_path / "state" / "filebridge.sqlite3"
    files = outbox_files(tmp_path)
    assert len(files) == 1
    assert list((tmp_path / "state" / "backups").glob("*.sqlite3"))
    journal.write_bytes(b"")  # what a full disk or a sync tool leaves

    refused = filebridge("export", "-c", str(exported))
    assert refused.returncode == 10, refused.stdout + refused.stderr
    assert "is empty (0 bytes)" in refused.stderr
    assert "filebridge journal restore -c CONFIG" in refused.stderr
    assert outbox_files(tmp_path) == files
    assert journal.stat().st_size == 0  # nothing was created in its place

    restored = filebridge("journal", "restore", "-c", str(exported))
    assert restored.returncode == 0, restored.stderr
    assert "filebridge-latest.sqlite3" in restored.stdout
    assert list((tmp_path / "state").glob("filebridge.sqlite3.broken-*"))

    again = filebridge("export", "-c", str(exported))
    assert again.returncode == 0, again.stderr
    assert "no new orders" in again.stdout
    assert outbox_files(tmp_path) == files


def test_recovery_missing_journal_after_inbox_work_refused(tmp_path, exported):
    """A deleted journal with result files in the archive is refused (exit 10)."""
    (tmp_path / "archive" / "2026-01-01").mkdir(parents=True)
    (tmp_path / "archive" / "2026-01-01" / "s.csv.result.csv").write_text("row\n")
    for leftover in (tmp_path / "state").iterdir():
        if leftover.is_file():
            leftover.unlink()  # journal, log, lock and pid file gone
    for backup in (tmp_path / "state" / "backups").iterdir():
        backup.unlink()
    refused = filebridge("run", "-c", str(exported))
    assert refused.returncode == 10, refused.stdout + refused.stderr
    assert "s.csv.result.csv" in refused.stderr
    assert "--from FILE" in refused.stderr  # no backup left: name a copy


def test_recovery_corrupt_journal_exit_10_and_check_fails(tmp_path, exported):
    """Garbage in the journal's place: exit 10 with the restore command; `check`
    reports the failed integrity check."""
    journal = tmp_path / "state" / "filebridge.sqlite3"
    journal.write_bytes(b"this is not a database" * 200)
    refused = filebridge("export", "-c", str(exported))
    assert refused.returncode == 10, refused.stdout + refused.stderr
    assert "damaged" in refused.stderr
    assert "filebridge journal restore" in refused.stderr
    checked = filebridge("check", "-c", str(exported))
    # The journal check fails, or (with `export.since` read from the journal) check
    # stops at the damaged journal with the same restore command.
    assert checked.returncode in (3, 10)
    assert "journal restore" in checked.stdout + checked.stderr


def test_recovery_journal_records_its_initialisation(tmp_path):
    """A new journal says when it was initialised (the meta row)."""
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        assert journal.get_meta("journal.initialised_at")
