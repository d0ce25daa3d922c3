"""Start-up cost of the command line against its dependencies alone (run on demand).

    python tests/benchmarks/bench_startup.py [--repeat 15] [--via-module]

Each command runs in a fresh process; the best of N counts, since start-up noise only ever
adds time. The baseline is a bare `python -c "import requests, pydantic, click"`: what
any filebridge command pays before it does anything. Targets (issue 10):
`filebridge --version` ≤ 1.6 × the baseline, `filebridge status` close to it.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASELINE = [sys.executable, "-c", "import requests, pydantic, click"]


def best_seconds(command: list[str], repeat: int, cwd: Path) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(command, cwd=cwd, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--via-module",
        action="store_true",
        help="run `python -m filebridge` (e.g. an older checkout on PYTHONPATH)",
    )
    args = parser.parse_args()
    launcher = None if args.via_module else shutil.which("filebridge")
    entry = [launcher] if launcher else [sys.executable, "-m", "filebridge"]
    with tempfile.TemporaryDirectory() as tmp:
        site = Path(tmp)
        subprocess.run(
            [*entry, "init", str(site), "--shop-id", "1"],
            check=True,
            capture_output=True,
        )
        config = str(site / "filebridge.toml")
        cases = {
            "bare import requests, pydantic, click": BASELINE,
            "filebridge --version": [*entry, "--version"],
            "filebridge status": [*entry, "status", "-c", config],
            "filebridge --help": [*entry, "--help"],
        }
        base = best_seconds(BASELINE, args.repeat, site)
        print(f"{'command':<40} {'best s':>8} {'× baseline':>11}")
        for name, command in cases.items():
            seconds = (
                base
                if command is BASELINE
                else best_seconds(command, args.repeat, site)
            )
            print(f"{name:<40} {seconds:>8.3f} {seconds / base:>11.2f}")


if __name__ == "__main__":
    main()
