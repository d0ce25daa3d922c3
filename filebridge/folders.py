"""Creates the folders filebridge writes to; a failure is a StorageError saying what to check."""

from __future__ import annotations

from pathlib import Path

from filebridge.errors import StorageError

__all__ = ["ensure_folder"]

FOLDERS_HINT = "Check [folders] in the config and the share's permissions."


def ensure_folder(
    folder: Path, *, what: str = "the folder", hint: str = FOLDERS_HINT
) -> None:
    """Create `folder` (and its parents) unless it exists.

    `what` names the folder in the message ("the outbox folder"); `hint` says what to
    check.
    """
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StorageError(
            f"Cannot create {what} {folder}: {exc.strerror or exc}.", hint=hint
        ) from exc
