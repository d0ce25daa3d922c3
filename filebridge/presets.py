"""Mapping files by preset name or by path: the TOML text to parse and its source name.

Presets ship inside the package (`filebridge/presets/`), so they work after a plain
`pip install .`; `inbox-*.toml` are inbound mappings, every other preset is an export one.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path, PureWindowsPath

from filebridge.errors import MappingError, StorageError

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


# Keys only an inbound mapping has; an export mapping has [dialect] and [[columns]].
_INBOUND_ONLY_KEYS = frozenset(
    {
        "values",
        "decimal_separator",
        "id_thousands_separator",
        "date_formats",
        "tracking_urls",
    }
)


def kind_of_mapping(text: str) -> MappingKind:
    """INBOUND for an inbound mapping's TOML (a [columns] table, [values.*], its number
    keys), else EXPORT; text that is not TOML counts as EXPORT (its parser says why)."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return EXPORT
    if "dialect" in raw or isinstance(raw.get("columns"), list):
        return EXPORT
    if isinstance(raw.get("columns"), dict) or _INBOUND_ONLY_KEYS & raw.keys():
        return INBOUND
    return EXPORT


@dataclass(frozen=True)
class Preset:
    """One packaged mapping: the name the config uses and the file it comes from."""

    kind: MappingKind
    name: str  # as written in the config: `german-excel`, `example-erp`
    file_name: str  # `german-excel.toml`, `inbox-example-erp.toml`

    def text(self) -> str:
        folder = resources.files(PRESET_PACKAGE) / PRESET_FOLDER
        return (folder / self.file_name).read_text(encoding="utf-8")


def all_presets() -> list[Preset]:
    """Every packaged preset, export ones first."""
    return [
        Preset(kind, name, f"{kind.prefix}{name}.toml")
        for kind in (EXPORT, INBOUND)
        for name in kind.preset_names()
    ]


def find_preset(name: str) -> Preset:
    """A preset by its config name or its file name (`inbox-example-erp`); an export
    preset wins a name both kinds have (`default`)."""
    stem = name.removesuffix(".toml")
    for preset in all_presets():
        if stem in (preset.name, preset.file_name.removesuffix(".toml")):
            return preset
    names = ", ".join(p.file_name.removesuffix(".toml") for p in all_presets())
    raise MappingError(
        f"There is no preset {name!r}.",
        hint=f"Use one of {names} (`filebridge mapping list` describes them).",
    )


def copy_preset(preset: Preset, target: Path) -> Path:
    """Write the preset's text to `target` (a file, or a folder to put it in); never
    overwrites a file."""
    if target.is_dir():
        target = target / preset.file_name
    if target.exists():
        raise MappingError(
            f"{target} already exists; nothing was copied.",
            hint="Edit that file, or name another destination.",
        )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("x", encoding="utf-8", newline="") as handle:
            handle.write(preset.text())
    except OSError as exc:
        raise StorageError(
            f"Cannot write {target}: {exc.strerror or exc}.",
            hint="Choose a folder this account may write to.",
        ) from exc
    return target


def mapping_kind(name_or_path: str, base_dir: Path) -> tuple[MappingKind, str]:
    """(kind, name to load it by) for `mapping check`: a file's kind is read from its
    keys, a preset's from its file name (`inbox-default` is the inbound `default`)."""
    if is_mapping_path(name_or_path):
        path = Path(name_or_path).expanduser()
        path = path if path.is_absolute() else base_dir / path
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            return EXPORT, name_or_path  # the loader reports why it cannot be read
        return kind_of_mapping(text), name_or_path
    if name_or_path in EXPORT.preset_names():
        return EXPORT, name_or_path
    if name_or_path.startswith(INBOUND.prefix):
        return INBOUND, name_or_path.removeprefix(INBOUND.prefix)
    return EXPORT, name_or_path
