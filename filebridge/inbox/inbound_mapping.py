"""Inbound mapping: which headers and words of an ERP's status file mean what; pure.

An inbound mapping (`mappings/inbox-*.toml`, presets in `filebridge/presets/`) lists,
for each canonical inbox column, the header spellings it accepts, and per column a value
map from ERP words to API values (`versendet` → `SentOrder`). Header and word matching
ignores case, spaces, underscores and hyphens (`Order ID`, `order-id`, ` ORDER_ID `).
Every canonical name is always accepted for its own column.

This module parses the TOML text; `inbox.file.load_inbound_mapping` finds and reads files.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal
from urllib.parse import quote

from filebridge.errors import MappingError
from filebridge.selldone import FulfilmentState
from filebridge.tables import normalise_key

__all__ = [
    "CANONICAL_COLUMNS",
    "CARRIER_TYPES",
    "REQUIRED_COLUMN",
    "RETURNED",
    "STATE_VALUES",
    "InboundMapping",
    "default_inbound_mapping",
    "parse_inbound_mapping",
]

RETURNED: Final = "Returned"
REQUIRED_COLUMN: Final = "order_id"
CANONICAL_COLUMNS: Final = (
    "order_id",
    "state",
    "items",
    "tracking_code",
    "tracking_url",
    "weight",
    "width",
    "length",
    "height",
    "carrier",
)
# States a file may ask for (design §4); CheckQueue is where orders start, never a target.
STATE_VALUES: Final = (
    FulfilmentState.ORDER_CONFIRM.value,
    FulfilmentState.PREPARING_ORDER.value,
    FulfilmentState.SENT_ORDER.value,
    FulfilmentState.TO_CUSTOMER.value,
    RETURNED,
)
# delivery_info.type transport codes (selldone-api.md §3.3).
CARRIER_TYPES: Final = (
    "Motorbike",
    "Pickup",
    "CargoSmall",
    "Cargo",
    "Truck",
    "PostFast",
    "Post",
    "Airplane",
    "Bicycle",
    "Global",
)
_VALUE_TARGETS: Final[Mapping[str, Sequence[str]]] = {
    "state": STATE_VALUES,
    "carrier": CARRIER_TYPES,
}
_TOP_KEYS: Final = (
    "description",
    "decimal_separator",
    "id_thousands_separator",
    "date_formats",
    "columns",
    "values",
    "tracking_urls",
)
CODE_PLACEHOLDER: Final = "{code}"


@dataclass(frozen=True)
class InboundMapping:
    """Header aliases, value maps and number conventions for reading inbox files.

    `value_maps` holds, per canonical column, normalised ERP word → canonical value;
    `decimal_separator` None means "infer per cell" (see `cells.parse_decimal`);
    `id_thousands_separator` is the `.` or `,` an ERP puts between thousands of an id
    (None: only spaces/no-break spaces are accepted as thousands separators in ids).
    """

    source: str = "built-in default"
    description: str = ""
    aliases: dict[str, tuple[str, ...]] = field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    decimal_separator: Literal[".", ","] | None = None
    id_thousands_separator: Literal[".", ","] | None = None
    date_formats: tuple[str, ...] = ()
    tracking_urls: dict[str, str] = field(default_factory=dict)
    _header_index: dict[str, str] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        index = {normalise_key(name): name for name in CANONICAL_COLUMNS}
        for canonical, spellings in self.aliases.items():
            for spelling in spellings:
                index.setdefault(normalise_key(spelling), canonical)
        self._header_index.update(index)

    @property
    def decimal_comma(self) -> bool | None:
        """True/False when the mapping fixes the decimal separator, None when inferred."""
        return None if self.decimal_separator is None else self.decimal_separator == ","

    def tracking_url_for(self, carrier: str, code: str) -> str | None:
        """The carrier's tracking link for `code` from `[tracking_urls]`, or None."""
        template = self.tracking_urls.get(normalise_key(carrier))
        if template is None:
            return None
        return template.replace(CODE_PLACEHOLDER, quote(code, safe=""))

    def canonical_column(self, header: str) -> str | None:
        """The canonical column a file header means, or None for an unknown column."""
        return self._header_index.get(normalise_key(header))

    def accepted_headers(self, canonical: str) -> list[str]:
        """The header spellings accepted for `canonical`, the canonical name first."""
        spellings = [canonical, *self.aliases.get(canonical, ())]
        seen: dict[str, str] = {}
        for spelling in spellings:
            seen.setdefault(normalise_key(spelling), spelling)
        return list(seen.values())


class _Problems:
    """Every problem of one mapping file, each with the line a person should look at."""

    def __init__(self, text: str) -> None:
        self.items: list[str] = []
        self._lines = text.splitlines()

    def line_of(self, section: str | None, key: str | None) -> int | None:
        """The line of `key = …` inside `[section]` (or the section header itself)."""
        start = 0
        if section is not None:
            header = re.compile(rf"\s*\[\s*{re.escape(section)}\s*\]")
            found = next(
                (n for n, line in enumerate(self._lines) if header.match(line)), None
            )
            if found is None:
                return None
            if key is None:
                return found + 1
            start = found + 1
        if key is None:
            return None
        pattern = re.compile(rf"\s*[\"']?{re.escape(key)}[\"']?\s*=")
        for number in range(start, len(self._lines)):
            line = self._lines[number]
            if section is None and re.match(r"\s*\[", line):
                return None
            if section is not None and number > start and re.match(r"\s*\[", line):
                return None
            if pattern.match(line):
                return number + 1
        return None

    def add(self, section: str | None, key: str | None, message: str) -> None:
        line = self.line_of(section, key)
        where = ".".join(part for part in (section, key) if part) or "file"
        prefix = f"line {line}, " if line is not None else ""
        self.items.append(f"{prefix}{where}: {message}")


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


def _separator(
    raw: Mapping[str, object], key: str, problems: _Problems
) -> Literal[".", ","] | None:
    value = raw.get(key, "")
    if value in ("", "auto", None):
        return None
    if value == ".":
        return "."
    if value == ",":
        return ","
    problems.add(None, key, f'must be ".", "," or "" (got {value!r})')
    return None


def _parse_columns(raw: object, problems: _Problems) -> dict[str, tuple[str, ...]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add(None, "columns", "must be a table: [columns]")
        return {}
    aliases: dict[str, tuple[str, ...]] = {}
    owner: dict[str, str] = {normalise_key(c): c for c in CANONICAL_COLUMNS}
    for canonical, spellings in raw.items():
        if canonical not in CANONICAL_COLUMNS:
            problems.add(
                "columns",
                canonical,
                "unknown inbox column" + _suggest(canonical, CANONICAL_COLUMNS),
            )
            continue
        if isinstance(spellings, str):
            spellings = [spellings]
        if not isinstance(spellings, list) or not all(
            isinstance(s, str) and s.strip() for s in spellings
        ):
            problems.add("columns", canonical, "must be a list of header texts")
            continue
        for spelling in spellings:
            key = normalise_key(spelling)
            other = owner.setdefault(key, canonical)
            if other != canonical:
                problems.add(
                    "columns",
                    canonical,
                    f"header {spelling!r} is already used for {other}",
                )
        aliases[canonical] = tuple(spellings)
    return aliases


def _parse_values(raw: object, problems: _Problems) -> dict[str, dict[str, str]]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add(None, "values", "must be tables such as [values.state]")
        return {}
    maps: dict[str, dict[str, str]] = {}
    for column, words in raw.items():
        section = f"values.{column}"
        targets = _VALUE_TARGETS.get(column)
        if targets is None:
            problems.add(
                section,
                None,
                "value maps exist only for " + " and ".join(_VALUE_TARGETS),
            )
            continue
        if not isinstance(words, Mapping):
            problems.add(section, None, "must be a table of word = value")
            continue
        by_key = {normalise_key(t): t for t in targets}
        table: dict[str, str] = {}
        for word, target in words.items():
            canonical = by_key.get(normalise_key(str(target)))
            if not isinstance(target, str) or canonical is None:
                problems.add(
                    section,
                    word,
                    f"{target!r} is not a valid {column}; use one of "
                    + ", ".join(targets)
                    + _suggest(str(target), targets),
                )
                continue
            table[normalise_key(word)] = canonical
        maps[column] = table
    return maps


def _parse_tracking_urls(raw: object, problems: _Problems) -> dict[str, str]:
    """`[tracking_urls]`: carrier word → an https:// link with `{code}` in it."""
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        problems.add(None, "tracking_urls", "must be a table: [tracking_urls]")
        return {}
    templates: dict[str, str] = {}
    for carrier, template in raw.items():
        rest = (
            template.replace(CODE_PLACEHOLDER, "") if isinstance(template, str) else ""
        )
        if (
            not isinstance(template, str)
            or CODE_PLACEHOLDER not in template
            or not template.startswith("https://")
            or "{" in rest
            or "}" in rest
        ):
            problems.add(
                "tracking_urls",
                carrier,
                "must be an https:// link with {code} where the tracking code goes, "
                'e.g. "https://www.ups.com/track?tracknum={code}"',
            )
            continue
        templates[normalise_key(carrier)] = template
    return templates


def parse_inbound_mapping(text: str, source: str) -> InboundMapping:
    """Parse and check an inbound mapping's TOML text; every problem is reported at once.

    `source` (the file path or preset name) appears in every message.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(
            f"Inbound mapping {source} is not valid TOML: {exc}.",
            hint="Check quotes and brackets at the line shown.",
        ) from exc
    problems = _Problems(text)
    for key in raw:
        if key not in _TOP_KEYS:
            problems.add(None, key, "unknown key" + _suggest(key, _TOP_KEYS))
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add(None, "description", "must be text")
        description = ""
    date_formats = raw.get("date_formats", [])
    if not isinstance(date_formats, list) or not all(
        isinstance(f, str) and "%" in f for f in date_formats
    ):
        problems.add(None, "date_formats", 'must be a list such as ["%d.%m.%Y"]')
        date_formats = []
    mapping = InboundMapping(
        source=source,
        description=description,
        aliases=_parse_columns(raw.get("columns"), problems),
        value_maps=_parse_values(raw.get("values"), problems),
        decimal_separator=_separator(raw, "decimal_separator", problems),
        id_thousands_separator=_separator(raw, "id_thousands_separator", problems),
        date_formats=tuple(date_formats),
        tracking_urls=_parse_tracking_urls(raw.get("tracking_urls"), problems),
    )
    if (
        mapping.decimal_separator is not None
        and mapping.decimal_separator == mapping.id_thousands_separator
    ):
        problems.add(
            None,
            "id_thousands_separator",
            "must differ from decimal_separator",
        )
    if problems.items:
        raise MappingError(
            f"Inbound mapping {source} has {len(problems.items)} problem(s):\n"
            + "\n".join(f"  - {p}" for p in problems.items),
            hint="Fix the listed keys; mappings/inbox-default.toml documents each one.",
        )
    return mapping


def default_inbound_mapping() -> InboundMapping:
    """Canonical headers only, no value maps: what a mapping file with no keys gives."""
    return InboundMapping()
