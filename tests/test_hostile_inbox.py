"""Hostile files in the inbox, end to end through `run_inbox` against the sandbox.

One inbox holds, at once: symlinks pointing outside it (to a valid file and to a
folder), a folder named `x.csv`, names with unicode, spaces, a leading dash, Windows
device names (`CON.csv`, `nul.xlsx`, `COM1.txt`, `aux.csv`) and a trailing dot or
space, a 10,000-column file, a file with NUL bytes, an xlsx zip bomb, a workbook whose
sparse sheet once aborted the whole process, and an empty file. The pass must complete,
every file must end where it should (archive, or failed/ with an explanation), nothing
outside the inbox may be touched, and the next pass must carry on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from filebridge.config import Settings
from filebridge.errors import RowIssue
from filebridge.inbox.moves import PROCESSING_DIR
from filebridge.inbox.readiness import ScanMemory
from filebridge.inbox.report import write_failed_rows, write_unreadable_explanation
from filebridge.inbox.run import InboxResult, run_inbox
from filebridge.journal.store import Journal
from filebridge.tables.table_model import RawRow, Table, TableFormat
from tests.inbox_support import make_client, make_settings, write_csv, write_xlsx
from tests.test_fuzz_inbox import BASE_PARTS, FAR_CELL, rezip

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY = "2026-03-02"
WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{port}{n}" for port in ("COM", "LPT") for n in "0123456789¹²³"
}
# Files with valid rows: each confirms one order of its own.
VALID = ["Bestätigung 📦.csv", "with spaces.csv", "-leading-dash.csv", "CON.csv",
         "nul.xlsx", "COM1.txt"]  # fmt: skip
PARTLY_VALID = "aux.csv"  # one valid row, one rejected row
UNREADABLE = {
    "LPT1.csv": "NUL bytes",
    "wide.csv": "10000 columns",
    "bomb.xlsx": "a zip bomb?",
    "far-sheet.xlsx": "17,179,869,184 cells",
    "empty.csv": "empty (0 bytes)",
}
IGNORED_NAMES = ["trailing-dot.csv.", "trailing-space.csv "]


def windows_problem(name: str) -> str | None:
    """Why Windows could not create or open a file called `name` (None: it can)."""
    if name != name.rstrip(". "):
        return "ends with a dot or a space"
    if name.split(".")[0].rstrip(" ").upper() in WINDOWS_DEVICES:
        return "is a reserved device name"
    if set(name) & set('<>:"/\\|?*') or any(ord(c) < 32 for c in name):
        return "holds a character Windows forbids"
    return None


def aged(path: Path, seconds: float = 120.0) -> Path:
    """Make a file look as if it landed `seconds` ago (so it is complete)."""
    stamp = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (stamp, stamp))
    return path


def zip_bomb() -> bytes:
    """A workbook whose shared strings unpack 40 MB from about 40 KB."""
    huge = b"<sst><si><t>" + b"A" * 40_000_000 + b"</t></si></sst>"
    return rezip({**BASE_PARTS, "xl/sharedStrings.xml": huge})


def far_sheet() -> bytes:
    """A sheet outside xl/worksheets/ with a value in XFD1048576 (aborted calamine)."""
    parts = {k: v for k, v in BASE_PARTS.items() if k != "xl/worksheets/sheet1.xml"}
    sheet = BASE_PARTS["xl/worksheets/sheet1.xml"]
    parts["xl/sheets/s1.xml"] = sheet.replace(
        b"</sheetData>", FAR_CELL + b"</sheetData>"
    )
    parts["xl/_rels/workbook.xml.rels"] = BASE_PARTS[
        "xl/_rels/workbook.xml.rels"
    ].replace(b"worksheets/sheet1.xml", b"sheets/s1.xml")
    return rezip(parts)


class Records(logging.Handler):
    """Every record of the `filebridge` loggers, whatever the logging setup."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def mentioning(self, text: str) -> list[str]:
        return [r.getMessage() for r in self.records if text in r.getMessage()]


@pytest.fixture
def logs() -> Iterator[Records]:
    handler = Records()
    logger = logging.getLogger("filebridge")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)


class HostileInbox:
    """The inbox above, the orders each file names, and what lies outside the inbox."""

    def __init__(self, tmp_path: Path, sandbox: Any) -> None:
        self.settings: Settings = make_settings(tmp_path, sandbox)
        self.sandbox = sandbox
        inbox = self.settings.folders.inbox
        self.orders: dict[str, int] = {}
        for name in VALID:
            order = sandbox.add_order()
            self.orders[name] = order["id"]
            if name.endswith(".xlsx"):
                write_xlsx(
                    inbox / name, ["order_id", "state"], [[order["id"], "OrderConfirm"]]
                )
            else:
                write_csv(
                    inbox / name, ["order_id", "state"], [[order["id"], "OrderConfirm"]]
                )
        order = sandbox.add_order()
        self.orders[PARTLY_VALID] = order["id"]
        write_csv(
            inbox / PARTLY_VALID,
            ["order_id", "state"],
            [[order["id"], "OrderConfirm"], ["1.23457E+11", "SentOrder"]],
        )
        (inbox / "LPT1.csv").write_bytes(b"order_id,state\r\n1,Sent\x00Order\r\n")
        columns = ["order_id", "state"] + [f"c{i}" for i in range(9998)]
        write_csv(inbox / "wide.csv", columns, [["1", "SentOrder"] + ["x"] * 9998])
        (inbox / "bomb.xlsx").write_bytes(zip_bomb())
        (inbox / "far-sheet.xlsx").write_bytes(far_sheet())
        (inbox / "empty.csv").write_bytes(b"")
        for name in IGNORED_NAMES:
            write_csv(inbox / name, ["order_id", "state"], [["1", "OrderConfirm"]])
        for name in [*VALID, PARTLY_VALID, *UNREADABLE, *IGNORED_NAMES]:
            aged(inbox / name)
        # Outside the inbox: a valid file and a folder, reached only through symlinks.
        outside = tmp_path / "outside"
        outside.mkdir()
        self.outsider = sandbox.add_order()["id"]
        self.target = write_csv(
            outside / "valid.csv", ["order_id", "state"], [[self.outsider, "SentOrder"]]
        )
        aged(self.target, 600)
        (outside / "folder").mkdir()
        write_csv(
            outside / "folder" / "inner.csv",
            ["order_id", "state"],
            [[self.outsider, "SentOrder"]],
        )
        (inbox / "link-to-valid.csv").symlink_to(self.target)
        (inbox / "link-to-folder.csv").symlink_to(outside / "folder")
        (inbox / "x.csv").mkdir()
        write_csv(
            inbox / "x.csv" / "inner.csv",
            ["order_id", "state"],
            [[self.outsider, "SentOrder"]],
        )
        self.target_before = (self.target.read_bytes(), self.target.stat().st_mtime_ns)
        self.ignored = [
            "link-to-valid.csv",
            "link-to-folder.csv",
            "x.csv",
            *IGNORED_NAMES,
        ]

    def run(self, memory: ScanMemory) -> InboxResult:
        with (
            Journal.open(self.settings.journal_path) as journal,
            make_client(self.settings) as client,
        ):
            return run_inbox(self.settings, client, journal, now=NOW, memory=memory)

    def state(self, order_id: int) -> str:
        return str(self.sandbox.get_order(order_id)["delivery_state"])

    def created_names(self) -> list[str]:
        """Every file or folder name filebridge made in archive/, failed/, .processing/."""
        folders = self.settings.folders
        roots = [folders.archive, folders.failed, folders.inbox / PROCESSING_DIR]
        return sorted(p.name for root in roots for p in root.rglob("*"))


@pytest.fixture
def hostile(tmp_path: Path, sandbox: Any) -> HostileInbox:
    return HostileInbox(tmp_path, sandbox)


def test_hostile_inbox_pass_completes_and_files_end_where_they_should(
    hostile: HostileInbox, logs: Records
) -> None:
    """Every hostile file is archived or explained in failed/; nothing outside is touched."""
    memory = ScanMemory()
    result = hostile.run(memory)
    outcomes = {report.name: report.outcome for report in result.files}
    expected = dict.fromkeys([*VALID, PARTLY_VALID], "done")
    expected |= dict.fromkeys(UNREADABLE, "failed")
    assert outcomes == expected
    assert result.unavailable is None
    # The valid rows were applied; the symlinked and nested files were never read.
    for name in [*VALID, PARTLY_VALID]:
        assert hostile.state(hostile.orders[name]) == "OrderConfirm", name
    assert hostile.state(hostile.outsider) == "CheckQueue"
    reports = {report.name: report for report in result.files}
    assert reports[PARTLY_VALID].applied == 1
    assert reports[PARTLY_VALID].rejected == 1
    assert reports[PARTLY_VALID].failed_path is not None
    assert reports[PARTLY_VALID].failed_path.exists()
    # Archived with a result file beside each; unreadable ones explained in failed/.
    for name in [*VALID, PARTLY_VALID]:
        report = reports[name]
        assert report.archive_path is not None
        assert report.archive_path.parent == hostile.settings.folders.archive / DAY
        assert report.archive_path.exists()
        assert report.result_path is not None
        assert report.result_path.exists()
    for name, reason in UNREADABLE.items():
        report = reports[name]
        assert report.archive_path is not None
        assert report.archive_path.parent == hostile.settings.folders.failed
        assert report.archive_path.exists()
        assert report.failed_path is not None
        explanation = report.failed_path.read_text(encoding="utf-8-sig")
        assert reason in explanation, (name, explanation)
        assert "Fix the file and drop it into the inbox folder again." in explanation
    # The inbox keeps only what filebridge must not take; the outside is untouched.
    inbox = hostile.settings.folders.inbox
    assert sorted(p.name for p in inbox.iterdir()) == sorted(
        [*hostile.ignored, PROCESSING_DIR]
    )
    assert list((inbox / PROCESSING_DIR).iterdir()) == []
    assert (inbox / "link-to-valid.csv").is_symlink()
    assert os.readlink(inbox / "link-to-valid.csv") == str(hostile.target)
    assert (hostile.target.read_bytes(), hostile.target.stat().st_mtime_ns) == (
        hostile.target_before
    )
    assert (inbox / "x.csv" / "inner.csv").exists()
    assert not any(
        hostile.target.name == p.name
        for p in hostile.settings.folders.archive.rglob("*")
    )
    # The next pass carries on: a new file is taken, the ignored ones stay ignored.
    order = hostile.sandbox.add_order()
    aged(
        write_csv(
            inbox / "after.csv", ["order_id", "state"], [[order["id"], "OrderConfirm"]]
        )
    )
    again = hostile.run(memory)
    assert [(r.name, r.outcome) for r in again.files] == [("after.csv", "done")]
    assert hostile.state(order["id"]) == "OrderConfirm"
    assert sorted(p.name for p in inbox.iterdir()) == sorted(
        [*hostile.ignored, PROCESSING_DIR]
    )


def test_ignored_symlinks_and_folders_are_logged_once(
    hostile: HostileInbox, logs: Records
) -> None:
    """A symlink or folder in the inbox is never followed, and a log line says so once."""
    memory = ScanMemory()
    hostile.run(memory)
    hostile.run(memory)
    for name in ["link-to-valid.csv", "link-to-folder.csv", "x.csv"]:
        lines = [line for line in logs.mentioning(name) if line.startswith("ignoring ")]
        assert len(lines) == 1, (name, logs.mentioning(name))


def test_every_name_filebridge_creates_is_valid_on_windows(
    hostile: HostileInbox,
) -> None:
    """No archive, failed, result or claim name is a Windows device name or ends in . or space."""
    hostile.run(ScanMemory())
    created = hostile.created_names()
    assert len(created) > 2 * len(VALID)
    problems = {name: windows_problem(name) for name in created}
    assert {name: p for name, p in problems.items() if p} == {}


def test_report_names_avoid_windows_device_names(tmp_path: Path) -> None:
    """failed/ rows files and .error.txt explanations of `aux.csv`, `CON.csv` are valid on Windows."""
    table = Table(
        headers=["order_id"],
        rows=[RawRow(2, {"order_id": "x"})],
        format=TableFormat(kind="csv", encoding="utf-8-sig", delimiter=","),
        header_texts=["order_id"],
    )
    issue = RowIssue(2, "order_id", "x", "order id is not a number")
    names = []
    for source in ["aux.csv", "CON.csv", "nul.xlsx", "COM1.txt", "lpt9.CSV", "ok.csv"]:
        rows_file = write_failed_rows(
            tmp_path, source, table, [(table.rows[0], [issue])], stamp="20260302-093000"
        )
        note = write_unreadable_explanation(
            tmp_path, source, "damaged", stamp="20260302-093000"
        )
        names += [rows_file.name, note.name]
    assert {n: windows_problem(n) for n in names if windows_problem(n)} == {}
    assert "aux_.failed-20260302-093000.csv" in names
    assert "CON_.csv.error.txt" in names
    assert "ok.failed-20260302-093000.csv" in names
    assert "ok.csv.error.txt" in names
