"""Creates the folders filebridge writes to; a failure is a StorageError saying what to check.

A configured folder that does not exist is a config problem, not something to create on
the fly: a mistyped `outbox` would otherwise receive every export while the ERP looks
elsewhere. Only `init` and `check --create` create the configured folders; the day
folders under `archive/` and filebridge's own sub-folders are created as needed.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from filebridge.errors import ConfigError, StorageError

__all__ = ["create_folders", "ensure_folder", "missing_folders", "require_folders"]

FOLDERS_HINT = "Check [folders] in the config and the share's permissions."


def ensure_folder(
    folder: Path,
    *,
    what: str = "the folder",
    hint: str = FOLDERS_HINT,
    parents: bool = True,
) -> None:
    """Create `folder` (and, with `parents`, its parents) unless it exists.

    `what` names the folder in the message ("the outbox folder"); `hint` says what to
    check. A sub-folder of a configured folder is made with `parents=False`: when the
    share drops between a check and the mkdir, the parent must not come back as an
    empty local folder that the ERP never sees (the failure is a StorageError instead).
    """
    try:
        folder.mkdir(parents=parents, exist_ok=True)
    except FileNotFoundError as exc:
        raise StorageError(
            f"Cannot create {what} {folder}: {folder.parent} does not exist or is "
            "unreachable.",
            hint=hint,
        ) from exc
    except OSError as exc:
        raise StorageError(
            f"Cannot create {what} {folder}: {exc.strerror or exc}.", hint=hint
        ) from exc


def missing_folders(folders: Mapping[str, Path]) -> dict[str, Path]:
    """The configured folders (key → path) that are not an existing directory."""
    return {key: path for key, path in folders.items() if not path.is_dir()}


def require_folders(folders: Mapping[str, Path], *, config: Path | None) -> None:
    """Stop with a ConfigError (exit 3) naming each `folders.KEY` that does not exist."""
    missing = missing_folders(folders)
    if not missing:
        return
    shown = f' -c "{config}"' if config is not None else ""
    raise ConfigError(
        f"{len(missing)} configured folder(s) do not exist; nothing was done:",
        problems=[
            f"folders.{key}: {path} does not exist" for key, path in missing.items()
        ],
        hint="Fix the path in [folders] if it is mistyped, or create the folders with "
        f"`filebridge check --create{shown}`.",
    )


def create_folders(folders: Mapping[str, Path]) -> list[Path]:
    """Create the missing configured folders; returns those it created."""
    created: list[Path] = []
    for key, path in missing_folders(folders).items():
        ensure_folder(path, what=f"folders.{key}")
        created.append(path)
    return created
