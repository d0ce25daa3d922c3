"""The dashboard's only writes: re-export an order, mark a failed file as dealt with.

Each goes through the code path the CLI uses (`jobs.run_once` for a re-export, under
the state folder's single-instance lock), is idempotent, and is logged. A failed file
that was dealt with is moved to `failed/dealt-with/` (never deleted), so the folder
`failed/` shows only what still needs a person, and nothing is lost.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from filebridge.config import Settings
from filebridge.dashboard.data import DEALT_WITH_DIR, failed_file_path
from filebridge.errors import FilebridgeError, StorageError
from filebridge.folders import ensure_folder
from filebridge.outbox import ExportResult

__all__ = ["ActionResult", "Actions", "mark_dealt_with", "run_reexport"]

log = logging.getLogger(__name__)

Reexport = Callable[[Settings, int], ExportResult]


@dataclass(frozen=True)
class ActionResult:
    """What an action did, in words for the page; `ok` False when it was refused."""

    ok: bool
    message: str


def run_reexport(settings: Settings, order_id: int) -> ExportResult:
    """`filebridge export --reexport ORDER_ID`: the same locked pass, export half only."""
    from filebridge.jobs import run_once  # the use case, imported when it is used

    result = run_once(settings, do_inbox=False, reexport=(order_id,))
    if result.export is None:
        raise RuntimeError("the export did not run although it was asked to")
    return result.export


def mark_dealt_with(settings: Settings, name: str) -> ActionResult:
    """Move `failed/NAME` (and its `.error.txt`) into `failed/dealt-with/`.

    Idempotent: a file already there is reported as such and nothing moves.
    """
    done = settings.folders.failed / DEALT_WITH_DIR
    source = failed_file_path(settings, name)
    if source is None:
        if failed_file_path(settings, name, dealt_with=True) is not None:
            return ActionResult(True, f"{name} was already marked as dealt with.")
        log.warning("dashboard: no failed file %r to mark as dealt with", name)
        return ActionResult(False, f"There is no file {name!r} in failed/.")
    ensure_folder(done, what="the folder")
    moved = [source]
    note = failed_file_path(settings, f"{name}.error.txt")
    if note is not None:
        moved.append(note)
    for path in moved:
        _move(path, done / path.name)
    log.info("dashboard: marked %s as dealt with (moved to %s)", name, done)
    return ActionResult(True, f"{name} moved to failed/{DEALT_WITH_DIR}/.")


def _move(source: Path, target: Path) -> None:
    if target.exists():
        target = target.with_name(f"{target.stem}-{os.getpid()}{target.suffix}")
    try:
        source.replace(target)
    except OSError as exc:
        raise StorageError(
            f"Cannot move {source.name} to {target.parent}: {exc.strerror or exc}.",
            hint="Close the file if Excel has it open, then try again.",
        ) from exc


class Actions:
    """The actions of one dashboard process, each done at most once per form.

    Every form carries a one-time nonce; a second POST with it (a double click, a
    reload) gets the first answer again and changes nothing.
    """

    def __init__(self, settings: Settings, reexport: Reexport = run_reexport) -> None:
        self.settings = settings
        self._reexport = reexport
        self._done: dict[str, ActionResult] = {}
        self._lock = threading.Lock()

    def once(self, nonce: str, act: Callable[[], ActionResult]) -> ActionResult:
        with self._lock:
            if nonce in self._done:
                first = self._done[nonce]
                return ActionResult(first.ok, f"Already done: {first.message}")
            result = act()
            self._done[nonce] = result
            return result

    def reexport(self, order_id: int) -> ActionResult:
        log.info("dashboard: re-export of order %d requested", order_id)
        try:
            result = self._reexport(self.settings, order_id)
        except FilebridgeError as exc:
            log.warning("dashboard: re-export of order %d refused: %s", order_id, exc)
            hint = f" {exc.hint}" if exc.hint else ""
            return ActionResult(
                False, f"Re-export of order {order_id} failed: {exc}{hint}"
            )
        if result.file is None:
            log.warning("dashboard: re-export of order %d wrote no file", order_id)
            return ActionResult(False, f"Order {order_id} was not exported again.")
        log.info("dashboard: re-exported order %d → %s", order_id, result.file.name)
        return ActionResult(
            True, f"Order {order_id} re-exported to {result.file.name}."
        )

    def dealt_with(self, name: str) -> ActionResult:
        try:
            return mark_dealt_with(self.settings, name)
        except FilebridgeError as exc:
            log.warning("dashboard: cannot mark %s as dealt with: %s", name, exc)
            return ActionResult(False, str(exc))
