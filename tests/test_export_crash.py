"""Kill the export process (SIGKILL-like) at many points, rerun: every order exactly once.

The sandbox runs in this process; each export runs in a child Python process that reads
a config file written to tmp_path. Deterministic kill points come from a tiny wrapper in
the child (test code, not product code) that ends the process with `os._exit` before or
after the Nth call of a publish step (temp written, fsync, pending record, rename,
marker, published record). Random kill points come from `Popen.kill()` (SIGKILL) after a
random delay while the sandbox answers slowly, so the child dies mid-page or mid-write.
"""

from __future__ import annotations

import csv
import os
import random
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from filebridge.config import load_settings
from filebridge.journal.store import Journal
from filebridge.outbox.export import run_export
from filebridge.outbox.writers import is_temp_name
from filebridge.selldone.client import SelldoneClient

ROOT = Path(__file__).parents[1]
KILLED = 137

CHILD = r"""
import os, sys
from datetime import UTC, datetime
from pathlib import Path

import filebridge.outbox.export as export
import filebridge.journal.exports as ledger

config, point, nth = sys.argv[1], sys.argv[2], int(sys.argv[3])
if point != "none":
    target, when = point.rsplit(":", 1)
    module_name, name = target.rsplit(".", 1)
    module = {"os": os, "export": export, "ledger": ledger}[module_name]
    original = getattr(module, name)
    calls = [0]

    def crashing(*args, **kwargs):
        calls[0] += 1
        if when == "before" and calls[0] == nth:
            os._exit(137)
        result = original(*args, **kwargs)
        if when == "after" and calls[0] == nth:
            os._exit(137)
        return result

    setattr(module, name, crashing)

from filebridge.config import load_settings
from filebridge.journal.store import Journal
from filebridge.selldone.client import SelldoneClient

settings = load_settings(Path(config))
client = SelldoneClient(
    settings.selldone.api_url,
    settings.selldone.shop_id,
    settings.selldone.token,
    requests_per_minute=settings.limits.requests_per_minute,
)
with Journal.open(settings.journal_path) as journal:
    export.run_export(settings, client, journal, now=datetime.now(UTC))
"""

# (point, nth): "module.function:before|after", the Nth call of it in the child.
DETERMINISTIC = [
    ("export.open_table_writer:after", 1),  # temp file exists with only the header
    ("os.fsync:before", 1),  # temp fully written, not yet fsynced
    ("os.fsync:after", 1),
    ("ledger.record_pending_batch:before", 1),
    ("ledger.record_pending_batch:after", 1),  # pending, not renamed
    ("os.replace:before", 1),
    ("os.replace:after", 1),  # renamed, directory not fsynced, not marked
    ("os.fsync:after", 2),  # directory fsynced
    ("export.write_done_marker:before", 1),
    ("export.write_done_marker:after", 1),
    ("ledger.mark_published:before", 1),
    ("ledger.mark_published:after", 1),  # everything done, killed before exit
    ("os.fsync:before", 3),  # the .done marker's fsync
]
RANDOM_KILLS = 8


def write_config(folder: Path, sandbox: Any) -> Path:
    config = folder / "filebridge.toml"
    config.write_text(
        f'[selldone]\napi_url = "{sandbox.url}"\nshop_id = {sandbox.shop_id}\n'
        f'token = "{sandbox.token}"\n\n'
        '[folders]\noutbox = "outbox"\nstate = "state"\n\n'
        '[export]\nsince = "2000-01-01"\npage_size = 10\ndone_marker = true\n\n'
        "[limits]\nrequests_per_minute = 100000\n",
        encoding="utf-8",
    )
    for name in ("outbox", "inbox", "archive", "failed", "state"):
        (folder / name).mkdir(exist_ok=True)  # run refuses missing folders
    return config


def child(config: Path, point: str = "none", nth: int = 1) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, str(config), point, str(nth)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def assert_visible_files_complete(outbox: Path) -> None:
    """No half file is ever visible: each *.csv parses and ends with a full record."""
    for path in outbox.glob("*.csv"):
        raw = path.read_bytes()
        assert raw.endswith(b"\r\n"), path
        with path.open(encoding="utf-8-sig", newline="") as handle:
            rows = list(csv.reader(handle))
        assert rows[0][0] == "order_id", path
    assert not list(outbox.glob("*.xlsx"))


def order_counts(outbox: Path) -> Counter[int]:
    counts: Counter[int] = Counter()
    for path in outbox.glob("*.csv"):
        with path.open(encoding="utf-8-sig", newline="") as handle:
            counts.update({int(row["order_id"]) for row in csv.DictReader(handle)})
    return counts


def churn(sandbox: Any, rng: random.Random) -> None:
    """Between runs the shop moves on: new orders (some sharing a second), updates."""
    stamp = datetime.now(UTC).replace(microsecond=0)
    sandbox.add_orders(2, updated_at=stamp)
    sandbox.add_order(status=rng.choice(["Payed", "Reserved", "Canceled"]))
    paid = [o["id"] for o in sandbox.orders() if o["status"] == "Payed"]
    sandbox.update_order(rng.choice(paid), delivery_state="OrderConfirm")


@pytest.mark.slow
def test_export_killed_at_any_point_exports_every_order_exactly_once(
    tmp_path: Path, sandbox: Any
) -> None:
    """~20 kills (publish steps and random instants), then a clean run: each order once."""
    rng = random.Random(20261127)
    config = write_config(tmp_path, sandbox)
    outbox = tmp_path / "outbox"
    crashed = 0
    for point, nth in DETERMINISTIC:
        churn(sandbox, rng)
        process = child(config, point, nth)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode in (0, KILLED), stderr.decode()
        crashed += process.returncode == KILLED
        assert_visible_files_complete(outbox)
    assert crashed >= len(DETERMINISTIC) - 1  # every step was reached (the last
    # fsync only when the run had a marker to write)
    interrupted = 0
    for _ in range(RANDOM_KILLS):
        churn(sandbox, rng)
        sandbox.faults.clear()
        sandbox.faults.delay_next(0.15, times=30, method="GET", path_contains="baskets")
        process = child(config)
        time.sleep(rng.uniform(0.55, 1.5))  # startup ≈ 0.6 s, a run ≈ 1–2 s
        interrupted += process.poll() is None
        process.kill()
        process.communicate(timeout=60)
        assert_visible_files_complete(outbox)
    sandbox.faults.clear()
    assert interrupted >= RANDOM_KILLS // 2  # most kills hit a running export

    settings = load_settings(config)
    with (
        SelldoneClient(
            sandbox.url, sandbox.shop_id, sandbox.token, requests_per_minute=100_000
        ) as client,
        Journal.open(settings.journal_path) as journal,
    ):
        run_export(settings, client, journal, now=datetime.now(UTC))
        again = run_export(settings, client, journal, now=datetime.now(UTC))
    assert again.orders == 0

    expected = {
        o["id"]
        for o in sandbox.orders()
        if o["status"] == "Payed" and not o.get("reject")
    }
    counts = order_counts(outbox)
    assert set(counts) == expected
    assert set(counts.values()) == {1}
    names = [p.name for p in outbox.iterdir()]
    assert not [n for n in names if is_temp_name(n)]
    for path in outbox.glob("*.csv"):
        assert path.with_name(path.name + ".done").exists()
    assert_visible_files_complete(outbox)
