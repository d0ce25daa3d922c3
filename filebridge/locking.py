"""One run at a time per state folder: a cross-platform lock that a killed run cannot leave stuck."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import filelock

from filebridge.errors import AlreadyRunningError, StorageError


@contextmanager
def single_instance(lock_path: Path) -> Iterator[None]:
    """Hold the state folder's lock, or raise AlreadyRunningError at once.

    The OS releases the lock when the holding process dies (fcntl/msvcrt locks inside
    filelock), so a lock file left by a killed run never blocks the next one.
    """
    try:
        lock_path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create the state folder {lock_path.parent}: {exc.strerror}.",
            hint="Check [folders] state in the config and the folder permissions.",
        ) from exc
    lock = filelock.FileLock(str(lock_path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout as exc:
        raise AlreadyRunningError(
            f"Another filebridge run{_holder(lock_path)} holds {lock_path}; this run "
            "did nothing.",
            hint="That is normal when a scheduled run overlaps a long one. "
            "If no filebridge is running, delete nothing: the lock frees itself.",
        ) from exc
    except OSError as exc:
        raise StorageError(
            f"Cannot lock {lock_path}: {exc.strerror}.",
            hint="Check that the state folder is writable.",
        ) from exc
    try:
        _write_owner(lock_path)
        yield
    finally:
        lock.release()


def _write_owner(lock_path: Path) -> None:
    """Leave the holder's pid and start time beside the lock, for the overlap message."""
    # Informational only: the OS lock is what counts, so a failed write is harmless.
    started = datetime.now(UTC).isoformat(timespec="seconds")
    with contextlib.suppress(OSError):
        lock_path.with_suffix(".pid").write_text(
            f"{os.getpid()} {started}\n", encoding="ascii"
        )


def _holder(lock_path: Path) -> str:
    """` (pid 4242, since 2026-12-02T07:00:00+00:00)` from the pid file, or ``."""
    try:
        words = lock_path.with_suffix(".pid").read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return ""
    if not words or not words[0].isdigit():
        return ""
    since = f", since {words[1]}" if len(words) > 1 else ""
    return f" (pid {words[0]}{since})"
