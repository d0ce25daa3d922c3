"""Clock-proof: the machine's clock jumps an hour back or ahead between runs.

Each run is `filebridge` in a child process whose wall clock is shifted
(`tests/fake_clock.py`); the sandbox in this process keeps the true time, so it is the
shop's clock. No wait may exceed its nominal length, and no order may be missed.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filebridge.selldone.ratelimit import DEFAULT_MARGIN_S
from tests.conftest import wait_until
from tests.inbox_support import write_config, write_csv

pytestmark = pytest.mark.slow

FAKE = Path(__file__).with_name("fake_clock.py")
HOUR = 3600.0
SETTLE_S = 2.0

WINDOW_S = 60.0  # the rate budget's window


def spawn(offset: float, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(FAKE), str(offset), "--", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run(offset: float, *args: str) -> subprocess.CompletedProcess[str]:
    child = spawn(offset, *args)
    out, err = child.communicate(timeout=60)
    return subprocess.CompletedProcess(child.args, child.returncode, out, err)


def config_with(tmp_path: Path, sandbox, per_minute: int = 100_000) -> Path:
    config = write_config(
        tmp_path, sandbox, timeout_seconds=SETTLE_S, write_settle_seconds=SETTLE_S
    )
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            "requests_per_minute = 100000", f"requests_per_minute = {per_minute}"
        ),
        encoding="utf-8",
    )
    return config


def test_clock_back_an_hour_budget_wait_is_at_most_one_window(tmp_path, sandbox):
    """Calls journalled before the clock went back an hour count as "just now": the
    next run waits at most one window (logged), not the hour plus the window."""
    config = config_with(tmp_path, sandbox, per_minute=2)
    ids = [o["id"] for o in sandbox.add_orders(3)]
    write_csv(
        tmp_path / "inbox" / "s.csv",
        ["order_id", "state"],
        [[i, "OrderConfirm"] for i in ids],
    )
    first = spawn(0, "inbox", "-c", str(config))
    assert wait_until(lambda: len(sandbox.calls()) == 2, 20)
    first.send_signal(signal.SIGTERM)
    first.communicate(timeout=10)
    assert first.returncode == 130
    log = tmp_path / "state" / "filebridge.log"
    before = log.read_text(encoding="utf-8") if log.exists() else ""

    second = spawn(-HOUR, "inbox", "-c", str(config))
    try:

        def waits() -> list[float]:
            text = log.read_text(encoding="utf-8")[len(before) :]
            return [
                float(x) for x in re.findall(r"waiting ([\d.]+) s for the API", text)
            ]

        assert wait_until(lambda: bool(waits()), 20)
        print(f"waits logged after the clock went back: {waits()}")
        assert max(waits()) <= WINDOW_S + DEFAULT_MARGIN_S + 0.1
    finally:
        second.send_signal(signal.SIGTERM)
        second.communicate(timeout=10)
    assert second.returncode == 130


def test_clock_back_an_hour_doubtful_step_waits_at_most_the_settle_time(
    tmp_path, sandbox
):
    """A write in doubt, then the clock goes back an hour: it is settled once the write
    settle time has passed in real time, not an hour later."""
    config = config_with(tmp_path, sandbox)
    order = sandbox.add_order()["id"]
    write_csv(
        tmp_path / "inbox" / "s.csv", ["order_id", "state"], [[order, "OrderConfirm"]]
    )
    sandbox.faults.drop_next(method="POST", path_contains=f"/{order}/state")
    first = run(0, "inbox", "-c", str(config))
    assert first.returncode == 1, first.stderr  # the order is held, the run went on
    assert "held" in first.stdout + first.stderr

    held = run(-HOUR, "inbox", "-c", str(config))
    assert held.returncode == 1, held.stderr
    seconds = [float(x) for x in re.findall(r"checked again in (\d+) s", held.stdout)]
    assert seconds, held.stdout
    assert max(seconds) <= SETTLE_S
    time.sleep(SETTLE_S + 0.2)  # the settle time itself passes, in real time
    done = run(-HOUR, "inbox", "-c", str(config))
    assert done.returncode == 0, done.stdout + done.stderr
    assert sandbox.get_order(order)["delivery_state"] == "OrderConfirm"
    posts = [c for c in sandbox.calls() if c.method == "POST"]
    assert len(posts) == 2  # the dropped one and the one resend after settling


def test_clock_ahead_an_hour_first_export_since_now_misses_no_order(tmp_path, sandbox):
    """`since = "now"` is the shop's now: with this machine an hour ahead, orders paid
    after the first run are still exported by the next."""
    config = config_with(tmp_path, sandbox)
    first = run(HOUR, "export", "-c", str(config))
    assert first.returncode == 0, first.stderr
    time.sleep(1.1)  # the new orders are later than the first run's second
    new = {o["id"] for o in sandbox.add_orders(5)}
    second = run(HOUR, "export", "-c", str(config))
    assert second.returncode == 0, second.stderr
    with sqlite3.connect(tmp_path / "state" / "filebridge.sqlite3") as db:
        exported = {r[0] for r in db.execute("SELECT order_id FROM exported_orders")}
    assert new <= exported, second.stdout


def test_status_dates_a_hold_sent_in_the_future_from_now_not_from_then():
    """A doubtful step journalled an hour "ahead" (the clock went back since): `status`
    says it is settled at most write_settle from now, as replay waits, not in 61 min."""
    from datetime import UTC, datetime, timedelta

    from filebridge.journal.inbox import HeldOrder
    from filebridge.status import StatusReport

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    held = HeldOrder(
        order_id=7,
        action="OrderConfirm",
        file_name="a.csv",
        row_number=2,
        sent_at=(now + timedelta(hours=1)).isoformat(),
        finished_at=None,
        message="",
        rows_waiting=1,
    )
    report = StatusReport(
        None, None, None, 0, 0, 0, 0, 0, 0, None, None, 0,
        held=(held,), write_settle=60.0, now=now,
    )  # fmt: skip
    text = "\n".join(report.lines())
    assert "settled on the first run after 2026-12-02 12:01:00 UTC" in text


def test_a_clock_jumped_ahead_does_not_make_a_file_being_copied_look_settled(tmp_path):
    """This machine's clock an hour ahead of the folder's (or a file server an hour
    behind): a file written just now is an hour "old" by its mtime, yet it waits the
    settle time by the folder's clock instead of being read half-copied."""
    from filebridge.config import InboxSettings
    from filebridge.inbox.readiness import ScanMemory
    from filebridge.inbox.scan import scan_inbox

    inbox = tmp_path / "inbox"
    (inbox / ".processing").mkdir(parents=True)
    (inbox / "copying.csv").write_text("order_id,state\n15000,Ord", encoding="utf-8")
    rules = InboxSettings(settle_seconds=5)
    ahead = lambda: time.time() + 3600  # noqa: E731
    found = scan_inbox(inbox, rules, ScanMemory(), ahead)
    assert found.ready == []
    assert found.waiting == ["copying.csv"]
    assert 0 < (found.next_check_in or 0) <= 5
    assert list((inbox / ".processing").iterdir()) == []  # the probe is gone
    # By the folder's clock the file does settle: an old file is taken.
    old = time.time() - 60
    os.utime(inbox / "copying.csv", (old, old))
    assert scan_inbox(inbox, rules, ScanMemory(), ahead).ready == ["copying.csv"]


def test_a_clock_jumped_ahead_between_runs_does_not_age_a_write_still_in_the_shop(
    tmp_path,
):
    """A write left `sent` a second ago by a killed run, then the clock jumped an hour
    ahead: the next run must not take it for an hour-old write the shop is done with
    (and send it again while the shop may still apply the first): its order is held
    for the settle time. Found by the soak: a delivery-returned applied twice."""
    from datetime import UTC, datetime, timedelta

    from filebridge.jobs import LAST_START_KEY, LAST_START_MONOTONIC_KEY, share_budget
    from filebridge.journal import inbox as ledger
    from filebridge.journal.store import Journal
    from filebridge.replay.order_book import OrderFacts
    from filebridge.replay.reconcile import StepInFlightError, reconcile_sent_steps
    from filebridge.selldone.ratelimit import RateLimiter

    before_jump = datetime.now(UTC) - timedelta(hours=1)
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        record = ledger.begin_claim(journal, "s.csv", tmp_path, "2026-01-01")
        with journal.atomic():
            ledger.record_rows(journal, record.id, [(2, 7, "pending", "")])
            ledger.plan_step(
                journal, "k", file_id=record.id, row_number=2, order_id=7,
                action="delivery-returned", payload={"kind": "delivery-returned"},
            )  # fmt: skip
            ledger.mark_step(journal, "k", "sent")
        journal.execute("UPDATE steps SET sent_at = ?", (before_jump.isoformat(),))
        journal.set_meta(LAST_START_KEY, before_jump.isoformat())
        journal.set_meta(LAST_START_MONOTONIC_KEY, repr(time.monotonic() - 1.0))
        share_budget(RateLimiter(80), journal)  # the next run's start
        reads: list[int] = []

        def fetch() -> OrderFacts:
            reads.append(7)
            return OrderFacts("SentOrder", None, None, True)  # not returned yet

        with pytest.raises(StepInFlightError) as held:
            reconcile_sent_steps(
                journal, file_id=record.id, row=2, order_id=7, fetch=fetch,
                sent=[], in_flight_grace=60.0,
            )  # fmt: skip
        assert 50 < held.value.seconds <= 60
        assert ledger.step(journal, "k").state == "sent"  # not planned again
