"""Helpers for the inbox tests, and the child process of the crash test.

Run as a script (`python tests/inbox_support.py CONFIG`), it does one real inbox pass
the way the CLI does: Settings from the file, a SelldoneClient, the journal, `run_inbox`.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script by the crash test
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from filebridge.config import Settings, load_settings
from filebridge.journal.store import Journal
from filebridge.selldone.client import SelldoneClient
from filebridge.selldone.models import FULFILMENT_SEQUENCE

STATE_PATH = "/state"


def write_config(
    tmp_path: Path,
    box: Any,
    *,
    settle_seconds: float = 0.0,
    poll_seconds: float = 0.5,
    polling: bool = False,
    timeout_seconds: float = 5.0,
    write_settle_seconds: float | None = None,
    extra: str = "",
) -> Path:
    """A filebridge.toml in tmp_path pointing at the sandbox, with folders under it."""
    config = tmp_path / "filebridge.toml"
    config.write_text(
        f"""
[selldone]
api_url = "{box.url}"
shop_id = {box.shop_id}
token = "{box.token}"
timeout_seconds = {timeout_seconds}
write_settle_seconds = {write_settle_seconds or timeout_seconds}

[folders]
inbox = "inbox"
outbox = "outbox"
archive = "archive"
failed = "failed"
state = "state"

[inbox]
settle_seconds = {settle_seconds}
poll_seconds = {poll_seconds}
polling = {"true" if polling else "false"}
empty_file_grace_seconds = 60

[limits]
requests_per_minute = 100000
{extra}
""",
        encoding="utf-8",
    )
    for name in ("outbox", "inbox", "archive", "failed", "state"):
        (tmp_path / name).mkdir(exist_ok=True)
    return config


def make_settings(tmp_path: Path, box: Any, **options: Any) -> Settings:
    return load_settings(write_config(tmp_path, box, **options))


def make_client(settings: Settings) -> SelldoneClient:
    return SelldoneClient(
        settings.selldone.api_url,
        settings.selldone.shop_id,
        settings.selldone.token,
        timeout=settings.selldone.timeout_seconds,
        write_settle=settings.selldone.write_settle_seconds,
        requests_per_minute=settings.limits.requests_per_minute,
    )


def write_csv(
    path: Path,
    header: Sequence[str],
    rows: Iterable[Sequence[object]],
    *,
    delimiter: str = ",",
    encoding: str = "utf-8-sig",
    line_ending: str = "\r\n",
) -> Path:
    """A CSV the way Excel saves it (BOM + comma, or cp1252 + semicolon, CRLF)."""
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=delimiter, lineterminator=line_ending)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(
    path: Path, header: Sequence[str], rows: Iterable[Sequence[object]]
) -> Path:
    """An XLSX with numbers stored as numbers, as Excel does for typed-in ids."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)
    return path


def state_posts(box: Any) -> list[tuple[int, str]]:
    """(order id, state) of every state POST the sandbox applied (HTTP 200, no error)."""
    found = []
    for call in box.calls():
        if (
            call.method == "POST"
            and call.path.endswith(STATE_PATH)
            and call.status == 200
        ):
            order_id = int(call.path.split("/")[-2])
            found.append((order_id, call.body["state"]))
    return found


def assert_no_skip_no_repeat(box: Any, before: dict[int, str]) -> None:
    """Per order, the applied state POSTs are the contiguous run after its start state."""
    per_order: dict[int, list[str]] = defaultdict(list)
    for order_id, state in state_posts(box):
        per_order[order_id].append(state)
    for order_id, states in per_order.items():
        start = FULFILMENT_SEQUENCE.index(before[order_id])
        expected = [
            s.value for s in FULFILMENT_SEQUENCE[start + 1 : start + 1 + len(states)]
        ]
        assert states == expected, (order_id, before[order_id], states)
    repeated = [k for k, n in Counter(state_posts(box)).items() if n > 1]
    assert repeated == []


def main(argv: Sequence[str]) -> int:
    """One inbox pass from a config file (the crash test's child process)."""
    from filebridge.inbox.run import run_inbox

    settings = load_settings(Path(argv[0]))
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
    ):
        result = run_inbox(settings, client, journal, now=datetime.now(UTC))
    print(
        f"applied={result.rows_applied} pending={result.rows_pending} "
        f"rejected={result.rows_rejected} unavailable={result.unavailable is not None}"
    )
    return 0 if result.rows_pending == 0 and result.unavailable is None else 3


if __name__ == "__main__":
    import stamina

    stamina.set_testing(True, attempts=4)
    raise SystemExit(main(sys.argv[1:]))


def result_csv_rows(path: Path) -> list[dict[str, str]]:
    """A result file's rows; it is written in its input's dialect (`,`/`;`, UTF-8 with
    BOM or the input's encoding), so the delimiter and encoding are read from it."""
    import csv

    data = path.read_bytes()
    for encoding in ("utf-8-sig", "utf-16", "cp1252"):
        if encoding == "utf-16" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            continue
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        break
    first = text.splitlines()[0] if text else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    return list(csv.DictReader(text.splitlines(), delimiter=delimiter))
