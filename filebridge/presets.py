"""Mapping files by preset name or by path: the TOML text to parse and its source name.

Presets ship inside the package (`filebridge/presets/`), so they work after a plain
`pip install .`; `inbox-*.toml` are inbound mappings, every other preset is an export one.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PureWindowsPath

from filebridge.errors import MappingError

PRESET_PACKAGE = "filebridge"
PRESET_FOLDER = "presets"


@dataclass(frozen=True)
class MappingKind:
    """Which presets a kind of mapping may name, and how its errors read."""

    label: str  # "mapping" or "inbound mapping"
    prefix: str  # file-name prefix of its presets
    config_key: str  # where the config names it

    def preset_names(self) -> list[str]:
        folder = resources.files(PRESET_PACKAGE) / PRESET_FOLDER
        names = (
            entry.name.removesuffix(".toml")
            for entry in folder.iterdir()
            if entry.name.endswith(".toml")
        )
        if self.prefix:
            return sorted(
                n.removeprefix(self.prefix) for n in names if n.startswith(self.prefix)
            )
        return sorted(n for n in names if not n.startswith(INBOUND.prefix))


EXPORT = MappingKind("mapping", "", "[export] mapping")
INBOUND = MappingKind("inbound mapping", "inbox-", "[inbox] mapping")


def is_mapping_path(name_or_path: str) -> bool:
    """A value with `/` or `\\`, or ending in `.toml`, is a path; anything else a preset."""
    return any(sep in name_or_path for sep in "/\\") or name_or_path.lower().endswith(
        ".toml"
    )


def read_mapping_text(
    name_or_path: str, base_dir: Path, kind: MappingKind
) -> tuple[str, str]:
    """(TOML text, source name for messages); a path is relative to `base_dir`."""
    if is_mapping_path(name_or_path):
        return _read_file(name_or_path, base_dir, kind)
    if name_or_path not in kind.preset_names():
        raise MappingError(
            f"There is no {kind.label} preset {name_or_path!r}.",
            hint=f"Use one of {', '.join(kind.preset_names())}, or a path such as "
            "mappings/my-erp.toml.",
        )
    preset = (
        resources.files(PRESET_PACKAGE)
        / PRESET_FOLDER
        / f"{kind.prefix}{name_or_path}.toml"
    )
    return preset.read_text(encoding="utf-8"), f"preset {name_or_path!r}"


def _read_file(name_or_path: str, base_dir: Path, kind: MappingKind) -> tuple[str, str]:
    path = Path(name_or_path).expanduser()
    # `C:\ERP\map.toml` and `\\server\share\map.toml` are absolute wherever this runs.
    if not (path.is_absolute() or PureWindowsPath(name_or_path).is_absolute()):
        path = base_dir / path
    try:
        return path.read_text(encoding="utf-8-sig"), str(path)
    except FileNotFoundError as exc:
        raise MappingError(
            f"{kind.label.capitalize()} file {path} does not exist.",
            hint=f"Check {kind.config_key} in filebridge.toml; relative paths start at "
            "the config file's folder.",
        ) from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(
            f"Cannot read {kind.label} file {path}: {exc}.",
            hint="Save it as UTF-8 text.",
        ) from exc
