"""The API budget at any latency: a 60-order backlog replayed at 80 requests/minute.

    python tests/benchmarks/bench_budget.py [--orders 60] [--latency 0 0.5 1 2]
        [--concurrency N] [--resume-after 20] [--no-resume] [--file-per-order]

For each latency, a fresh embedded sandbox (80 requests per 60 s, every answer
`latency` seconds late: half on the way in, half out) holds `orders` paid orders in
CheckQueue, and one inbox file (or, with `--file-per-order`, one file per order, as
an ERP that writes a file per shipment) asks for SentOrder with a tracking code for
each: four writes per order (OrderConfirm, PreparingOrder, SentOrder, the tracking
PUT), so the minimum is 4 × orders calls. `python -m filebridge inbox` runs as a real process.

Printed per case, from the sandbox's own call log (arrival times):

* wall: from the process start to its exit;
* calls (and the minimum), 429 answers, the most calls that arrived in any 60 s;
* budget used: over the run's *full* minutes, counted from the first call, the calls
  that arrived ÷ 80 per minute (the last, partial minute is left out: the work ran
  out there, not the budget). 100 % means the budget was the only limit.

The resume case stops the first run with SIGTERM after `--resume-after` seconds and runs
it again; its calls count both runs. Targets (issue #14): budget used ≥ 95 % at every
latency up to 2.0 s, 0 × 429, calls ≤ minimum + 1; resumed: calls ≤ minimum + 2.
"""

from __future__ import annotations

import argparse
import csv
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from filebridge.sandbox import Sandbox, start_sandbox
from tests.inbox_support import write_config

PER_MINUTE = 80
WINDOW_S = 60.0
STEPS_PER_ORDER = 4


@dataclass(frozen=True)
class Case:
    label: str
    latency: float
    wall: float
    calls: int
    minimum: int
    too_many: int
    max_60s: int
    budget_used: float | None
    exit_codes: tuple[int, ...]

    def row(self) -> str:
        used = "n/a" if self.budget_used is None else f"{self.budget_used:.1%}"
        return (
            f"| {self.label} | {self.latency:.1f} s | {self.wall:.1f} s | "
            f"{self.calls} (min {self.minimum}, +{self.calls - self.minimum}) | "
            f"{self.too_many} | {self.max_60s} | {used} | "
            f"{','.join(map(str, self.exit_codes))} |"
        )


def max_in_window(arrivals: list[float], window: float = WINDOW_S) -> int:
    """The most arrivals in any half-open span of `window` seconds."""
    best, start = 0, 0
    for end, at in enumerate(arrivals):
        while arrivals[start] <= at - window:
            start += 1
        best = max(best, end - start + 1)
    return best


def budget_used(arrivals: list[float]) -> float | None:
    """Calls per full minute from the first call ÷ the budget (module docstring)."""
    if not arrivals:
        return None
    first, last = arrivals[0], arrivals[-1]
    minutes = int((last - first) // WINDOW_S)
    if minutes == 0:
        return None
    end = first + minutes * WINDOW_S
    return sum(1 for at in arrivals if at < end) / (minutes * PER_MINUTE)


def prepare(
    root: Path, box: Sandbox, orders: int, concurrency: int | None, per_order: bool
) -> Path:
    extra = "" if concurrency is None else f"concurrency = {concurrency}"
    config = write_config(root, box, timeout_seconds=30.0, extra=extra)
    text = config.read_text(encoding="utf-8").replace(
        "requests_per_minute = 100000", f"requests_per_minute = {PER_MINUTE}"
    )
    config.write_text(text, encoding="utf-8")
    ids = [o["id"] for o in box.add_orders(orders)]
    files = [[i] for i in ids] if per_order else [ids]
    for number, batch in enumerate(files, 1):
        name = f"shipped-{number:04d}.csv" if per_order else "shipped.csv"
        with (root / "inbox" / name).open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["order_id", "state", "tracking_code"])
            writer.writerows([i, "SentOrder", f"TRK{i}"] for i in batch)
    return config


def run_inbox(config: Path, stop_after: float | None = None) -> int:
    command = [sys.executable, "-m", "filebridge", "inbox", "-c", str(config)]
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if stop_after is None:
        return child.wait()
    try:
        return child.wait(timeout=stop_after)
    except subprocess.TimeoutExpired:
        child.send_signal(signal.SIGTERM)
        return child.wait(timeout=60)


def measure(
    label: str,
    latency: float,
    orders: int,
    concurrency: int | None,
    resume_after: float | None,
    per_order: bool = False,
) -> Case:
    with (
        tempfile.TemporaryDirectory() as folder,
        start_sandbox(orders=0, rate_per_minute=PER_MINUTE) as box,
    ):
        config = prepare(Path(folder), box, orders, concurrency, per_order)
        box.options.latency_seconds = latency
        box.clear_calls()
        started = time.monotonic()
        codes = [run_inbox(config, resume_after)]
        if resume_after is not None:
            codes.append(run_inbox(config))
        wall = time.monotonic() - started
        calls = box.calls()
    arrivals = sorted(c.at for c in calls)
    return Case(
        label,
        latency,
        wall,
        len(calls),
        STEPS_PER_ORDER * orders,
        sum(1 for c in calls if c.status == 429),
        max_in_window(arrivals),
        budget_used(arrivals),
        tuple(codes),
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=60)
    parser.add_argument(
        "--latency", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0]
    )
    parser.add_argument(
        "--concurrency", type=int, default=None, help="default: the product's"
    )
    parser.add_argument("--resume-after", type=float, default=20.0)
    parser.add_argument("--no-resume", action="store_true")
    parser.add_argument(
        "--file-per-order",
        action="store_true",
        help="one inbox file per order (an ERP that writes a file per shipment)",
    )
    args = parser.parse_args(argv)
    print(
        "| case | latency | wall | calls | 429s | max calls/60 s | budget used | exit |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    cases = []
    for latency in args.latency:
        case = measure(
            "a file per order" if args.file_per_order else "backlog",
            latency,
            args.orders,
            args.concurrency,
            None,
            args.file_per_order,
        )
        cases.append(case)
        print(case.row(), flush=True)
    if not args.no_resume:
        case = measure(
            f"SIGTERM at {args.resume_after:.0f} s, run again",
            max(args.latency),
            args.orders,
            args.concurrency,
            args.resume_after,
            args.file_per_order,
        )
        print(case.row(), flush=True)
        cases.append(case)
    met = all(
        c.too_many == 0
        and (c.budget_used is None or c.budget_used >= 0.95)
        and c.calls <= c.minimum + (2 if "SIGTERM" in c.label else 1)
        for c in cases
    )
    print("targets met" if met else "targets NOT met")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
