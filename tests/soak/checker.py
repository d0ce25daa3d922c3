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

**Waiting behind an unrelated order** (`waited_behind_unrelated_s`, target 0). A doubtful
write holds only its own order; no other row may wait for it. Measured per *row group*
(the valid rows of one order O in one ERP file F; later rows of O in F wait behind O's
own rows by design, so the group's first row is the one that can wait behind others):

* `ready(F)` = when F was whole in the inbox (`ErpFile.written_at`) + the inbox's
  `settle_seconds` (filebridge must wait that long for a file to be stable).
* `end(F, O)` = the first API call naming O at or after `written_at` (the ERP never has
  O in two unfinished files, so that call is for F), else when F was seen finished.
* A *hold* of order P is `[a, a + write_settle_seconds]` for every write naming P whose
  answer filebridge did not get: a dropped connection (status 0), a delay armed beyond
  the client timeout, or a write that arrived at most `delay + 0.2 s` before a SIGKILL.
  The hold starts when the write came into doubt: at the drop, at the client's timeout
  (`a + timeout_seconds`) for a delayed write, or at the kill, whichever came first;
  until then it is a request in flight, whose answer any bridge waits for.
  (This is the longest a correct bridge may keep P's later steps back; wider than the
  real hold, so it can only over-count.)
* *Idle*: the gap between two consecutive API calls (any order, any route), minus its
  first `IDLE_SLACK_S` (the watcher's own cycle: debounce, poll, reading and moving a
  file, journal commits), minus the parts *excused*: the watcher down or starting
  (harness: kill/stop → start + startup), token revoked, inbox outage, the harness's
  scripted episodes (budget wait, Retry-After pause, journal zeroed), the armed delay
  of the call that opens the gap, and `RETRY_WAIT_S` after a call answered with a
  non-200 status (the client's backoff or a `Retry-After`); and a whole gap after which
  the next call would be at least the `budget_per_minute`-th within `BUDGET_SPAN_S`
  (filebridge waited for its API budget).
* The group's figure is the idle time inside `[ready, end]` that lies in a hold of some
  order P != O and not in a hold of O itself. `waited_behind_unrelated_s` is the largest
  over all groups; `max_row_wait_s` is the largest `end - ready` (any cause, for scale).

A bridge that stops the inbox behind one held order idles for the whole settle time
while other files are ready, which this counts; one that goes on shows no idle gap.
"""

from __future__ import annotations

import bisect
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
IDLE_SLACK_S = 2.0
"""Idle time per gap that is the watcher's own cycle, not waiting (module docstring)."""
RETRY_WAIT_S = 6.0
"""The client's longest backoff (5 s + 1 s jitter); the armed Retry-After is 1-2 s."""
KILL_IN_FLIGHT_S = 0.2
BEHIND_TOLERANCE_S = 1.0
"""A row that idled this long behind an unrelated hold is a problem. Below it: a start
slower than the harness's startup allowance, or slivers of float overlap; a row stalled
behind a held order idles for `write_settle_seconds` - `IDLE_SLACK_S` (5 s here)."""
BUDGET_SPAN_S = 61.0
"""The limiter's window plus its margin, and a second for the clocks' jitter."""


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
    settle_seconds: float = 1.0
    write_settle_seconds: float = 7.0
    timeout_seconds: float = 4.0
    excused: Sequence[tuple[float, float]] = ()
    """Wall-time spans the harness made filebridge unable to work (module docstring)."""
    kills_at: Sequence[float] = ()
    delays: Sequence[ArmedDelay] = ()


@dataclass(frozen=True)
class ArmedDelay:
    """A latency fault the harness armed: the next `times` matching calls sleep."""

    armed_at: float
    method: str | None
    fragment: str | None
    seconds: float
    times: int


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
    waited_behind_unrelated_s: float = 0.0
    rows_behind_unrelated: int = 0
    row_groups_measured: int = 0
    max_row_wait_s: float = 0.0
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
    _check_waits(ev, report)
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


# --- waiting behind an unrelated order -----------------------------------------------


Span = tuple[float, float]


def _merge(spans: Iterable[Span]) -> list[Span]:
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _subtract(spans: list[Span], cut: list[Span]) -> list[Span]:
    """`spans` minus `cut` (both merged, sorted)."""
    out: list[Span] = []
    for start, end in spans:
        pieces = [(start, end)]
        for c0, c1 in cut:
            if c1 <= start or c0 >= end:
                continue
            pieces = [
                p
                for a, b in pieces
                for p in ((a, min(b, c0)), (max(a, c1), b))
                if p[1] > p[0]
            ]
        out.extend(pieces)
    return out


def _intersect(spans: list[Span], other: list[Span]) -> list[Span]:
    out: list[Span] = []
    for a0, a1 in spans:
        for b0, b1 in other:
            lo, hi = max(a0, b0), min(a1, b1)
            if hi > lo:
                out.append((lo, hi))
    return _merge(out)


def _length(spans: Iterable[Span]) -> float:
    return sum(b - a for a, b in spans)


def _call_delays(ev: Evidence, calls: Sequence[Any]) -> list[float]:
    """The armed delay each call slept (0 for most): the first matching armed delay."""
    armed = sorted(ev.delays, key=lambda d: d.armed_at)
    left = [d.times for d in armed]
    out: list[float] = []
    for call in calls:
        slept = 0.0
        for index, delay in enumerate(armed):
            if left[index] <= 0 or delay.armed_at > call.at:
                continue
            if delay.method is not None and delay.method != call.method:
                continue
            if delay.fragment is not None and delay.fragment not in call.path:
                continue
            left[index] -= 1
            slept = delay.seconds
            break
        out.append(slept)
    return out


def _check_waits(ev: Evidence, report: CheckReport) -> None:
    calls = sorted(ev.calls, key=lambda c: c.at)
    slept = _call_delays(ev, calls)
    holds: dict[int, list[Span]] = defaultdict(list)
    for call, delay in zip(calls, slept, strict=True):
        name = call_filter(call.method, call.path)
        order_id = basket_id(call.path)
        if name not in WRITE_FILTERS or order_id is None:
            continue
        # In doubt from the drop, the client's timeout or the kill, whichever came
        # first; before that the write is a request in flight, not a doubt.
        doubt_from = [
            *([call.at] if call.status == 0 else []),
            *([call.at + ev.timeout_seconds] if delay >= ev.timeout_seconds else []),
            *(
                k
                for k in ev.kills_at
                if call.at <= k <= call.at + delay + KILL_IN_FLIGHT_S
            ),
        ]
        if doubt_from:
            holds[order_id].append((min(doubt_from), call.at + ev.write_settle_seconds))
    merged_holds = {o: _merge(spans) for o, spans in holds.items()}
    excused = list(ev.excused)
    idle: list[Span] = []
    times = [c.at for c in calls]
    for i in range(len(calls) - 1):
        start, end = calls[i].at, calls[i + 1].at
        spent = i + 1 - bisect.bisect_right(times, end - BUDGET_SPAN_S)
        if spent >= ev.budget_per_minute - 1:
            continue  # the next call waited for the budget: not behind anyone
        cut = slept[i] + (RETRY_WAIT_S if calls[i].status != 200 else 0.0)
        lo = start + max(IDLE_SLACK_S, cut)
        if end > lo:
            idle.append((lo, end))
    idle = _subtract(_merge(idle), _merge(excused))
    first_call: dict[int, list[float]] = defaultdict(list)
    for call in calls:
        order_id = basket_id(call.path)
        if order_id is not None:
            first_call[order_id].append(call.at)
    worst = 0.0
    for file in ev.erp.files:
        if file.unreadable or file.written_at is None:
            continue
        ready = file.written_at + ev.settle_seconds
        for order_id in dict.fromkeys(r.order_id for r in file.rows if r.valid):
            if order_id is None:
                continue
            later = [t for t in first_call.get(order_id, []) if t >= file.written_at]
            ends = later[:1] + (
                [file.finished_at] if file.finished_at is not None else []
            )
            if not ends:
                continue
            end = min(ends)
            report.row_groups_measured += 1
            report.max_row_wait_s = max(report.max_row_wait_s, end - ready)
            if end <= ready:
                continue
            others = _merge(
                s for o, spans in merged_holds.items() if o != order_id for s in spans
            )
            behind = _subtract(
                _intersect(_intersect([(ready, end)], idle), others),
                merged_holds.get(order_id, []),
            )
            waited = _length(behind)
            if waited >= BEHIND_TOLERANCE_S:
                report.rows_behind_unrelated += 1
                report.problem(
                    f"waits: {file.name} order {order_id} idled {waited:.1f} s behind "
                    f"a held unrelated order (ready at {ready:.1f}, first call {end:.1f})"
                )
            worst = max(worst, waited)
    report.waited_behind_unrelated_s = worst


__all__ = [
    "FILTERS",
    "OUTBOX_HEADER_START",
    "WRITE_FILTERS",
    "ArmedDelay",
    "CheckReport",
    "DropLog",
    "Evidence",
    "basket_id",
    "call_filter",
    "check",
    "max_in_window",
]
