"""Pure validation of an inbox table: raw text rows → typed `InboxRow`s + `RowIssue`s.

Every problem of every row is collected (not only the first), each with the row number
Excel shows, the header as written in the file (plus the column letter for XLSX), the
value and a message saying how to fix it. A valid row goes on to replay; a rejected row
goes to the failed/ file. Problems of the whole file (no order_id column, two columns
meaning the same thing) are `file_issues`: then no row is validated at all, because the
file as a whole must be fixed and dropped again.

Row rules (design §4): `order_id` is required; `state` is an API state name (any case
and spacing), `Returned`, or an ERP word from the mapping's value map; an empty state
with a tracking code or URL is a tracking-only row; an empty state without tracking is
rejected ("nothing to do"). Duplicate rows for one order are fine: they apply in file
order. `validate_table` never raises on bad cells, whatever text they hold.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from itertools import compress, repeat
from typing import Any, Final, NamedTuple, TypeVar

from filebridge.errors import RowIssue
from filebridge.inbox.inbound_mapping import (
    CANONICAL_COLUMNS,
    CARRIER_TYPES,
    REQUIRED_COLUMN,
    RETURNED,
    STATE_VALUES,
    InboundMapping,
)
from filebridge.selldone import FulfilmentState
from filebridge.tables import (
    CellProblem,
    ParsedColumn,
    RawRow,
    Table,
    building_rows,
    column_letter,
    normalise_key,
    parse_decimal,
    parse_item_id_lists,
    parse_order_ids,
    parse_tracking_codes,
    parse_tracking_urls,
)

__all__ = [
    "MAX_MEASURE",
    "NOTHING_TO_DO",
    "RETURNED",
    "InboxRow",
    "ValidationResult",
    "order_id_texts",
    "validate_table",
]

NOTHING_TO_DO: Final = "nothing to do: give a state or a tracking code"
MAX_MEASURE: Final = Decimal(
    1_000_000
)  # weight/size beyond this is a typo, not a parcel
_MEASURES: Final = ("weight", "width", "length", "height")
_TRACKING_COLUMNS: Final = ("state", "tracking_code", "tracking_url")
T = TypeVar("T")


class InboxRow(NamedTuple):
    """One valid inbox row: what a person asked to happen to one order.

    `state` is the target fulfilment state (None: no state change); `returned` is True
    for `Returned` (→ the delivery-returned call; `state` is then None). `items` are the
    confirmed item ids for OrderConfirm (None: all items). `delivery_info` holds only
    the keys the row gave: `weight` (Decimal), `volume` ({"width", "length", "height"}
    Decimals) and `type` (a transport code such as "Post"); each row has its own dict.
    The row's original cells are not kept here (100,000 copies nobody reads): the table
    has them (`Table.raw_row`, `Table.rows_numbered`).

    A NamedTuple rather than a frozen dataclass: immutable, same attributes and keyword
    construction, but built ~4× faster.
    """

    row: int
    order_id: int
    state: FulfilmentState | None
    returned: bool
    items: tuple[int, ...] | None
    tracking_code: str | None
    tracking_url: str | None
    delivery_info: dict[str, Any]


@dataclass(frozen=True)
class ValidationResult:
    """Valid rows in file order, every rejected row with all its issues, file problems.

    When `file_issues` is not empty the file cannot be used at all and `valid` and
    `rejected` are both empty. `rejected_orders` gives the order id of each rejected
    row whose id itself was fine (row number → id), so the journal can tell an order's
    story even for rows it never sent.
    """

    valid: list[InboxRow]
    rejected: list[tuple[RawRow, list[RowIssue]]]
    file_issues: list[str]
    rejected_orders: dict[int, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Column:
    header: str  # the key in RawRow.cells
    label: str  # how a person finds it: the header, plus the letter for XLSX


def _state_lookup(mapping: InboundMapping) -> dict[str, str]:
    """Normalised word → canonical state value: API names first, then the value map."""
    lookup = {normalise_key(value): value for value in STATE_VALUES}
    for word, value in mapping.value_maps.get("state", {}).items():
        lookup.setdefault(word, value)
    return lookup


def _carrier_lookup(mapping: InboundMapping) -> dict[str, str]:
    lookup = {normalise_key(value): value for value in CARRIER_TYPES}
    for word, value in mapping.value_maps.get("carrier", {}).items():
        lookup.setdefault(word, value)
    return lookup


def _resolve_columns(
    table: Table, mapping: InboundMapping
) -> tuple[dict[str, _Column], list[str]]:
    """Canonical column → the file's column, plus file problems (missing, doubled)."""
    found: dict[str, list[_Column]] = {}
    texts = table.original_headers()
    for index, (key, text) in enumerate(zip(table.headers, texts, strict=True)):
        canonical = mapping.canonical_column(text)
        if canonical is None:
            continue
        label = text
        if table.format.kind == "xlsx":
            label = f"{text} ({column_letter(table.format.first_column + index)})"
        found.setdefault(canonical, []).append(_Column(key, label))
    problems: list[str] = []
    for canonical in CANONICAL_COLUMNS:
        columns = found.get(canonical, [])
        if len(columns) > 1:
            labels = " and ".join(repr(c.label) for c in columns)
            problems.append(
                f"columns {labels} both mean {canonical}: delete or rename all but one"
            )
    if REQUIRED_COLUMN not in found:
        expected = ", ".join(repr(h) for h in mapping.accepted_headers(REQUIRED_COLUMN))
        seen = ", ".join(repr(h) for h in texts[:20] if h) or "no headers"
        problems.append(
            f"no {REQUIRED_COLUMN} column: expected one of {expected}; found {seen}. "
            "The first non-empty row must hold the column headers; add the alias to "
            f"the inbound mapping ({mapping.source}) if your ERP names it differently"
        )
    elif not any(c in found for c in _TRACKING_COLUMNS):
        expected = ", ".join(
            repr(h) for c in _TRACKING_COLUMNS for h in mapping.accepted_headers(c)
        )
        problems.append(
            "nothing to do: the file has no state, tracking_code or tracking_url "
            f"column (expected one of {expected})"
        )
    return {c: cols[0] for c, cols in found.items()}, problems


SPELLING_CUTOFF: Final = 0.8  # difflib ratio of a typo, not of another word


def _unknown_state(text: str, lookup: dict[str, str]) -> tuple[str, str]:
    """Message and hint for a state word nobody knows, with the closest known word."""
    key = normalise_key(text)
    if key == normalise_key(FulfilmentState.CHECK_QUEUE.value):
        return (
            "CheckQueue is where new orders start; a file cannot send an order back",
            "use OrderConfirm, PreparingOrder, SentOrder, ToCustomer or Returned",
        )
    api_names = {normalise_key(v): v for v in STATE_VALUES}
    words = sorted(set(lookup) - set(api_names))
    spelled = {**api_names, **{word: word for word in words}}
    # Only a near-identical spelling is suggested (Shiped → shipped): at a looser cutoff
    # `Storniert` (cancelled) came out as SentOrder, a suggestion across meanings.
    close = difflib.get_close_matches(key, list(spelled), n=1, cutoff=SPELLING_CUTOFF)
    suggestion = f" (did you mean {spelled[close[0]]}?)" if close else ""
    known = f"; the mapping also knows {', '.join(words[:12])}" if words else ""
    return (
        f"unknown state{suggestion}",
        "use OrderConfirm, PreparingOrder, SentOrder, ToCustomer or Returned"
        + known
        + ", or add the word under [values.state] in the inbound mapping",
    )


class _Checker:
    """Validates one table column by column.

    Working per column lets a 100,000-row file share work: each distinct weight,
    carrier, state or item list is parsed once, and the rows are built by C-level
    `map`/`zip` instead of a Python loop per cell.
    """

    def __init__(
        self, table: Table, columns: dict[str, _Column], mapping: InboundMapping
    ) -> None:
        self.table = table
        self.numbers = table.numbers
        self.count = len(table.numbers)
        self.columns = columns
        self.mapping = mapping
        self.issues: dict[int, list[RowIssue]] = {}

    def texts(self, column: _Column) -> Sequence[str]:
        return self.table.column(column.header)

    def report(
        self, index: int, column: _Column, text: str, problem: CellProblem
    ) -> None:
        self.issues.setdefault(index, []).append(
            RowIssue(
                self.numbers[index], column.label, text, problem.message, problem.hint
            )
        )

    def checked(
        self, column: _Column, texts: Sequence[str], parsed: ParsedColumn[T]
    ) -> Sequence[T | None]:
        """Report a parsed column's problems; its values (None where a problem was)."""
        for index, problem in parsed.problems.items():
            self.report(index, column, texts[index], problem)
        return parsed.values

    def order_ids(self) -> Sequence[int | None]:
        column = self.columns[REQUIRED_COLUMN]
        texts = self.texts(column)
        parsed = parse_order_ids(
            texts, thousands_separator=self.mapping.id_thousands_separator
        )
        return self.checked(column, texts, parsed)

    def column(
        self, name: str, parse: Callable[[Sequence[str]], ParsedColumn[T]]
    ) -> Sequence[T | None]:
        """Parse an optional column with a whole-column parser from `cells`."""
        column = self.columns.get(name)
        if column is None:
            return [None] * self.count
        texts = self.texts(column)
        return self.checked(column, texts, parse(texts))

    def states(
        self,
    ) -> tuple[Sequence[FulfilmentState | None], Sequence[bool], Sequence[object]]:
        """(target state or None, returned?, was a state given?) per row.

        Each distinct state text is looked up once (a file has a handful of them):
        the rows take their values with ONE C-level `map` over `_StateOf`. A state
        was given where the state cell is not empty: its text is the flag.
        """
        column = self.columns.get("state")
        count = self.count
        if column is None:
            return [None] * count, [False] * count, [False] * count
        texts = self.texts(column)
        state_of = _StateOf(_state_lookup(self.mapping))
        states = list(map(state_of.__getitem__, texts))
        unknown = state_of.unknown
        for index in (
            [i for i, t in enumerate(texts) if t in unknown] if unknown else []
        ):
            self.report(index, column, texts[index], unknown[texts[index]])
        returned = (
            list(map(state_of.returned.__contains__, texts))
            if state_of.returned
            else [False] * count
        )
        return states, returned, texts

    def delivery_infos(self) -> list[dict[str, Any]]:
        """Each row's delivery_info; one template per distinct combination of cells.

        Rows share few combinations (a carrier, a handful of sizes), so each distinct
        cell text is parsed once and each distinct combination built once; problems
        are reported column by column, in column order.
        """
        names = [name for name in (*_MEASURES, "carrier") if name in self.columns]
        if not names:
            return [{} for _ in range(self.count)]
        texts = [self.texts(self.columns[name]) for name in names]
        parsers = [
            self._carrier if name == "carrier" else partial(self._measure, name)
            for name in names
        ]
        templates = _InfoTemplates(names, parsers)
        # zip(*texts) gives each row's cells as one tuple, reused by zip unless the
        # row brings a new combination (kept as its template's key).
        # Every row gets its own dicts: a consumer may merge into or change them.
        # dict.copy via C-level map, then a fresh volume dict where there is one.
        rows = zip(*texts, strict=True)
        infos = list(map(dict.copy, map(templates.__getitem__, rows)))
        for name, known, column_texts in zip(
            names, templates.outcomes, texts, strict=True
        ):
            self.report_bad(self.columns[name], column_texts, known)
        if any("volume" in template for template in templates.values()):
            for info in infos:
                if "volume" in info:
                    info["volume"] = info["volume"].copy()
        return infos

    def report_bad(
        self, column: _Column, texts: Sequence[str], outcomes: dict[str, Any]
    ) -> None:
        """Report the rows whose text parsed to a problem (`outcomes`: text → value)."""
        bad = {t: v for t, v in outcomes.items() if isinstance(v, CellProblem)}
        if bad:
            for index in [i for i, t in enumerate(texts) if t in bad]:
                self.report(index, column, texts[index], bad[texts[index]])

    def _measure(self, name: str, text: str) -> Decimal | CellProblem:
        number = parse_decimal(text, decimal_separator=self.mapping.decimal_separator)
        if isinstance(number, Decimal) and not 0 < number <= MAX_MEASURE:
            return CellProblem(
                f"{name} must be greater than 0 and at most {MAX_MEASURE}",
                f"enter the parcel's {name} in the shop's unit, or leave it empty",
            )
        return number

    def _carrier(self, text: str) -> str | CellProblem | None:
        carrier = _carrier_lookup(self.mapping).get(normalise_key(text))
        if carrier is None and normalise_key(text) in self.mapping.tracking_urls:
            return None  # a carrier known only for its tracking link: no transport type
        if carrier is None:
            return CellProblem(
                "unknown carrier type",
                "use one of "
                + ", ".join(CARRIER_TYPES)
                + ", or add the word under [values.carrier] in the inbound mapping",
            )
        return carrier

    def tracking_urls(
        self, codes: Sequence[str | None], urls: Sequence[str | None]
    ) -> Sequence[str | None]:
        """Fill a missing link from the carrier's `[tracking_urls]` template; a link in
        the row always wins."""
        column = self.columns.get("carrier")
        if column is None or not self.mapping.tracking_urls:
            return urls
        carriers = self.texts(column)
        transport = _carrier_lookup(self.mapping)
        filled = list(urls)
        for index, (code, url) in enumerate(zip(codes, urls, strict=True)):
            carrier = carriers[index]
            if not carrier:
                continue
            if code is not None and url is None:
                filled[index] = self.mapping.tracking_url_for(carrier, code)
            elif (
                code is None
                and normalise_key(carrier) in self.mapping.tracking_urls
                and normalise_key(carrier) not in transport
            ):
                # Known only for its link, and there is no code to link: the word
                # would be dropped without a word, so the row is refused as before.
                self.report(
                    index,
                    column,
                    carrier,
                    CellProblem(
                        "unknown carrier type",
                        f"{carrier!r} is known only for its tracking link "
                        "([tracking_urls]): add the tracking code, or map the word to "
                        "a transport type under [values.carrier] in the inbound "
                        "mapping",
                    ),
                )
        return filled

    def nothing_to_do(
        self, given: Sequence[object], codes: Sequence[Any], urls: Sequence[Any]
    ) -> None:
        if all(given):  # every row names a state: nobody is idle (C-level check)
            return
        idle = [
            index
            for index, (state, code, url) in enumerate(
                zip(given, codes, urls, strict=True)
            )
            if not state and code is None and url is None
        ]
        for index in idle:
            if index not in self.issues:
                self.issues[index] = [
                    RowIssue(
                        self.numbers[index],
                        "",
                        "",
                        NOTHING_TO_DO,
                        "fill in the state column, the tracking_code column, or both",
                    )
                ]


class _StateOf(dict[str, FulfilmentState | None]):
    """State text → target state (None: empty, unknown or Returned), looked up the
    first time a row has the text; notes the Returned and the unknown texts."""

    def __init__(self, lookup: dict[str, str]) -> None:
        super().__init__()
        self.lookup = lookup
        self.returned: set[str] = set()
        self.unknown: dict[str, CellProblem] = {}

    def __missing__(self, text: str) -> FulfilmentState | None:
        value = self.lookup.get(normalise_key(text)) if text else None
        state = None
        if value == RETURNED:
            self.returned.add(text)
        elif value is not None:
            state = FulfilmentState(value)
        elif text:
            self.unknown[text] = CellProblem(*_unknown_state(text, self.lookup))
        self[text] = state
        return state


class _InfoTemplates(dict[tuple[str, ...], dict[str, Any]]):
    """A row's delivery cells → its delivery_info, built the first time a row has
    that combination; each cell text is parsed once (`outcomes`, per column)."""

    def __init__(
        self, names: Sequence[str], parsers: Sequence[Callable[[str], Any]]
    ) -> None:
        super().__init__()
        self.names = names
        self.parsers = parsers
        self.outcomes: list[dict[str, Any]] = [{} for _ in names]

    def __missing__(self, key: tuple[str, ...]) -> dict[str, Any]:
        info: dict[str, Any] = {}
        for name, parse, known, text in zip(
            self.names, self.parsers, self.outcomes, key, strict=True
        ):
            if text not in known:
                known[text] = parse(text) if text else None
            value = known[text]
            if value is None or isinstance(value, CellProblem):
                continue  # a problem rejects the row; the rest is kept all the same
            if name == "weight":
                info["weight"] = value
            elif name == "carrier":
                info["type"] = value
            else:
                info.setdefault("volume", {})[name] = value
        self[key] = info
        return info


def order_id_texts(
    table: Table, mapping: InboundMapping, rows: Iterable[RawRow]
) -> dict[int, str]:
    """Row number → the order id as written, for rows whose id did not parse (the
    result file and the dry run still name the order a person meant)."""
    key = next(
        (
            key
            for key, text in zip(table.headers, table.original_headers(), strict=True)
            if mapping.canonical_column(text) == REQUIRED_COLUMN
        ),
        None,
    )
    if key is None:
        return {}
    return {raw.row: raw.cells.get(key, "") for raw in rows}


def validate_table(table: Table, mapping: InboundMapping) -> ValidationResult:
    """Split a table's rows into valid `InboxRow`s and rejected rows with every issue.

    Issues of one row are listed in column order: order_id, state, items, tracking,
    measures, carrier.
    """
    columns, file_issues = _resolve_columns(table, mapping)
    if file_issues:
        return ValidationResult(valid=[], rejected=[], file_issues=file_issues)
    with building_rows():
        return _validate_rows(table, columns, mapping)


def _validate_rows(
    table: Table, columns: dict[str, _Column], mapping: InboundMapping
) -> ValidationResult:
    checker = _Checker(table, columns, mapping)
    order_ids = checker.order_ids()
    states, returned, given = checker.states()
    items = checker.column("items", parse_item_id_lists)
    codes = checker.column("tracking_code", parse_tracking_codes)
    urls = checker.column("tracking_url", parse_tracking_urls)
    infos = checker.delivery_infos()
    urls = checker.tracking_urls(codes, urls)
    checker.nothing_to_do(given, codes, urls)
    issues = checker.issues
    fields = (table.numbers, order_ids, states, returned, items, codes, urls, infos)
    values: Iterable[tuple[Any, ...]] = zip(*fields, strict=True)
    if issues:
        valid_rows = [True] * checker.count
        for index in issues:
            valid_rows[index] = False
        values = compress(values, valid_rows)
    # tuple.__new__ via C-level map: InboxRow(*values) goes through the NamedTuple's
    # Python-level __new__, ~2.5× slower per row (bench_inbox_read.py).
    valid = list(map(tuple.__new__, repeat(InboxRow), values))
    rejected = [(table.raw_row(index), issues[index]) for index in sorted(issues)]
    named = {
        table.numbers[index]: order_id
        for index in issues
        if (order_id := order_ids[index]) is not None
    }
    return ValidationResult(
        valid=valid, rejected=rejected, file_issues=[], rejected_orders=named
    )
