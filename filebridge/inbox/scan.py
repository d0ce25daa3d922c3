"""One scan of the inbox folder: two looks at its files, an open probe, ready vs waiting.

A fresh listing is the source of truth (events only wake the watcher sooner). Only
regular files are looked at (no directories, no symlinks); `inbox.readiness` decides
which of them are complete. A file that is complete but cannot be opened (a Windows
sharing violation) waits: "later", never "failed".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

from filebridge.config import InboxSettings
from filebridge.errors import StorageError
from filebridge.inbox.readiness import (
    Readiness,
    ScanMemory,
    files_ready,
    ignore_reason,
    observe,
    sort_out,
)
from filebridge.tables import SUPPORTED_SUFFIXES

__all__ = ["scan_inbox"]

log = logging.getLogger(__name__)


def scan_inbox(
    inbox: Path,
    rules: InboxSettings,
    memory: ScanMemory,
    clock: Callable[[], float],
) -> Readiness:
    """The complete files of `inbox` in arrival order, and those still waiting.

    `memory` carries the previous look (and the names already warned about) between
    passes; `clock` is epoch seconds, compared with file mtimes. Raises `StorageError`
    if the folder cannot be listed.
    """
    first = observe(_listing(inbox, memory), memory.snapshot, clock())
    second_raw: dict[str, tuple[int, float]] = {}
    for name in first:
        try:
            st = (inbox / name).stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        second_raw[name] = (st.st_size, st.st_mtime)
    now = clock()
    second = observe(second_raw, first, now)
    memory.snapshot = second
    stable = files_ready(second, first, now=now, settle_seconds=rules.settle_seconds)
    return sort_out(
        second,
        stable,
        [name for name in stable if _openable(inbox / name)],
        now=now,
        settle_seconds=rules.settle_seconds,
        empty_grace_seconds=rules.empty_file_grace_seconds,
    )


def _listing(inbox: Path, memory: ScanMemory) -> dict[str, tuple[int, float]]:
    """(size, mtime) of every candidate file; warns once per unsupported name."""
    found: dict[str, tuple[int, float]] = {}
    try:
        entries = list(os.scandir(inbox))
    except OSError as exc:
        raise StorageError(
            f"Cannot list the inbox folder {inbox}: {exc.strerror or exc}.",
            hint="Check [folders] inbox and that the share is connected.",
        ) from exc
    for entry in entries:
        try:
            if entry.is_symlink() or not entry.is_file(follow_symlinks=False):
                _report_skipped(entry, memory)
                continue
            reason = ignore_reason(entry.name, SUPPORTED_SUFFIXES)
            if reason is not None:
                if reason.startswith("unsupported") and entry.name not in (
                    memory.reported
                ):
                    memory.reported.add(entry.name)
                    log.warning(
                        "ignoring %s in the inbox: %s (filebridge reads %s)",
                        entry.name,
                        reason,
                        ", ".join(sorted(SUPPORTED_SUFFIXES)),
                    )
                continue
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # it went away between listing and stat (Excel's save dance)
        found[entry.name] = (st.st_size, st.st_mtime)
    return found


def _report_skipped(entry: os.DirEntry[str], memory: ScanMemory) -> None:
    """Say once why a link or folder dropped into the inbox is left alone."""
    if entry.name.startswith(".") or entry.name in memory.reported:
        return  # hidden entries (our own .processing/) are ignored silently
    memory.reported.add(entry.name)
    what = "a symbolic link" if entry.is_symlink() else "a folder"
    log.warning(
        "ignoring %s in the inbox: it is %s, which filebridge never follows; "
        "copy the file itself into the inbox",
        entry.name,
        what,
    )


def _openable(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            handle.read(1)
    except PermissionError:
        log.info("%s is still open in another program; trying later", path.name)
        return False
    except FileNotFoundError:
        return False
    return True
