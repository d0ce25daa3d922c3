"""Column mappings (mappings/*.toml): the validated spec model, parsed from TOML text.

Pure: `parse_mapping` takes the TOML *text* (the use case reads the file) and reports
every problem at once, each with its line and, for a misspelt name, the nearest valid
ones. The sources a column may name are in `filebridge.outbox.fields`, the `[dialect]` rules in
`filebridge.outbox.dialect`, and `filebridge.outbox.order_rows` turns an order into rows by a spec.

A mapping file::

    [dialect]                     # every key optional
    format = "csv"                # or "xlsx"
    delimiter = ","
    quoting = "minimal"           # or "all"
    encoding = "utf-8-sig"
    decimal_separator = "."
    date_format = "%Y-%m-%d"      # strftime codes
    datetime_format = "%Y-%m-%d %H:%M:%S"
    line_ending = "crlf"          # or "lf"
    header = true
    filename_template = "orders-{timestamp}-{batch}.{ext}"
    rows = "per_item"             # or "per_order"
    sheet_name = "Orders"         # xlsx

    [[columns]]
    header = "sku"
    source = "item.sku"           # a field path (see fields.FIELDS), or instead:
    # value = "ACME"              # a constant
    # kind = "text"               # override: text|phone|money|quantity|int|date|datetime
    # format = "%d.%m.%Y"         # date/datetime columns
    # decimals = 2                # money/quantity columns
    # default = ""                # when the field is empty
    # separator = ", "            # joins list fields such as order.skus
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import BaseModel, ConfigDict

from filebridge.errors import MappingError
from filebridge.outbox.dialect import (
    Dialect,
    RowMode,
    check_time_format,
    dialect_conflicts,
    dialect_problems,
)
from filebridge.outbox.fields import (
    FIELDS,
    NUMBER_KINDS,
    TIME_KINDS,
    WRITABLE_AS,
    ColumnKind,
)

__all__ = [
    "ColumnSpec",
    "MappingSpec",
    "parse_mapping",
    "render_filename",
]

MAX_DECIMALS = 6


# --- the spec model ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnSpec(_Strict):
    """One `[[columns]]` entry, validated: `kind` is always resolved."""

    header: str
    source: str | None = None
    value: str | None = None
    kind: ColumnKind
    format: str | None = None
    decimals: int | None = None
    default: str | None = None
    separator: str = ", "


class MappingSpec(_Strict):
    """A validated mapping: where it came from, its dialect and its columns."""

    source_name: str
    description: str = ""
    dialect: Dialect
    columns: tuple[ColumnSpec, ...]

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]

    @property
    def extension(self) -> str:
        return self.dialect.format

    def with_format(self, file_format: str | None) -> MappingSpec:
        """The same mapping written as `file_format` (config's `export.format` wins)."""
        if file_format is None or file_format == self.dialect.format:
            return self
        if file_format not in ("csv", "xlsx"):
            raise MappingError(
                f"Unknown export format {file_format!r}; use csv or xlsx."
            )
        dialect = self.dialect.model_copy(update={"format": file_format})
        return self.model_copy(update={"dialect": dialect})


# --- parsing and validation ----------------------------------------------------------

_TOP_KEYS = ("dialect", "columns", "description")
_COLUMN_KEYS = (
    "header",
    "source",
    "value",
    "kind",
    "format",
    "decimals",
    "default",
    "separator",
)


class _Problems:
    """Collects every problem of one file, with the line a person should look at."""

    def __init__(self, text: str) -> None:
        self.items: list[str] = []
        self._lines = text.splitlines()
        self._column_starts = [
            n
            for n, line in enumerate(self._lines, start=1)
            if re.match(r"\s*\[\[\s*columns\s*\]\]", line)
        ]
        self._dialect_start = next(
            (
                n
                for n, line in enumerate(self._lines, start=1)
                if re.match(r"\s*\[\s*dialect\s*\]", line)
            ),
            None,
        )

    def _key_line(self, start: int | None, end: int | None, key: str) -> int | None:
        if start is None:
            return None
        stop = end if end is not None else len(self._lines) + 1
        pattern = re.compile(rf"\s*{re.escape(key)}\s*=")
        for number in range(start, stop):
            if pattern.match(self._lines[number - 1]):
                return number
        return start

    def column_line(self, index: int, key: str | None = None) -> int | None:
        if index >= len(self._column_starts):
            return None
        start = self._column_starts[index]
        if key is None:
            return start
        following = [n for n in self._column_starts if n > start]
        following += [self._dialect_start] if self._dialect_start else []
        end = min((n for n in following if n > start), default=None)
        return self._key_line(start, end, key)

    def dialect_line(self, key: str) -> int | None:
        start = self._dialect_start
        if start is None:
            return None
        end = min((n for n in self._column_starts if n > start), default=None)
        return self._key_line(start, end, key)

    def add(self, line: int | None, where: str, message: str) -> None:
        prefix = f"line {line}, " if line is not None else ""
        self.items.append(f"{prefix}{where}: {message}")


def _suggest(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    return f"; did you mean {', '.join(close)}?" if close else ""


def parse_mapping(text: str, source_name: str) -> MappingSpec:
    """Parse and validate a mapping's TOML text; every problem is reported at once.

    `source_name` (usually the file path) appears in every message.
    """
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise MappingError(
            f"Mapping {source_name} is not valid TOML: {exc}.",
            hint="Check quotes and brackets at the line shown.",
        ) from exc
    problems = _Problems(text)
    for key in raw:
        if key not in _TOP_KEYS:
            problems.add(
                None, f"key {key!r}", "unknown top-level key" + _suggest(key, _TOP_KEYS)
            )
    dialect = _parse_dialect(raw.get("dialect", {}), problems)
    columns = _parse_columns(raw.get("columns"), dialect, problems)
    description = raw.get("description", "")
    if not isinstance(description, str):
        problems.add(None, "description", "must be text")
        description = ""
    if problems.items:
        raise MappingError(
            f"Mapping {source_name} has {len(problems.items)} problem(s):\n"
            + "\n".join(f"  - {p}" for p in problems.items),
            hint="Fix the listed keys; `filebridge mapping fields` lists every valid "
            "source (so does the README, § Column mappings (outbox)).",
        )
    if dialect is None:  # unreachable: a dialect that did not parse added a problem
        raise MappingError(f"Mapping {source_name} has an invalid [dialect].")
    return MappingSpec(
        source_name=source_name,
        description=description,
        dialect=dialect,
        columns=tuple(columns),
    )


def _parse_dialect(raw: object, problems: _Problems) -> Dialect | None:
    if not isinstance(raw, Mapping):
        problems.add(None, "[dialect]", "must be a table")
        return None
    known = list(Dialect.model_fields)
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key not in Dialect.model_fields:
            problems.add(
                problems.dialect_line(key),
                f"[dialect] {key}",
                "unknown key" + _suggest(key, known),
            )
            continue
        values[key] = value
    bad = dialect_problems(values)
    for key, message in bad:
        problems.add(problems.dialect_line(key), f"[dialect] {key}", message)
    if bad:
        return None
    dialect = Dialect.model_validate(values)
    for key, message in dialect_conflicts(dialect):
        problems.add(problems.dialect_line(key), f"[dialect] {key}", message)
    return dialect


def _parse_columns(
    raw: object, dialect: Dialect | None, problems: _Problems
) -> list[ColumnSpec]:
    if raw is None or (isinstance(raw, list) and not raw):
        problems.add(None, "[[columns]]", "the mapping has no columns")
        return []
    if not isinstance(raw, list) or not all(isinstance(c, Mapping) for c in raw):
        problems.add(None, "columns", "must be an array of tables ([[columns]])")
        return []
    per_order = dialect is not None and dialect.rows is RowMode.PER_ORDER
    columns: list[ColumnSpec] = []
    seen_headers: dict[str, int] = {}
    for index, entry in enumerate(raw):
        column = _parse_column(index, entry, per_order, problems)
        if column is None:
            continue
        if column.header in seen_headers:
            problems.add(
                problems.column_line(index, "header"),
                f"column {column.header!r}",
                f"the same header as column {seen_headers[column.header] + 1}; "
                "headers must be unique",
            )
        seen_headers.setdefault(column.header, index)
        columns.append(column)
    return columns


def _parse_column(
    index: int, entry: Mapping[str, Any], per_order: bool, problems: _Problems
) -> ColumnSpec | None:
    header = entry.get("header")
    where = (
        f"column {header!r}"
        if isinstance(header, str) and header
        else f"column {index + 1}"
    )
    before = len(problems.items)

    def problem(key: str | None, message: str) -> None:
        problems.add(problems.column_line(index, key), where, message)

    for key in entry:
        if key not in _COLUMN_KEYS:
            problem(key, f"unknown key {key!r}" + _suggest(key, _COLUMN_KEYS))
    if not isinstance(header, str) or not header.strip():
        problem("header", "needs a non-empty `header`")
    source, value = entry.get("source"), entry.get("value")
    if (source is None) == (value is None):
        problem(None, "needs exactly one of `source` (a field) or `value` (a constant)")
        return None
    natural = ColumnKind.TEXT
    if source is not None:
        if not isinstance(source, str) or source not in FIELDS:
            problem(
                "source",
                f"unknown source {source!r}" + _suggest(str(source), list(FIELDS)),
            )
            return None
        field = FIELDS[source]
        natural = field.kind
        if per_order and field.per_item:
            problem(
                "source",
                f"{source!r} is a line-item field, but rows = 'per_order'; "
                "use order.skus / order.item_count or rows = 'per_item'",
            )
    elif not isinstance(value, str | int | float):
        problem("value", "a constant `value` must be text or a number")
    kind = natural
    raw_kind = entry.get("kind")
    if raw_kind is not None:
        if raw_kind not in tuple(ColumnKind):
            problem(
                "kind",
                f"unknown kind {raw_kind!r}"
                + _suggest(str(raw_kind), tuple(ColumnKind)),
            )
        elif source is not None and ColumnKind(raw_kind) not in WRITABLE_AS[natural]:
            problem("kind", f"{source!r} ({natural}) cannot be written as {raw_kind}")
        else:
            kind = ColumnKind(raw_kind)
    fmt, decimals, default = (
        entry.get("format"),
        entry.get("decimals"),
        entry.get("default"),
    )
    if fmt is not None:
        if kind not in TIME_KINDS:
            problem("format", "`format` applies to date and datetime columns only")
        elif (message := check_time_format(fmt)) is not None:
            problem("format", message)
    if decimals is not None and (
        kind not in {ColumnKind.MONEY, ColumnKind.QUANTITY}
        or not isinstance(decimals, int)
        or isinstance(decimals, bool)
        or not 0 <= decimals <= MAX_DECIMALS
    ):
        problem(
            "decimals",
            f"`decimals` is a whole number 0..{MAX_DECIMALS} for money/quantity columns",
        )
    if default is not None:
        if not isinstance(default, str | int | float) or isinstance(default, bool):
            problem("default", "`default` must be text or a number")
        elif kind in NUMBER_KINDS and str(default) != "":
            try:
                Decimal(str(default))
            except InvalidOperation:
                problem("default", f"{default!r} is not a number for a {kind} column")
    separator = entry.get("separator", ", ")
    if not isinstance(separator, str):
        problem("separator", "must be text")
    if len(problems.items) > before:
        return None
    return ColumnSpec(
        header=str(header),
        source=source,
        value=None if value is None else str(value),
        kind=kind,
        format=fmt,
        decimals=decimals,
        default=None if default is None else str(default),
        separator=separator,
    )


# --- file names ---------------------------------------------------------------------------


def render_filename(spec: MappingSpec, *, batch: int | str, moment: datetime) -> str:
    """The output file name from the dialect's template (`moment` in UTC)."""
    utc = moment.astimezone(UTC)
    return spec.dialect.filename_template.format(
        timestamp=utc.strftime("%Y%m%d-%H%M%S"),
        date=utc.strftime("%Y-%m-%d"),
        time=utc.strftime("%H%M%S"),
        batch=batch,
        ext=spec.extension,
    )
