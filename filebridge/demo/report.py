"""The report after `filebridge demo`: what moved in the shop, rejected rows, where to look.

`build_report` gathers the facts once the sandbox has stopped (the shop's orders before
and after the inbox pass, the sandbox's call log, the failed/ files read back with the
real reader); `report_lines` words them for a person.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from filebridge.config import Settings
from filebridge.inbox import ERROR_COLUMN, FileReport, InboxResult
from filebridge.outbox import ExportResult
from filebridge.sandbox import Call
from filebridge.tables import read_table

__all__ = ["DemoReport", "OrderMove", "RejectedRow", "build_report", "report_lines"]

_STATE_PATH: Final = re.compile(r"/baskets/(?P<id>\d+)/state$")
_RETURNED_PATH: Final = re.compile(r"/baskets/(?P<id>\d+)/delivery-returned$")


@dataclass(frozen=True)
class OrderMove:
    """How one order changed in the shop during the inbox pass."""

    order_id: int
    before: str
    after: str
    returned: bool
    tracking_code: str | None  # set when the pass changed the order's tracking


@dataclass(frozen=True)
class RejectedRow:
    """One row of a failed/ file, read back: its source file, its cells, its error."""

    source: str
    failed_file: Path
    cells: Mapping[str, str]
    error: str


@dataclass(frozen=True)
class DemoReport:
    """The numbers behind the printed report (the sandbox is stopped by then)."""

    directory: Path
    config_path: Path
    sandbox_url: str
    outbox_files: tuple[Path, ...]
    exported_orders: tuple[int, ...]
    exported_rows: int
    dropped_files: tuple[str, ...]
    inbox_files: tuple[FileReport, ...]
    rows_applied: int
    rows_already_done: int
    rows_rejected: int
    rows_pending: int
    moves: tuple[OrderMove, ...]
    rejected: tuple[RejectedRow, ...]
    api_calls_export: int
    api_calls_inbox: int
    calls_by_kind: Mapping[str, int]
    archive_dir: Path
    failed_dir: Path
    log_path: Path
    seconds: float

    @property
    def api_calls(self) -> int:
        return self.api_calls_export + self.api_calls_inbox


# --- what happened ------------------------------------------------------------------------


def _tracking(order: Mapping[str, Any]) -> tuple[object, object]:
    info = order.get("delivery_info")
    if not isinstance(info, Mapping):
        return None, None
    return info.get("tracking_code"), info.get("tracking_url")


def _order_moves(
    before: Mapping[int, Mapping[str, Any]],
    after: Mapping[int, Mapping[str, Any]],
    inbox_calls: Sequence[Call],
) -> tuple[OrderMove, ...]:
    """Orders whose state or tracking the inbox pass changed, by id."""
    returned = {
        int(match["id"])
        for call in inbox_calls
        if call.method == "POST"
        and 200 <= call.status < 300
        and (match := _RETURNED_PATH.search(call.path))
    }
    moves = []
    for order_id in sorted(after):
        old, new = before.get(order_id), after[order_id]
        if old is None:
            continue
        state_before = str(old.get("delivery_state"))
        state_after = str(new.get("delivery_state"))
        tracking_changed = _tracking(old) != _tracking(new)
        if (
            state_before == state_after
            and not tracking_changed
            and order_id not in returned
        ):
            continue
        code = _tracking(new)[0] if tracking_changed else None
        moves.append(
            OrderMove(
                order_id,
                state_before,
                state_after,
                order_id in returned,
                None if code is None else str(code),
            )
        )
    return tuple(moves)


def _call_kind(call: Call) -> str:
    if call.method == "GET":
        return "GET order" if re.search(r"/baskets/\d+$", call.path) else "GET list"
    if _STATE_PATH.search(call.path):
        return "POST state"
    if _RETURNED_PATH.search(call.path):
        return "POST delivery-returned"
    if call.path.endswith("/tracking"):
        return "PUT tracking"
    return f"{call.method} other"


def _failed_rows(report: FileReport) -> list[RejectedRow]:
    """The rows of a file's failed/ file, read back with the real reader.

    A file that could not be read at all is one entry: its explanation.
    """
    path = report.failed_path
    if path is None or not path.is_file():
        return []
    if report.outcome == "failed":
        return [RejectedRow(report.name, path, {}, report.message)]
    table = read_table(path, max_bytes=path.stat().st_size + 1)
    error_header = next(
        (h for h in reversed(table.headers) if h.strip().lower() == ERROR_COLUMN), None
    )
    return [
        RejectedRow(
            report.name,
            path,
            dict(row.cells),
            row.cells.get(error_header, "") if error_header else "",
        )
        for row in table.rows
    ]


def build_report(
    settings: Settings,
    config_path: Path,
    url: str,
    exported: ExportResult,
    dropped: Sequence[Path],
    drained: InboxResult,
    before: Mapping[int, Mapping[str, Any]],
    after: Mapping[int, Mapping[str, Any]],
    calls: Sequence[Call],
    export_calls: int,
    seconds: float,
) -> DemoReport:
    """The facts behind the report; `before`/`after` are the shop's orders by id around
    the inbox pass, `calls` the sandbox's call log, the first `export_calls` the export's.
    """
    folders = settings.folders
    rejected = [row for file in drained.files for row in _failed_rows(file)]
    return DemoReport(
        directory=config_path.parent,
        config_path=config_path,
        sandbox_url=url,
        outbox_files=() if exported.file is None else (exported.file,),
        exported_orders=exported.order_ids,
        exported_rows=exported.rows,
        dropped_files=tuple(p.name for p in dropped),
        inbox_files=tuple(drained.files),
        rows_applied=drained.rows_applied,
        rows_already_done=drained.rows_already_done,
        rows_rejected=drained.rows_rejected,
        rows_pending=drained.rows_pending,
        moves=_order_moves(before, after, calls[export_calls:]),
        rejected=tuple(rejected),
        api_calls_export=export_calls,
        api_calls_inbox=len(calls) - export_calls,
        calls_by_kind=dict(Counter(_call_kind(c) for c in calls[export_calls:])),
        archive_dir=folders.archive,
        failed_dir=folders.failed,
        log_path=settings.log_path,
        seconds=seconds,
    )


# --- the printed report -------------------------------------------------------------------


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _move_line(move: OrderMove) -> str:
    text = f"  {move.order_id}: {move.before} → {move.after}"
    if move.returned:
        text += " (sent, then returned)"
    elif move.before == move.after:
        text += " (state unchanged)"
    if move.tracking_code:
        text += f", tracking {move.tracking_code}"
    return text


def _file_line(number: int, file: FileReport, base: Path) -> str:
    counts = [f"{file.applied} applied"]
    counts += [
        f"{n} {what}"
        for n, what in (
            (file.already_done, "already done"),
            (file.rejected, "rejected"),
            (file.pending, "pending"),
        )
        if n
    ]
    line = f"  {number}. {file.name}: " + ", ".join(counts)
    line += f" ({file.calls} API calls)"
    if file.outcome not in ("done", "duplicate"):
        line += (
            f", {file.outcome}: {file.message.splitlines()[0] if file.message else ''}"
        )
    if file.failed_path is not None:
        line += f" → {_shown(file.failed_path, base)}"
    return line


def _rejected_lines(row: RejectedRow) -> list[str]:
    """The reason, then its hint (validation writes `reason — hint`) on its own line."""
    reason, _, hint = row.error.partition(" — ")
    lines = [f"  {row.source}, {reason}"]
    if hint:
        lines.append(f"      hint: {hint}")
    return lines


def _where_lines(report: DemoReport) -> list[str]:
    base = report.directory
    archived = sorted(
        {f.archive_path.parent for f in report.inbox_files if f.archive_path}
    )
    failed = [f.failed_path for f in report.inbox_files if f.failed_path]
    places = [
        *((path, "the order file an ERP would import") for path in report.outbox_files),
        *(
            (path, "each inbox file as dropped, with a .result.csv beside it")
            for path in archived
        ),
        *(
            (path, "rejected rows + error column: fix, drop into inbox/ again")
            for path in failed
        ),
        (report.log_path, "one line per decision"),
        (report.config_path, "the settings the demo used (its sandbox is gone)"),
    ]
    shown = [
        (_shown(path, base) + ("/" if path.is_dir() else ""), what)
        for path, what in places
    ]
    width = max(len(name) for name, _ in shown)
    return [f"  {name.ljust(width)}  {what}" for name, what in shown]


def report_lines(report: DemoReport) -> list[str]:
    """The short report a person reads after `filebridge demo`."""
    lines = ["", "Export with the default mapping"]
    if report.outbox_files:
        lines += [
            f"  {_shown(path, report.directory)}: {len(report.exported_orders)} "
            f"orders, {report.exported_rows} rows (one per line item)"
            for path in report.outbox_files
        ]
    else:
        lines.append("  nothing to export")
    lines += ["", "Inbox: the sample files, dropped in this order, one pass"]
    lines += [
        _file_line(n, file, report.directory)
        for n, file in enumerate(report.inbox_files, start=1)
    ]
    lines += ["", f"Orders moved ({len(report.moves)})"]
    lines += [_move_line(move) for move in report.moves]
    lines += ["", f"Rows rejected ({len(report.rejected)})"]
    lines += [line for row in report.rejected for line in _rejected_lines(row)]
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(report.calls_by_kind.items()))
    lines += [
        "",
        f"API calls: {report.api_calls} ({report.api_calls_export} for the export; "
        f"{report.api_calls_inbox} for the inbox: {kinds or 'none'})",
        "",
        f"Where to look, in {report.directory}",
        *_where_lines(report),
        "",
        f"Done in {report.seconds:.1f} s. The sandbox stopped with the demo, so the "
        "settings cannot be run again:",
        "`filebridge demo` starts over; `filebridge init DIR` sets up a real shop.",
    ]
    return lines
