"""One scan of the inbox folder: two looks at its files, an open probe, ready vs waiting.

A fresh listing is the source of truth (events only wake the watcher sooner). Only
regular files are looked at (no directories, no symlinks); `inbox.readiness` decides
which of them are complete. Spreadsheets filebridge cannot read (`.xls`, `.xlsm`,
`.ods`, `.numbers`, …) are candidates too: they are taken and moved to failed/ with
how to save them as .xlsx or CSV, instead of lying in the inbox forever. Truly foreign
files (a `.pdf`) stay, and are listed in `Readiness.ignored` with why.
A file that is complete but cannot be opened (a Windows
sharing violation) waits: "later", never "failed".

A file's age is judged by the folder's own clock, never by this machine's alone: the
mtimes come from whoever stamps them (a file server whose clock is behind, or this
machine before its clock jumped ahead), so each scan stamps a probe file of its own in
`inbox/.processing/` (removed at once) and reads the folder's "now" off it. Without
that, a file still being copied would look an hour old and be read half-written.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from filebridge.config import InboxSettings
from filebridge.errors import StorageError
from filebridge.inbox.moves import PROCESSING_DIR
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
CLOCK_PROBE = ".clock"  # in inbox/.processing/: written, read and removed by each scan
MIN_CLOCK_OFFSET_S = 2.0  # below this, the folder's clock is ours (FAT's mtime is 2 s)


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
    offset = _folder_clock_offset(inbox, clock(), memory)
    first = observe(
        _shifted(_listing(inbox, memory, ignored), offset), memory.snapshot, clock()
    )
    second_raw: dict[str, tuple[int, float]] = {}
    for name in first:
        try:
            st = (inbox / name).stat(follow_symlinks=False)
        except FileNotFoundError:
            continue
        second_raw[name] = (st.st_size, st.st_mtime + offset)
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


def _folder_clock_offset(inbox: Path, now: float, memory: ScanMemory) -> float:
    """This machine's clock minus the inbox folder's, in whole seconds (0 below 2 s,
    or when the probe cannot be written: a dry run before `.processing/` exists)."""
    folder = inbox / PROCESSING_DIR
    if not folder.is_dir():
        return 0.0
    probe = folder / CLOCK_PROBE
    try:
        probe.write_bytes(b"filebridge: the inbox folder's clock\n")
        stamp = probe.stat().st_mtime
        probe.unlink()
    except OSError:
        return 0.0
    offset = now - stamp
    if abs(offset) < MIN_CLOCK_OFFSET_S:
        return 0.0
    if CLOCK_PROBE not in memory.reported and abs(offset) >= 60:
        memory.reported.add(CLOCK_PROBE)
        log.warning(
            "the inbox folder's clock is %.0f s %s this machine's; file ages are "
            "judged by the folder's clock",
            abs(offset),
            "behind" if offset > 0 else "ahead of",
        )
    return float(round(offset))


def _shifted(
    looks: dict[str, tuple[int, float]], offset: float
) -> dict[str, tuple[int, float]]:
    """mtimes on this machine's clock (see `_folder_clock_offset`)."""
    if not offset:
        return looks
    return {name: (size, mtime + offset) for name, (size, mtime) in looks.items()}


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
