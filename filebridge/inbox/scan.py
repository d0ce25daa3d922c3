"""One scan of the inbox folder: two looks at its files, an open probe, ready vs waiting.

A fresh listing is the source of truth (events only wake the watcher sooner). Only
regular files are looked at (no directories, no symlinks); `inbox.readiness` decides
which of them are complete. Spreadsheets filebridge cannot read (`.xls`, `.xlsm`,
`.ods`, `.numbers`, …) are candidates too: they are taken and moved to failed/ with
how to save them as .xlsx or CSV, instead of lying in the inbox forever. Truly foreign
files (a `.pdf`) stay, and are listed in `Readiness.ignored` with why.
A file that is complete but cannot be opened (a Windows
sharing violation) waits: "later", never "failed".
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
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
from filebridge.tables import REFUSED_SUFFIXES, SUPPORTED_SUFFIXES

__all__ = ["scan_inbox"]

log = logging.getLogger(__name__)

TAKEN_SUFFIXES = (*SUPPORTED_SUFFIXES, *REFUSED_SUFFIXES)


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
    ignored: list[tuple[str, str]] = []
    first = observe(_listing(inbox, memory, ignored), memory.snapshot, clock())
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
    found = sort_out(
        second,
        stable,
        [name for name in stable if _openable(inbox / name)],
        now=now,
        settle_seconds=rules.settle_seconds,
        empty_grace_seconds=rules.empty_file_grace_seconds,
    )
    return replace(found, ignored=tuple(ignored))


def _listing(
    inbox: Path, memory: ScanMemory, ignored: list[tuple[str, str]]
) -> dict[str, tuple[int, float]]:
    """(size, mtime) of every candidate file; warns once per unsupported name.

    Files, links and folders that will never be read go to `ignored` with why.
    """
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
                why = _report_skipped(entry, memory)
                if why is not None:
                    ignored.append((entry.name, why))
                continue
            reason = ignore_reason(entry.name, TAKEN_SUFFIXES)
            if reason is not None:
                if reason.startswith("unsupported"):
                    readable = ", ".join(sorted(SUPPORTED_SUFFIXES))
                    ignored.append(
                        (entry.name, f"{reason} (filebridge reads {readable})")
                    )
                    if entry.name not in memory.reported:
                        memory.reported.add(entry.name)
                        log.warning(
                            "ignoring %s in the inbox: %s (filebridge reads %s)",
                            entry.name,
                            reason,
                            readable,
                        )
                continue
            st = entry.stat(follow_symlinks=False)
        except FileNotFoundError:
            continue  # it went away between listing and stat (Excel's save dance)
        found[entry.name] = (st.st_size, st.st_mtime)
    return found


def _report_skipped(entry: os.DirEntry[str], memory: ScanMemory) -> str | None:
    """Say once why a link or folder dropped into the inbox is left alone; why."""
    if entry.name.startswith("."):
        return None  # hidden entries (our own .processing/) are ignored silently
    what = "a symbolic link" if entry.is_symlink() else "a folder"
    why = f"it is {what}, which filebridge never follows"
    if entry.name in memory.reported:
        return why
    memory.reported.add(entry.name)
    log.warning(
        "ignoring %s in the inbox: it is %s, which filebridge never follows; "
        "copy the file itself into the inbox",
        entry.name,
        what,
    )
    return why


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
