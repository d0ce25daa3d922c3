"""Every move of an inbox file (claim, archive, failed/), journalled before it happens.

Claiming: the journal row is written first (intent, with the claimed name), then the file
is renamed into `inbox/.processing/` (atomic on one share; a second run loses the race
with FileNotFoundError), then hashed.

Filing away: the destination is recorded in the journal, the result file (or the
`.error.txt` explanation) is written, then the file is moved there (`archive/YYYY-MM-DD/`
or `failed/`, never overwriting), then the claim is closed. A claim whose file is no
longer in `.processing/` is settled from what the journal recorded.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from filebridge.errors import StorageError
from filebridge.folders import ensure_folder
from filebridge.inbox.report import (
    TEMP_GLOB,
    ResultLine,
    temp_path,
    windows_safe_name,
    write_result_file,
    write_unreadable_explanation,
)
from filebridge.journal import Journal
from filebridge.journal import inbox as ledger
from filebridge.tables import TableFormat

__all__ = [
    "PROCESSING_DIR",
    "RESULT_SUFFIX",
    "archive",
    "claim",
    "claimed_path",
    "move_to_failed",
    "remove_partial_reports",
    "settle_vanished",
    "sha256_of",
]

log = logging.getLogger(__name__)

PROCESSING_DIR = ".processing"
RESULT_SUFFIX = ".result.csv"
HASH_CHUNK = 1 << 20
ERROR_NOT_SAME_DEVICE = 17  # Windows: "cannot move the file to a different disk drive"


def claim(
    journal: Journal, source: Path, processing: Path, *, waiting: list[str]
) -> ledger.FileRecord | None:
    """Take `source` into `processing`; None if it is gone or locked (then in `waiting`)."""
    name = source.name
    try:
        mtime = source.stat().st_mtime
    except FileNotFoundError:
        return None
    arrived = datetime.fromtimestamp(mtime, UTC).isoformat()
    record = ledger.begin_claim(journal, name, processing, arrived)
    claimed = claimed_path(record)
    try:
        source.replace(claimed)
    except FileNotFoundError:
        ledger.drop_claim(journal, record.id)
        log.info("%s was taken by another run", name)
        return None
    except PermissionError:
        ledger.drop_claim(journal, record.id)
        log.info("%s is locked by another program; trying later", name)
        waiting.append(name)
        return None
    except OSError as exc:
        ledger.drop_claim(journal, record.id)
        raise StorageError(
            f"Cannot move {source} to {claimed}: {exc.strerror or exc}.",
            hint="Check that filebridge may write to the inbox folder.",
        ) from exc
    ledger.set_sha(journal, record.id, sha256_of(claimed))
    log.info("claimed %s", name)
    return ledger.file_record(journal, record.id)


def settle_vanished(
    journal: Journal, record: ledger.FileRecord, failed_folder: Path
) -> None:
    """Close an open claim whose file is no longer in `.processing/`."""
    if record.archive_path is not None and record.archive_path.exists():
        state = "failed" if record.archive_path.parent == failed_folder else "done"
        ledger.finish_file(journal, record.id, state, message="moved")
        return
    if not ledger.row_records(journal, record.id):
        ledger.drop_claim(journal, record.id)  # the rename never happened
        return
    claimed = claimed_path(record)
    ledger.finish_file(
        journal,
        record.id,
        "failed",
        message=f"{claimed} vanished before it was finished",
    )
    log.error("claimed file %s vanished; its pending rows are lost", claimed)


def archive(
    journal: Journal,
    record: ledger.FileRecord,
    folder: Path,
    lines: Sequence[ResultLine],
    *,
    state: str,
    message: str,
    source: TableFormat | None = None,
) -> tuple[Path, Path]:
    """Write the result file, move the file into `folder`, close the claim as `state`.

    `source` is the file's format: the result is written in the same CSV dialect.

    Returns (where the file went, its result file). A destination recorded by an
    earlier, interrupted attempt is reused when it is still free.
    """
    ensure_folder(folder)
    target = record.archive_path
    if target is None or target.exists() or target.parent != folder:
        target = _unique(folder, record.original_name)
    result_path = target.with_name(target.name + RESULT_SUFFIX)
    ledger.set_destination(journal, record.id, target, result_path)
    write_result_file(result_path, lines, source)
    _move(claimed_path(record), target)
    ledger.finish_file(journal, record.id, state, message=message)
    return target, result_path


def move_to_failed(
    journal: Journal,
    record: ledger.FileRecord,
    failed: Path,
    explanation: str,
    *,
    stamp: str,
) -> tuple[Path, Path]:
    """Move an unreadable file to `failed` with its `.error.txt`; close the claim.

    Returns (where the file went, the explanation file).
    """
    target = _unique(failed, record.original_name)
    ledger.set_destination(journal, record.id, target, target)
    explained = write_unreadable_explanation(
        failed, target.name, explanation, stamp=stamp
    )
    _move(claimed_path(record), target)
    ledger.finish_file(journal, record.id, "failed", message=explanation)
    return target, explained


def remove_partial_reports(record: ledger.FileRecord, failed: Path) -> int:
    """Delete report temp files an interrupted run left behind; returns how many.

    Reports are written as `.~NAME.partial` and renamed into place while the file's
    claim is open, so a run killed mid-write leaves its temp in `failed/` or in the
    claim's recorded archive folder. Runs never overlap (the run lock), so every such
    temp there is an orphan.
    """
    folders = {failed}
    if record.archive_path is not None:
        folders.add(record.archive_path.parent)
    removed = 0
    for folder in folders:
        for temp in folder.glob(TEMP_GLOB):
            try:
                temp.unlink()
            except OSError as exc:
                log.warning("cannot remove %s: %s", temp, exc.strerror or exc)
                continue
            log.info("removed %s, left by an interrupted run", temp.name)
            removed += 1
    return removed


def claimed_path(record: ledger.FileRecord) -> Path:
    """Where a claimed file lies in `.processing/`."""
    if record.claimed_path is None:
        raise StorageError(f"inbox file #{record.id} has no claimed path")
    return record.claimed_path


def sha256_of(path: Path) -> str:
    """The content hash that recognises a file dropped in twice."""
    digest = hashlib.sha256()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(HASH_CHUNK):
                digest.update(chunk)
    except OSError as exc:
        raise StorageError(f"Cannot read {path}: {exc.strerror or exc}.") from exc
    return digest.hexdigest()


def _unique(folder: Path, name: str) -> Path:
    """`folder/name`, or `folder/stem-2.ext`, … : never an existing file (or its result).

    The name is made valid on Windows first (`CON.csv` → `CON_.csv`): archive/ and
    failed/ are often shares that Windows users open.
    """
    name = windows_safe_name(name)
    base = Path(name)
    candidate = folder / name
    number = 1
    while (
        candidate.exists()
        or candidate.with_name(candidate.name + RESULT_SUFFIX).exists()
    ):
        number += 1
        candidate = folder / f"{base.stem}-{number}{base.suffix}"
    return candidate


def _move(source: Path, target: Path) -> None:
    """Rename `source` to `target`; across drives or shares, copy then delete."""
    try:
        source.replace(target)
    except OSError as exc:
        if not _is_cross_device(exc):
            raise StorageError(
                f"Cannot move {source} to {target}: {exc.strerror or exc}.",
                hint="Check that filebridge may write to the archive and failed folders.",
            ) from exc
        log.info(
            "%s cannot be renamed into %s (%s); copying it there, then deleting it",
            source.name,
            target.parent,
            exc.strerror or exc,
        )
        _copy_then_delete(source, target)


def _is_cross_device(exc: OSError) -> bool:
    """The rename failed only because the folders are on different drives or shares."""
    return exc.errno == errno.EXDEV or getattr(exc, "winerror", None) == (
        ERROR_NOT_SAME_DEVICE
    )


def _copy_then_delete(source: Path, target: Path) -> None:
    """Copy to a temp name beside `target`, fsync, rename it in place, delete `source`.

    The target folder only ever shows the whole file. A run killed before the delete
    leaves the claim open with its file still in `.processing/`: the next run finishes
    it and archives it again under a new name (a second copy, nothing lost or re-sent).
    """
    temp = temp_path(target)
    try:
        shutil.copy2(source, temp)
        with temp.open("rb+") as handle:
            os.fsync(handle.fileno())
        temp.replace(target)  # within one folder: a rename every share allows
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise StorageError(
            f"Cannot copy {source} to {target}: {exc.strerror or exc}.",
            hint="Check that filebridge may write to the archive and failed folders.",
        ) from exc
    try:
        source.unlink()
    except OSError as exc:  # the file is safe at `target`; only a stray copy is left
        log.warning(
            "copied %s to %s but cannot delete the original: %s; delete it by hand",
            source,
            target,
            exc.strerror or exc,
        )
