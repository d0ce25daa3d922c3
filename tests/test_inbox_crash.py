"""Kill the inbox process (SIGKILL) at many points during a 100-order file; rerun: exactly once.

The sandbox runs in this process; the child (`tests/inbox_support.py CONFIG`) is a real
`run_inbox` pass with its own journal. Kill points:

* deterministic: while a chosen step is journalled `sent` and its request is held in
  flight by a sandbox delay (the shop applies it after the child is dead), and right
  after a chosen step is `confirmed`, both read from the child's journal;
* random: at random times, with small sandbox delays on writes to widen the windows.

After the kills, reruns until a clean exit: every order is in its requested state with
its tracking, and the sandbox log shows each state POST applied exactly once, in order.
"""

from __future__ import annotations

import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.inbox_support import assert_no_skip_no_repeat, write_config, write_csv

pytestmark = pytest.mark.slow

CHILD = Path(__file__).with_name("inbox_support.py")
ORDERS = 100
RANDOM_KILLS = 10
GRACE_S = 0.6  # the child's client timeout = how long a maybe-sent step is left alone


def spawn(config: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, str(CHILD), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def step_state(journal: Path, action: str, order_id: int) -> str | None:
    """The state of one step in the child's journal (None if absent or locked)."""
    if not journal.exists():
        return None
    try:
        with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=0.05) as db:
            row = db.execute(
                "SELECT state FROM steps WHERE action = ? AND order_id = ?",
                (action, order_id),
            ).fetchone()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


def confirmed_steps(journal: Path) -> int:
    """How many steps the child's journal holds as confirmed (read-only, after a kill)."""
    with sqlite3.connect(f"file:{journal}?mode=ro", uri=True, timeout=5) as db:
        return int(
            db.execute(
                "SELECT count(*) FROM steps WHERE state = 'confirmed'"
            ).fetchone()[0]
        )


def kill(child: subprocess.Popen[bytes]) -> str:
    """SIGKILL the child (if it still runs); returns what it wrote to stderr."""
    if child.poll() is None:
        child.send_signal(signal.SIGKILL)
    _, err = child.communicate(timeout=10)
    return err.decode(errors="replace")


def kill_when(config: Path, condition) -> None:
    """Start children until one reaches `condition` (read from its journal); SIGKILL it.

    A child may end early without reaching it: a step left in flight by the previous
    kill is checked only after the grace, so that child just reports the row pending.
    """
    for _ in range(20):
        child = spawn(config)
        wait_until(lambda c=child: condition() or c.poll() is not None, 20)
        reached = condition()
        err = kill(child)
        if reached:
            return
        assert child.returncode in (3, -signal.SIGKILL), err
    raise AssertionError("the kill point was never reached")


def test_inbox_killed_anywhere_rerun_applies_every_step_once(tmp_path, sandbox):
    """SIGKILL at deterministic and random points; reruns finish with no step twice."""
    config = write_config(tmp_path, sandbox, timeout_seconds=GRACE_S)
    journal = tmp_path / "state" / "filebridge.sqlite3"
    orders = sandbox.add_orders(ORDERS)
    ids = [o["id"] for o in orders]
    write_csv(
        tmp_path / "inbox" / "tracking.csv",
        ["order_id", "state", "tracking_code"],
        [[i, "SentOrder", f"TRK{i}"] for i in ids],
    )
    kills = 0

    # Deterministic: killed while a step is in flight (the shop applies it afterwards).
    for order_id, action, method in [
        (ids[3], "OrderConfirm", "POST"),
        (ids[20], "tracking", "PUT"),
        (ids[41], "OrderConfirm", "POST"),
    ]:
        sandbox.faults.delay_next(0.4, method=method, path_contains=f"/{order_id}/")
        kill_when(
            config, lambda a=action, o=order_id: step_state(journal, a, o) == "sent"
        )
        kills += 1
        sandbox.faults.clear()

    # Deterministic: killed right after a step was confirmed.
    for order_id, action in [(ids[55], "PreparingOrder"), (ids[60], "tracking")]:
        kill_when(
            config,
            lambda a=action, o=order_id: step_state(journal, a, o) == "confirmed",
        )
        kills += 1

    # Random: anywhere, with every call slowed so that each child gets through a few
    # orders at most (the file must not be finished before the kills are).
    rng = random.Random(4)
    random_kills = 0
    for _ in range(3 * RANDOM_KILLS):
        if random_kills == RANDOM_KILLS:
            break
        sandbox.faults.delay_next(0.1, times=40)
        child = spawn(config)
        time.sleep(rng.uniform(0.3, 1.2))  # the kill point itself, not synchronisation
        if child.poll() is None:
            kill(child)
            random_kills += 1
        else:
            child.communicate()
        sandbox.faults.clear()
    kills += random_kills
    # The random kills landed while work remained: the rest is done by the reruns.
    assert confirmed_steps(journal) < 4 * ORDERS

    # Rerun until a pass ends cleanly (a too-recent maybe-sent step defers for GRACE_S).
    for _ in range(40):
        child = spawn(config)
        out, err = child.communicate(timeout=60)
        if child.returncode == 0:
            break
        assert child.returncode == 3, err.decode()
    assert child.returncode == 0, (out.decode(), err.decode())

    assert kills == 5 + RANDOM_KILLS
    for order_id in ids:
        order = sandbox.get_order(order_id)
        assert order["delivery_state"] == "SentOrder"
        assert order["delivery_info"]["tracking_code"] == f"TRK{order_id}"
    assert_no_skip_no_repeat(sandbox, dict.fromkeys(ids, "CheckQueue"))
    with sqlite3.connect(journal) as db:
        states = dict(
            db.execute("SELECT state, count(*) FROM steps GROUP BY state").fetchall()
        )
        outcome = db.execute("SELECT DISTINCT outcome FROM inbox_rows").fetchall()
        files = db.execute("SELECT state FROM inbox_files").fetchall()
    assert states == {"confirmed": 4 * ORDERS}
    assert outcome == [("applied",)]
    assert files == [("done",)]
    assert len(list((tmp_path / "archive").rglob("tracking.csv"))) == 1
