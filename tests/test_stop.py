"""`sent` means the request left, and a stop is honoured at every wait.

Real processes against the in-process sandbox: the child is either the crash test's
inbox pass (`tests/inbox_support.py CONFIG`) or `python -m filebridge run`. The waits
are real: a client budget of 2 requests a minute, or a 429 with a long Retry-After.
"""

from __future__ import annotations

import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.inbox_support import write_config, write_csv

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("inbox_support.py")


def config_with_budget(tmp_path: Path, sandbox, per_minute: int) -> Path:
    config = write_config(tmp_path, sandbox, write_settle_seconds=120)
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace(
            "requests_per_minute = 100000", f"requests_per_minute = {per_minute}"
        ),
        encoding="utf-8",
    )
    return config


def steps(journal: Path) -> dict[int, str]:
    """order id → state of its step (read-only, after the child is gone)."""
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as db:
        return dict(db.execute("SELECT order_id, state FROM steps").fetchall())


def calls_settled(sandbox, count: int) -> bool:
    """The sandbox has seen exactly `count` requests, and no more for 0.5 s."""
    if len(sandbox.calls()) != count:
        return False
    time.sleep(0.5)
    return len(sandbox.calls()) == count


def kill9(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    child.communicate(timeout=10)


def three_rows(tmp_path: Path, sandbox) -> list[int]:
    ids = [o["id"] for o in sandbox.add_orders(3)]
    write_csv(
        tmp_path / "inbox" / "statuses.csv",
        ["order_id", "state"],
        [[i, "OrderConfirm"] for i in ids],
    )
    return ids


def test_stop_kill_during_budget_wait_leaves_no_doubtful_step(tmp_path, sandbox):
    """Killed while waiting for the rate budget: the waiting step is `planned`, not
    `sent`, so the next run sends it at once instead of holding the order."""
    config = config_with_budget(tmp_path, sandbox, per_minute=2)
    ids = three_rows(tmp_path, sandbox)
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        # One list call, one POST: the budget is spent, the next POST waits ~60 s.
        assert wait_until(lambda: calls_settled(sandbox, 2), 20)
    finally:
        kill9(child)
    found = steps(tmp_path / "state" / "filebridge.sqlite3")
    # One order's step got the budget (senders run side by side); the others wait.
    assert sorted(found.get(i, "planned") for i in ids) == [
        "confirmed",
        "planned",  # they never left the machine
        "planned",
    ]
    assert "sent" not in found.values()


def test_stop_kill_during_retry_after_pause_leaves_no_doubtful_step(tmp_path, sandbox):
    """A write answered 429 (not processed) waits out Retry-After; killed in that wait,
    the step is `planned` again, not in doubt."""
    config = write_config(tmp_path, sandbox, write_settle_seconds=120)
    ids = three_rows(tmp_path, sandbox)
    sandbox.faults.fail_next(429, method="POST", retry_after=60)
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(
            lambda: (
                any(c.status == 429 for c in sandbox.calls())
                and calls_settled(sandbox, len(sandbox.calls()))
            ),
            20,
        )
    finally:
        kill9(child)
    found = steps(tmp_path / "state" / "filebridge.sqlite3")
    refused = next(c for c in sandbox.calls() if c.status == 429)
    assert found[int(refused.path.split("/")[-2])] == "planned"
    assert set(found) <= set(ids)
    assert "sent" not in found.values()


def test_stop_sigterm_during_budget_wait_stops_within_2s_without_a_request(
    tmp_path, sandbox
):
    """`filebridge run` waiting for the budget ends within 2 s of SIGTERM (exit 130),
    and the sandbox receives no request after the signal."""
    config = config_with_budget(tmp_path, sandbox, per_minute=2)
    three_rows(tmp_path, sandbox)
    child = subprocess.Popen(
        [sys.executable, "-m", "filebridge", "run", "-c", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_until(lambda: calls_settled(sandbox, 2), 20)
        signalled = time.time()
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=30)
        took = time.monotonic() - started
    finally:
        kill9(child)
    print(f"stopped {took:.2f} s after SIGTERM")
    assert child.returncode == 130, err.decode()
    assert took < 2.0
    assert [c for c in sandbox.calls() if c.at >= signalled] == []
    assert len(sandbox.calls()) == 2
