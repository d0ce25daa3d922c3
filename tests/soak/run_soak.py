"""The long chaos soak on demand: prints the figures table; exit 1 if the checker objects.

    python -m tests.soak.run_soak --minutes 10 --orders 3000 --seed 1

The work folder (outbox, inbox, archive, failed, state with filebridge's log, and
`harness/` with the watcher's output and the event log) is kept for inspection.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from .erp import ErpSettings
from .harness import SoakConfig, run_soak


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.soak.run_soak", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--minutes", type=float, default=10.0, help="length of the chaos phase"
    )
    parser.add_argument(
        "--orders", type=int, default=3000, help="orders arriving during it"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--rpm", type=int, default=600, help="filebridge's requests_per_minute"
    )
    parser.add_argument("--cod", action="store_true", help="also export COD orders")
    parser.add_argument("--polling", action="store_true", help="inbox.polling = true")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=None,
        help="write [limits] concurrency = N (default: not written)",
    )
    parser.add_argument(
        "--journal-stale-seconds",
        type=float,
        default=0.0,
        help="let the watcher work this long past the backup before the journal "
        "is zeroed (default 0: zeroed right after a clean stop)",
    )
    parser.add_argument(
        "--no-clock-ahead",
        action="store_true",
        help="no restart with the clock an hour ahead (see SoakConfig.clock_ahead)",
    )
    parser.add_argument(
        "--no-episodes",
        action="store_true",
        help="no kills during waits, clock jumps or zeroed journal",
    )
    parser.add_argument(
        "--workdir", type=Path, default=None, help="default: a new temp folder"
    )
    args = parser.parse_args(argv)
    seconds = args.minutes * 60.0
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="filebridge-soak-"))
    # The ERP keeps pace with the orders (about one file per order), as far as the
    # files it already has in flight allow.
    gap = max(0.05, min(0.9, seconds / max(1, args.orders) * 1.2))
    config = SoakConfig(
        seconds=seconds,
        orders=args.orders,
        seed=args.seed,
        requests_per_minute=args.rpm,
        export_cod=args.cod,
        polling=args.polling,
        drain_seconds=max(120.0, seconds * 0.5),
        concurrency=args.concurrency,
        journal_stale_seconds=args.journal_stale_seconds,
        episodes=not args.no_episodes,
        clock_ahead=not args.no_clock_ahead,
        erp=ErpSettings(file_gap=(gap * 0.5, gap * 1.5), max_in_flight=60),
    )
    command = "python -m tests.soak.run_soak " + " ".join(
        argv if argv is not None else sys.argv[1:]
    )
    started = time.strftime("%Y-%m-%d %H:%M:%S")

    def say(text: str) -> None:
        print(text, flush=True)

    figures = run_soak(config, workdir, say=say)
    print()
    print(f"filebridge chaos soak, {started}: {command.strip()}")
    print(figures.table())
    print(f"work folder: {figures.workdir}")
    return 1 if figures.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
