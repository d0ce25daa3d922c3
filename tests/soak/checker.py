"""The independent checker: judges a soak run without asking filebridge anything.

Its evidence is only what an outsider can see:

* the shop's final orders and the sandbox's log of every API request it received;
* the folders: `outbox/` (parsed with the `csv` module, as the ERP reads it),
  `archive/` (result files), `failed/` (rejected rows with their `error` column,
  unreadable files with their `.error.txt`), and every file under the work folder
  (searched for the token);
* what the simulated ERP asked for (`erp.ErpLedger`) and what the harness armed
  (`DropLog`: the dropped connections, in the order they were armed).

It never opens filebridge's journal.

**Which writes reached the shop.** A logged write with status 200 was processed (this
includes app-level refusals on HTTP 200, which a correct bridge never provokes for a
valid row). A logged status 0 is a dropped connection: armed with
`after_processing=True` it was processed first, otherwise not. The sandbox logs both as
0, but faults of one kind fire in the order they were armed (the first matching armed
fault fires), and the harness arms drops only with the filters of `FILTERS`, which no
request matches twice. So the k-th status-0 call of a filter is the k-th drop armed
for it. Counting processed writes per order and step, against the steps the ERP's rows
need, gives doubled steps (more) and skipped ones (fewer), whatever order delayed
requests were processed in.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .erp import (
    OUTBOX_HEADER_START,
    ErpFile,
    ErpLedger,
    ErpRow,
    parse_outbox_csv,
    ref_of,
)

FILTERS: Mapping[str, tuple[str, str]] = {
    "list": ("GET", "baskets-PHYSICAL"),
    "order": ("GET", "/baskets/"),
    "state": ("POST", "/state"),
    "returned": ("POST", "/delivery-returned"),
    "tracking": ("PUT", "/tracking"),
}
"""Drop filters (method, path fragment): every API request matches exactly one."""
WRITE_FILTERS = ("state", "returned", "tracking")
PROCESSABLE = ("Payed", "COD")
MAX_PAGE = 250
RESULT_SUFFIX = ".result.csv"


def call_filter(method: str, path: str) -> str | None:
    """The one `FILTERS` key a request matches (None: not an API route we use)."""
    if method == "GET":
        return "list" if "/baskets-" in path else "order"
    if method == "POST" and path.endswith("/state"):
        return "state"
    if method == "POST" and path.endswith("/delivery-returned"):
        return "returned"
    if method == "PUT" and path.endswith("/tracking"):
        return "tracking"
    return None


def basket_id(path: str) -> int | None:
    parts = path.split("/")
    if "baskets" in parts:
        index = parts.index("baskets")
        with contextlib.suppress(IndexError, ValueError):
            return int(parts[index + 1])
    return None


@dataclass
class DropLog:
    """The dropped connections the harness armed, per filter, in arming order."""

    after_processing: dict[str, list[bool]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def armed(self, name: str, times: int, *, after: bool) -> None:
        self.after_processing[name].extend([after] * times)


@dataclass
class Evidence:
    """Everything the checker may look at."""

    workdir: Path
    outbox: Path
    inbox: Path
    archive: Path
    failed: Path
    token: str
    budget_per_minute: int
    statuses: tuple[str, ...]
    orders: list[dict[str, Any]]
    calls: Sequence[Any]  # filebridge.sandbox.Call
    initial: Mapping[int, tuple[str, tuple[str | None, str | None]]]
    erp: ErpLedger
    drops: DropLog


@dataclass
class CheckReport:
    """The checker's figures and every problem it found (empty = the run is clean)."""

    orders: int = 0
    exportable: int = 0
    exported: int = 0
    outbox_files: int = 0
    exported_twice: int = 0
    wrongly_exported: int = 0
    not_exported: int = 0
    erp_files: int = 0
    erp_copies: int = 0
    rows_valid: int = 0
    rows_invalid: int = 0
    rows_lost: int = 0
    rows_wrongly_rejected: int = 0
    outcome_mismatches: int = 0
    state_mismatches: int = 0
    steps_doubled: int = 0
    steps_missing: int = 0
    writes_processed: int = 0
    dropped_after_processing: int = 0
    api_calls: int = 0
    api_calls_min: int = 0
    calls_by_status: dict[int, int] = field(default_factory=dict)
    max_calls_60s: int = 0
    partial_files: int = 0
    leftover_temp_files: int = 0
    token_leaks: int = 0
    problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        self.problems.append(text)


def check(ev: Evidence) -> CheckReport:
    report = CheckReport(orders=len(ev.orders), api_calls=len(ev.calls))
    by_id = {int(o["id"]): o for o in ev.orders}
    _check_exports(ev, by_id, report)
    _check_files(ev, report)
    processed = _processed_writes(ev, report)
    _check_steps(ev, by_id, processed, report)
    _check_final_states(ev, by_id, report)
    _check_rate(ev, report)
    _check_temp_files(ev, report)
    _check_token(ev, report)
    report.calls_by_status = dict(sorted(Counter(c.status for c in ev.calls).items()))
    models = ev.erp.models.values()
    report.api_calls_min = (
        math.ceil(report.exportable / MAX_PAGE)
        + sum(sum(m.posts.values()) for m in models)
        + sum(m.returns for m in models)
        + sum(m.puts for m in models)
    )
    return report


# --- the outbox -------------------------------------------------------------------------


def _outbox_rows(data: bytes) -> Counter[int]:
    """Rows per order id of a whole outbox file (the caller checked it parses)."""
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    return Counter(int(row[0]) for row in table[1:])


def _check_exports(
    ev: Evidence, by_id: Mapping[int, dict[str, Any]], report: CheckReport
) -> None:
    exportable = {
        order_id
        for order_id, o in by_id.items()
        if o.get("status") in ev.statuses
        and o.get("type") == "PHYSICAL"
        and not (o.get("reject") or "").strip()
    }
    report.exportable = len(exportable)
    files_of: dict[int, list[str]] = defaultdict(list)
    names = sorted(os.listdir(ev.outbox)) if ev.outbox.is_dir() else []
    for name in names:
        lower = name.lower()
        if not lower.endswith((".csv", ".xlsx")):
            continue
        report.outbox_files += 1
        data = (ev.outbox / name).read_bytes()
        if lower.endswith(".xlsx"):
            report.partial_files += 1
            report.problem(f"outbox: {name} is XLSX but the soak exports CSV")
            continue
        ids, trouble = parse_outbox_csv(data)
        if trouble is not None:
            report.partial_files += 1
            report.problem(f"outbox: {name} is not a whole file: {trouble}")
            continue
        for order_id, rows in _outbox_rows(data).items():
            files_of[order_id].append(name)
            order = by_id.get(order_id)
            items = len(order.get("items") or ()) if order else None
            if items is not None and rows != items:
                report.problem(
                    f"outbox: {name} has {rows} rows for order {order_id}, "
                    f"which has {items} items"
                )
        del ids
    report.exported = len(files_of)
    for order_id, files in sorted(files_of.items()):
        if len(files) > 1:
            report.exported_twice += 1
            report.problem(f"export: order {order_id} is in {len(files)} files {files}")
        if order_id not in exportable:
            report.wrongly_exported += 1
            status = by_id.get(order_id, {}).get("status")
            report.problem(f"export: order {order_id} ({status}) must not be exported")
    for order_id in sorted(exportable - set(files_of)):
        report.not_exported += 1
        report.problem(f"export: paid order {order_id} was never exported")
    for sighting in ev.erp.partial_sightings:
        report.partial_files += 1
        report.problem(f"outbox: the ERP read an incomplete file: {sighting}")


# --- inbox files: archive, results, failed ------------------------------------------------


@dataclass
class _Folders:
    """archive/ and failed/ listed once: name → path, and failed/ files by source stem."""

    archived: dict[str, Path]
    failed_by_stem: dict[str, list[Path]]

    @classmethod
    def scan(cls, archive: Path, failed: Path) -> _Folders:
        archived: dict[str, Path] = {}
        if archive.is_dir():
            for day in sorted(archive.iterdir()):
                if day.is_dir():
                    for path in day.iterdir():
                        archived.setdefault(path.name, path)
        by_stem: dict[str, list[Path]] = defaultdict(list)
        if failed.is_dir():
            for path in sorted(failed.iterdir()):
                stem, marker, _ = path.name.partition(".failed-")
                if marker:
                    by_stem[stem].append(path)
        return cls(archived, by_stem)


def _read_result(path: Path) -> list[dict[str, str]]:
    """A result file: written in its input's CSV dialect (`;`/cp1252 for such inputs)."""
    table = _read_table(path)
    if not table:
        return []
    header, rows = table[0], table[1:]
    return [dict(zip(header, row, strict=False)) for row in rows]


def _read_table(path: Path) -> list[list[str]]:
    """A failed/ file as text cells, whatever its format."""
    if path.suffix.lower() == ".xlsx":
        from openpyxl import load_workbook

        book = load_workbook(path, read_only=True)
        try:
            sheet = book.worksheets[0]
            return [
                ["" if v is None else str(v) for v in row]
                for row in sheet.iter_rows(values_only=True)
            ]
        finally:
            book.close()
    data = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        text = data.decode("latin-1")
    delimiter = ";" if text.split("\n", 1)[0].count(";") else ","
    return list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))


def _failed_errors(folders: _Folders, names: Iterable[str]) -> dict[str, str]:
    """ERP row ref → error text, from every failed/ file of these inbox file names."""
    errors: dict[str, str] = {}
    paths = [p for n in names for p in folders.failed_by_stem.get(Path(n).stem, [])]
    for path in paths:
        table = _read_table(path)
        if not table:
            continue
        header = [h.strip().lower() for h in table[0]]
        if "error" not in header:
            continue
        error_at = header.index("error")
        ref_at = next(
            (
                i
                for i, h in enumerate(header)
                if h in ("erp_ref", "erp-referenz", "ref")
            ),
            None,
        )
        if ref_at is None:
            continue
        for row in table[1:]:
            if len(row) > max(ref_at, error_at):
                errors[ref_of(row[ref_at])] = row[error_at].strip()
    return errors


def _check_files(ev: Evidence, report: CheckReport) -> None:
    folders = _Folders.scan(ev.archive, ev.failed)
    for file in ev.erp.files:
        report.erp_files += 1
        report.erp_copies += 1 if file.copy_name else 0
        valid = [r for r in file.rows if r.valid and not file.unreadable]
        report.rows_valid += len(valid)
        report.rows_invalid += len(file.rows) - len(valid)
        if file.unreadable:
            _check_unreadable(ev, file, report)
            continue
        _check_readable(folders, file, report)


def _check_unreadable(ev: Evidence, file: ErpFile, report: CheckReport) -> None:
    moved = ev.failed / file.name
    note = ev.failed / (file.name + ".error.txt")
    if not moved.is_file() or not note.is_file():
        report.rows_lost += len(file.rows)
        report.problem(f"inbox: unreadable {file.name} is not in failed/ with its note")
        return
    if not note.read_text(encoding="utf-8-sig").strip():
        report.rows_lost += len(file.rows)
        report.problem(f"inbox: {file.name}.error.txt gives no reason")


def _check_readable(folders: _Folders, file: ErpFile, report: CheckReport) -> None:
    replayed: list[tuple[str, list[dict[str, str]]]] = []
    duplicates = 0
    for name in file.names():
        path = folders.archived.get(name)
        result = path.with_name(path.name + RESULT_SUFFIX) if path else None
        if path is None or result is None or not result.is_file():
            report.problem(f"inbox: {name} was never archived with a result file")
            continue
        lines = _read_result(result)
        if len(lines) == 1 and "duplicate" in lines[0].get("message", ""):
            duplicates += 1
        else:
            replayed.append((name, lines))
    if len(replayed) != 1 or (file.copy_name and duplicates != 1):
        report.rows_lost += len(file.rows) if not replayed else 0
        report.problem(
            f"inbox: {file.names()} replayed {len(replayed)} times, "
            f"{duplicates} recognised as duplicates (want 1 and "
            f"{1 if file.copy_name else 0})"
        )
        if not replayed:
            return
    name, lines = replayed[0]
    outcomes = {
        int(line["row"]): line for line in lines if line.get("row", "").isdigit()
    }
    errors = _failed_errors(folders, file.names())
    for number, row in enumerate(file.rows, start=2):
        line = outcomes.get(number)
        got = line["outcome"] if line else "missing"
        _judge_row(row, got, errors, name, number, report)


def _judge_row(
    row: ErpRow,
    got: str,
    errors: Mapping[str, str],
    name: str,
    number: int,
    report: CheckReport,
) -> None:
    where = f"{name} row {number} ({row.ref}, order {row.order_id})"
    if row.valid:
        if got in ("missing", "pending"):
            report.rows_lost += 1
            report.problem(f"row lost: {where} is {got}, want {row.expect}")
        elif got == "rejected":
            report.rows_wrongly_rejected += 1
            report.problem(
                f"valid row rejected: {where}, want {row.expect}: "
                f"{errors.get(row.ref, '(not in failed/)')}"
            )
        elif got != row.expect:
            report.outcome_mismatches += 1
            report.problem(f"row outcome: {where} is {got}, want {row.expect}")
        return
    if got != "rejected":
        report.outcome_mismatches += 1
        report.problem(f"invalid row: {where} ({row.mistake}) is {got}, not rejected")
        return
    if not errors.get(row.ref):
        report.rows_lost += 1
        report.problem(f"failed/: {where} ({row.mistake}) has no row with a reason")


# --- the call log: which writes reached the shop ------------------------------------------


@dataclass
class Processed:
    """Writes that reached the shop, per order."""

    posts: dict[int, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    returns: Counter[int] = field(default_factory=Counter)
    puts: Counter[int] = field(default_factory=Counter)


def _processed_writes(ev: Evidence, report: CheckReport) -> Processed:
    seen_zero: Counter[str] = Counter()
    processed = Processed()
    for call in ev.calls:
        name = call_filter(call.method, call.path)
        if name is None:
            continue
        reached = call.status == 200
        if call.status == 0:
            armed = ev.drops.after_processing.get(name, [])
            index = seen_zero[name]
            seen_zero[name] += 1
            if index >= len(armed):
                report.problem(f"calls: a dropped {name} call that was never armed")
                continue
            reached = armed[index]
            report.dropped_after_processing += 1 if reached else 0
        if not reached or name not in WRITE_FILTERS:
            continue
        order_id = basket_id(call.path)
        if order_id is None:
            continue
        report.writes_processed += 1
        if name == "state":
            body = call.body if isinstance(call.body, dict) else {}
            processed.posts[order_id][str(body.get("state"))] += 1
        elif name == "returned":
            processed.returns[order_id] += 1
        else:
            processed.puts[order_id] += 1
    return processed


def _check_steps(
    ev: Evidence,
    by_id: Mapping[int, dict[str, Any]],
    processed: Processed,
    report: CheckReport,
) -> None:
    models = ev.erp.models
    touched = set(processed.posts) | set(processed.returns) | set(processed.puts)
    for order_id in sorted(touched | set(models)):
        order = by_id.get(order_id)
        if order is None or order.get("status") not in PROCESSABLE:
            continue  # refused by the shop; the final-state check covers them
        model = models.get(order_id)
        want_posts: Counter[str] = model.posts if model else Counter()
        got_posts = processed.posts.get(order_id, Counter())
        pairs = [
            (f"POST state {s}", got_posts[s], want_posts[s])
            for s in sorted(set(want_posts) | set(got_posts))
        ]
        pairs.append(
            (
                "POST delivery-returned",
                processed.returns[order_id],
                model.returns if model else 0,
            )
        )
        pairs.append(
            ("PUT tracking", processed.puts[order_id], model.puts if model else 0)
        )
        for what, got, want in pairs:
            if got > want:
                report.steps_doubled += got - want
                report.problem(
                    f"steps: order {order_id} got {what} {got}x, want {want}x"
                )
            elif got < want:
                report.steps_missing += want - got
                report.problem(
                    f"steps: order {order_id} got {what} {got}x, want {want}x"
                )


def _tracking(order: Mapping[str, Any]) -> tuple[str | None, str | None]:
    info = order.get("delivery_info")
    if not isinstance(info, dict):
        return (None, None)
    return (info.get("tracking_code"), info.get("tracking_url"))


def _check_final_states(
    ev: Evidence, by_id: Mapping[int, dict[str, Any]], report: CheckReport
) -> None:
    for order_id, order in sorted(by_id.items()):
        model = ev.erp.models.get(order_id)
        if model is not None:
            want_state, want_tracking = model.state, model.tracking
        elif order_id in ev.initial:
            want_state, want_tracking = ev.initial[order_id]
        else:
            continue
        got_state, got_tracking = order.get("delivery_state"), _tracking(order)
        if got_state != want_state or tuple(got_tracking) != tuple(want_tracking):
            report.state_mismatches += 1
            report.rows_lost += 1 if model is not None and model.rows else 0
            report.problem(
                f"final state: order {order_id} is {got_state} {got_tracking}, "
                f"the rows asked for {want_state} {want_tracking}"
            )


# --- budget, temp files, token ------------------------------------------------------------


def max_in_window(times: Sequence[float], window: float) -> int:
    """The most events inside any half-open span of `window` seconds."""
    ordered = sorted(times)
    best = 0
    start = 0
    for end, moment in enumerate(ordered):
        while moment - ordered[start] >= window:
            start += 1
        best = max(best, end - start + 1)
    return best


def _check_rate(ev: Evidence, report: CheckReport) -> None:
    report.max_calls_60s = max_in_window([c.at for c in ev.calls], 60.0)
    if report.max_calls_60s > ev.budget_per_minute:
        report.problem(
            f"rate: {report.max_calls_60s} calls in one 60 s window, "
            f"the configured budget is {ev.budget_per_minute}"
        )


def _check_temp_files(ev: Evidence, report: CheckReport) -> None:
    for folder in (ev.outbox, ev.archive, ev.failed):
        if not folder.is_dir():
            continue
        for path in folder.rglob("*"):
            if path.name.endswith(".partial"):
                report.leftover_temp_files += 1
                report.problem(f"temp file left behind: {path.relative_to(ev.workdir)}")
    if ev.inbox.is_dir():
        for path in ev.inbox.rglob("*"):
            if path.is_file():
                report.problem(f"inbox: {path.relative_to(ev.workdir)} is still there")


def _check_token(ev: Evidence, report: CheckReport) -> None:
    token = ev.token.encode()
    for path in ev.workdir.rglob("*"):
        if path.is_file() and token in path.read_bytes():
            report.token_leaks += 1
            report.problem(
                f"token leak: {path.relative_to(ev.workdir)} holds the token"
            )


__all__ = [
    "FILTERS",
    "OUTBOX_HEADER_START",
    "WRITE_FILTERS",
    "CheckReport",
    "DropLog",
    "Evidence",
    "basket_id",
    "call_filter",
    "check",
    "max_in_window",
]
