"""Regenerate the sample inbox files in this folder, and the error report in README.md.

    python samples/make_samples.py

The files are written by `filebridge.demo.sample_files.write_sample_files` for the orders of
`start_sandbox(seed=SAMPLE_SEED, orders=SAMPLE_ORDER_COUNT)`, the same call
`filebridge demo` makes, so the demo works after a plain `pip install .` (which does not
install this folder). Then the demo runs once in a temporary folder, and the failed/
file it writes replaces the "expected error report" block of README.md.
`tests/test_samples.py` and `tests/test_demo.py` fail when the committed files and
the code disagree: change the code, then run this script.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from filebridge.demo.run import run_demo
from filebridge.demo.sample_files import (
    SAMPLE_ORDER_COUNT,
    SAMPLE_SEED,
    write_sample_files,
)
from filebridge.sandbox import start_sandbox

SAMPLES_DIR = Path(__file__).resolve().parent
README = SAMPLES_DIR / "README.md"
BLOCK_BEGIN = "<!-- failed-file:begin"
BLOCK_END = "<!-- failed-file:end -->"


def failed_file_text() -> str:
    """The failed/ file of a real demo run, as text with LF line ends."""
    with tempfile.TemporaryDirectory() as temp:
        report = run_demo(Path(temp) / "demo", out=lambda _: None)
        (failed,) = sorted(report.failed_dir.iterdir())
        return failed.read_text(encoding="utf-8-sig").replace("\r\n", "\n")


def with_failed_block(readme: str, failed: str) -> str:
    """README text with the code block between the failed-file markers replaced."""
    begin = readme.index(BLOCK_BEGIN)
    begin = readme.index("\n", begin) + 1
    end = readme.index(BLOCK_END, begin)
    return readme[:begin] + "```\n" + failed + "```\n" + readme[end:]


def main() -> int:
    with start_sandbox(seed=SAMPLE_SEED, orders=SAMPLE_ORDER_COUNT) as box:
        orders = box.orders()
    for path in write_sample_files(SAMPLES_DIR, orders):
        sys.stdout.write(f"wrote {path.relative_to(SAMPLES_DIR.parent)}\n")
    text = README.read_text(encoding="utf-8")
    README.write_text(with_failed_block(text, failed_file_text()), encoding="utf-8")
    sys.stdout.write(f"updated the expected error report in {README.name}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
