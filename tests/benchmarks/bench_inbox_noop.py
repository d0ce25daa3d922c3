"""Benchmark: an inbox file of 20,000 rows of which 19,900 need no API call (#14 item 4).

Run on demand (pytest does not collect it):

    PYTHONPATH=. python tests/benchmarks/bench_inbox_noop.py [--rows 20000] [--work 100]

One real inbox pass (`run_inbox`: claim, read, validate, replay, result file, archive)
against the embedded sandbox (no rate limit), with a real journal (SQLite,
synchronous=FULL) on this machine's temp folder. `--rows - --work` rows ask for
SentOrder for orders the journal's `order_states` already remembers as SentOrder (no
call needed); `--work` rows ask for SentOrder for sandbox orders in CheckQueue (three
state POSTs each, plus the list call that learns them). Each case runs in a fresh
process, so peak memory (`ru_maxrss`, the whole process) is its own:

* `no-op only`: just the no-op rows: the pass's wall time, and rows/s of it;
* `mixed`: all rows: wall time, calls, peak RSS.

`--profile` runs the mixed case under pyinstrument and prints where the time goes.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
NOOP_FIRST_ID = 900_000


def peak_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure(rows: int, work: int, profile: bool) -> dict[str, Any]:
    """One pass in this process (called in a fresh child)."""
    from filebridge.config import load_settings
    from filebridge.inbox.run import run_inbox
    from filebridge.journal import Journal
    from filebridge.journal import inbox as ledger
    from filebridge.sandbox import start_sandbox
    from filebridge.selldone import SelldoneClient
    from tests.inbox_support import write_config

    noop = rows - work
    with (
        tempfile.TemporaryDirectory() as name,
        start_sandbox(rate_per_minute=None) as box,
    ):
        folder = Path(name)
        settings = load_settings(write_config(folder, box, polling=True))
        worked = [o["id"] for o in box.add_orders(work)]
        with Journal.open(settings.journal_path) as journal:
            with journal.atomic():
                for n in range(noop):
                    ledger.remember_order(journal, NOOP_FIRST_ID + n, "SentOrder")
            lines = [(NOOP_FIRST_ID + n, "shipped") for n in range(noop)]
            lines += [(order_id, "shipped") for order_id in worked]
            lines.sort(key=lambda line: hash(line[0]) % 7919)  # interleaved
            inbox_file = settings.folders.inbox / "status.csv"
            with inbox_file.open("w", encoding="utf-8-sig", newline="") as handle:
                writer = csv.writer(handle, delimiter=";", lineterminator="\r\n")
                writer.writerow(["order_id", "state"])
                writer.writerows(lines)
            box.clear_calls()
            with SelldoneClient(
                box.url, box.shop_id, box.token, requests_per_minute=1_000_000
            ) as client:
                profiler = None
                if profile:
                    from pyinstrument import Profiler

                    profiler = Profiler()
                    profiler.start()
                started, cpu = time.perf_counter(), time.process_time()
                result = run_inbox(
                    settings,
                    client,
                    journal,
                    now=datetime.now(UTC),
                    clock=lambda: time.time() + 3600,
                )
                seconds = time.perf_counter() - started
                cpu = time.process_time() - cpu
                if profiler is not None:
                    profiler.stop()
                    print(
                        profiler.output_text(unicode=True, color=False), file=sys.stderr
                    )
        done = result.rows_applied + result.rows_already_done
        return {
            "rows": rows,
            "work": work,
            "seconds": seconds,
            "cpu_seconds": cpu,
            "rows_per_s": rows / seconds,
            "done": done,
            "pending": result.rows_pending,
            "calls": len(box.calls()),
            "peak_mb": peak_mb(),
        }


def run_child(rows: int, work: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--rows", str(rows), "--work", str(work), "--one"],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--work", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one or args.profile:
        print(json.dumps(measure(args.rows, args.work, args.profile)))
        return
    noop = args.rows - args.work
    only = min(
        (run_child(noop, 0) for _ in range(args.repeat)), key=lambda r: r["seconds"]
    )
    mixed = min(
        (run_child(args.rows, args.work) for _ in range(args.repeat)),
        key=lambda r: r["seconds"],
    )
    verdict = "ok" if only["rows_per_s"] >= 5000 else "BELOW TARGET"
    print(
        f"no-op only: {noop:,} rows in {only['seconds']:.2f} s = "
        f"{only['rows_per_s']:,.0f} rows/s (target ≥ 5,000) {verdict}; "
        f"{only['calls']} calls; peak RSS {only['peak_mb']:.1f} MB"
    )
    print(
        f"mixed: {args.rows:,} rows ({noop:,} no-op, {args.work} to send) in "
        f"{mixed['seconds']:.2f} s ({mixed['cpu_seconds']:.2f} s CPU), "
        f"{mixed['done']:,} done, {mixed['pending']} pending, {mixed['calls']} calls; "
        f"peak RSS {mixed['peak_mb']:.1f} MB"
    )


if __name__ == "__main__":
    main()
