"""Pure cell parsing for inbox files: what Excel did to ids, numbers, dates, urls and lists.

Every parser takes the cell's text and returns the value or a `CellProblem` saying what
is wrong and how to fix it; `validation` adds the row and column. Nothing here guesses:
a value with two plausible readings (`1.000` = 1 or 1000?) or that may have lost digits
(`1.23457E+11`) is a problem, never a number.

Excel damage handled (field-notes §7):

* ids exported as floats: `23990.0`, `23990,00`;
* thousands separators: space, no-break spaces and `'` always; `.` or `,` only when the
  inbound mapping declares it (`id_thousands_separator`), because `23.990` is 23.99 in
  one locale and 23990 in another;
* scientific notation (`1.23457E+11`): Excel keeps only 15 significant digits and shows
  11, so the digits are gone: always rejected with the "format as Text" hint;
* non-ASCII digits (Persian, Arabic-Indic, full-width) become ASCII digits;
* the `="23990"` text trick and a leading `'` text marker are unwrapped.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from itertools import compress, repeat
from typing import Final, Generic, Literal, NamedTuple, TypeVar, cast

__all__ = [
    "MAX_ID",
    "MAX_TRACKING_CODE_LENGTH",
    "SCIENTIFIC_HINT",
    "CellProblem",
    "ParsedColumn",
    "column_letter",
    "normalise_key",
    "parse_date",
    "parse_decimal",
    "parse_item_id_lists",
    "parse_item_ids",
    "parse_order_id",
    "parse_order_ids",
    "parse_tracking_code",
    "parse_tracking_codes",
    "parse_tracking_url",
    "parse_tracking_urls",
]

MAX_ID: Final = 2**63 - 1  # Selldone ids are signed 64-bit integers
MAX_ID_TEXT: Final = 40  # longer cells are not ids; also bounds the regex work
_FAST_ID_DIGITS: Final = 18  # up to 18 digits int() is cheap and below MAX_ID
# A digits-only cell longer than MAX_ID_TEXT whose value fits in MAX_ID (19 digits)
# starts with at least this many zeros; a column without such a run has no such cell.
_LONG_ZERO_RUN: Final = "0" * (MAX_ID_TEXT - len(str(MAX_ID)) + 1)
MAX_ITEMS_TEXT: Final = 20_000  # an items cell longer than this is not a list of ids
MAX_NUMBER_TEXT: Final = 40
MAX_TRACKING_CODE_LENGTH: Final = 255
MAX_URL_LENGTH: Final = 2048

SCIENTIFIC_HINT: Final = (
    "format the column as Text in Excel (Format Cells > Text), retype or re-import "
    "the numbers, and export again"
)
THOUSANDS_HINT: Final = (
    "format the column as Text in Excel; if your ERP writes ids with thousands "
    "separators, set id_thousands_separator in the inbound mapping"
)

# Separators that can only be thousands separators inside an id (never decimal points).
_SPACE_SEPARATORS: Final = " \u00a0\u202f\u2009'\u2019"
_SCIENTIFIC = re.compile(r"[+-]?[0-9]+(?:[.,][0-9]*)?[eE][+-]?[0-9]+")
_SEPARATED_DIGITS = re.compile(r"[0-9][0-9 .,'\u2019\u00a0\u202f\u2009]*[0-9]")
_SCIENTIFIC_LINE = re.compile(r"(?m)^[0-9]+[eE][0-9]+$")  # alnum-only sci forms
_DECIMAL_ID = re.compile(r"([0-9]+)([.,])([0-9]+)")
_ZERO_FRACTION_ITEM = re.compile(r"([0-9]+)[.,]0+")
_ITEM_SPLIT = re.compile(r"[;,\s]+")
_DECIMAL_TEXT = re.compile(r"[0-9]*(?:[0-9]|\.[0-9]+)")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_URL = re.compile(
    r"(?i)https?://"
    r"(?:[^\s/?#@]+@)?"  # user info
    r"(?:[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]*[a-z0-9\u00a1-\uffff])?"
    r"(?:\.[a-z0-9\u00a1-\uffff](?:[a-z0-9\u00a1-\uffff-]*[a-z0-9\u00a1-\uffff])?)*"
    r"|\[[0-9a-f:.]+\])"  # host name or [IPv6]
    r"(?::[0-9]{1,5})?"
    r"(?:[/?#][^\s]*)?"
)
# The common case, checked cheaply; anything else goes through _URL.
_LABEL = r"[A-Za-z0-9]+(?:-+[A-Za-z0-9]+)*"  # no backtracking: one way to match
_URL_FAST = re.compile(
    rf"https?://{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?(?:[/?#][!-~]*)?"
)
# The scheme and host of a URL, up to the character that starts its path/query/fragment.
_URL_HEAD = re.compile(rf"https?://{_LABEL}(?:\.{_LABEL})*(?::[0-9]{{1,5}})?[/?#]")
_PLAIN_DECIMAL = re.compile(r"[0-9]{1,15}(?:\.[0-9]{1,15})?")
_PLAIN_DECIMAL_COMMA = re.compile(r"[0-9]{1,15}(?:,[0-9]{1,15})?")
_KEY_DROP = str.maketrans("", "", " _-\u00a0\t")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CellProblem:
    """Why a cell's text is not a valid value, and what the person should do."""

    message: str
    hint: str = ""


def normalise_key(text: str) -> str:
    """Header/word comparison key: case, spaces, underscores and hyphens ignored."""
    return text.translate(_KEY_DROP).casefold()


def column_letter(index: int) -> str:
    """Excel's column name for a 0-based column index (0 → A, 26 → AA)."""
    letters = ""
    number = index + 1
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _unwrap(text: str) -> str:
    """Strip whitespace, Excel's `="…"` text trick and a leading `'` text marker."""
    value = text.strip()
    if len(value) >= 3 and value.startswith('="') and value.endswith('"'):
        value = value[2:-1].strip()
    if value.startswith("'"):
        value = value[1:].strip()
    return value


def _ascii_digits(text: str) -> str:
    """Persian, Arabic-Indic, full-width … digits → ASCII; everything else unchanged."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.digit(ch)) if ch.isdecimal() else ch for ch in text)


def _whole(value: int, what: str) -> int | CellProblem:
    if value <= 0:
        return CellProblem(f"{what} must be a positive whole number")
    if value > MAX_ID:
        return CellProblem(f"{what} is too large to be a Selldone id")
    return value


def _grouped_digits(text: str, separators: str) -> str | None:
    """`23 990` → `23990` when `text` is digits grouped by threes with ONE separator."""
    for sep in separators:
        if sep in text:
            head, *groups = text.split(sep)
            if (
                1 <= len(head) <= 3
                and head.isdecimal()
                and groups
                and all(len(g) == 3 and g.isdecimal() for g in groups)
            ):
                return head + "".join(groups)
            return None
    return None


def parse_order_id(
    text: str,
    *,
    thousands_separator: Literal[".", ","] | None = None,
    what: str = "order id",
) -> int | CellProblem:
    """The id a person meant, or a problem; never a guess (see the module docstring)."""
    value = text.strip()
    if len(value) <= _FAST_ID_DIGITS and value.isdigit() and value.isascii():
        return _whole(int(value), what)  # fast path: the common, clean case
    if len(value) > MAX_ID_TEXT:
        return CellProblem(f"{what} is not a number", "enter only the order number")
    value = _ascii_digits(_unwrap(value))
    if not value:
        return CellProblem(f"{what} is empty", "enter the order number")
    if value.isdigit() and value.isascii():
        return _whole(int(value), what)
    if _SCIENTIFIC.fullmatch(value):
        return CellProblem(
            f"{what} is shown in scientific notation, so digits may be lost",
            SCIENTIFIC_HINT,
        )
    if value[0] in "-\u2212":
        return CellProblem(f"{what} must be a positive whole number")
    group_seps = _SPACE_SEPARATORS + (thousands_separator or "")
    # 1. digits grouped by threes, optionally with a zero fraction (`23 990,00`).
    integral, fraction = value, ""
    for dsep in ".,":
        if dsep != thousands_separator and value.count(dsep) == 1:
            integral, fraction = value.split(dsep)
            break
    grouped = _grouped_digits(integral, group_seps)
    if grouped is not None and (not fraction or fraction.isdecimal()):
        if fraction.strip("0"):
            return CellProblem(f"{what} is not a whole number", THOUSANDS_HINT)
        return _whole(int(grouped), what)
    # 2. a decimal number: `23990.0`, `23990,00`.
    match = _DECIMAL_ID.fullmatch(value)
    if match is None:
        if _SEPARATED_DIGITS.fullmatch(value):
            return CellProblem(
                f"{what} has separators that are not thousands groups", THOUSANDS_HINT
            )
        return CellProblem(
            f"{what} is not a number", "enter only the digits of the order number"
        )
    head, dsep, tail = match.groups()
    if thousands_separator is None and len(head) <= 3 and len(tail) == 3:
        # `1.000`, `23.990`: thousands separator or decimals? Both are common.
        return CellProblem(
            f"{what} is ambiguous: {dsep!r} may be a thousands separator or a "
            "decimal point",
            THOUSANDS_HINT,
        )
    if tail.strip("0"):
        return CellProblem(f"{what} is not a whole number", THOUSANDS_HINT)
    return _whole(int(head), what)


def parse_item_ids(text: str) -> tuple[int, ...] | CellProblem | None:
    """Confirmed item ids separated by `;`, `,` or spaces; None when the cell is empty.

    A single Excel-mangled id (`4521.0`, `4521,00`) is one id, not a list ending in 0.
    Repeated ids are kept once, in their first position.
    """
    value = text.strip()
    tokens = value.split(";") if "," not in value else value.split(",")
    digits = "".join(tokens)
    if (
        digits.isdigit()
        and digits.isascii()
        and "" not in tokens
        and max(map(len, tokens)) <= _FAST_ID_DIGITS
    ):
        listed = tuple(map(int, tokens))  # fast path: "4521;4522" or "4521,4522"
        if 0 not in listed:
            unique = len(set(listed)) == len(listed)
            return listed if unique else tuple(dict.fromkeys(listed))
    value = _unwrap(value)
    if not value:
        return None
    if len(value) > MAX_ITEMS_TEXT:
        return CellProblem(
            "too many item ids", "list at most a few hundred item ids per row"
        )
    value = _ascii_digits(value)
    if _ZERO_FRACTION_ITEM.fullmatch(value):
        single = parse_order_id(value, what="item id")
        return single if isinstance(single, CellProblem) else (single,)
    ids: dict[int, None] = {}
    for token in _ITEM_SPLIT.split(value):
        if not token:
            continue
        parsed = parse_order_id(token, what=f"item id {token!r}")
        if isinstance(parsed, CellProblem):
            return CellProblem(
                parsed.message,
                parsed.hint
                or "list item ids separated by ';' (leave empty to confirm all items)",
            )
        ids[parsed] = None
    return tuple(ids) or None


def parse_decimal(
    text: str, *, decimal_separator: Literal[".", ","] | None = None
) -> Decimal | CellProblem:
    """A measurement such as `12,5`, `1.234,5` or `12.5` as an exact Decimal.

    With `decimal_separator=None` the separator is inferred: the last of `.`/`,` when
    both occur; a lone `,` is a decimal comma unless it looks like a thousands group
    (`1,250` is refused as ambiguous); a lone `.` is a decimal point. Thousands
    separators must group digits by threes, so `12.5` is refused, not read as 125, when
    the mapping says the decimal separator is `,`.
    """
    if decimal_separator == ",":
        if _PLAIN_DECIMAL_COMMA.fullmatch(text):
            return Decimal(text.replace(",", "."))
    elif _PLAIN_DECIMAL.fullmatch(text):
        return Decimal(text)
    value = _ascii_digits(_unwrap(text))
    if len(value) > MAX_NUMBER_TEXT:
        return CellProblem("not a number", "enter a number such as 12.5, without units")
    for sep in _SPACE_SEPARATORS:
        value = value.replace(sep, "")
    negative = value[:1] in ("-", "\u2212")
    if value[:1] in ("-", "\u2212", "+"):
        value = value[1:]
    if decimal_separator is None:
        decimal_separator = _infer_decimal_separator(value)
        if decimal_separator is None:
            return CellProblem(
                "number is ambiguous: ',' may be a thousands separator or a "
                "decimal comma",
                "write it without thousands separators, or set "
                "decimal_separator in the inbound mapping",
            )
    thousands = "," if decimal_separator == "." else "."
    integral, _, fraction = value.partition(decimal_separator)
    if thousands in integral:
        grouped = _grouped_digits(integral, thousands)
        if grouped is None:
            return CellProblem(
                f"not a number: {thousands!r} is not the decimal separator here",
                f"write the number with {decimal_separator!r} as decimal separator",
            )
        integral = grouped
    plain = integral + ("." + fraction if fraction else "")
    if not _DECIMAL_TEXT.fullmatch(plain):
        return CellProblem(
            "not a number", "enter a number such as 12.5 (or 12,5), without units"
        )
    number = Decimal(plain)
    return -number if negative else number


def _infer_decimal_separator(value: str) -> Literal[".", ","] | None:
    """The decimal separator of `value` when only one reading is plausible."""
    if "." in value and "," in value:
        return "." if value.rfind(".") > value.rfind(",") else ","
    if value.count(",") == 1:
        head, tail = value.split(",")
        if len(tail) == 3 and 1 <= len(head) <= 3:
            return None
        return ","
    return "."


def parse_date(text: str, formats: Sequence[str]) -> date | CellProblem:
    """An ISO date (or date-time), else the one date that the given formats agree on."""
    value = _unwrap(text)
    if not value:
        return CellProblem("date is empty", "enter a date such as 2024-03-05")
    try:
        return datetime.fromisoformat(value).date()
    except ValueError:
        pass
    found: set[date] = set()
    for pattern in formats:
        try:
            found.add(datetime.strptime(value, pattern).date())  # noqa: DTZ007 - a date, no zone
        except ValueError:
            continue
    if len(found) == 1:
        return found.pop()
    if found:
        return CellProblem(
            "date is ambiguous (day and month could be swapped)",
            "write dates as YYYY-MM-DD",
        )
    return CellProblem(
        "not a date",
        "write dates as YYYY-MM-DD"
        + (f" or as {', '.join(formats)}" if formats else ""),
    )


def parse_tracking_code(text: str) -> str | CellProblem | None:
    """The tracking code as text (None when empty); numbers Excel mangled are refused.

    A carrier's long numeric code that Excel turned into `3.40434E+17` has lost digits;
    one exported as `123456789012.0` gets its `.0` removed.
    """
    value = text.strip()
    if (
        value.isalnum()
        and value.isascii()
        and len(value) <= MAX_TRACKING_CODE_LENGTH
        and (value.isdigit() or _SCIENTIFIC.fullmatch(value) is None)
    ):
        return value
    value = _unwrap(value)
    if not value:
        return None
    if _SCIENTIFIC.fullmatch(value):
        return CellProblem(
            "tracking code is shown in scientific notation, so digits may be lost",
            SCIENTIFIC_HINT,
        )
    if _CONTROL.search(value):
        return CellProblem(
            "tracking code contains control characters (tab, line break …)",
            "retype the tracking code",
        )
    if len(value) > MAX_TRACKING_CODE_LENGTH:
        return CellProblem(
            f"tracking code is longer than {MAX_TRACKING_CODE_LENGTH} characters",
            "enter only the carrier's tracking number",
        )
    mangled = _ZERO_FRACTION_ITEM.fullmatch(value)
    if mangled is not None and value.isascii():
        return mangled.group(1)
    return value


def parse_tracking_url(text: str) -> str | CellProblem | None:
    """An http(s) URL with a host (None when empty), as the API's URL validation wants."""
    value = text.strip()
    if not value:
        return None
    if len(value) <= MAX_URL_LENGTH and _URL_FAST.fullmatch(value):
        return value
    if len(value) > MAX_URL_LENGTH:
        return CellProblem(
            f"tracking URL is longer than {MAX_URL_LENGTH} characters",
            "shorten the link",
        )
    if not _URL.fullmatch(value):
        return CellProblem(
            "tracking URL is not a web address",
            "write a full link starting with https:// (or leave the cell empty)",
        )
    return value


# ------------------------------------------------------------------ whole columns
#
# A 100,000-row file has 100,000 cells per column, mostly clean. Each column parser
# first checks the whole column at C speed (joined text, bytes methods, `map`) and
# then gives every cell the value its cell parser would give; any column that is
# not clean goes cell by cell. The tests hold each to its cell parser.


class ParsedColumn(NamedTuple, Generic[T]):
    """A whole column parsed: every cell's value, and the cells with a problem.

    `values[i]` is the value of cell i, None for an empty cell or one with a problem;
    `problems` maps the index of each cell with a problem to it. A clean column
    comes back without looking at any cell twice to find problems.
    """

    values: Sequence[T | None]
    problems: dict[int, CellProblem]

    def cells(self) -> list[T | CellProblem | None]:
        """Each cell's outcome as its cell parser gives it (value, problem or None)."""
        return [self.problems.get(i, v) for i, v in enumerate(self.values)]


def _separated(outcomes: Sequence[T | CellProblem | None]) -> ParsedColumn[T]:
    """A column parsed cell by cell, its problems moved out of the values."""
    problems = {i: v for i, v in enumerate(outcomes) if isinstance(v, CellProblem)}
    values = list(outcomes)
    for index in problems:
        values[index] = None
    return ParsedColumn(cast("list[T | None]", values), problems)


def _ascii_bytes(text: str) -> bytes | None:
    """`text` as bytes when it is ASCII: bytes methods test characters ~5× faster."""
    return text.encode("ascii") if text.isascii() else None


def _lines_at_most(joined: str, texts: Sequence[str], limit: int) -> bool:
    """True when no text (a line of `joined`, texts without line breaks) exceeds `limit`.

    A line longer than `limit` covers a whole one of the windows of limit // 2
    characters; when each window holds a line break there is none, found without
    touching every text (else each text's length is checked).
    """
    window = max(limit // 2, 1)
    if len(joined) <= limit or all(
        joined.find("\n", start, start + window) != -1
        for start in range(0, len(joined) - window + 1, window)
    ):
        return True
    return max(map(len, texts), default=0) <= limit


def _empty_as_none(texts: Sequence[str], joined: str) -> Sequence[str | None]:
    """`texts`, empty ones as None; `joined`: the texts (none holding a line break)
    joined by line breaks, where an empty text shows as an empty line."""
    if not texts or (
        joined and joined[0] != "\n" and joined[-1] != "\n" and "\n\n" not in joined
    ):
        return texts  # no empty text
    return [text or None for text in texts]


def parse_order_ids(
    texts: Sequence[str],
    *,
    thousands_separator: Literal[".", ","] | None = None,
) -> ParsedColumn[int]:
    """`parse_order_id` for a whole column: plain ids (ASCII digits) at C speed."""
    ids = _plain_ids(texts)
    if ids is not None:
        return ParsedColumn(ids, {})
    return _separated(
        [parse_order_id(t, thousands_separator=thousands_separator) for t in texts]
    )


def _plain_ids(texts: Sequence[str]) -> list[int] | None:
    """The ids, when every text is ASCII digits that `parse_order_id` accepts; else None.

    For such a text `parse_order_id` gives `int(text)` when it is a valid id and at
    most MAX_ID_TEXT long, so the whole column is checked at C speed on the joined
    text and the ints (a per-cell length check cost more than parsing the column).
    """
    flat = "".join(texts)
    digits = _ascii_bytes(flat)
    if digits is None or not digits.isdigit() or _LONG_ZERO_RUN in flat:
        return None
    try:
        ids = list(map(int, texts))
    except ValueError:  # an empty cell, or more digits than int() takes
        return None
    if min(ids) <= 0 or max(ids) > MAX_ID:
        return None
    return ids


def parse_tracking_codes(texts: Sequence[str]) -> ParsedColumn[str]:
    """`parse_tracking_code` for a whole column: ASCII letters and digits at C speed."""
    joined = "\n".join(texts)
    data = _ascii_bytes(joined)
    if (
        data is not None
        and data.count(b"\n") == len(texts) - 1  # no text holds a line break
        and data.replace(b"\n", b"").isalnum()
        and _lines_at_most(joined, texts, MAX_TRACKING_CODE_LENGTH)
        # Only a code with an e/E can be in scientific notation: skip the search.
        and not (
            (b"e" in data or b"E" in data)
            and _SCIENTIFIC_LINE.search(joined) is not None
        )
    ):
        return ParsedColumn(_empty_as_none(texts, joined), {})
    return _separated(list(map(parse_tracking_code, texts)))


def _plain_item_lists(values: Sequence[str]) -> list[tuple[int, ...]] | None:
    """Non-empty cells of ids separated by `;`/`,` only, all valid: the tuples; else None.

    The same C-speed checks as `_plain_ids`, on all the cells' ids at once; when every
    cell lists equally many ids (often just one), the tuples are cut from one list of
    all the ids without a Python step per cell.
    """
    if not values:
        return []
    joined = ";".join(values)
    if len(joined) > MAX_ITEMS_TEXT and max(map(len, values)) > MAX_ITEMS_TEXT:
        return None  # `parse_item_ids` may refuse it as too long
    if "," in joined:
        values = [value.replace(",", ";") for value in values]
        joined = joined.replace(",", ";")
    digits = _ascii_bytes(joined.replace(";", ""))
    if digits is None or not digits.isdigit() or _LONG_ZERO_RUN in joined:
        return None
    try:
        ids = list(map(int, joined.split(";")))
    except ValueError:  # an empty id between separators ("1;;2"), or a huge one
        return None
    if min(ids) <= 0 or max(ids) > MAX_ID:
        return None  # 0 may be a lost fraction: `4521,0` is one id, not two
    separators = set(map(str.count, values, repeat(";")))
    if len(separators) == 1:
        lists = list(zip(*[iter(ids)] * (separators.pop() + 1), strict=True))
    else:
        lists = [tuple(map(int, value.split(";"))) for value in values]
    if len(set(ids)) < len(ids):  # some id repeats
        return list(map(_first_of_each, lists))
    return lists


def _first_of_each(ids: tuple[int, ...]) -> tuple[int, ...]:
    """`ids` with repeats kept once, in their first position."""
    return ids if len(set(ids)) == len(ids) else tuple(dict.fromkeys(ids))


def parse_item_id_lists(texts: Sequence[str]) -> ParsedColumn[tuple[int, ...]]:
    """`parse_item_ids` for a whole column; clean columns take a C-speed path.

    Only the filled cells are parsed (the usual cell is empty: all items); each
    distinct text once when the column is not plain.
    """
    filled = list(compress(range(len(texts)), texts))
    values = list(map(texts.__getitem__, filled))
    lists = _plain_item_lists(values)
    parsed: Sequence[tuple[int, ...] | CellProblem | None]
    if lists is not None:
        parsed = lists
    else:
        known = {text: parse_item_ids(text) for text in set(values)}
        parsed = list(map(known.__getitem__, values))
    column: list[tuple[int, ...] | CellProblem | None] = [None] * len(texts)
    for index, value in zip(filled, parsed, strict=True):
        column[index] = value
    if lists is not None:
        return ParsedColumn(cast("list[tuple[int, ...] | None]", column), {})
    return _separated(column)


_URL_CHARACTERS: Final = bytes(range(0x21, 0x7F))  # [!-~]: printable, no space


def parse_tracking_urls(texts: Sequence[str]) -> ParsedColumn[str]:
    """`parse_tracking_url` for a whole column; clean columns take a C-speed path.

    Clean: every filled cell holds only [!-~] characters, is short enough and starts
    with a valid `https://host/` (the first cell's, usually the carrier's page, checked
    once) or else is a valid URL by `_URL_FAST`.
    """
    joined = "\n".join(texts)
    data = _ascii_bytes(joined)
    if (
        data is not None
        and data.count(b"\n") == len(texts) - 1  # no text holds a line break
        and not data.translate(None, _URL_CHARACTERS).replace(b"\n", b"")
        and _lines_at_most(joined, texts, MAX_URL_LENGTH)
        and _valid_urls(texts, joined)
    ):
        return ParsedColumn(_empty_as_none(texts, joined), {})
    return _separated(list(map(parse_tracking_url, texts)))


def _valid_urls(texts: Sequence[str], joined: str) -> bool:
    """True when every filled text, made only of [!-~], passes `_URL_FAST`.

    A column's links usually share scheme and host, so the one regex check of the
    first link's `https://host/` plus a count of the lines starting with it replaces
    one regex per cell: after a valid head whose last character starts the path, any
    [!-~] text completes a URL `_URL_FAST` accepts.
    """
    first = next(filter(None, texts), None)
    if first is None:
        return True  # every cell is empty
    head = _URL_HEAD.match(first)
    if head is not None:
        starts = ("\n" + joined).count("\n" + head.group())
        if starts == len(texts) - texts.count(""):
            return True
    return all(map(_URL_FAST.fullmatch, filter(None, texts)))
