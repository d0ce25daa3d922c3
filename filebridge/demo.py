"""`filebridge demo`: export and inbox against the embedded sandbox, in a local demo folder.

No config and no network: the demo starts the sandbox on loopback (seeded, so every run
shows the same orders), writes a `filebridge.toml` for it, exports the paid orders with
the default mapping, drops the sample files (`sample_files`) into the inbox one after
another, replays them, and tells a person what happened and where the files are.

The real pieces run as `filebridge run` runs them (lock, journal, client, `run_pass`),
with two differences that keep the demo to a few seconds: `settle_seconds = 0` (the
files are complete when dropped) and a budget of 100,000 requests per minute on both
sides instead of Selldone's 80 (the sandbox is local).

Starting fresh is safe: the demo folder gets a marker file, and a rerun removes only the
folders and files the demo creates, and only where that marker is. A folder without the
marker is never touched unless it is empty.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from filebridge.config import TOKEN_ENV, Settings, load_settings
from filebridge.errors import StorageError
from filebridge.export import ExportResult
from filebridge.inbox import FileReport, InboxResult
from filebridge.jobs import open_client, run_pass
from filebridge.journal import Journal
from filebridge.locking import single_instance
from filebridge.log import FILE_FORMAT, RedactingFilter
from filebridge.readers import read_table
from filebridge.report import ERROR_COLUMN
from filebridge.sample_files import (
    SAMPLE_ORDER_COUNT,
    SAMPLE_SEED,
    write_sample_files,
)
from filebridge.sandbox import Call, Sandbox, start_sandbox

__all__ = [
    "DEFAULT_DEMO_DIR",
    "DEMO_FOLDERS",
    "DEMO_RATE_PER_MINUTE",
    "MARKER_NAME",
    "DemoReport",
    "OrderMove",
    "RejectedRow",
    "run_demo",
]

DEFAULT_DEMO_DIR: Final = Path("filebridge-demo")
DEMO_FOLDERS: Final = ("outbox", "inbox", "archive", "failed", "state")
CONFIG_NAME: Final = "filebridge.toml"
MARKER_NAME: Final = ".filebridge-demo"
DEMO_RATE_PER_MINUTE: Final = 100_000
"""Both the sandbox's limit and filebridge's own: the real API allows about 80/min."""
DEMO_SINCE: Final = "2020-01-01"  # before every seeded order (all ≤ 2026-11-20T08:00Z)
DROP_AGE_S: Final = 60.0  # the dropped files look this old, one second apart
_MARKER_TEXT: Final = (
    "This folder was made by `filebridge demo`. Running the demo again deletes and\n"
    "recreates outbox/, inbox/, archive/, failed/, state/ and filebridge.toml here;\n"
    "nothing else in this folder is touched.\n"
)
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


def run_demo(directory: Path, *, out: Callable[[str], None]) -> DemoReport:
    """Run the whole demo in `directory` and print a short report line by line to `out`.

    Raises `StorageError` (touching nothing) when `directory` holds files that a
    previous demo did not make.
    """
    started = time.monotonic()
    directory = directory.expanduser().absolute()
    _prepare_folder(directory)
    with start_sandbox(
        port=0,
        seed=SAMPLE_SEED,
        orders=SAMPLE_ORDER_COUNT,
        rate_per_minute=DEMO_RATE_PER_MINUTE,
    ) as box:
        out(
            f"Started a local Selldone sandbox at {box.url} (shop {box.shop_id}, "
            f"{SAMPLE_ORDER_COUNT} seeded orders)."
        )
        config_path = _write_config(directory, box)
        # The token is handed over in memory only: no file of the demo holds it.
        settings = load_settings(config_path, environ={TOKEN_ENV: box.token})
        with (
            _file_log(settings.log_path, box.token),
            single_instance(settings.lock_path),
            Journal.open(settings.journal_path) as journal,
            open_client(settings, journal=journal) as client,
        ):
            exported = run_pass(settings, journal, client, do_inbox=False).export
            export_calls = len(box.calls())
            before = {int(o["id"]): o for o in box.orders()}
            dropped = _drop_samples(settings.folders.inbox, list(before.values()))
            drained = run_pass(settings, journal, client, do_export=False).inbox
            after = {int(o["id"]): o for o in box.orders()}
            calls = box.calls()
    if exported is None or drained is None:  # run_pass returns both halves when asked
        raise RuntimeError("run_pass skipped a half the demo asked for")
    report = _build_report(
        settings,
        config_path,
        box.url,
        exported,
        dropped,
        drained,
        _order_moves(before, after, calls[export_calls:]),
        calls,
        export_calls,
        time.monotonic() - started,
    )
    for line in report_lines(report):
        out(line)
    return report


# --- the folder ---------------------------------------------------------------------------


def _prepare_folder(directory: Path) -> None:
    """An empty or previous-demo folder becomes a fresh demo folder; others are refused."""
    if directory.exists() and not directory.is_dir():
        raise StorageError(
            f"{directory} is a file, not a folder; the demo did not touch it.",
            hint="Choose another demo folder with --dir.",
        )
    if (
        directory.is_dir()
        and not (directory / MARKER_NAME).is_file()
        and any(directory.iterdir())
    ):
        raise StorageError(
            f"{directory} already exists and was not made by `filebridge demo`; "
            "the demo changed nothing in it.",
            hint="Choose another folder with --dir, or an empty one.",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / MARKER_NAME).write_text(_MARKER_TEXT, encoding="utf-8")
        for name in DEMO_FOLDERS:
            _remove(directory / name)
        _remove(directory / CONFIG_NAME)
        for name in DEMO_FOLDERS:
            (directory / name).mkdir()
    except OSError as exc:
        raise StorageError(
            f"Cannot prepare the demo folder {directory}: {exc}.",
            hint="Close programs that have files open in it (Excel, Explorer "
            "previews), or choose another folder with --dir.",
        ) from exc


def _remove(path: Path) -> None:
    """Delete a file, a link (never what it points to) or a folder tree."""
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        shutil.rmtree(path)


def _write_config(directory: Path, box: Sandbox) -> Path:
    path = directory / CONFIG_NAME
    folders = "\n".join(f'{name} = "{name}"' for name in DEMO_FOLDERS)
    path.write_text(
        f"""\
# Written by `filebridge demo` for its embedded sandbox, which stopped when the demo
# ended: `filebridge run -c` with this file cannot connect any more. Run
# `filebridge demo` again to start over, or `filebridge init DIR` for a real shop.
# The sandbox's token was handed over in memory ({TOKEN_ENV}); it is in no file.

[selldone]
api_url = "{box.url}"
shop_id = {box.shop_id}

[folders]
{folders}

[export]
mapping = "default"
since = "{DEMO_SINCE}"  # before every seeded order

[inbox]
mapping = "default"
settle_seconds = 0  # the demo drops complete files; a real inbox waits a few seconds

[limits]
# The local sandbox allows this too; Selldone allows about 80 requests per minute.
requests_per_minute = {DEMO_RATE_PER_MINUTE}
""",
        encoding="utf-8",
    )
    return path


def _drop_samples(inbox: Path, orders: Sequence[Mapping[str, Any]]) -> list[Path]:
    """Write the sample files into the inbox with rising mtimes (their arrival order)."""
    files = write_sample_files(inbox, orders)
    oldest = time.time() - DROP_AGE_S
    for n, path in enumerate(files):
        os.utime(path, (oldest + n, oldest + n))
    return files


@contextmanager
def _file_log(path: Path, secret: str) -> Iterator[None]:
    """Log filebridge's decisions to `path` while the demo runs; restore the logger."""
    path.parent.mkdir(parents=True, exist_ok=True)
    logger = logging.getLogger("filebridge")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    handler.addFilter(RedactingFilter([secret]))
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    if not logger.isEnabledFor(logging.INFO):
        logger.setLevel(logging.INFO)
    # The report is the demo's console; warnings go to the log file, not to stderr.
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(handler)
        handler.close()
        logger.setLevel(level)
        logger.propagate = propagate


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


def _build_report(
    settings: Settings,
    config_path: Path,
    url: str,
    exported: ExportResult,
    dropped: Sequence[Path],
    drained: InboxResult,
    moves: tuple[OrderMove, ...],
    calls: Sequence[Call],
    export_calls: int,
    seconds: float,
) -> DemoReport:
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
        moves=moves,
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
