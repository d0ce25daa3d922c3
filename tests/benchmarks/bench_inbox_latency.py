"""Latency from a file landing in the inbox to its first API call (run on demand).

    python tests/benchmarks/bench_inbox_latency.py [--files 10] [--settle 1.0] [--poll 2.0]

A real watcher (native observer, then PollingObserver) runs against the embedded
sandbox; each file is written elsewhere and renamed into the inbox (it "lands" at that
instant), and the sandbox's call log says when the first request about its order
arrived. Targets (design §4, issue 4): native ≤ settle + 1 s; polling ≤ settle + poll.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from filebridge.journal.store import Journal
from filebridge.sandbox import start_sandbox
from filebridge.watch import InboxWatcher
from tests.inbox_support import make_client, make_settings, write_csv


def measure(
    box, *, polling: bool, files: int, settle: float, poll: float
) -> list[float]:
    """Latencies (s) of `files` files dropped one after another into a watched inbox."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        settings = make_settings(
            root, box, settle_seconds=settle, poll_seconds=poll, polling=polling
        )
        staging = root / "staging"
        staging.mkdir()
        stop = threading.Event()
        passes: list[object] = []
        watcher = InboxWatcher(settings, on_pass=passes.append)

        def run() -> None:
            with (
                Journal.open(settings.journal_path) as journal,
                make_client(settings) as client,
            ):
                watcher.run(client, journal, stop=stop)

        thread = threading.Thread(target=run)
        thread.start()
        while not passes:
            time.sleep(0.01)
        latencies = []
        try:
            for n in range(files):
                order = box.add_order()
                path = write_csv(
                    staging / f"status-{n}.csv",
                    ["order_id", "state"],
                    [[order["id"], "OrderConfirm"]],
                )
                box.clear_calls()
                landed = time.time()
                path.replace(settings.folders.inbox / path.name)
                marker = f"/{order['id']}/"
                first = None
                while first is None:
                    time.sleep(0.005)
                    hits = [c.at for c in box.calls() if marker in c.path + "/"]
                    first = min(hits) if hits else None
                latencies.append(first - landed)
                # let the file finish before the next one lands
                while not any(
                    marker in c.path + "/" and c.method == "POST" for c in box.calls()
                ):
                    time.sleep(0.005)
        finally:
            stop.set()
            thread.join()
        return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--settle", type=float, default=1.0)
    parser.add_argument("--poll", type=float, default=2.0)
    args = parser.parse_args()
    ok = True
    with start_sandbox(rate_per_minute=None) as box:
        for polling, target in (
            (False, args.settle + 1.0),
            (True, args.settle + args.poll),
        ):
            found = measure(
                box,
                polling=polling,
                files=args.files,
                settle=args.settle,
                poll=args.poll,
            )
            kind = "polling" if polling else "native "
            verdict = "OK" if max(found) <= target else "TOO SLOW"
            ok &= max(found) <= target
            print(
                f"{kind} observer: landing → first API call over {len(found)} files: "
                f"median {statistics.median(found):.2f} s, max {max(found):.2f} s "
                f"(target ≤ {target:.1f} s: settle {args.settle:g} s"
                f" + {'poll ' + format(args.poll, 'g') if polling else '1'} s) {verdict}"
            )
    return 0 if ok else 1


if __name__ == "__main__":
    import stamina

    stamina.set_testing(True, attempts=4)
    raise SystemExit(main())
