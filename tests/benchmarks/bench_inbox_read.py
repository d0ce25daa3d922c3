"""Benchmark: read + validate a 100,000-row inbox file, ours vs the naive pandas pipeline.

Run on demand (pytest does not collect it):

    PYTHONPATH=. python tests/benchmarks/bench_inbox_read.py [--rows 100000] [--repeat 3]

For CSV (`;`, UTF-8 with BOM, as Excel's "CSV UTF-8" writes it) and XLSX (numbers stored
as numbers, dates as dates, written by xlsxwriter) it times, side by side in one run:

* **ours**: `readers.read_table` + `validation.validate_table` with the default inbound
  mapping (all cells as text, Excel-mangled ids repaired, every problem collected);
* **naive**: what a user would write: `pandas.read_csv` / `pandas.read_excel` with their
  default engines, `DataFrame.to_dict("records")`, then one pydantic model validation per
  row (NaN → None, because pandas fills empty cells with NaN);
* for XLSX also the bare engines (openpyxl read-only, python-calamine), to show where the
  time goes.

Each variant runs `--repeat` times, interleaved, and the best time counts (the machine
may be shared); the range of all runs is printed beside it. Targets (issue 4): XLSX ≥ 5×
and CSV ≥ 2× the naive rows/s. With `--check` the script exits 1 when a target is
missed.
"""

from __future__ import annotations

import argparse
import csv
import gc
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import openpyxl
import pandas as pd
import xlsxwriter
from pydantic import BaseModel, field_validator
from python_calamine import CalamineWorkbook

from filebridge.inbox.file import load_inbound_mapping
from filebridge.inbox.inbound_mapping import CANONICAL_COLUMNS, InboundMapping
from filebridge.inbox.validation import validate_table
from filebridge.tables.readers import read_table

HEADERS = [*CANONICAL_COLUMNS, "shipped_at"]  # plus a column the mapping ignores
STATES = ["OrderConfirm", "PreparingOrder", "SentOrder", "ToCustomer", "shipped"]
TARGETS = {"csv": 2.0, "xlsx": 5.0}


class NaiveRow(BaseModel):
    """The simple row model a user would validate each pandas record with."""

    order_id: int
    state: str | None = None
    items: str | None = None
    tracking_code: str | None = None
    tracking_url: str | None = None
    weight: float | None = None
    width: float | None = None
    length: float | None = None
    height: float | None = None
    carrier: str | None = None

    @field_validator("*", mode="before")
    @classmethod
    def _nan_is_empty(cls, value: Any) -> Any:
        return None if isinstance(value, float) and math.isnan(value) else value


def row_values(i: int) -> list[Any]:
    """Row i as typed values: ids as numbers, a date, some empty cells."""
    return [
        100_000 + i,
        STATES[i % 5],
        f"{i};{i + 1}" if i % 3 == 0 else "",
        f"JJD{i:012d}",
        f"https://track.example.com/t/JJD{i:012d}",
        1.25 + i % 7,
        10 + i % 5,
        20,
        30.5,
        "Post",
        datetime(2024, 1, 1) + timedelta(days=i % 300),
    ]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADERS)
        for i in range(1, rows + 1):
            values = row_values(i)
            values[-1] = values[-1].strftime("%d.%m.%Y")
            writer.writerow(values)


def write_xlsx(path: Path, rows: int) -> None:
    workbook = xlsxwriter.Workbook(str(path), {"constant_memory": True})
    sheet = workbook.add_worksheet("Status")
    date_format = workbook.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_row(0, 0, HEADERS)
    for i in range(1, rows + 1):
        values = row_values(i)
        sheet.write_row(i, 0, values[:-1])
        sheet.write_datetime(i, len(values) - 1, values[-1], date_format)
    workbook.close()


def ours(path: Path, mapping: InboundMapping) -> int:
    table = read_table(path, max_bytes=1 << 30)
    result = validate_table(table, mapping)
    assert not result.file_issues, result.file_issues
    assert not result.rejected, result.rejected[:3]
    return len(result.valid)


def naive(path: Path) -> int:
    if path.suffix == ".csv":
        frame = pd.read_csv(path, sep=";", encoding="utf-8-sig")
    else:
        frame = pd.read_excel(path)
    records = frame.to_dict("records")
    return len([NaiveRow.model_validate(record) for record in records])


def openpyxl_only(path: Path) -> int:
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    count = sum(1 for _ in workbook.worksheets[0].iter_rows(values_only=True))
    workbook.close()
    return count - 1


def calamine_only(path: Path) -> int:
    with CalamineWorkbook.from_path(str(path)) as workbook:
        return sum(1 for _ in workbook.get_sheet_by_index(0).iter_rows()) - 1


def best_time(function: Callable[[], int], rows: int) -> float:
    gc.collect()
    started = time.perf_counter()
    count = function()
    elapsed = time.perf_counter() - started
    assert count == rows, f"{function} saw {count} rows, expected {rows}"
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--check", action="store_true", help="exit 1 below target")
    args = parser.parse_args(argv)
    warnings.simplefilter("ignore")  # pandas' notice about its future default engine
    mapping = load_inbound_mapping("default", Path.cwd())
    missed = []
    with tempfile.TemporaryDirectory() as folder:
        files = {
            "csv": Path(folder) / "status.csv",
            "xlsx": Path(folder) / "status.xlsx",
        }
        write_csv(files["csv"], args.rows)
        write_xlsx(files["xlsx"], args.rows)
        print(f"{args.rows:,} rows; best of {args.repeat}; rows/s (seconds)")
        for kind, path in files.items():
            variants: dict[str, Callable[[], int]] = {
                "ours (read_table + validate_table)": partial(ours, path, mapping),
                "naive (pandas + per-row pydantic)": partial(naive, path),
            }
            if kind == "xlsx":
                variants["engine only: openpyxl read-only"] = partial(
                    openpyxl_only, path
                )
                variants["engine only: python-calamine"] = partial(calamine_only, path)
            runs: dict[str, list[float]] = {name: [] for name in variants}
            for _ in range(args.repeat):
                for name, function in variants.items():
                    runs[name].append(best_time(function, args.rows))
            times = {name: min(seconds) for name, seconds in runs.items()}
            size = path.stat().st_size / 1_048_576
            print(f"\n{kind.upper()} ({size:.1f} MB)")
            for name, seconds in times.items():
                spread = f"runs {min(runs[name]):.2f}–{max(runs[name]):.2f} s"
                print(
                    f"  {name:38} {args.rows / seconds:>10,.0f} rows/s ({seconds:.2f} s;"
                    f" {spread})"
                )
            ratio = (
                times["naive (pandas + per-row pydantic)"]
                / times["ours (read_table + validate_table)"]
            )
            verdict = "ok" if ratio >= TARGETS[kind] else "BELOW TARGET"
            print(
                f"  speed-up vs naive: {ratio:.1f}× (target ≥ {TARGETS[kind]:.0f}×) {verdict}"
            )
            if ratio < TARGETS[kind]:
                missed.append(kind)
    return 1 if args.check and missed else 0


if __name__ == "__main__":
    sys.exit(main())
