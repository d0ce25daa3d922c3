"""`filebridge order ORDER_ID` tells one order's whole story from the journal
(issue 12, item 6)."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.conftest import wait_until
from tests.test_cli import REPO, filebridge, fresh_paid_orders, site  # noqa: F401


def sent_steps(config: Path) -> int:
    journal = config.parent / "state" / "filebridge.sqlite3"
    try:
        with sqlite3.connect(journal, timeout=5) as db:
            row = db.execute(
                "SELECT count(*) FROM steps WHERE state = 'sent'"
            ).fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def test_order_shows_export_rejected_row_crash_resumed_step_and_reexport(
    site: Path,  # noqa: F811
    sandbox,
) -> None:
    """Every chapter is there, in order, and telling it makes no API call."""
    text = site.read_text(encoding="utf-8")
    assert "write_settle_seconds = 60" in text
    site.write_text(
        text.replace("write_settle_seconds = 60", "write_settle_seconds = 1"),
        encoding="utf-8",
    )
    order = fresh_paid_orders(sandbox)[0]
    oid = order["id"]
    inbox = site.parent / "inbox"
    assert filebridge("export", "-c", str(site), token=sandbox.token).returncode == 0

    (inbox / "typo.csv").write_text(f"order_id,state\n{oid},Shiped\n", encoding="utf-8")
    assert filebridge("inbox", "-c", str(site), token=sandbox.token).returncode == 1

    # A crash while a step is in flight: the process dies with the step `sent`.
    (inbox / "confirm.csv").write_text(
        f"order_id,state\n{oid},OrderConfirm\n", encoding="utf-8"
    )
    sandbox.faults.delay_next(3.0, times=1, method="POST")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["SELLDONE_TOKEN"] = sandbox.token
    proc = subprocess.Popen(
        [sys.executable, "-m", "filebridge", "inbox", "-c", str(site)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert wait_until(lambda: sent_steps(site) == 1, timeout=30)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    held = filebridge("order", str(oid), "-c", str(site))
    assert held.returncode == 0, held.stderr
    assert "held: yes, behind a step sent without an answer" in held.stdout

    def resumed() -> bool:  # held until write_settle_seconds passed, then settled
        filebridge("inbox", "-c", str(site), token=sandbox.token)
        return sent_steps(site) == 0

    assert wait_until(resumed, timeout=60)
    assert sandbox.get_order(oid)["delivery_state"] == "OrderConfirm"
    assert (
        filebridge(
            "export", "--reexport", str(oid), "-c", str(site), token=sandbox.token
        ).returncode
        == 0
    )

    sandbox.clear_calls()
    told = filebridge("order", str(oid), "-c", str(site))
    assert told.returncode == 0, told.stderr
    assert sandbox.calls() == []  # from the journal alone
    lines = told.stdout.splitlines()
    assert lines[0] == f"order {oid}"
    exports = lines[lines.index("exports:") + 1 : lines.index("inbox rows:")]
    assert len(exports) == 2
    assert re.search(
        r"  \S+  exported in orders-\S+\.csv \(batch 1, published\)", exports[0]
    )
    assert re.search(
        r"  \S+  re-exported in orders-\S+\.csv \(batch \d+, published\)", exports[1]
    )
    rows = lines[lines.index("inbox rows:") + 1 : lines.index("API steps:")]
    assert len(rows) == 2
    assert "typo.csv row 2: rejected: row 2, column 'state': unknown state" in rows[0]
    assert "confirm.csv row 2: applied" in rows[1]
    steps = lines[lines.index("API steps:") + 1 : -2]
    assert len(steps) == 1
    assert steps[0].startswith("  OrderConfirm confirmed (confirm.csv row 2); planned ")
    assert ", sent " in steps[0]
    assert ", answered " in steps[0]
    assert lines[-2].startswith("last known state: OrderConfirm (status Payed")
    assert lines[-1] == "held: no"

    data = json.loads(filebridge("order", str(oid), "--json", "-c", str(site)).stdout)
    assert [e["reexport"] for e in data["exports"]] == [False, True]
    assert [r["outcome"] for r in data["rows"]] == ["rejected", "applied"]
    assert [(s["action"], s["state"]) for s in data["steps"]] == [
        ("OrderConfirm", "confirmed")
    ]
    assert data["held"] is False
    assert data["shop_now"] is None

    refreshed = filebridge(
        "order", str(oid), "--refresh", "-c", str(site), token=sandbox.token
    )
    assert "shop now (--refresh): OrderConfirm (status Payed" in refreshed.stdout
    assert [c.method for c in sandbox.calls()] == ["GET"]


def test_order_the_journal_never_saw(site: Path, sandbox) -> None:  # noqa: F811
    """An order the journal does not know is said to be unknown, not an error."""
    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 0
    done = filebridge("order", "999999", "-c", str(site))
    assert done.returncode == 0
    assert done.stdout.splitlines() == [
        "order 999999",
        "  the journal knows nothing of this order",
    ]
