"""Export writer benchmark: 100,000 line items × 20 columns, ours vs pandas.

Run on demand (pytest does not collect it):

    PYTHONPATH=. python tests/benchmarks/bench_export.py [--rows 100000]

Each measurement runs in a fresh Python process, so the peak memory of one cannot hide
in another's. The candidates take turns (`--repeat` rounds, each candidate once per
round), so a busy moment on a shared machine hits all of them alike; the best round is
reported. Reported: rows per second by wall-clock time and by CPU time of the process
(`process_time`; what the run cost, whatever else the machine does), and peak memory
(the process's peak resident set, `ru_maxrss`, including the interpreter and imports;
on Windows, tracemalloc's peak of Python allocations). The libraries are imported
before the clock starts (for every candidate alike): an import is paid once per process,
not per row. All candidates write the same rows (typed cells as `order_to_rows` produces
them: str ids, Decimal money, aware datetimes), generated inside the timed part:

* `filebridge csv` / `filebridge xlsx`: our streaming writers, rows generated on the fly;
* `pandas to_csv` / `pandas to_excel`: what a user would otherwise write: collect the
  rows, build a DataFrame, call `to_csv` (the same delimiter, encoding and line ending
  as ours, datetimes shown alike) / `to_excel` (default engine);
* `xlsxwriter constant_memory` / `openpyxl write_only`: the streaming XLSX libraries we
  measured before writing our own XLSX writer;
* `pipeline csv` / `pipeline xlsx`: the whole export minus HTTP: order dicts parsed into
  `Order` models, mapped with the default preset, written (memory must stay flat).

Then (`--list-orders`, default 20,000; 0 skips it; `--calls-only` runs only this) one
real export (`run_export`, a real journal) of that many Payed orders from the embedded
sandbox, with pages of 250: it prints the list calls the export made against the
minimum, ceil(orders / 250) (`total` says where the end is, so no empty page is needed;
target: at most one call more). Run it with `PYTHONPATH=<other checkout>` to count
another version's client.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ROOT = Path(__file__).parents[2]
ITEMS_PER_ORDER = 3
COLUMNS = [
    ("order_id", "order.id"),
    ("order_code", "order.code"),
    ("reserved_at", "order.reserved_at"),
    ("status", "order.status"),
    ("currency", "order.currency"),
    ("order_price", "order.price"),
    ("delivery_price", "order.delivery_price"),
    ("item_id", "item.id"),
    ("sku", "item.sku"),
    ("mpn", "item.mpn"),
    ("title", "item.title"),
    ("quantity", "item.count"),
    ("unit_price", "item.price"),
    ("line_total", "item.line_total"),
    ("receiver_name", "receiver.name"),
    ("receiver_phone", "receiver.phone"),
    ("receiver_street", "receiver.street"),
    ("receiver_city", "receiver.city"),
    ("receiver_postal", "receiver.postal"),
    ("buyer_email", "buyer.email"),
]
MAPPING = "".join(f'[[columns]]\nheader = "{h}"\nsource = "{s}"\n' for h, s in COLUMNS)
NAMES = ["Lea Hofer", "Jonas Weber", "Łukasz Wiśniewski", "=1+1", "Daan de Vries"]
CITIES = ["Dresden", "Wien", "Amsterdam", "München", "Zürich"]


def typed_rows(n: int) -> Iterator[list[Any]]:
    """The cells `order_to_rows` would produce for n line items (3 per order)."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for i in range(n):
        order = i // ITEMS_PER_ORDER
        price = Decimal(1000 + i % 9000).scaleb(-2)
        count = Decimal(1 + i % 3)
        yield [
            str(15000 + order),
            f"SM-{15000 + order}",
            start + timedelta(seconds=order * 37),
            "Payed",
            "EUR",
            (price * 3).quantize(Decimal("0.01")),
            Decimal("4.90"),
            str(23990 + i),
            f"SKU-{i % 500:05d}",
            f"MPN-{i % 300}",
            f"Organic Tee {i % 40}",
            count,
            price,
            (price * count).quantize(Decimal("0.01")),
            NAMES[order % len(NAMES)],
            f"+49 30 555{order % 10000:04d}",
            f"Prager Straße {order % 200}",
            CITIES[order % len(CITIES)],
            f"{order % 99999:05d}",
            f"buyer{order}@example.de",
        ]


def order_dicts(n: int) -> Iterator[dict[str, Any]]:
    """Order payloads (as the client parses them) holding n line items in total."""
    for order in range(n // ITEMS_PER_ORDER):
        yield {
            "id": 15000 + order,
            "status": "Payed",
            "currency": "EUR",
            "price": "123.45",
            "delivery_price": "4.9",
            "reserved_at": "2026-11-18T19:26:11.000000Z",
            "updated_at": "2026-11-18T19:30:00.000000Z",
            "receiver_info": {
                "name": NAMES[order % len(NAMES)],
                "phone": "+49 30 5550123",
                "address": "Prager Straße",
                "no": str(order % 200),
                "city": CITIES[order % len(CITIES)],
                "postal": f"{order % 99999:05d}",
            },
            "buyer": {"id": order, "email": f"buyer{order}@example.de"},
            "items": [
                {
                    "id": 23990 + order * ITEMS_PER_ORDER + k,
                    "count": 1 + k,
                    "price": "25.5",
                    "product": {"title": "Organic Tee", "sku": "TEE", "mpn": "T-1"},
                    "variant": {"sku": f"TEE-{k}"} if k else None,
                }
                for k in range(ITEMS_PER_ORDER)
            ],
        }


def spec(file_format: str) -> Any:
    from filebridge.outbox.mapping import parse_mapping

    return parse_mapping(MAPPING, "bench").with_format(file_format)


def ours(file_format: str, n: int, out: Path) -> None:
    from filebridge.outbox.writers import open_table_writer

    with open_table_writer(out, spec(file_format)) as writer:
        writer.write_rows(typed_rows(n))


def pipeline(file_format: str, n: int, out: Path) -> None:
    from filebridge.outbox.order_rows import order_to_rows
    from filebridge.outbox.writers import open_table_writer
    from filebridge.selldone.models import Order

    mapping = spec(file_format)
    with open_table_writer(out, mapping) as writer:
        for payload in order_dicts(n):
            writer.write_rows(order_to_rows(Order.model_validate(payload), mapping))


def pandas_frame(n: int) -> Any:
    import pandas as pd

    rows = []
    for row in typed_rows(n):
        row[2] = row[2].replace(tzinfo=None)  # Excel cannot hold aware datetimes
        rows.append(row)
    return pd.DataFrame(rows, columns=[h for h, _ in COLUMNS])


def pandas_csv(n: int, out: Path) -> None:
    import pandas as pd

    frame = pd.DataFrame(list(typed_rows(n)), columns=[h for h, _ in COLUMNS])
    # The datetimes as ours shows them (no "+00:00"), converted the fast (vectorised) way.
    frame["reserved_at"] = frame["reserved_at"].dt.tz_localize(None)
    frame.to_csv(out, index=False, encoding="utf-8-sig", lineterminator="\r\n")


def pandas_excel(n: int, out: Path) -> None:
    pandas_frame(n).to_excel(out, index=False)


def xlsxwriter_constant_memory(n: int, out: Path) -> None:
    import xlsxwriter

    workbook = xlsxwriter.Workbook(str(out), {"constant_memory": True})
    sheet = workbook.add_worksheet()
    for c, (header, _) in enumerate(COLUMNS):
        sheet.write_string(0, c, header)
    for r, row in enumerate(typed_rows(n), start=1):
        for c, value in enumerate(row):
            if isinstance(value, str):
                sheet.write_string(r, c, value)
            elif isinstance(value, datetime):
                sheet.write_datetime(r, c, value.replace(tzinfo=None))
            else:
                sheet.write_number(r, c, float(value))
    workbook.close()


def openpyxl_write_only(n: int, out: Path) -> None:
    from openpyxl import Workbook

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet()
    sheet.append([h for h, _ in COLUMNS])
    for row in typed_rows(n):
        sheet.append(
            [v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row]
        )
    workbook.save(out)


# What each candidate imports, imported before its clock starts.
FILEBRIDGE = ["filebridge.outbox.mapping", "filebridge.outbox.writers"]
IMPORTS = {
    "filebridge csv": FILEBRIDGE,
    "pandas to_csv": ["pandas"],
    "filebridge xlsx": FILEBRIDGE,
    "pandas to_excel": ["pandas", "openpyxl"],
    "xlsxwriter constant_memory": ["xlsxwriter"],
    "openpyxl write_only": ["openpyxl"],
    "pipeline csv": [
        *FILEBRIDGE,
        "filebridge.selldone.models",
        "filebridge.outbox.order_rows",
    ],
    "pipeline xlsx": [
        *FILEBRIDGE,
        "filebridge.selldone.models",
        "filebridge.outbox.order_rows",
    ],
}
CANDIDATES: dict[str, tuple[str, Callable[[int, Path], None]]] = {
    "filebridge csv": ("csv", lambda n, p: ours("csv", n, p)),
    "pandas to_csv": ("csv", pandas_csv),
    "filebridge xlsx": ("xlsx", lambda n, p: ours("xlsx", n, p)),
    "pandas to_excel": ("xlsx", pandas_excel),
    "xlsxwriter constant_memory": ("xlsx", xlsxwriter_constant_memory),
    "openpyxl write_only": ("xlsx", openpyxl_write_only),
    "pipeline csv": ("csv", lambda n, p: pipeline("csv", n, p)),
    "pipeline xlsx": ("xlsx", lambda n, p: pipeline("xlsx", n, p)),
}


def peak_mb() -> float | None:
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def measure_one(name: str, n: int) -> dict[str, Any]:
    """Run one candidate in this process (called in a fresh child)."""
    extension, write = CANDIDATES[name]
    for module in IMPORTS[name]:
        importlib.import_module(module)
    tracing = peak_mb() is None
    if tracing:
        import tracemalloc

        tracemalloc.start()
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / f"bench.{extension}"
        started, cpu_started = time.perf_counter(), time.process_time()
        write(n, out)
        seconds = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        size = out.stat().st_size
    if tracing:
        import tracemalloc

        peak = tracemalloc.get_traced_memory()[1] / 2**20
    else:
        peak = peak_mb() or 0.0
    return {
        "name": name,
        "seconds": seconds,
        "rows_per_s": n / seconds,
        "cpu_seconds": cpu,
        "cpu_rows_per_s": n / cpu,
        "peak_mb": peak,
        "size_mb": size / 2**20,
    }


def run_child(name: str, n: int) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--rows", str(n), "--one", name],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
        text=True,
    )
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The best round of one candidate: fastest wall and CPU time, highest peak."""
    fastest = min(runs, key=lambda r: r["seconds"])
    cheapest = min(runs, key=lambda r: r["cpu_seconds"])
    return {
        **fastest,
        "cpu_seconds": cheapest["cpu_seconds"],
        "cpu_rows_per_s": cheapest["cpu_rows_per_s"],
        "peak_mb": max(r["peak_mb"] for r in runs),
    }


def list_calls(orders: int) -> tuple[int, int, float]:
    """One real export of `orders` Payed orders: (list calls, orders exported, seconds)."""
    from filebridge.config import build_settings
    from filebridge.journal import Journal
    from filebridge.outbox.export import run_export
    from filebridge.sandbox import start_sandbox
    from filebridge.selldone import SelldoneClient

    with (
        tempfile.TemporaryDirectory() as folder,
        start_sandbox(rate_per_minute=None) as box,
    ):
        payed = sum(1 for o in box.orders() if o["status"] == "Payed")
        box.add_orders(max(0, orders - payed))
        settings = build_settings(
            {
                "selldone": {
                    "api_url": box.url,
                    "shop_id": box.shop_id,
                    "token": box.token,
                },
                "export": {"since": "2000-01-01", "page_size": 250},
            },
            base_dir=Path(folder),
            environ={},
        )
        journal = Journal.open(Path(folder) / "journal.sqlite3")
        box.clear_calls()
        started = time.perf_counter()
        with SelldoneClient(
            box.url, box.shop_id, box.token, requests_per_minute=1_000_000
        ) as client:
            result = run_export(settings, client, journal, now=datetime.now(UTC))
        seconds = time.perf_counter() - started
        journal.close()
        calls = [c for c in box.calls() if c.path.endswith("/baskets-PHYSICAL")]
    return len(calls), result.orders, seconds


def print_list_calls(orders: int) -> None:
    calls, exported, seconds = list_calls(orders)
    minimum = -(-orders // 250)
    verdict = "ok" if calls <= minimum + 1 else "ABOVE TARGET"
    print(
        f"export of {orders:,} Payed orders ({exported:,} exported, {seconds:.1f} s): "
        f"{calls} list calls, minimum {minimum} (target ≤ {minimum + 1}) {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--one", help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="*", help="candidate names to run")
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds, candidates taking turns"
    )
    parser.add_argument(
        "--list-orders",
        type=int,
        default=20_000,
        help="orders for the list-call count (0: skip it)",
    )
    parser.add_argument(
        "--calls-only", action="store_true", help="only count the export's list calls"
    )
    args = parser.parse_args()
    if args.calls_only:
        print_list_calls(args.list_orders)
        return
    if args.one:
        print(json.dumps(measure_one(args.one, args.rows)))
        return
    names = args.only or list(CANDIDATES)
    unknown = [name for name in names if name not in CANDIDATES]
    if unknown:
        parser.error(f"unknown candidate(s) {unknown}; known: {list(CANDIDATES)}")
    print(
        f"{args.rows:,} line items × {len(COLUMNS)} columns, one fresh process each, "
        f"best of {args.repeat} interleaved rounds"
    )
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    for _ in range(args.repeat):
        for name in names:
            runs[name].append(run_child(name, args.rows))
    results = {name: best(found) for name, found in runs.items()}
    print(
        f"{'candidate':<28}{'rows/s':>10}{'seconds':>9}{'CPU rows/s':>12}"
        f"{'CPU s':>7}{'peak MB':>9}{'file MB':>9}"
    )
    for name, result in results.items():
        print(
            f"{name:<28}{result['rows_per_s']:>10,.0f}{result['seconds']:>9.2f}"
            f"{result['cpu_rows_per_s']:>12,.0f}{result['cpu_seconds']:>7.2f}"
            f"{result['peak_mb']:>9.1f}{result['size_mb']:>9.1f}"
        )
    ratio = [
        ("csv: filebridge / pandas to_csv", "filebridge csv", "pandas to_csv", 1.0),
        (
            "xlsx: filebridge / pandas to_excel",
            "filebridge xlsx",
            "pandas to_excel",
            3.0,
        ),
    ]
    for label, ours_name, theirs, target in ratio:
        if ours_name in results and theirs in results:
            wall = results[ours_name]["rows_per_s"] / results[theirs]["rows_per_s"]
            cpu = (
                results[ours_name]["cpu_rows_per_s"] / results[theirs]["cpu_rows_per_s"]
            )
            verdict = "ok" if min(wall, cpu) >= target else "BELOW TARGET"
            print(
                f"{label}: {wall:.2f}× wall, {cpu:.2f}× CPU "
                f"(target ≥ {target:g}×) {verdict}"
            )
    peaks = [
        r["peak_mb"]
        for k, r in results.items()
        if k.startswith(("filebridge", "pipeline"))
    ]
    if peaks:
        print(f"filebridge peak memory: {max(peaks):.1f} MB (target < 150 MB)")
    if args.list_orders > 0:
        print_list_calls(args.list_orders)


if __name__ == "__main__":
    main()
