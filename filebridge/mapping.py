"""Column mappings (mappings/*.toml): the spec model, its validation, and order → rows.

Pure: `parse_mapping` takes the TOML *text* (the use case reads the file), and
`order_to_rows` turns one `Order` into typed cells. Cells keep their type (`Decimal` money,
`date`/`datetime`, `int`, `str`); the writers decide how each type looks in CSV or XLSX,
so money is never a binary float before the very last step.

A mapping file::

    [dialect]                     # every key optional
    format = "csv"                # or "xlsx"
    delimiter = ","
    encoding = "utf-8-sig"
    decimal_separator = "."
    date_format = "%Y-%m-%d"      # strftime codes
    datetime_format = "%Y-%m-%d %H:%M:%S"
    line_ending = "crlf"          # or "lf"
    header = true
    filename_template = "orders-{timestamp}-{batch}.{ext}"
    rows = "per_item"             # or "per_order"

    [[columns]]
    header = "sku"
    source = "item.sku"           # a field path (see FIELDS), or instead:
    # value = "ACME"              # a constant
    # kind = "text"               # override: text|phone|money|quantity|int|date|datetime
    # format = "%d.%m.%Y"         # date/datetime columns
    # decimals = 2                # money/quantity columns
    # default = ""                # when the field is empty
"""

from __future__ import annotations

import codecs
import difflib
import re
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict

from filebridge.errors import MappingError
from filebridge.models import Order, OrderItem, ReceiverInfo

__all__ = [
    "CURRENCY_DECIMALS",
    "FIELDS",
    "Cell",
    "ColumnKind",
    "ColumnSpec",
    "Dialect",
    "FieldDef",
    "MappingSpec",
    "RowMode",
    "currency_decimals",
    "order_to_rows",
    "parse_mapping",
    "render_filename",
]

Cell = str | int | Decimal | date | datetime | None
"""One typed output value; `None` is an empty cell. (`datetime` is a `date` subclass.)"""

DEFAULT_MONEY_DECIMALS = 2
MAX_DECIMALS = 6
FILENAME_FIELDS = frozenset({"timestamp", "date", "time", "batch", "ext"})
FORBIDDEN_FILENAME_CHARS = frozenset('/\\:*?"<>|')

# ISO 4217 minor units that differ from 2 (CORE Currency.ts `floats`; selldone-api.md §4).
CURRENCY_DECIMALS: Mapping[str, int] = {
    **dict.fromkeys(
        [
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "IRR",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ],
        0,
    ),
    **dict.fromkeys(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"], 3),
}


class ColumnKind(StrEnum):
    """How a column's values are typed (and so written)."""

    TEXT = "text"
    PHONE = "phone"
    MONEY = "money"
    QUANTITY = "quantity"
    INT = "int"
    DATE = "date"
    DATETIME = "datetime"


class RowMode(StrEnum):
    """One row per line item (order fields repeated) or one row per order."""

    PER_ITEM = "per_item"
    PER_ORDER = "per_order"


TEXT_KINDS = frozenset({ColumnKind.TEXT, ColumnKind.PHONE})
NUMBER_KINDS = frozenset({ColumnKind.MONEY, ColumnKind.QUANTITY, ColumnKind.INT})
TIME_KINDS = frozenset({ColumnKind.DATE, ColumnKind.DATETIME})


# --- fields ---------------------------------------------------------------------------

Getter = Callable[[Order, OrderItem | None], object]


@dataclass(frozen=True)
class FieldDef:
    """A source a column can name: its natural kind and whether it needs a line item."""

    name: str
    kind: ColumnKind
    per_item: bool
    get: Getter


def _receiver(order: Order) -> ReceiverInfo | None:
    return order.receiver_info


def _street(receiver: ReceiverInfo | None) -> str | None:
    """`address` + `no` + `unit`, skipping a part the address line already contains."""
    if receiver is None:
        return None
    street = (receiver.address or "").strip()
    for part, joiner in ((receiver.no, " "), (receiver.unit, ", ")):
        part = (part or "").strip()
        if not part:
            continue
        if re.search(rf"(?<!\w){re.escape(part)}(?!\w)", street):
            continue
        street = f"{street}{joiner}{part}" if street else part
    return street or None


def _item_skus(order: Order) -> list[str]:
    return [sku for item in order.items if (sku := item.resolved_sku()) is not None]


def _quantity_total(order: Order) -> Decimal:
    return sum((item.count or Decimal(0) for item in order.items), Decimal(0))


def _tracking(order: Order, key: str) -> object:
    return getattr(order.delivery_info, key, None) if order.delivery_info else None


def _order_attr(name: str) -> Getter:
    def get(order: Order, _item: OrderItem | None) -> object:
        return getattr(order, name, None)

    return get


def _part_attr(part: str, name: str) -> Getter:
    """An attribute of `order.<part>` (receiver_info, buyer), None when it is null."""

    def get(order: Order, _item: OrderItem | None) -> object:
        return getattr(getattr(order, part, None), name, None)

    return get


def _item_attr(name: str, owner: str | None = None) -> Getter:
    """An attribute of the item, or of its `product`/`variant` when `owner` is given."""

    def get(_order: Order, item: OrderItem | None) -> object:
        target = item if owner is None else getattr(item, owner, None)
        return getattr(target, name, None)

    return get


def _order_fields() -> list[FieldDef]:
    t, m, dt = ColumnKind.TEXT, ColumnKind.MONEY, ColumnKind.DATETIME
    plain: list[tuple[str, ColumnKind]] = [
        ("id", t),
        ("label", t),
        ("status", t),
        ("delivery_state", t),
        ("currency", t),
        ("payment_type", t),
        ("channel", t),
        ("price", m),
        ("delivery_price", m),
        ("tax", m),
        ("tax_shipping", m),
        ("discount", m),
        ("reserved_at", dt),
        ("updated_at", dt),
        ("delivery_at", dt),
    ]
    fields = [
        FieldDef(f"order.{name}", kind, False, _order_attr(name))
        for name, kind in plain
    ]
    fields += [
        FieldDef("order.code", t, False, lambda o, _i: o.code),
        FieldDef("order.amount_due", m, False, lambda o, _i: o.amount_due),
        FieldDef("order.item_count", ColumnKind.INT, False, lambda o, _i: len(o.items)),
        FieldDef(
            "order.quantity_total",
            ColumnKind.QUANTITY,
            False,
            lambda o, _i: _quantity_total(o),
        ),
        FieldDef("order.skus", t, False, lambda o, _i: _item_skus(o)),
        FieldDef(
            "order.tracking_code", t, False, lambda o, _i: _tracking(o, "tracking_code")
        ),
        FieldDef(
            "order.tracking_url", t, False, lambda o, _i: _tracking(o, "tracking_url")
        ),
        FieldDef("order.delivery_type", t, False, lambda o, _i: _tracking(o, "type")),
    ]
    return fields


def _receiver_fields() -> list[FieldDef]:
    names = [
        "name",
        "email",
        "country",
        "state",
        "state_code",
        "city",
        "address",
        "no",
        "unit",
        "postal",
        "message",
        "tax_id",
    ]
    fields = [
        FieldDef(
            f"receiver.{name}",
            ColumnKind.TEXT,
            False,
            _part_attr("receiver_info", name),
        )
        for name in names
    ]
    fields += [
        FieldDef(
            "receiver.phone",
            ColumnKind.PHONE,
            False,
            _part_attr("receiver_info", "phone"),
        ),
        FieldDef(
            "receiver.street",
            ColumnKind.TEXT,
            False,
            lambda o, _i: _street(_receiver(o)),
        ),
    ]
    return fields


def _buyer_fields() -> list[FieldDef]:
    kinds = {
        "id": ColumnKind.TEXT,
        "name": ColumnKind.TEXT,
        "email": ColumnKind.TEXT,
        "phone": ColumnKind.PHONE,
    }
    return [
        FieldDef(
            f"buyer.{name}",
            kind,
            False,
            _part_attr("buyer", name),
        )
        for name, kind in kinds.items()
    ]


def _item_fields() -> list[FieldDef]:
    t, m, q = ColumnKind.TEXT, ColumnKind.MONEY, ColumnKind.QUANTITY
    plain: list[tuple[str, ColumnKind]] = [
        ("id", t),
        ("product_id", t),
        ("variant_id", t),
        ("currency", t),
        ("count", q),
        ("price", m),
        ("dis", m),
        ("offer_amount", m),
        ("cross_dis", m),
    ]
    fields = [
        FieldDef(f"item.{name}", kind, True, _item_attr(name)) for name, kind in plain
    ]
    fields += [
        FieldDef("item.sku", t, True, lambda _o, i: i.resolved_sku() if i else None),
        FieldDef("item.mpn", t, True, lambda _o, i: i.resolved_mpn() if i else None),
        FieldDef("item.title", t, True, lambda _o, i: i.title if i else None),
        FieldDef("item.line_total", m, True, lambda _o, i: i.line_total if i else None),
    ]
    for owner, names in (
        ("product", ["id", "title", "title_en", "sku", "mpn", "gtin", "unit"]),
        (
            "variant",
            ["id", "sku", "mpn", "gtin", "color", "style", "volume", "weight", "pack"],
        ),
    ):
        fields += [
            FieldDef(
                f"{owner}.{name}",
                t,
                True,
                _item_attr(name, owner),
            )
            for name in names
        ]
    return fields


FIELDS: Mapping[str, FieldDef] = {
    f.name: f
    for f in _order_fields() + _receiver_fields() + _buyer_fields() + _item_fields()
}
"""Every source a column may name."""


# --- the spec model ---------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Dialect(_Strict):
    """`[dialect]`: how the file is written (see the module docstring)."""

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
_COMPATIBLE: Mapping[ColumnKind, frozenset[ColumnKind]] = {
    ColumnKind.TEXT: TEXT_KINDS | {ColumnKind.INT},
    ColumnKind.PHONE: TEXT_KINDS,
    ColumnKind.MONEY: NUMBER_KINDS | {ColumnKind.TEXT},
    ColumnKind.QUANTITY: NUMBER_KINDS | {ColumnKind.TEXT},
    ColumnKind.INT: NUMBER_KINDS | {ColumnKind.TEXT},
    ColumnKind.DATE: TIME_KINDS,
    ColumnKind.DATETIME: TIME_KINDS,
}


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
            hint="Fix the listed keys; valid sources are listed in the README "
            "(Column mappings) and by `filebridge mapping check`.",
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
    before = len(problems.items)
    checks: list[tuple[str, Callable[[Any], str | None]]] = [
        ("format", lambda v: _one_of(v, ("csv", "xlsx"))),
        ("delimiter", _check_delimiter),
        ("quoting", lambda v: _one_of(v, ("minimal", "all"))),
        ("encoding", _check_encoding),
        ("decimal_separator", lambda v: _one_of(v, (".", ","))),
        ("date_format", _check_time_format),
        ("datetime_format", _check_time_format),
        ("line_ending", lambda v: _one_of(v, ("crlf", "lf"))),
        ("header", lambda v: None if isinstance(v, bool) else "must be true or false"),
        ("filename_template", _check_filename_template),
        ("rows", lambda v: _one_of(v, tuple(RowMode))),
        ("sheet_name", _check_sheet_name),
    ]
    for key, check in checks:
        if key in values and (message := check(values[key])) is not None:
            problems.add(problems.dialect_line(key), f"[dialect] {key}", message)
    if len(problems.items) > before:
        return None
    dialect = Dialect.model_validate(values)
    if dialect.format == "csv" and dialect.delimiter == dialect.decimal_separator:
        problems.add(
            problems.dialect_line("delimiter"),
            "[dialect] delimiter",
            "equals decimal_separator; use ';' as delimiter with a decimal comma",
        )
    return dialect


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


def _check_time_format(value: object) -> str | None:
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
        elif source is not None and ColumnKind(raw_kind) not in _COMPATIBLE[natural]:
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
        elif (message := _check_time_format(fmt)) is not None:
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


# --- order → rows ---------------------------------------------------------------------


def currency_decimals(currency: str | None) -> int:
    """Minor units of a currency (2 unless the table says otherwise)."""
    if not currency:
        return DEFAULT_MONEY_DECIMALS
    return CURRENCY_DECIMALS.get(currency.upper(), DEFAULT_MONEY_DECIMALS)


def _plain_decimal(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent form (100, not 1E+2)."""
    normal = value.normalize()
    exponent = normal.as_tuple().exponent
    if isinstance(exponent, int) and exponent > 0:
        return normal.quantize(Decimal(1))
    return normal


def _as_decimal(value: object) -> Decimal | None:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    if isinstance(value, str) and value.strip():
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            return None
    return None


def _text(value: object, column: ColumnSpec, decimal_separator: str) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        return column.separator.join(str(v) for v in value)
    if isinstance(value, Decimal):
        return format(_plain_decimal(value), "f").replace(".", decimal_separator)
    return str(value)


def _typed(value: object, column: ColumnSpec, order: Order, dialect: Dialect) -> Cell:
    kind = column.kind
    if kind in TEXT_KINDS:
        text = _text(value, column, dialect.decimal_separator)
        if not text and column.default is not None:
            return column.default
        return text
    if kind in TIME_KINDS:
        if not isinstance(value, datetime):
            return column.default or None
        moment = value.astimezone(UTC)
        return moment.date() if kind is ColumnKind.DATE else moment
    number = _as_decimal(value)
    if number is None:
        number = _as_decimal(column.default) if column.default else None
        if number is None:
            return None
    if kind is ColumnKind.INT:
        return int(number.to_integral_value(rounding=ROUND_HALF_UP))
    if kind is ColumnKind.MONEY:
        places = (
            column.decimals
            if column.decimals is not None
            else currency_decimals(order.currency)
        )
        return number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    if column.decimals is not None:
        return number.quantize(Decimal(1).scaleb(-column.decimals), ROUND_HALF_UP)
    return _plain_decimal(number)


def _row(order: Order, item: OrderItem | None, spec: MappingSpec) -> list[Cell]:
    row: list[Cell] = []
    for column in spec.columns:
        if column.source is None:
            raw: object = column.value
        else:
            field = FIELDS[column.source]
            raw = None if field.per_item and item is None else field.get(order, item)
        row.append(_typed(raw, column, order, spec.dialect))
    return row


def order_to_rows(order: Order, spec: MappingSpec) -> list[list[Cell]]:
    """The rows one order contributes: one per line item, or one for the order.

    An order without items still gives one row (item columns empty) so that an order in
    the ledger is always visible in its file.
    """
    if spec.dialect.rows is RowMode.PER_ORDER or not order.items:
        return [_row(order, None, spec)]
    return [_row(order, item, spec) for item in order.items]


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
