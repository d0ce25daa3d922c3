"""The `[dialect]` of a mapping: how its output file is written, with a rule per value.

Pure: `dialect_problems` checks the raw values of a `[dialect]` table (encodings,
strftime patterns, Excel's sheet-name rules, file-name templates) and says what is wrong
with each; `filebridge.outbox.mapping` adds the line numbers and builds the `Dialect`.
"""

from __future__ import annotations

import codecs
import string
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

__all__ = [
    "FILENAME_FIELDS",
    "Dialect",
    "RowMode",
    "check_time_format",
    "dialect_conflicts",
    "dialect_problems",
]

FILENAME_FIELDS = frozenset({"timestamp", "date", "time", "batch", "ext"})
FORBIDDEN_FILENAME_CHARS = frozenset('/\\:*?"<>|')


class RowMode(StrEnum):
    """One row per line item (order fields repeated) or one row per order."""

    PER_ITEM = "per_item"
    PER_ORDER = "per_order"


class Dialect(BaseModel):
    """`[dialect]`: how the file is written (the file format is shown in `filebridge.outbox.mapping`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: str = "csv"
    delimiter: str = ","
    quoting: str = "minimal"
    encoding: str = "utf-8-sig"
    decimal_separator: str = "."
    date_format: str = "%Y-%m-%d"
    datetime_format: str = "%Y-%m-%d %H:%M:%S"
    line_ending: str = "crlf"
    header: bool = True
    filename_template: str = "orders-{timestamp}-{batch}.{ext}"
    rows: RowMode = RowMode.PER_ITEM
    sheet_name: str = "Orders"

    @property
    def newline(self) -> str:
        return "\r\n" if self.line_ending == "crlf" else "\n"


def dialect_problems(values: Mapping[str, Any]) -> list[tuple[str, str]]:
    """`(key, message)` for each value in a `[dialect]` table that cannot be used."""
    return [
        (key, message)
        for key, check in _CHECKS
        if key in values and (message := check(values[key])) is not None
    ]


def dialect_conflicts(dialect: Dialect) -> list[tuple[str, str]]:
    """`(key, message)` for values that are each valid but cannot go together."""
    if dialect.format == "csv" and dialect.delimiter == dialect.decimal_separator:
        return [
            (
                "delimiter",
                "equals decimal_separator; use ';' as delimiter with a decimal comma",
            )
        ]
    return []


def _one_of(value: object, allowed: Sequence[str]) -> str | None:
    if value in allowed:
        return None
    return f"{value!r} is not one of {', '.join(repr(a) for a in allowed)}"


def _check_delimiter(value: object) -> str | None:
    if not isinstance(value, str) or len(value) != 1:
        return "must be exactly one character, e.g. ',' or ';' or '\\t'"
    if value in "\r\n\"'" or value.isalnum():
        return f"{value!r} cannot separate cells; use ',' or ';' or '\\t'"
    return None


def _check_encoding(value: object) -> str | None:
    if not isinstance(value, str):
        return "must be text such as 'utf-8-sig' or 'cp1252'"
    try:
        codecs.lookup(value)
    except LookupError:
        return f"unknown encoding {value!r}; use 'utf-8-sig' or 'cp1252'"
    return None


def check_time_format(value: object) -> str | None:
    if not isinstance(value, str) or "%" not in value:
        return (
            f"{value!r} is not a strftime pattern; write e.g. '%d.%m.%Y' "
            "for dd.mm.yyyy or '%Y-%m-%d %H:%M' for a date and time"
        )
    try:
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC).strftime(value)
    except ValueError as exc:
        return f"{value!r} is not a valid strftime pattern ({exc})"
    return None


def _check_sheet_name(value: object) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= 31:
        return "must be text of 1 to 31 characters"
    if set(value) & set("[]:*?/\\"):
        return "Excel forbids the characters [ ] : * ? / \\ in sheet names"
    return None


def _check_filename_template(value: object) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return "must be text such as 'orders-{timestamp}-{batch}.{ext}'"
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(value) if name}
    except ValueError as exc:
        return f"is not a valid template ({exc})"
    unknown = sorted(names - FILENAME_FIELDS)
    if unknown:
        return f"unknown placeholder(s) {', '.join(unknown)}; use " + ", ".join(
            "{" + f + "}" for f in sorted(FILENAME_FIELDS)
        )
    if set(value) & FORBIDDEN_FILENAME_CHARS or value.startswith("."):
        return (
            'must be a plain file name (no folders, no leading dot, no : * ? " < > |)'
        )
    return None


_CHECKS: list[tuple[str, Callable[[Any], str | None]]] = [
    ("format", lambda v: _one_of(v, ("csv", "xlsx"))),
    ("delimiter", _check_delimiter),
    ("quoting", lambda v: _one_of(v, ("minimal", "all"))),
    ("encoding", _check_encoding),
    ("decimal_separator", lambda v: _one_of(v, (".", ","))),
    ("date_format", check_time_format),
    ("datetime_format", check_time_format),
    ("line_ending", lambda v: _one_of(v, ("crlf", "lf"))),
    ("header", lambda v: None if isinstance(v, bool) else "must be true or false"),
    ("filename_template", _check_filename_template),
    ("rows", lambda v: _one_of(v, tuple(RowMode))),
    ("sheet_name", _check_sheet_name),
]
