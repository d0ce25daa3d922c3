"""One inbox pass over real files against the sandbox: Excel-shaped files, archive, failed/."""

from __future__ import annotations

import csv
import logging
import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from filebridge.errors import AuthError
from filebridge.inbox.moves import PROCESSING_DIR
from filebridge.inbox.readiness import ScanMemory
from filebridge.inbox.run import run_inbox
from filebridge.journal import inbox as ledger
from filebridge.journal.store import Journal
from tests.inbox_support import (
    assert_no_skip_no_repeat,
    make_client,
    make_settings,
    result_csv_rows,
    state_posts,
    write_csv,
    write_xlsx,
)

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY = "2026-03-02"


@pytest.fixture
def settings(tmp_path, sandbox):
    return make_settings(tmp_path, sandbox)


@pytest.fixture
def journal(settings) -> Iterator[Journal]:
    with Journal.open(settings.journal_path) as j:
        yield j


@pytest.fixture
def client(settings):
    with make_client(settings) as c:
        yield c


def run(settings, client, journal, **kwargs):
    return run_inbox(settings, client, journal, now=NOW, **kwargs)


def aged(path: Path, seconds: float = 60.0) -> Path:
    """Make a file look as if it landed `seconds` ago (arrival order, settling)."""
    stamp = datetime.now(UTC).timestamp() - seconds
    os.utime(path, (stamp, stamp))
    return path


def shop_state(sandbox, order_id):
    order = sandbox.get_order(order_id)
    info = order.get("delivery_info") or {}
    return order["delivery_state"], info.get("tracking_code"), info.get("tracking_url")


def result_rows(path: Path) -> list[dict[str, str]]:
    return result_csv_rows(path)


def test_run_inbox_semicolon_cp1252_excel_file(sandbox, settings, client, journal):
    """German Excel CSV (cp1252, ';', ids as 15064.0, dates reformatted) → exact states."""
    orders = sandbox.add_orders(3)
    before = {o["id"]: "CheckQueue" for o in orders}
    write_csv(
        settings.folders.inbox / "Status März.csv",
        ["Order ID", "State", "Tracking Code", "Versanddatum", "Kunde"],
        [
            [
                f"{orders[0]['id']}.0",
                "SentOrder",
                "00340434161094042557",
                "02.03.2026",
                "Jürgen Müller",
            ],
            [f"{orders[1]['id']}", "PreparingOrder", "", "2.3.26", "Zoë Ärger"],
            [f"{orders[2]['id']},0", "OrderConfirm", "", "03/02/2026", "Ørsted"],
        ],
        delimiter=";",
        encoding="cp1252",
    )
    result = run(settings, client, journal)
    assert (result.rows_applied, result.rows_rejected, result.rows_pending) == (3, 0, 0)
    assert shop_state(sandbox, orders[0]["id"]) == (
        "SentOrder",
        "00340434161094042557",
        None,
    )
    assert shop_state(sandbox, orders[1]["id"])[0] == "PreparingOrder"
    assert shop_state(sandbox, orders[2]["id"])[0] == "OrderConfirm"
    assert_no_skip_no_repeat(sandbox, before)
    archived = settings.folders.archive / DAY / "Status März.csv"
    assert archived.exists()
    lines = result_rows(archived.with_name("Status März.csv.result.csv"))
    assert [(r["row"], r["outcome"]) for r in lines] == [
        ("2", "applied"),
        ("3", "applied"),
        ("4", "applied"),
    ]
    assert list(settings.folders.inbox.glob("*.csv")) == []


def test_run_inbox_utf8_bom_and_libreoffice_files(sandbox, settings, client, journal):
    """A UTF-8-BOM Excel CSV and a LibreOffice CSV (no BOM, LF, all quoted) both apply."""
    orders = sandbox.add_orders(2)
    write_csv(
        settings.folders.inbox / "excel.csv",
        ["order_id", "state", "tracking_code", "tracking_url"],
        [[orders[0]["id"], "ToCustomer", "JJD0001", "https://track.example/JJD0001"]],
    )
    aged(settings.folders.inbox / "excel.csv", 120)
    lo = settings.folders.inbox / "libre.csv"
    with lo.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writerow(["Order-ID", "STATE", "Tracking_Code"])
        writer.writerow([str(orders[1]["id"]), "sentorder", "ÜBER-42"])
    aged(lo, 60)
    result = run(settings, client, journal)
    assert [f.name for f in result.files] == ["excel.csv", "libre.csv"]
    assert shop_state(sandbox, orders[0]["id"]) == (
        "ToCustomer",
        "JJD0001",
        "https://track.example/JJD0001",
    )
    assert shop_state(sandbox, orders[1]["id"]) == ("SentOrder", "ÜBER-42", None)
    assert_no_skip_no_repeat(sandbox, {o["id"]: "CheckQueue" for o in orders})


def test_run_inbox_xlsx_numbers_as_numbers(sandbox, settings, client, journal):
    """XLSX with ids and items typed as numbers and a real date cell applies exactly."""
    orders = sandbox.add_orders(2)
    item = orders[0]["items"][0]["id"]
    write_xlsx(
        settings.folders.inbox / "status.xlsx",
        ["order_id", "state", "items", "tracking_code", "shipped"],
        [
            [orders[0]["id"], "PreparingOrder", item, None, datetime(2026, 3, 1)],
            [float(orders[1]["id"]), "SentOrder", None, "TRK-77", datetime(2026, 3, 2)],
        ],
    )
    result = run(settings, client, journal)
    assert result.rows_applied == 2
    confirmed = sandbox.get_order(orders[0]["id"])["items"]
    assert [i["check"] for i in confirmed] == [i["id"] == item for i in confirmed]
    assert shop_state(sandbox, orders[0]["id"])[0] == "PreparingOrder"
    assert shop_state(sandbox, orders[1]["id"]) == ("SentOrder", "TRK-77", None)
    assert (settings.folders.archive / DAY / "status.xlsx.result.csv").exists()


def test_run_inbox_same_content_twice_is_duplicate(sandbox, settings, client, journal):
    """The same content dropped again is recognised, archived and not replayed."""
    order = sandbox.add_order()
    rows = [[order["id"], "OrderConfirm"]]
    write_csv(settings.folders.inbox / "a.csv", ["order_id", "state"], rows)
    run(settings, client, journal)
    calls = len(sandbox.calls())
    write_csv(settings.folders.inbox / "a-again.csv", ["order_id", "state"], rows)
    result = run(settings, client, journal)
    (report,) = result.files
    assert report.outcome == "duplicate"
    assert report.message.startswith("duplicate of a.csv")
    assert len(sandbox.calls()) == calls
    assert (settings.folders.archive / DAY / "a-again.csv").exists()
    lines = result_rows(settings.folders.archive / DAY / "a-again.csv.result.csv")
    assert lines[0]["outcome"] == "already-done"
    assert lines[0]["message"].startswith("duplicate of a.csv")


def test_run_inbox_rejected_rows_go_to_failed_file(sandbox, settings, client, journal):
    """Invalid rows and API-rejected rows land in failed/ with an error column."""
    order = sandbox.add_order()
    write_csv(
        settings.folders.inbox / "mixed.csv",
        ["order_id", "state", "note"],
        [
            [order["id"], "SentOrder", "fine"],
            ["abc", "SentOrder", "bad id"],
            [order["id"], "Teleported", "bad state"],
            [999_999, "OrderConfirm", "unknown order"],
        ],
    )
    result = run(settings, client, journal)
    assert (result.rows_applied, result.rows_rejected) == (1, 3)
    (failed,) = settings.folders.failed.glob("mixed*.csv")
    rows = result_rows(failed)
    assert [r["note"] for r in rows] == ["bad id", "bad state", "unknown order"]
    assert "404" in rows[2]["error"]
    assert all(r["error"] for r in rows)
    outcome = {
        r["row"]: r["outcome"]
        for r in result_rows(settings.folders.archive / DAY / "mixed.csv.result.csv")
    }
    assert outcome == {
        "2": "applied",
        "3": "rejected",
        "4": "rejected",
        "5": "rejected",
    }


def test_run_inbox_unreadable_file_to_failed_with_explanation(
    sandbox, settings, client, journal
):
    """A broken workbook goes to failed/ with a .error.txt; the next file is processed."""
    order = sandbox.add_order()
    (settings.folders.inbox / "broken.xlsx").write_bytes(b"PK\x03\x04 not a zip")
    aged(settings.folders.inbox / "broken.xlsx", 120)
    write_csv(
        settings.folders.inbox / "good.csv",
        ["order_id", "state"],
        [[order["id"], "OrderConfirm"]],
    )
    aged(settings.folders.inbox / "good.csv", 60)
    result = run(settings, client, journal)
    assert [(f.name, f.outcome) for f in result.files] == [
        ("broken.xlsx", "failed"),
        ("good.csv", "done"),
    ]
    assert (settings.folders.failed / "broken.xlsx").exists()
    (explanation,) = settings.folders.failed.glob("*.error.txt")
    assert "broken.xlsx" in explanation.read_text(encoding="utf-8")
    assert shop_state(sandbox, order["id"])[0] == "OrderConfirm"


def test_run_inbox_archive_never_overwrites(sandbox, settings, client, journal):
    """A second file with the same name on the same day gets a unique archive name."""
    orders = sandbox.add_orders(2)
    for order in orders:
        write_csv(
            settings.folders.inbox / "status.csv",
            ["order_id", "state"],
            [[order["id"], "OrderConfirm"]],
        )
        run(settings, client, journal)
    day = settings.folders.archive / DAY
    assert sorted(p.name for p in day.iterdir()) == [
        "status-2.csv",
        "status-2.csv.result.csv",
        "status.csv",
        "status.csv.result.csv",
    ]


def test_run_inbox_ignores_lock_temp_hidden_and_unsupported(
    sandbox, settings, client, journal, caplog
):
    """Lock, temp, hidden, extension-less, foreign (.pdf) files, folders and symlinks stay."""
    inbox = settings.folders.inbox
    names = [
        "~$status.xlsx",
        ".hidden.csv",
        "upload.csv.tmp",
        "x.part",
        "A1B2C3D4",
        "invoice.pdf",
    ]
    for name in names:
        (inbox / name).write_bytes(b"order_id,state\n1,SentOrder\n")
        aged(inbox / name, 120)
    (inbox / "sub.csv").mkdir()
    target = settings.folders.failed.parent / "outside.csv"
    target.write_text("order_id,state\n1,SentOrder\n", encoding="utf-8")
    (inbox / "link.csv").symlink_to(target)
    memory = (
        ScanMemory()
    )  # what a watcher keeps between passes: warn once, not per pass
    with caplog.at_level(logging.WARNING, logger="filebridge.inbox.run"):
        result = run(settings, client, journal, memory=memory)
        run(settings, client, journal, memory=memory)
    assert result.files == []
    assert sorted(p.name for p in inbox.iterdir()) == sorted(
        [*names, "sub.csv", "link.csv", PROCESSING_DIR]
    )
    assert sandbox.calls() == []
    warned = [r.getMessage() for r in caplog.records if "invoice.pdf" in r.getMessage()]
    assert warned == [
        "ignoring invoice.pdf in the inbox: unsupported file type .pdf (filebridge reads .csv, .txt, .xlsx)"
    ]
    _, ignored = ledger.ignored_files(journal)  # what `status` shows
    assert sorted(name for name, _ in ignored) == ["invoice.pdf", "link.csv", "sub.csv"]


@pytest.mark.parametrize(
    ("name", "what"),
    [
        ("old.xls", "an old Excel 97-2003 workbook (.xls)"),
        ("macros.xlsm", "a macro-enabled workbook (.xlsm)"),
        ("calc.ods", "an OpenDocument spreadsheet (.ods)"),
        ("mac.numbers", "an Apple Numbers file"),
    ],
)
def test_spreadsheets_filebridge_cannot_read_go_to_failed_with_how_to_save_them(
    sandbox, settings, client, journal, name, what
):
    """An .xls (.xlsm, .ods, .numbers) never lies in the inbox forever: failed/ + why."""
    inbox = settings.folders.inbox
    (inbox / name).write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 anything")
    aged(inbox / name, 120)
    result = run(settings, client, journal)
    assert [(f.name, f.outcome) for f in result.files] == [(name, "failed")]
    assert not (inbox / name).exists()
    failed = settings.folders.failed
    assert (failed / name).exists()
    explanation = (failed / f"{name}.error.txt").read_bytes().decode("utf-8-sig")
    assert explanation == (
        f"filebridge could not read {name}:\r\n\r\n{name}: this is {what}\r\n"
        "open it in Excel and save it as Excel Workbook (.xlsx) or CSV UTF-8\r\n\r\n"
        "Fix the file and drop it into the inbox folder again.\r\n"
    )
    assert sandbox.calls() == []


def test_run_inbox_young_file_waits_old_file_taken(tmp_path, sandbox):
    """With a settle interval, a just-written file waits; one older than settle is taken."""
    settings = make_settings(tmp_path, sandbox, settle_seconds=30)
    order = sandbox.add_order()
    write_csv(
        settings.folders.inbox / "young.csv",
        ["order_id", "state"],
        [[order["id"], "OrderConfirm"]],
    )
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
    ):
        first = run(settings, client, journal)
        assert (first.files, first.waiting) == ([], ["young.csv"])
        assert 25 < (first.next_check_in or 0) <= 30
        aged(settings.folders.inbox / "young.csv", 31)
        second = run(settings, client, journal)
    assert [f.outcome for f in second.files] == ["done"]


def test_run_inbox_empty_file_fails_only_after_grace(tmp_path, sandbox):
    """An empty file waits during the grace period, then goes to failed/ explained."""
    settings = make_settings(tmp_path, sandbox)
    empty = settings.folders.inbox / "empty.csv"
    empty.touch()
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
    ):
        first = run(settings, client, journal)
        assert first.waiting == ["empty.csv"]
        assert 55 < (first.next_check_in or 0) <= 60  # no busy loop while it waits
        aged(empty, 61)
        result = run(settings, client, journal)
    (report,) = result.files
    assert report.outcome == "failed"
    assert "empty" in report.message
    assert (settings.folders.failed / "empty.csv").exists()


def test_run_inbox_dry_run_changes_nothing(sandbox, settings, client, journal):
    """--dry-run lists the planned calls; no claim, no journal row, no write call."""
    order = sandbox.add_order()
    path = write_csv(
        settings.folders.inbox / "s.csv",
        ["order_id", "state", "tracking_code"],
        [[order["id"], "SentOrder", "Z1"]],
    )
    result = run(settings, client, journal, dry_run=True)
    assert [p.description for p in result.planned] == [
        "POST state OrderConfirm",
        "POST state PreparingOrder",
        "PUT tracking (code Z1)",
        "POST state SentOrder",
    ]
    assert path.exists()
    assert not (settings.folders.inbox / PROCESSING_DIR).exists()
    assert {c.method for c in sandbox.calls()} == {"GET"}
    for table in ("inbox_files", "inbox_rows", "steps", "order_states"):
        assert journal.query(f"SELECT count(*) FROM {table}")[0][0] == 0


def test_run_inbox_api_down_leaves_file_claimed_then_resumes(
    sandbox, settings, client, journal
):
    """503s beyond the retries leave rows pending and the file claimed; the next run finishes."""
    orders = sandbox.add_orders(3)
    write_csv(
        settings.folders.inbox / "s.csv",
        ["order_id", "state"],
        [[o["id"], "PreparingOrder"] for o in orders],
    )
    sandbox.faults.fail_next(
        503, times=50, method="POST", path_contains=f"{orders[1]['id']}/state"
    )
    first = run(settings, client, journal)
    assert first.unavailable is not None
    # The third order's row may finish beside it (limits.concurrency), or be halted.
    assert first.rows_applied in (1, 2)
    assert first.rows_applied + first.rows_pending == 3
    assert sandbox.get_order(orders[1]["id"])["delivery_state"] == "CheckQueue"
    assert [p.name for p in (settings.folders.inbox / PROCESSING_DIR).iterdir()] == [
        "000001-s.csv"
    ]
    sandbox.faults.clear()
    second = run(settings, client, journal)
    assert (second.rows_applied, second.rows_pending, second.unavailable) == (
        3,
        0,
        None,
    )
    assert_no_skip_no_repeat(sandbox, {o["id"]: "CheckQueue" for o in orders})
    assert list((settings.folders.inbox / PROCESSING_DIR).iterdir()) == []


def test_run_inbox_resuming_a_claim_removes_report_temps_of_the_killed_run(
    sandbox, settings, client, journal
):
    """A run killed while writing a report leaves `.~….partial`; the resume removes it."""
    orders = sandbox.add_orders(2)
    write_csv(
        settings.folders.inbox / "s.csv",
        ["order_id", "state"],
        [[orders[0]["id"], "PreparingOrder"], [orders[1]["id"], "Nonsense"]],
    )
    sandbox.faults.fail_next(503, times=50, method="POST")
    assert run(settings, client, journal).unavailable is not None
    sandbox.faults.clear()
    # What a SIGKILL in report._publish leaves: temps in failed/ and in the archive
    # folder the journal recorded as the destination.
    (open_claim,) = ledger.open_claims(journal)
    day = settings.folders.archive / DAY
    day.mkdir(parents=True)
    ledger.set_destination(journal, open_claim.id, day / "s.csv", day / "s.csv.r")
    orphans = [
        settings.folders.failed / ".~s-failed.csv.partial",
        day / ".~s.csv.result.csv.partial",
    ]
    for orphan in orphans:
        orphan.write_bytes(b"half a report")
    second = run(settings, client, journal)
    assert (second.rows_applied, second.rows_rejected) == (1, 1)
    assert not any(orphan.exists() for orphan in orphans)
    assert list(settings.folders.archive.rglob("*.partial")) == []
    assert list(settings.folders.failed.rglob("*.partial")) == []
    assert (day / "s.csv").exists()
    assert len(list(settings.folders.failed.glob("*.csv"))) == 1


@pytest.mark.parametrize("locked", ["open", "replace"])
def test_run_inbox_file_held_open_on_windows_waits_then_is_taken(
    sandbox, settings, client, journal, monkeypatch, locked
):
    """A Windows sharing violation (Excel still has it open) means "later", never failed/.

    `replace`: the file was openable at the scan, then locked before the claim's rename.
    """
    order = sandbox.add_order()
    held = aged(
        write_csv(
            settings.folders.inbox / "held.csv",
            ["order_id", "state"],
            [[order["id"], "OrderConfirm"]],
        )
    )
    real_open, real_replace = Path.open, Path.replace
    # What Windows raises for a file another process opened without share flags.
    violation = PermissionError(13, "The process cannot access the file")

    def sharing_open(self, *args, **kwargs):
        if self == held:
            raise violation
        return real_open(self, *args, **kwargs)

    def sharing_replace(self, target):
        if self == held:
            raise violation
        return real_replace(self, target)

    if locked == "open":
        monkeypatch.setattr(Path, "open", sharing_open)
    monkeypatch.setattr(Path, "replace", sharing_replace)
    first = run(settings, client, journal)
    assert first.waiting == ["held.csv"]
    assert first.files == []
    assert held.exists()
    assert list(settings.folders.failed.iterdir()) == []
    assert sandbox.calls() == []
    monkeypatch.undo()  # Excel closed the file
    second = run(settings, client, journal)
    assert (second.rows_applied, second.waiting) == (1, [])
    assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"


def test_run_inbox_token_revoked_raises_and_rerun_completes(
    sandbox, settings, client, journal
):
    """A revoked token mid-file raises AuthError at once; after a new token nothing is lost."""
    orders = sandbox.add_orders(4)
    write_csv(
        settings.folders.inbox / "s.csv",
        ["order_id", "state", "tracking_code"],
        [[o["id"], "SentOrder", f"T{o['id']}"] for o in orders],
    )
    sandbox.faults.fail_next(
        401, times=1, method="POST", path_contains=f"{orders[2]['id']}/state"
    )
    with pytest.raises(AuthError):
        run(settings, client, journal)
    result = run(settings, client, journal)
    assert result.rows_pending == 0
    assert {shop_state(sandbox, o["id"]) for o in orders} == {
        ("SentOrder", f"T{o['id']}", None) for o in orders
    }
    assert_no_skip_no_repeat(sandbox, {o["id"]: "CheckQueue" for o in orders})


def test_run_inbox_two_runs_never_take_the_same_file(tmp_path, sandbox):
    """Two concurrent passes over one inbox: each file is claimed and applied once."""
    settings = make_settings(tmp_path, sandbox)
    orders = sandbox.add_orders(20)
    for n, order in enumerate(orders):
        path = write_csv(
            settings.folders.inbox / f"f{n:02d}.csv",
            ["order_id", "state"],
            [[order["id"], "OrderConfirm"]],
        )
        aged(path, 100 - n)
    results = []

    def one(name: str) -> None:
        with (
            Journal.open(tmp_path / f"{name}.sqlite3") as journal,
            make_client(settings) as client,
        ):
            results.append(run(settings, client, journal))

    threads = [threading.Thread(target=one, args=(n,)) for n in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [f.name for r in results for f in r.files]
    assert sorted(done) == [f"f{n:02d}.csv" for n in range(20)]
    assert sorted(state_posts(sandbox)) == sorted(
        (o["id"], "OrderConfirm") for o in orders
    )
