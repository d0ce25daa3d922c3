"""The text a person sees in each cell of a sheet, from the values python-calamine gives.

All values become that text: 23990.0 → "23990", other floats their shortest repr,
dates → ISO (midnight → the date alone), booleans → TRUE/FALSE; numbers beyond 15
digits (Excel's precision) keep Excel's scientific form, so ids that lost digits are
refused by validation. `cell_text` is the rule for one value; `sheet_columns` applies
it to a whole sheet column by column, converting a column of one type at once
(`column_texts`) rather than with a Python call per cell (held to `cell_text` by
tests/test_readers_columns.py; measured in tests/benchmarks/bench_inbox_read.py).
No I/O: `readers` opens the workbook and hands the rows in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from itertools import chain, compress, repeat, zip_longest
from operator import attrgetter, is_, not_
from typing import Any, Final, cast

__all__ = [
    "cell_text",
    "column_texts",
    "datetime_texts",
    "each_distinct",
    "float_texts",
    "iso_dates",
    "merged",
    "sheet_columns",
]

_EXCEL_DIGITS: Final = 1e15  # Excel stores 15 significant digits


def cell_text(value: object) -> str:
    """The text a person sees in the cell (module docstring).

    The one rule; the column conversions below are faster ways to the same texts.
    """
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value.is_integer() and -_EXCEL_DIGITS < value < _EXCEL_DIGITS:
            return str(int(value))
        if value.is_integer():
            return f"{value:.15G}"  # what Excel shows: 1.23456789012346E+17
        text = repr(value)
        return format(Decimal(text), "f") if "e" in text else text
    if isinstance(value, int):
        return str(value)
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return str(value)
    return "" if value is None else str(value).strip()


def sheet_columns(
    rows: Sequence[Sequence[object]], widths: Sequence[int]
) -> tuple[int, list[str], list[list[str]]] | None:
    """The header's index among `rows`, its texts, and the texts below it by column.

    None when every row is blank. Texts are what `cell_text` gives; `widths` are the
    rows' lengths. The header (the first row with text) goes cell by cell; the rows
    below are cut into columns (one flat list sliced when they are equally wide, as
    calamine gives them: ~3× faster than `zip(*rows)`), each converted at once by
    `column_texts`.
    """
    width = max(widths, default=0)
    texts = ([*map(cell_text, row)] + [""] * (width - len(row)) for row in rows)
    found = next(((top, cells) for top, cells in enumerate(texts) if any(cells)), None)
    if found is None:
        return None
    top, header = found
    body = rows[top + 1 :]
    columns: list[Sequence[object]]
    if set(widths[top + 1 :]) == {width}:
        cells = list(chain.from_iterable(body))
        columns = [cells[column::width] for column in range(width)]
    else:
        columns = list(zip_longest(*body, fillvalue=""))
        columns += [("",) * len(body)] * (width - len(columns))
    return top, header, list(map(column_texts, columns))


def column_texts(values: Sequence[object]) -> list[str]:
    """`cell_text` of every value of one column, with C-level `map`s where it can.

    A column of one type (ids or measures as floats, text, dates), or of one type
    plus text (empty cells are ""), is converted by type (`_TYPED_TEXTS`) instead of
    a Python call per cell (~4× faster; bench_inbox_read.py); others go cell by cell.
    The values are touched as few times as possible: a sheet's cells lie all over
    memory, and each pass over 100,000 of them costs more than the work done.
    """
    types = list(map(type, values))
    kinds = set(types)
    has_text = str in kinds
    kinds.discard(str)
    if not kinds:
        return list(map(str.strip, cast("Sequence[str]", values)))
    convert = _TYPED_TEXTS.get(kinds.pop()) if len(kinds) == 1 else None
    if convert is not None and not has_text:
        texts = each_distinct(convert, values)
        if texts is not None:
            return texts
    elif convert is not None:
        is_text = list(map(is_, types, repeat(str)))
        texts = each_distinct(convert, list(compress(values, map(not_, is_text))))
        if texts is not None:
            text_cells = cast("Iterable[str]", compress(values, is_text))
            return merged(is_text, map(str.strip, text_cells), texts)
    # Inline fast cases for text and whole numbers, ~2× faster than a call per cell.
    return [
        v.strip()
        if isinstance(v, str)
        else str(int(v))
        if isinstance(v, float)
        and v.is_integer()
        and -_EXCEL_DIGITS < v < _EXCEL_DIGITS
        else cell_text(v)
        for v in values
    ]


def merged(flags: Sequence[bool], yes: Iterable[str], no: Iterable[str]) -> list[str]:
    """The next text of `yes` where the flag is set, else of `no`, in order.

    Puts a column back together after its text cells and its typed cells were
    converted apart, each by a C-level `map`.
    """
    taken, other = iter(yes), iter(no)
    return [next(taken) if flag else next(other) for flag in flags]


def each_distinct(
    convert: Callable[[Sequence[Any]], list[str] | None], values: Sequence[object]
) -> list[str] | None:
    """`convert(values)`, converting each distinct value once when values repeat.

    Measures and dates repeat (a handful of parcel sizes, a few hundred days): a
    dict lookup per cell is ~3× cheaper than formatting it. Ids do not repeat, which
    the first 1,000 values tell.
    """
    if len(set(values[:1000])) * 4 > min(len(values), 1000):
        return convert(values)
    distinct = list(set(values))
    texts = convert(distinct)
    if texts is None:
        return None
    return list(map(dict(zip(distinct, texts, strict=True)).__getitem__, values))


def float_texts(values: Sequence[float]) -> list[str] | None:
    """Whole numbers as integers, others as their shortest repr; None: mixed/exponent."""
    if all(map(float.is_integer, values)):
        numbers = list(map(int, values))
        if min(numbers) > -_EXCEL_DIGITS and max(numbers) < _EXCEL_DIGITS:
            return list(map(str, numbers))
    elif not any(map(float.is_integer, values)):
        texts = list(map(repr, values))
        if "e" not in "".join(texts):
            return texts
    return None


def datetime_texts(values: Sequence[datetime]) -> list[str] | None:
    """ISO date-times, midnight as the date alone; None for time-zone-aware values."""
    if any(map(attrgetter("tzinfo"), values)):
        return None
    texts = map(str, values)  # str() of a naive datetime is isoformat(sep=" ")
    return [text[:10] if text.endswith(" 00:00:00") else text for text in texts]


def iso_dates(values: Sequence[date]) -> list[str]:
    """Each date's ISO text, by one C-level `map` rather than a call per cell."""
    return list(map(date.isoformat, values))


# Converters of a column of one type to `cell_text`s (None: not this column).
_TYPED_TEXTS: Final[dict[type, Callable[[Sequence[Any]], list[str] | None]]] = {
    float: float_texts,
    datetime: datetime_texts,
    date: iso_dates,
}
