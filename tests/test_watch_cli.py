"""`filebridge watch` as a real process: it picks up dropped files, exports on its timer,
stops cleanly on SIGTERM or Ctrl-C in the middle of a file, and holds the run lock.

The sandbox runs in this process; the watcher is `python -m filebridge watch` in a child
process with a config made by `filebridge init`. Nothing here sleeps to synchronise: every
wait is a condition with a deadline, and every child is killed in `finally`.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from filebridge.cli import cli
from tests.conftest import wait_until
from tests.inbox_support import state_posts

REPO = Path(__file__).resolve().parents[1]
STEPS_TO_SENT = ("OrderConfirm", "PreparingOrder", "SentOrder")
FILE_ORDERS = 12
HELD = 4  # the sandbox holds this order's first state POST while the signal arrives
HOLD_S = 1.0


def child_env(token: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    if token is not None:
        env["SELLDONE_TOKEN"] = token
    return env


def filebridge(*args: str, token: str | None) -> subprocess.CompletedProcess[str]:
    """Run `python -m filebridge ARGS` to completion in a fresh process."""
    return subprocess.run(
        [sys.executable, "-m", "filebridge", *args],
        capture_output=True,
        text=True,
        env=child_env(token),
        timeout=60,
        check=False,
    )


def set_key(text: str, key: str, value: str) -> str:
    """Replace the one `key = …` line of the init template (fails if it is not there)."""
    new, count = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {value}  ", text)
    assert count == 1, f"the init template has {count} `{key} =` lines"
    return new


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Path:
    """`filebridge init`, then pointed at the sandbox with fast watch timings."""
    done = CliRunner().invoke(cli, ["init", str(tmp_path / "site")])
    assert done.exit_code == 0, done.output
    config = tmp_path / "site" / "filebridge.toml"
    text = config.read_text(encoding="utf-8")
    for key, value in {
        "api_url": f'"{sandbox.url}"',
        "shop_id": str(sandbox.shop_id),
        "since": '"2020-01-01"',
        "interval_minutes": "0.02",  # 1.2 s
        "settle_seconds": "0",
        "poll_seconds": "0.2",
        "requests_per_minute": "100000",
    }.items():
        text = set_key(text, key, value)
    config.write_text(text, encoding="utf-8")
    return config


class Watcher:
    """A running `filebridge watch` child whose output goes to files we can poll."""

    def __init__(self, config: Path, token: str) -> None:
        self.out_path = config.parent / "watch.out"
        self.err_path = config.parent / "watch.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "filebridge", "watch", "-c", str(config)],
                stdout=out,
                stderr=err,
                env=child_env(token),
            )

    @property
    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    @property
    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, signum: int, timeout: float = 10) -> float:
        """Send `signum` and wait for the exit; returns how long the exit took."""
        started = time.monotonic()
        self.proc.send_signal(signum)
        self.proc.wait(timeout=timeout)
        return time.monotonic() - started


@contextmanager
def watching(config: Path, token: str) -> Iterator[Watcher]:
    """Start `filebridge watch`; whatever happens, the child is gone afterwards."""
    watcher = Watcher(config, token)
    try:
        yield watcher
    finally:
        if watcher.proc.poll() is None:
            watcher.proc.kill()
        watcher.proc.wait(timeout=10)


def drop(inbox: Path, name: str, text: str) -> None:
    """Save a file into the inbox the way an ERP should: temp name, then rename."""
    temp = inbox / (name + ".tmp")
    temp.write_text(text, encoding="utf-8-sig")
    temp.replace(inbox / name)


def archived(site_dir: Path, name: str) -> list[Path]:
    return sorted((site_dir / "archive").glob(f"*/{name}"))


def journal_step_states(site_dir: Path) -> Counter[str]:
    """How many journalled steps are in each state (planned/sent/confirmed/rejected)."""
    path = site_dir / "state" / "filebridge.sqlite3"
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT state, count(*) FROM steps GROUP BY state").fetchall()
    finally:
        db.close()
    return Counter({str(state): int(n) for state, n in rows})


def step_state(site_dir: Path, order_id: int, action: str) -> str | None:
    """One step's state in the watcher's journal (None if absent, or busy right now)."""
    path = site_dir / "state" / "filebridge.sqlite3"
    if not path.exists():
        return None
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
        try:
            row = db.execute(
                "SELECT state FROM steps WHERE order_id = ? AND action = ?",
                (order_id, action),
            ).fetchone()
        finally:
            db.close()
    except sqlite3.OperationalError:
        return None
    return None if row is None else str(row[0])


def delivery_states(sandbox: Any, ids: list[int]) -> list[str]:
    return [sandbox.get_order(i)["delivery_state"] for i in ids]


def test_watch_processes_dropped_files_and_exports_on_its_interval(
    site: Path, sandbox: Any
) -> None:
    """Files dropped into a running watcher are replayed and archived; the export repeats."""
    site_dir = site.parent
    outbox = site_dir / "outbox"
    with watching(site, sandbox.token) as watcher:
        assert wait_until(
            lambda: (
                "export: exported" in watcher.stdout
                and len(list(outbox.glob("*.csv"))) == 1
            ),
            20,
        ), watcher.stderr
        first_file = next(outbox.glob("*.csv"))

        new = sandbox.add_order()
        seeded = next(
            o
            for o in sandbox.orders()
            if o["status"] == "Payed"
            and o["delivery_state"] == "CheckQueue"
            and not o.get("reject")
            and o["id"] != new["id"]
        )
        ids = [seeded["id"], new["id"]]
        drop(
            site_dir / "inbox",
            "status.csv",
            "order_id,state\n" + "".join(f"{i},SentOrder\n" for i in ids),
        )

        def exported_again() -> bool:
            later = [p for p in outbox.glob("*.csv") if p != first_file]
            return any(str(new["id"]) in p.read_text("utf-8-sig") for p in later)

        assert wait_until(
            lambda: (
                archived(site_dir, "status.csv")
                and delivery_states(sandbox, ids) == ["SentOrder", "SentOrder"]
                and exported_again()
            ),
            20,
        ), watcher.stdout + watcher.stderr
        assert "1 files processed, 2 rows applied" in watcher.stdout
        assert watcher.stop(signal.SIGTERM) < 5
    assert watcher.proc.returncode == 0, watcher.stderr
    assert watcher.stdout.rstrip().endswith("Stopped cleanly.")
    assert not (site_dir / "inbox" / "status.csv").exists()
    assert sorted(Counter(state_posts(sandbox)).items()) == sorted(
        Counter((i, s) for i in ids for s in STEPS_TO_SENT).items()
    )


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
@pytest.mark.parametrize(
    "signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "Ctrl-C"]
)
def test_watch_stopped_mid_file_exits_0_and_the_rerun_completes_once(
    site: Path, sandbox: Any, signum: int
) -> None:
    """A signal mid-step ends watch with 0 once that step is done; `run` finishes, no repeat."""
    site_dir = site.parent
    ids = [o["id"] for o in sandbox.add_orders(FILE_ORDERS)]
    held = ids[HELD]
    sandbox.faults.delay_next(
        HOLD_S, method="POST", path_contains=f"/baskets/{held}/state"
    )
    drop(
        site_dir / "inbox",
        "big.csv",
        "order_id,state\n" + "".join(f"{i},SentOrder\n" for i in ids),
    )
    with watching(site, sandbox.token) as watcher:
        assert wait_until(
            lambda: step_state(site_dir, held, "OrderConfirm") == "sent", 30
        ), watcher.stdout + watcher.stderr
        took = watcher.stop(signum)  # while the sandbox still holds that POST
    assert took < HOLD_S + 3, f"took {took:.1f} s to stop"
    assert watcher.proc.returncode == 0, watcher.stderr
    assert watcher.stdout.rstrip().endswith("Stopped cleanly.")
    # The step in flight finished and was journalled; nothing was sent after it for
    # that order. The other orders' senders (limits.concurrency) went on beside it:
    # what the shop has is exactly what the journal confirmed, nothing is in doubt.
    assert delivery_states(sandbox, ids)[HELD] == "OrderConfirm"
    assert journal_step_states(site_dir)["sent"] == 0
    assert step_state(site_dir, held, "OrderConfirm") == "confirmed"
    assert len(state_posts(sandbox)) == journal_step_states(site_dir)["confirmed"]
    assert [p.name for p in (site_dir / "inbox" / ".processing").iterdir()] != []
    assert archived(site_dir, "big.csv") == []

    rerun = filebridge("run", "-c", str(site), token=sandbox.token)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert delivery_states(sandbox, ids) == ["SentOrder"] * FILE_ORDERS
    assert len(archived(site_dir, "big.csv")) == 1
    assert journal_step_states(site_dir) == Counter(confirmed=3 * FILE_ORDERS)
    repeated = [k for k, n in Counter(state_posts(sandbox)).items() if n > 1]
    assert repeated == []
    assert sorted(state_posts(sandbox)) == sorted(
        (i, s) for i in ids for s in STEPS_TO_SENT
    )


def test_run_while_watch_holds_the_lock_exits_6(site: Path, sandbox: Any) -> None:
    """A scheduled `run` started while `watch` runs exits 6 at once and exports nothing."""
    outbox = site.parent / "outbox"
    with watching(site, sandbox.token) as watcher:
        assert wait_until(lambda: len(list(outbox.glob("*.csv"))) == 1, 20), (
            watcher.stderr
        )
        blocked = filebridge("run", "-c", str(site), token=sandbox.token)
        assert blocked.returncode == 6, blocked.stdout + blocked.stderr
        assert f"Another filebridge run (pid {watcher.proc.pid}, since " in (
            blocked.stderr
        )
        assert blocked.stdout == ""  # no export line, no inbox line: it did nothing
        assert watcher.proc.poll() is None  # the watcher is unaffected
        assert watcher.stop(signal.SIGTERM) < 5
    assert watcher.proc.returncode == 0
    assert len(list(outbox.glob("*.csv"))) == 1
