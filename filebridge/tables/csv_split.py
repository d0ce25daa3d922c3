"""Cutting CSV text into records and columns exactly as `csv.reader` would, only faster.

`readers` decodes the file and picks the delimiter; this module turns the text into
cells. A regular file (every record on one line, equally wide, quotes only around
whole cells: what Excel and most ERPs write) is split into columns by one `str.split`
(`one_line_columns`); a file whose records each fit on one line is split line by
line, with `csv.reader` only for the quoted lines (`split_one_line_records`); anything
else returns None, and the caller reads it with `csv.reader`, which also reports its
errors. The fast paths are held to `csv.reader` by property tests
(tests/test_readers_columns.py) and measured in tests/benchmarks/bench_inbox_read.py.
No I/O: text in, lists of cells out (`csv` is used for its parser and its field size
limit only).
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from itertools import repeat, zip_longest
from typing import Final, cast

__all__ = [
    "may_have_line_over",
    "needs_strip",
    "one_line_columns",
    "split_one_line_records",
    "transpose",
    "unquote",
]

# str.splitlines() breaks lines at these too; csv.reader does not.
_OTHER_LINE_BREAKS: Final = "\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"


# Characters that may stand in for the delimiter while a file is split (one not in it).
_STAND_INS: Final = "\x01\x02\x03\x04\x05\x06\x07\x08\ue000\ue001"
_LINE_EDGES: Final = ("\n", "\r")


def one_line_columns(
    text: str, delimiter: str
) -> tuple[list[str], list[list[str]], bool] | None:
    """The columns of the records `csv.reader` reads, for a regular file; else None.

    Regular: every record on one line, every line with the same number of cells, and
    quotes only around whole cells (`"a;b"`, no `""` inside, no line break inside).
    That is what Excel and most ERPs write, and then the whole text is split into
    cells by ONE `str.split` and cut into columns by slicing: no object per row at all
    (~3× faster than splitting line by line; bench_inbox_read.py). Any other file
    (ragged lines, blank lines, a quote inside a cell) is None, for the record readers.
    Returns the first record's cells, the other records' columns, and True when no
    record is blank (its cells, all empty, would be a line of separators only).
    """
    if any(char in text for char in _OTHER_LINE_BREAKS) or may_have_line_over(
        text, csv.field_size_limit()
    ):
        return None
    separator, quoted_end = delimiter, False
    if '"' in text:
        stand_in = next((c for c in _STAND_INS if c not in text), None)
        unquoted = None if stand_in is None else unquote(text, delimiter, stand_in)
        if stand_in is None or unquoted is None:
            return None
        quoted_end = unquoted.endswith(_LINE_EDGES) and not text.endswith(_LINE_EDGES)
        text, separator = unquoted, stand_in
    lines = text.splitlines()
    if quoted_end:
        lines.append("")  # the last line was `""`, now empty: still a line
    counts = set(map(str.count, lines, repeat(separator)))
    if len(counts) != 1:
        return None
    width = counts.pop() + 1
    cells = separator.join(lines).split(separator)
    blank_free = width > 1 and separator * (width - 1) not in text
    columns = [cells[width + column :: width] for column in range(width)]
    return cells[:width], columns, blank_free


def unquote(text: str, delimiter: str, separator: str) -> str | None:
    """`text` with `separator` between cells and the quotes around cells removed.

    None unless every quote opens at the start of a cell and the next one closes it at
    the cell's end, on the same line: then the quoted text is the cell, as csv.reader
    reads it, and the delimiters inside it stay (`separator` is not in `text`).
    """
    if '""' in text and '\r""\n' in text:  # the first test is much faster
        return None  # unquoted, the empty cell's line breaks would make one
    parts = text.replace(delimiter, separator).split('"')
    if len(parts) % 2 == 0:
        return None  # an odd number of quotes
    quoted = parts[1::2]
    # Before the first quote, between one quoted cell and the next, after the last.
    between = parts[0::2]
    edges = (separator, *_LINE_EDGES)
    inside = "".join(quoted)
    if (
        "\n" in inside
        or "\r" in inside
        or not (between[0] == "" or between[0].endswith(edges))
        or not (between[-1] == "" or between[-1].startswith(edges))
        or not all(map(str.endswith, between[1:-1], repeat(edges)))
        or not all(map(str.startswith, between[1:-1], repeat(edges)))
    ):
        return None
    if separator in inside:
        parts[1::2] = map(str.replace, quoted, repeat(separator), repeat(delimiter))
    return "".join(parts)


def split_one_line_records(text: str, delimiter: str) -> list[list[str]] | None:
    """The records `csv.reader` reads, when none spans lines; else None.

    A line without a quote is exactly `line.split(delimiter)` for csv.reader, and
    str.split is several times faster than the csv state machine; only lines with a
    quote go through csv.reader (~40% faster overall on Excel's CSV, where just the
    cells holding the delimiter are quoted; bench_inbox_read.py). None, for the
    caller to read the text with csv.reader, when a quoted cell holds a line break,
    when a line could exceed csv's field size limit (csv then refuses the file), or
    when the text holds a character that splitlines() takes for a line break.
    """
    if any(char in text for char in _OTHER_LINE_BREAKS) or may_have_line_over(
        text, csv.field_size_limit()
    ):
        return None
    lines = text.splitlines()
    # An empty line becomes [""] rather than csv's []: both are a blank row.
    records: list[list[str] | None] = [
        None if '"' in line else line.split(delimiter) for line in lines
    ]
    quoted = [index for index, record in enumerate(records) if record is None]
    if quoted:
        # One reader over the quoted lines plus a sentinel yields one record per
        # line exactly when no line ends inside a quoted cell (such a line would
        # swallow the next one, the sentinel at the end included).
        try:
            parsed = list(
                csv.reader(
                    [*map(lines.__getitem__, quoted), "end"], delimiter=delimiter
                )
            )
        except csv.Error:
            return None  # the full reader reports it with the right line number
        if len(parsed) != len(quoted) + 1:
            return None
        for index, record in zip(quoted, parsed, strict=False):  # not the sentinel
            records[index] = record
    return cast(list[list[str]], records)  # every None was replaced


def may_have_line_over(text: str, limit: int) -> bool:
    """False when no line of `text` can be longer than `limit` characters.

    Proved without splitting the text into lines (that allocates one string per
    line): a line of more than `limit` characters covers a whole window of
    limit // 2 characters, so if every such window holds a line break, no line does.
    """
    if len(text) <= limit:
        return False
    window = max(limit // 2, 1)
    return any(
        text.find("\n", start, start + window) == -1
        and text.find("\r", start, start + window) == -1
        for start in range(0, len(text) - window + 1, window)
    )


# Whitespace that str.strip() removes (str.isspace()) besides space, tab, CR and LF.
_RARE_SPACES: Final = "\x0b\x0c\x1c\x1d\x1e\x1f"
_NON_ASCII_SPACES: Final = (
    "\x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000"
)
_MANY_SPACES: Final = 20_000  # beyond this, stripping every cell is cheaper


def needs_strip(text: str, delimiter: str) -> bool:
    """True when some cell may begin or end with whitespace (else skip stripping).

    For records that each fit on one line (no line break inside a cell): a cell's
    text starts after a delimiter, a line break, a quote or the file start, and ends
    before one of them; so only spaces/tabs next to those matter. Checked with C-level
    counting and finding (a regex over every character took longer than the strip it
    saves); rare whitespace anywhere strips every cell. Non-ASCII letters alone
    (umlauts in a German ERP's export) no longer do: stripping every cell of a
    100,000-row file costs more than looking for the 19 non-ASCII spaces.
    """
    rare = _RARE_SPACES if text.isascii() else _RARE_SPACES + _NON_ASCII_SPACES
    if any(c in text for c in rare):
        return True
    edges = {delimiter, "\r", "\n", '"'}
    last = len(text) - 1
    for space in (" ", "\t"):
        if space == delimiter and '"' in text:
            return True  # a quoted cell may begin or end with the delimiter itself
        if space == delimiter or space not in text:
            continue
        if text.count(space) > _MANY_SPACES:
            return True
        position = text.find(space)
        while position != -1:
            if (
                position == 0
                or position == last
                or text[position - 1] in edges
                or text[position + 1] in edges
            ):
                return True
            position = text.find(space, position + 1)
    return False


def transpose(records: list[list[str]]) -> list[Sequence[str]]:
    """The columns of records of any lengths (missing cells ""), trailing empty ones cut.

    One column at a time, so a record with thousands of empty cells at its end never
    costs memory for the other records' padding.
    """
    columns: list[Sequence[str]] = []
    empty = 0  # all-empty columns seen since the last column with text
    for column in zip_longest(*records, fillvalue=""):
        if not any(column):
            empty += 1
            continue
        columns += [("",) * len(column)] * empty
        empty = 0
        columns.append(column)
    return columns
