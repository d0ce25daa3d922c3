"""Watching: pure stability rules without threads, then the real watcher on real files."""

from __future__ import annotations

import logging
import os
import shutil
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from filebridge.errors import StorageError
from filebridge.inbox.readiness import (
    FileStat,
    ScanMemory,
    files_ready,
    ignore_reason,
    is_stable,
    observe,
)
from filebridge.inbox.run import InboxResult, run_inbox
from filebridge.journal.store import Journal
from filebridge.tables.readers import SUPPORTED_SUFFIXES
from filebridge.watch import InboxWatcher, next_wait, watch_inbox
from tests.conftest import wait_until
from tests.inbox_support import make_client, make_settings, state_posts, write_csv

HEADER = ["order_id", "state", "tracking_code"]

# --- pure ----------------------------------------------------------------------------


def test_is_stable_needs_two_equal_looks_and_age():
    """A file is complete only if unchanged since the last look and older than settle."""
    old = FileStat(size=10, mtime=100.0, seen_at=100.5)
    assert is_stable(old, old, now=106.0, settle_seconds=5)
    assert not is_stable(old, None, now=106.0, settle_seconds=5)
    assert not is_stable(old, old, now=104.0, settle_seconds=5)
    grown = FileStat(size=20, mtime=100.0, seen_at=100.5)
    assert not is_stable(grown, old, now=106.0, settle_seconds=5)
    touched = FileStat(size=10, mtime=101.0, seen_at=100.5)
    assert not is_stable(touched, old, now=106.0, settle_seconds=5)


def test_is_stable_rejects_empty_file():
    """An empty file is never 'complete' (it goes to failed/ only after the grace)."""
    empty = FileStat(size=0, mtime=0.0, seen_at=0.0)
    assert not is_stable(empty, empty, now=1e9, settle_seconds=1)


def test_is_stable_share_clock_ahead_settles_by_our_clock():
    """An mtime in the future (share clock ahead) still settles once we saw it long enough."""
    future = FileStat(size=5, mtime=1_000.0, seen_at=100.0)
    assert not is_stable(future, future, now=103.0, settle_seconds=5)
    assert is_stable(future, future, now=105.0, settle_seconds=5)


def test_files_ready_in_arrival_order():
    """Ready files come in mtime order, then name; unstable ones are left out."""
    before = {
        "b.csv": FileStat(1, 10.0, 10.0),
        "a.csv": FileStat(1, 10.0, 10.0),
        "c.csv": FileStat(1, 5.0, 5.0),
        "growing.csv": FileStat(1, 1.0, 1.0),
    }
    now = dict(before, **{"growing.csv": FileStat(2, 1.0, 30.0)})
    assert files_ready(now, before, now=30.0, settle_seconds=1) == [
        "c.csv",
        "a.csv",
        "b.csv",
    ]


def test_observe_keeps_first_seen_while_unchanged():
    """observe() keeps seen_at while (size, mtime) stay equal and resets it on change."""
    first = observe({"x.csv": (3, 50.0)}, {}, now=60.0)
    second = observe({"x.csv": (3, 50.0)}, first, now=70.0)
    third = observe({"x.csv": (4, 71.0)}, second, now=72.0)
    assert (
        first["x.csv"].seen_at,
        second["x.csv"].seen_at,
        third["x.csv"].seen_at,
    ) == (
        60.0,
        60.0,
        72.0,
    )


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("~$status.xlsx", "hidden or Excel lock file"),
        (".~lock.status.csv#", "hidden or Excel lock file"),
        (".hidden.csv", "hidden or Excel lock file"),
        ("status.csv.tmp", "temporary file"),
        ("upload.PART", "temporary file"),
        ("A1B2C3D4", "no extension (an editor's temporary file?)"),
        ("status.xls", "unsupported file type .xls"),
        ("status.csv", None),
        ("Status.XLSX", None),
        ("tracking.txt", None),
    ],
)
def test_ignore_reason(name, reason):
    """Lock, temp, hidden and extension-less files are ignored; csv/txt/xlsx are read."""
    assert ignore_reason(name, SUPPORTED_SUFFIXES) == reason


def test_next_wait_prefers_settling_file_and_backs_off_when_api_down():
    """The next pass comes when a waiting file may settle, or after the poll interval."""
    assert next_wait(None, 10.0) == 10.0
    assert next_wait(InboxResult(next_check_in=2.0), 10.0) == pytest.approx(2.05)
    assert next_wait(InboxResult(next_check_in=20.0), 10.0) == 10.0
    from filebridge.errors import ApiUnavailableError

    down = InboxResult(next_check_in=0.5, unavailable=ApiUnavailableError("down"))
    assert next_wait(down, 10.0) == 10.0


# --- the real watcher on real files --------------------------------------------------


class Running:
    """A watcher in a thread; every pass result is kept; stops and joins on exit."""

    def __init__(self, settings) -> None:
        self.settings = settings
        self.passes: list[InboxResult] = []
        self.stop = threading.Event()
        self.watcher = InboxWatcher(settings, on_pass=self.passes.append)
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, name="test-watcher")

    def _run(self) -> None:
        with (
            Journal.open(self.settings.journal_path) as journal,
            make_client(self.settings) as client,
        ):
            try:
                self.watcher.run(client, journal, stop=self.stop)
            except BaseException as exc:  # noqa: BLE001 - handed to the test thread
                self.error = exc

    def done_files(self) -> list[str]:
        return [f.name for r in self.passes for f in r.files if f.outcome == "done"]

    def __enter__(self) -> Running:
        self.thread.start()
        assert wait_until(lambda: self.passes, 10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(timeout=10)
        assert not self.thread.is_alive()
        assert self.error is None, self.error


@pytest.fixture
def watched(tmp_path, sandbox):
    def start(**options) -> Running:
        options.setdefault("settle_seconds", 0.3)
        options.setdefault("poll_seconds", 0.5)
        return Running(make_settings(tmp_path, sandbox, **options))

    return start


def write_order_file(path: Path, order_ids, state="OrderConfirm") -> Path:
    return write_csv(path, ["order_id", "state"], [[i, state] for i in order_ids])


def test_watch_slow_chunked_copy_taken_once_after_complete(sandbox, watched, tmp_path):
    """A file copied in slowly, chunk by chunk, is taken once, only after it is complete."""
    orders = sandbox.add_orders(30)
    source = write_order_file(
        tmp_path / "source.csv", [o["id"] for o in orders], "PreparingOrder"
    )
    data = source.read_bytes()
    finished_at: list[float] = []
    with watched(settle_seconds=0.5) as run:
        target = run.settings.folders.inbox / "slow.csv"

        def copy_slowly() -> None:
            stopped = threading.Event()
            with target.open("wb") as handle:
                for start in range(0, len(data), 40):
                    handle.write(data[start : start + 40])
                    handle.flush()
                    stopped.wait(0.05)  # the slow network copy being simulated
            finished_at.append(datetime.now(UTC).timestamp())

        writer = threading.Thread(target=copy_slowly)
        writer.start()
        writer.join()
        assert wait_until(lambda: run.done_files() == ["slow.csv"], 15)
    first_write = min(c.at for c in sandbox.calls() if c.method == "POST")
    assert first_write >= finished_at[0]
    assert {sandbox.get_order(o["id"])["delivery_state"] for o in orders} == {
        "PreparingOrder"
    }
    assert list(run.settings.folders.failed.iterdir()) == []
    archived = sorted(p.name for p in run.settings.folders.archive.rglob("slow*"))
    assert archived == ["slow.csv", "slow.csv.result.csv"]
    with Journal.open(run.settings.journal_path) as journal:
        assert journal.query("SELECT count(*) FROM inbox_files")[0][0] == 1


def test_watch_burst_of_200_files_once_each_in_arrival_order(
    sandbox, watched, tmp_path
):
    """200 files landing at once are each processed once, in arrival (mtime) order
    (their orders are replayed side by side: each order's step is sent once)."""
    orders = sandbox.add_orders(200)
    staging = tmp_path / "staging"
    staging.mkdir()
    base = datetime.now(UTC).timestamp() - 100
    with watched(settle_seconds=0.2) as run:
        for n, order in enumerate(orders):
            # Names run against arrival order, so name order would be wrong.
            path = write_order_file(staging / f"f{999 - n}.csv", [order["id"]])
            os.utime(path, (base + n * 0.01, base + n * 0.01))
            shutil.move(path, run.settings.folders.inbox / path.name)
        assert wait_until(lambda: len(run.done_files()) == 200, 40)
    assert run.done_files() == [f"f{999 - n}.csv" for n in range(200)]
    posts = state_posts(sandbox)
    assert sorted(posts) == sorted((o["id"], "OrderConfirm") for o in orders)


def test_watch_polling_observer_path(sandbox, watched):
    """With polling = true the PollingObserver is used and files are found through it."""
    order = sandbox.add_order()
    with watched(polling=True, poll_seconds=0.3) as run:
        assert type(run.watcher.observer).__name__ == "PollingObserver"
        write_order_file(run.settings.folders.inbox / "p.csv", [order["id"]])
        assert wait_until(lambda: run.done_files() == ["p.csv"], 10)
    assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"


def test_watch_excel_lock_file_ignored(sandbox, watched):
    """An Excel `~$` owner file next to an open workbook is never read, moved or failed."""
    order = sandbox.add_order()
    with watched() as run:
        inbox = run.settings.folders.inbox
        lock = inbox / "~$status.xlsx"
        lock.write_bytes(b"\x0bJohn Doe" + b" " * 40)
        write_order_file(inbox / "status.csv", [order["id"]])
        assert wait_until(lambda: run.done_files() == ["status.csv"], 10)
        passes = len(run.passes)
        assert wait_until(lambda: len(run.passes) > passes + 1, 10)
    assert lock.exists()
    assert list(run.settings.folders.failed.iterdir()) == []


def test_watch_restarts_dead_observer(sandbox, watched, caplog):
    """An observer that died is noticed, logged and restarted; files are still found."""
    order = sandbox.add_order()
    with caplog.at_level(logging.WARNING, logger="filebridge.watch"), watched() as run:
        dead = run.watcher.observer
        assert dead is not None
        dead.stop()
        dead.join()
        assert wait_until(lambda: run.watcher.restarts == 1, 10)
        assert run.watcher.observer is not dead
        write_order_file(run.settings.folders.inbox / "after.csv", [order["id"]])
        assert wait_until(lambda: run.done_files() == ["after.csv"], 10)
    assert "the inbox observer stopped working; restarting it" in caplog.messages


def test_watch_inbox_folder_vanishing_is_not_fatal(sandbox, watched, caplog):
    """A share outage (inbox folder gone) is logged and retried; work resumes after it."""
    order = sandbox.add_order()
    with caplog.at_level(logging.WARNING, logger="filebridge.watch"), watched() as run:
        inbox = run.settings.folders.inbox
        away = inbox.with_name("inbox-offline")
        inbox.rename(away)
        assert wait_until(lambda: any("unreachable" in m for m in caplog.messages), 10)
        write_order_file(away / "during.csv", [order["id"]])
        away.rename(inbox)
        assert wait_until(lambda: run.done_files() == ["during.csv"], 10)
        assert run.watcher.observer is not None
    assert any("reachable again" in m for m in caplog.messages)
    assert run.thread.is_alive() is False


def test_inbox_gone_after_its_check_is_not_recreated(sandbox, tmp_path, monkeypatch):
    """The share drops between the pass's check and `.processing/`'s mkdir: the pass
    fails as unreachable and leaves no empty local inbox behind (found by the soak)."""
    settings = make_settings(tmp_path, sandbox, settle_seconds=0.0)
    inbox = settings.folders.inbox
    shutil.rmtree(inbox)
    real_is_dir = Path.is_dir
    monkeypatch.setattr(
        Path, "is_dir", lambda self: self == inbox or real_is_dir(self)
    )  # the check saw the folder; it is gone when the pass goes on
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
        pytest.raises(StorageError, match="unreachable"),
    ):
        run_inbox(settings, client, journal, now=datetime.now(UTC), memory=ScanMemory())
    assert not os.path.exists(inbox)


def test_watch_unreadable_file_does_not_stop_watcher(sandbox, watched):
    """A junk file goes to failed/ and the watcher keeps taking the next files."""
    order = sandbox.add_order()
    with watched() as run:
        (run.settings.folders.inbox / "junk.xlsx").write_bytes(os.urandom(300))
        assert wait_until(
            lambda: (run.settings.folders.failed / "junk.xlsx").exists(), 10
        )
        write_order_file(run.settings.folders.inbox / "next.csv", [order["id"]])
        assert wait_until(lambda: run.done_files() == ["next.csv"], 10)


def test_watch_stop_mid_file_leaves_journal_consistent(sandbox, tmp_path):
    """Stopping mid-file finishes the step in flight; a new pass completes, nothing doubled."""
    settings = make_settings(tmp_path, sandbox, settle_seconds=0.0)
    orders = sandbox.add_orders(20)
    write_csv(
        settings.folders.inbox / "big.csv",
        ["order_id", "state"],
        [[o["id"], "SentOrder"] for o in orders],
    )
    sandbox.faults.delay_next(0.05, times=1000, method="POST")
    stop = threading.Event()
    thread = threading.Thread(
        target=watch_inbox,
        args=(
            settings,
            lambda _journal: make_client(settings),
            lambda: Journal.open(settings.journal_path),
        ),
        kwargs={"stop": stop},
    )
    thread.start()
    assert wait_until(lambda: len(state_posts(sandbox)) >= 5, 20)
    stop.set()
    thread.join(timeout=10)
    assert not thread.is_alive()
    with Journal.open(settings.journal_path) as journal:
        states = {r[0] for r in journal.query("SELECT state FROM steps")}
        assert "sent" not in states
        assert journal.query("SELECT state FROM inbox_files")[0][0] == "claimed"
        sandbox.faults.clear()
        with make_client(settings) as client:
            result = run_inbox(
                settings, client, journal, now=datetime.now(UTC), memory=ScanMemory()
            )
    assert result.rows_pending == 0
    assert {sandbox.get_order(o["id"])["delivery_state"] for o in orders} == {
        "SentOrder"
    }
    posts = state_posts(sandbox)
    assert len(posts) == len(set(posts)) == 3 * len(orders)
