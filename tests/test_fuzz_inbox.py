"""Fuzzing the inbox readers and the validator with hostile CSV and XLSX files.

The property, for every input: `read_table` either returns a table, and then
`validate_table` (default and German-ERP mappings) sorts every row into valid or
rejected without raising, or it raises `InboxFileError` whose message names the file and
says what is wrong and whose hint says what to do. Nothing else may escape, no input may
take long (a wall-clock bound per example), and memory stays bounded.

Inputs: generated CSV bytes (UTF-8 with and without BOM, cp1252, UTF-16 with and without
BOM, mixed and invalid encodings, NUL bytes, odd delimiters and quotes, CR-only lines),
workbooks written by openpyxl and xlsxwriter with hostile cells, and mutated workbook
bytes (flipped and truncated bytes, damaged XML, parts added, dropped or swapped).
Hostile workbooks that once aborted the whole process (calamine allocating what the XML
claimed) and the memory checks run in a child process, so a regression fails one test
instead of killing the run. CI uses the derandomized `ci` profile (tests/conftest.py).
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
import time
import zipfile
from datetime import date, datetime, timedelta
from pathlib import Path

import openpyxl
import pytest
import xlsxwriter
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from filebridge.errors import InboxFileError
from filebridge.inbox.file import load_inbound_mapping
from filebridge.inbox.validation import validate_table
from filebridge.sandbox import HOSTILE_STRINGS
from filebridge.tables.readers import (
    MAX_COLUMNS,
    MAX_LINE_CHARS,
    read_table,
)
from tests.strategies_inbox import CANONICAL, HOSTILE, STATE_WORDS

ROOT = Path(__file__).parents[1]
LIMIT = 20 * 1024 * 1024  # the default [inbox] max_file_mb
DEADLINE_S = 5.0  # one read and two validations of a small generated file
MAPPINGS = [
    load_inbound_mapping("default", ROOT),
    load_inbound_mapping("mappings/inbox-example-erp.toml", ROOT),
]
SAVE_AS = "open it in Excel and save it as Excel Workbook (.xlsx) or CSV UTF-8"
GENUINE = "if the file is genuine, " + SAVE_AS


# A longer hunt: FUZZ_SCALE=50 HYPOTHESIS_PROFILE=dev pytest --timeout=0 this file
SCALE = int(os.environ.get("FUZZ_SCALE", "1"))


def fuzz(examples: int) -> settings:
    """Hypothesis settings of one fuzz test (the profile's seed handling is kept)."""
    return settings(
        max_examples=examples * SCALE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        deadline=None,  # the wall-clock bound is asserted in check_file
    )


# ------------------------------------------------------------------- the property


def check_file(
    path: Path, *, encoding: str | None = None, sheet: str | None = None
) -> str:
    """Read + validate `path`, asserting the property; "read" or "refused"."""
    started = time.monotonic()
    refusal: InboxFileError | None = None
    try:
        table = read_table(path, encoding=encoding, sheet=sheet, max_bytes=LIMIT)
    except InboxFileError as exc:
        refusal = exc
    if refusal is not None:
        assert refusal.message.startswith(f"{path.name}: ")
        assert len(refusal.message) > len(path.name) + 10, refusal.message
        assert refusal.hint, f"no hint saying what to do: {refusal.message}"
        assert len(refusal.hint) > 15, refusal.hint
        outcome = "refused"
    else:
        numbers = [row.row for row in table.rows]
        assert numbers == sorted(set(numbers))
        assert all(number >= 2 for number in numbers)
        for mapping in MAPPINGS:
            checked = validate_table(table, mapping)
            if checked.file_issues:
                assert (checked.valid, checked.rejected) == ([], [])
                assert all(issue.strip() for issue in checked.file_issues)
                continue
            split = [row.row for row in checked.valid]
            split += [raw.row for raw, _ in checked.rejected]
            assert sorted(split) == numbers
            for _, issues in checked.rejected:
                assert issues
                assert all(issue.message and issue.describe() for issue in issues)
        outcome = "read"
    elapsed = time.monotonic() - started
    assert elapsed < DEADLINE_S, f"{path.name} took {elapsed:.1f} s"
    return outcome


def check_bytes(
    folder: Path, name: str, data: bytes, *, encoding: str | None = None
) -> str:
    path = folder / name
    path.write_bytes(data)
    try:
        return check_file(path, encoding=encoding)
    finally:
        path.unlink()


# ---------------------------------------------------------------- CSV strategies

cell_texts = st.one_of(
    st.text(max_size=24),
    st.text(st.characters(codec="cp1252"), max_size=16),
    st.text(alphabet="\x00\r\n\t\"';,|=+-@ \u00a0\ufeff\u2028xy1", max_size=16),
    st.sampled_from([*HOSTILE, *HOSTILE_STRINGS, *STATE_WORDS]),
    st.integers(min_value=-(10**20), max_value=10**20).map(str),
    st.floats().map(repr),
)
header_texts = st.one_of(st.sampled_from(CANONICAL), cell_texts)
ENCODINGS = [
    "utf-8",
    "utf-8-sig",
    "cp1252",
    "utf-16",
    "utf-16-le",
    "utf-16-be",
    "latin-1",
]


@st.composite
def csv_texts(draw: st.DrawFn) -> str:
    """A table rendered with a random delimiter, quoting and line ending."""
    width = draw(st.integers(min_value=1, max_value=7))
    header = draw(st.lists(header_texts, min_size=width, max_size=width))
    body = draw(st.lists(st.lists(cell_texts, max_size=width + 2), max_size=6))
    delimiter = draw(st.sampled_from([",", ";", "\t", "|", " ", '"', "\x00", "x"]))
    quote = draw(st.sampled_from(['"', "'", ""]))
    newline = draw(st.sampled_from(["\r\n", "\n", "\r", "\n\r"]))

    def render(cell: str) -> str:
        if quote and draw(st.booleans()):
            return quote + cell.replace(quote, quote * 2) + quote
        return cell

    lines = [delimiter.join(map(render, row)) for row in [header, *body]]
    if draw(st.booleans()):
        lines.insert(0, draw(st.sampled_from(["sep=;", '"sep=,"', "sep=", "sep=\t"])))
    return newline.join(lines) + draw(st.sampled_from(["", newline]))


@st.composite
def csv_files(draw: st.DrawFn) -> bytes:
    """CSV text in one or two encodings, then perhaps damaged at random places."""
    data = draw(csv_texts()).encode(draw(st.sampled_from(ENCODINGS)), "replace")
    if draw(st.booleans()):  # a second part in another encoding: a mixed file
        data += draw(csv_texts()).encode(draw(st.sampled_from(ENCODINGS)), "replace")
    buffer = bytearray(data)
    edits = st.tuples(st.integers(0, 10**6), st.binary(min_size=1, max_size=4))
    for position, chunk in draw(st.lists(edits, max_size=4)):
        at = position % (len(buffer) + 1)
        if draw(st.booleans()):
            buffer[at:at] = chunk  # insert: NUL, invalid UTF-8, half a BOM …
        else:
            buffer[at : at + len(chunk)] = chunk
    if draw(st.booleans()):
        del buffer[draw(st.integers(0, len(buffer))) :]
    return bytes(buffer)


@fuzz(300)
@given(
    data=csv_files(),
    suffix=st.sampled_from([".csv", ".txt"]),
    encoding=st.sampled_from([None, None, None, "utf-8", "cp1252", "utf-16"]),
)
def test_fuzzed_csv_is_read_or_refused_with_an_explanation(
    tmp_path_factory: pytest.TempPathFactory,
    data: bytes,
    suffix: str,
    encoding: str | None,
) -> None:
    """Random CSV bytes in any encoding are read and validated, or refused with a hint."""
    folder = tmp_path_factory.mktemp("csv")
    check_bytes(folder, "Status" + suffix, data, encoding=encoding)


@fuzz(150)
@given(data=st.binary(max_size=2048), suffix=st.sampled_from([".csv", ".xlsx"]))
def test_random_bytes_are_read_or_refused_with_an_explanation(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, suffix: str
) -> None:
    """Arbitrary bytes under a supported name never escape as another exception."""
    folder = tmp_path_factory.mktemp("bytes")
    check_bytes(folder, "drop" + suffix, data)


# ------------------------------------------------------- CSV: the hostile shapes


def wide_csv(columns: int) -> bytes:
    header = ";".join(["order_id", "state"] + [f"c{i}" for i in range(columns - 2)])
    row = ";".join(["23990", "SentOrder"] + ["x"] * (columns - 2))
    return f"{header}\r\n{row}\r\n".encode()


CSV_SHAPES: dict[str, tuple[bytes, str]] = {
    "empty": (b"", "refused"),
    "only-utf8-bom": (b"\xef\xbb\xbf", "refused"),
    "only-utf16-bom": (b"\xff\xfe", "refused"),
    "utf16-bom-odd-length": (b"\xff\xfeo\x00r\x00d", "refused"),
    "utf16-lone-surrogate": (b"\xff\xfeo\x00\x00\xd8r\x00", "refused"),
    "utf16-without-bom": (
        "order_id;state\r\n23990;SentOrder\r\n".encode("utf-16-le"),
        "refused",
    ),
    "nul-bytes": (b"order_id,state\r\n23990,Sent\x00Order\r\n", "refused"),
    "nul-after-utf8-bom": (
        b"\xef\xbb\xbforder_id,state\r\n23990,Sent\x00Order\r\n",
        "read",
    ),
    "sep-line-naming-nul": (
        b"\xef\xbb\xbfsep=\x00\r\norder_id\x00state\r\n1\x00SentOrder\r\n",
        "read",
    ),
    "sep-line-naming-a-quote": (
        b'sep="\r\norder_id"state\r\n23990"SentOrder\r\n',
        "read",
    ),
    "cr-only-lines": (b"order_id;state\r23990;SentOrder\r23991;ToCustomer\r", "read"),
    "huge-single-line": (
        b"order_id;state\r\n23990;" + b"x" * (MAX_LINE_CHARS + 10),
        "refused",
    ),
    "huge-quoted-field": (
        b'order_id;state\r\n23990;"' + b"x" * 200_000 + b'"\r\n',
        "refused",
    ),
    "unclosed-quote": (b'order_id;state\r\n"23990;SentOrder\r\n23991;x\r\n', "read"),
    "10000-columns": (wide_csv(10_000), "refused"),
    f"{MAX_COLUMNS}-columns": (wide_csv(MAX_COLUMNS), "read"),
    "mixed-utf8-and-cp1252": (
        "order_id;state;Kunde\r\n23990;SentOrder;Jürgen\r\n".encode()
        + "23991;SentOrder;Jürgen\r\n".encode("cp1252"),
        "read",
    ),
    "neither-utf8-nor-cp1252": (
        b"order_id;state\r\n23990;\x81\x8d\x8f\x90\x9d\r\n",
        "refused",
    ),
    "only-delimiters": (b";;;;\r\n;;;;\r\n", "refused"),
    "control-characters": (bytes(range(1, 32)) * 200, "refused"),
}


@pytest.mark.parametrize("shape", sorted(CSV_SHAPES))
def test_hostile_csv_shapes(tmp_path: Path, shape: str) -> None:
    """Empty, BOM only, NUL, CR-only, 1 MB lines, 10,000 columns, mixed encodings."""
    data, expected = CSV_SHAPES[shape]
    assert check_bytes(tmp_path, f"{shape}.csv", data) == expected


@pytest.mark.parametrize("order_id", ["2² 990", "2².990", "1 ²34"])
def test_superscript_digits_in_a_grouped_order_id_are_rejected_not_raised(
    tmp_path: Path, order_id: str
) -> None:
    """An order id like `2².990` is a rejected row, not an exception."""
    data = f"Bestellnummer;Status\r\n{order_id};versendet\r\n".encode()
    assert check_bytes(tmp_path, "Versand.csv", data) == "read"


# --------------------------------------------------------------- XLSX strategies

xlsx_texts = st.one_of(
    st.text(max_size=24),
    st.sampled_from([*HOSTILE, *HOSTILE_STRINGS, *STATE_WORDS, "_x0000_", "_x0041_"]),
    st.text(alphabet="\x00\x01\x0b\r\n\t\ufffe_x0Dé€𝟚&<>\"'", max_size=12),
)
xlsx_values = st.one_of(
    xlsx_texts,
    st.integers(min_value=-(2**62), max_value=2**62),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.datetimes(min_value=datetime(1900, 3, 1), max_value=datetime(9999, 12, 31)),
    st.dates(min_value=date(1900, 3, 1)),
    st.times(),
    st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=9000)),
    st.none(),
)
sheet_names = st.text(
    st.characters(exclude_characters="[]:*?/\\'", exclude_categories=["Cs", "Cc"]),
    min_size=1,
    max_size=28,  # openpyxl appends a number to a repeated title; Excel allows 31
).filter(str.strip)


@st.composite
def openpyxl_workbooks(draw: st.DrawFn) -> bytes:
    """Workbooks written by openpyxl: offsets, formulas, hidden sheets, odd values."""
    book = openpyxl.Workbook()
    sheets = [book.active]
    sheets += [book.create_sheet() for _ in range(draw(st.integers(0, 2)))]
    for sheet in sheets:
        sheet.title = draw(sheet_names)
        top, left = draw(st.integers(1, 30)), draw(st.integers(1, 30))
        header = draw(st.lists(st.sampled_from(CANONICAL) | xlsx_texts, max_size=5))
        rows = draw(st.lists(st.lists(xlsx_values, max_size=6), max_size=5))
        for r, values in enumerate([header, *rows]):
            for c, value in enumerate(values):
                if isinstance(value, str):  # openpyxl refuses control characters
                    value = ILLEGAL_CHARACTERS_RE.sub("", value)
                sheet.cell(row=top + r, column=left + c, value=value)
        if draw(st.booleans()):
            sheet.sheet_state = draw(st.sampled_from(["hidden", "veryHidden"]))
        if rows and draw(st.booleans()):
            sheet.merge_cells(
                start_row=top, start_column=left, end_row=top + 1, end_column=left + 1
            )
    if all(sheet.sheet_state != "visible" for sheet in sheets):
        sheets[0].sheet_state = "visible"  # openpyxl cannot save it otherwise
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


@st.composite
def xlsxwriter_workbooks(draw: st.DrawFn) -> bytes:
    """Workbooks written by xlsxwriter: formulas with results, URLs, blanks, dates."""
    buffer = io.BytesIO()
    options = {"in_memory": True, "strings_to_formulas": draw(st.booleans())}
    book = xlsxwriter.Workbook(buffer, options)
    number_format = draw(st.sampled_from(["dd.mm.yyyy", "@", "0.00E+00", "[h]:mm"]))
    style = book.add_format({"num_format": number_format})
    # Dates and durations beyond ±10⁸ days are a known defect with a test of its own
    # (test_huge_dates_and_durations_are_refused_not_raised); the fuzzer looks for
    # new ones.
    bound = 1e8 if number_format in ("dd.mm.yyyy", "[h]:mm") else None
    numbers = st.floats(
        min_value=None if bound is None else -bound,
        max_value=bound,
        allow_nan=False,
        allow_infinity=False,
    )
    kinds = st.sampled_from(
        ["text", "number", "formula", "date", "bool", "blank", "url"]
    )
    results = st.one_of(xlsx_texts, st.integers(-(10**6), 10**6), st.booleans())
    for _ in range(draw(st.integers(1, 2))):
        sheet = book.add_worksheet()
        sheet.write_row(
            0, 0, draw(st.lists(st.sampled_from(CANONICAL) | xlsx_texts, max_size=5))
        )
        for r in range(1, draw(st.integers(1, 5))):
            for c in range(draw(st.integers(0, 5))):
                kind = draw(kinds)
                if kind == "text":
                    sheet.write_string(r, c, draw(xlsx_texts))
                elif kind == "number":
                    number = draw(numbers)
                    sheet.write_number(r, c, number, style)
                elif kind == "formula":
                    formula = draw(st.sampled_from(["=1+1", "=A1", "=1/0", "=NOW()"]))
                    sheet.write_formula(r, c, formula, None, draw(results))
                elif kind == "date":
                    when = draw(st.datetimes(max_value=datetime(9999, 12, 31)))
                    sheet.write_datetime(r, c, when, style)
                elif kind == "bool":
                    sheet.write_boolean(r, c, draw(st.booleans()))
                elif kind == "blank":
                    sheet.write_blank(r, c, None, style)
                else:
                    label = draw(xlsx_texts) or None
                    sheet.write_url(r, c, f"https://t.example.com/{r}", string=label)
        if draw(st.booleans()):
            sheet.hide()
    if all(sheet.hidden for sheet in book.worksheets()):
        book.worksheets()[0].hidden = False
    book.close()
    return buffer.getvalue()


@fuzz(60)
@given(
    data=st.one_of(openpyxl_workbooks(), xlsxwriter_workbooks()),
    sheet=st.sampled_from([None, None, "Sheet", "Sheet1"]),
)
def test_generated_workbooks_are_read_or_refused_with_an_explanation(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, sheet: str | None
) -> None:
    """Workbooks from real writers with hostile cells never escape as another exception."""
    path = tmp_path_factory.mktemp("xlsx") / "Status.xlsx"
    path.write_bytes(data)
    check_file(path, sheet=sheet)


def base_workbook() -> dict[str, bytes]:
    """The parts of a small valid status workbook (xlsxwriter, shared strings)."""
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Status")
    sheet.write_row(0, 0, ["order_id", "state", "tracking_code", "shipped"])
    sheet.write_row(1, 0, [23990, "SentOrder", "JJD0001"])
    dates = book.add_format({"num_format": "dd.mm.yyyy"})
    sheet.write_datetime(1, 3, datetime(2026, 3, 2), dates)
    sheet.write_row(2, 0, ["23991", "ToCustomer", "00340434"])
    book.close()
    with zipfile.ZipFile(buffer) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def rezip(parts: dict[str, bytes], *, method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
    return buffer.getvalue()


BASE_PARTS = base_workbook()
BASE = rezip(BASE_PARTS)
XML_SNIPPETS = [
    b"<",
    b">",
    b'"',
    b"'",
    b"&",
    b"&#0;",
    b"<c>",
    b"<c/>",
    b"</row>",
    b"<row>",
    b' r="XFD1"',
    b' r="A1048576"',
    b"\x00",
    b"\xff",
    b"<![CDATA[",
    b"<!--",
    b"_x0000_",
    b"<!DOCTYPE x>",
]
EXTRA_PART_NAMES = [
    "xl/media/x.bin",
    "../../evil.xml",
    "xl/worksheets/sheet9.xml",
    "/abs.xml",
    "xl/sharedStrings.xml",
]


@st.composite
def mutated_workbooks(draw: st.DrawFn) -> bytes:
    """The base workbook with its bytes or its parts' XML damaged at random."""
    how = draw(st.sampled_from(["bytes", "truncate", "xml", "xml", "parts"]))
    if how == "bytes":
        data = bytearray(BASE)
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
        return bytes(data)
    if how == "truncate":
        return BASE[: draw(st.integers(0, len(BASE) - 1))]
    parts = dict(BASE_PARTS)
    if how == "xml":  # damage inside a part, zipped again: reaches the XML parsers
        name = draw(st.sampled_from(sorted(parts)))
        xml = bytearray(parts[name])
        for _ in range(draw(st.integers(1, 6))):
            at = draw(st.integers(0, len(xml)))
            xml[at:at] = draw(st.sampled_from(XML_SNIPPETS) | st.binary(max_size=3))
        parts[name] = bytes(xml)
        return rezip(parts)
    for _ in range(draw(st.integers(1, 3))):  # parts added, dropped or swapped
        names = sorted(parts)
        action = draw(st.sampled_from(["add", "drop", "swap"]))
        if action == "add":
            parts[draw(st.sampled_from(EXTRA_PART_NAMES))] = draw(
                st.binary(max_size=64)
            )
        elif action == "drop":
            parts.pop(draw(st.sampled_from(names)))
        else:
            first, second = draw(st.sampled_from(names)), draw(st.sampled_from(names))
            parts[first], parts[second] = parts[second], parts[first]
    method = draw(st.sampled_from([zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED]))
    return rezip(parts, method=method)


@fuzz(250)
@given(data=mutated_workbooks())
def test_mutated_workbooks_are_read_or_refused_with_an_explanation(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    """A valid workbook with flipped bytes, truncation or rewritten parts: read or refused."""
    check_bytes(tmp_path_factory.mktemp("mutated"), "Status.xlsx", data)


# ------------------------------------------- XLSX: hostile workbooks, in a child

FAR_CELL = b'<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>'
SPARSE = "uses an area of about 17,179,869,184 cells"
UNMEASURABLE = "cannot be measured safely"
ENTITIES = "declares an XML document type or entities"
LAUGHS = "".join(
    [f'<!ENTITY a "{"a" * 10}">']
    + [f'<!ENTITY {chr(98 + n)} "{("&" + chr(97 + n) + ";") * 10}">' for n in range(8)]
)


def column_letters(number: int) -> str:
    letters = ""
    while number:
        number, remainder = divmod(number - 1, 26)
        letters = chr(65 + remainder) + letters
    return letters


def sheet_with(rows: bytes) -> dict[str, bytes]:
    sheet = BASE_PARTS["xl/worksheets/sheet1.xml"]
    return {
        "xl/worksheets/sheet1.xml": sheet.replace(
            b"</sheetData>", rows + b"</sheetData>"
        )
    }


def declaring(part: str, declaration: str) -> dict[str, bytes]:
    return {part: BASE_PARTS[part].replace(b"?>", b"?>" + declaration.encode(), 1)}


def hostile_workbooks() -> dict[str, tuple[bytes, str]]:
    """Name → (workbook bytes, "read" or a fragment of the refusal expected)."""
    strings = BASE_PARTS["xl/sharedStrings.xml"]
    bomb = b"<sst><si><t>" + b"A" * 40_000_000 + b"</t></si></sst>"
    moved = {k: v for k, v in BASE_PARTS.items() if k != "xl/worksheets/sheet1.xml"}
    moved["xl/sheets/s1.xml"] = sheet_with(FAR_CELL)["xl/worksheets/sheet1.xml"]
    moved["xl/_rels/workbook.xml.rels"] = BASE_PARTS[
        "xl/_rels/workbook.xml.rels"
    ].replace(b"worksheets/sheet1.xml", b"sheets/s1.xml")
    wide = b"".join(
        b'<c r="%s4"><v>1</v></c>' % column_letters(n).encode()
        for n in range(1, 10_001)
    )
    dimension = BASE_PARTS["xl/worksheets/sheet1.xml"].replace(
        b'<dimension ref="A1:D3"/>', b'<dimension ref="A1:XFD1048576"/>'
    )
    xxe = '<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
    changes: dict[str, tuple[dict[str, bytes], str]] = {
        "shared-strings-zip-bomb": ({"xl/sharedStrings.xml": bomb}, "a zip bomb?"),
        "entity-expansion-in-sheet": (
            declaring("xl/worksheets/sheet1.xml", f"<!DOCTYPE x [{LAUGHS}]>"),
            ENTITIES,
        ),
        "entity-expansion-in-shared-strings": (
            declaring("xl/sharedStrings.xml", f"<!DOCTYPE x [{LAUGHS}]>"),
            ENTITIES,
        ),
        "entity-expansion-in-workbook": (
            declaring("xl/workbook.xml", f"<!DOCTYPE x [{LAUGHS}]>"),
            ENTITIES,
        ),
        "doctype-with-external-entity": (declaring("xl/workbook.xml", xxe), ENTITIES),
        "dimension-claims-xfd1048576": (
            {"xl/worksheets/sheet1.xml": dimension},
            "read",
        ),
        "value-at-xfd1048576": (sheet_with(FAR_CELL), SPARSE),
        "second-r-attribute": (
            sheet_with(b'<row r="4"><c r="A4" r="XFD1048576"><v>1</v></c></row>'),
            SPARSE,
        ),
        "gt-inside-an-attribute": (
            sheet_with(b'<row r="4"><c x="a>b" r="XFD1048576"><v>1</v></c></row>'),
            SPARSE,
        ),
        "slash-inside-an-attribute": (
            sheet_with(b'<row r="4"><c r="XFD1048576" x="a/b"><v>1</v></c></row>'),
            SPARSE,
        ),
        "single-quotes-and-spaces": (
            sheet_with(b"<row r='4'><c r = 'XFD1048576'><v>1</v></c></row>"),
            SPARSE,
        ),
        "character-reference-in-r": (
            sheet_with(b'<row r="4"><c r="&#88;FD1048576"><v>1</v></c></row>'),
            UNMEASURABLE,
        ),
        "5000-digit-row-number": (
            sheet_with(b'<row r="4"><c r="A' + b"9" * 5000 + b'"><v>1</v></c></row>'),
            "values far to the right or far below the data",
        ),
        "shared-strings-count-lie": (
            {
                "xl/sharedStrings.xml": strings.replace(
                    b'uniqueCount="9"', b'uniqueCount="4000000000"'
                )
            },
            "declares 4,000,000,000 shared strings but holds 9",
        ),
        "10000-columns": (sheet_with(b'<row r="4">' + wide + b"</row>"), "columns"),
        "extra-parts-and-traversal-names": (
            {"../../evil.txt": b"x", "xl/media/image1.png": bytes(range(256)) * 8},
            "read",
        ),
    }
    cases = {
        name: (rezip({**BASE_PARTS, **parts}), expected)
        for name, (parts, expected) in changes.items()
    }
    cases["sparse-sheet-outside-worksheets-folder"] = (rezip(moved), SPARSE)
    utf16 = sheet_with(FAR_CELL)["xl/worksheets/sheet1.xml"].decode()
    cases["utf-16-sheet"] = (
        rezip(
            {
                **BASE_PARTS,
                "xl/worksheets/sheet1.xml": utf16.replace("UTF-8", "UTF-16").encode(
                    "utf-16"
                ),
            }
        ),
        UNMEASURABLE,
    )
    # Found by atheris: a central directory entry needing "zip version 12.6" made
    # zipfile raise NotImplementedError.
    future = bytearray(BASE)
    central = future.find(b"PK\x01\x02")
    future[central + 6 : central + 8] = (126).to_bytes(2, "little")
    cases["zip-version-12.6"] = (bytes(future), "not a valid .xlsx workbook")
    return cases


DURATIONS = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from filebridge.errors import InboxFileError
    from filebridge.tables.readers import read_table
    try:
        read_table(Path(sys.argv[1]), max_bytes=20 * 1024 * 1024)
    except InboxFileError as exc:
        print("refused:", exc.message)
    """
)


def dated_workbook(value: float, number_format: str) -> bytes:
    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Status")
    sheet.write_row(0, 0, ["order_id", "state", "shipped"])
    sheet.write_row(1, 0, [23990, "SentOrder"])
    sheet.write_number(1, 2, value, book.add_format({"num_format": number_format}))
    book.close()
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("value", "number_format"),
    [(1e10, "[h]:mm"), (-1e20, "[h]:mm"), (-1e20, "dd.mm.yyyy")],
    ids=["duration-overflow", "duration-panic", "date-panic"],
)
def test_huge_dates_and_durations_are_refused_not_raised(
    tmp_path: Path, value: float, number_format: str
) -> None:
    """A date or duration cell far beyond any real time is refused with an explanation."""
    path = tmp_path / "durations.xlsx"
    path.write_bytes(dated_workbook(value, number_format))
    done = subprocess.run(
        [sys.executable, "-c", DURATIONS, str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    # Rust's panic hook may print its own notice; no Python exception may escape.
    assert done.returncode == 0, done.stderr[-500:]
    assert "Traceback" not in done.stderr
    assert done.stdout.startswith("refused: durations.xlsx: ")


HINTS = (
    "delete the stray cells below and right of the data, or copy the data into a new "
    "workbook",
    "delete the empty or unneeded columns, or save only the status columns",
)
CHILD = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from filebridge.errors import InboxFileError
    from filebridge.tables.readers import read_table
    for name in sys.argv[1:]:
        try:
            table = read_table(Path(name), max_bytes=20 * 1024 * 1024)
        except InboxFileError as exc:
            answer = {"refused": exc.message, "hint": exc.hint}
        else:
            answer = {"read": len(table.rows)}
        print(json.dumps(answer), flush=True)
    """
)


def test_hostile_workbooks_are_refused_without_killing_the_process(
    tmp_path: Path,
) -> None:
    """Zip bombs, entity expansion, XXE, sparse and lying workbooks: refused, no abort."""
    cases = hostile_workbooks()
    paths = []
    for name, (data, _) in cases.items():
        paths.append(tmp_path / f"{name}.xlsx")
        paths[-1].write_bytes(data)
    done = subprocess.run(
        [sys.executable, "-c", CHILD, *map(str, paths)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 0, (
        f"the reader died on {paths[len(answers)].name}: {done.stderr[-500:]}"
    )
    outcomes = {}
    for (name, (_, expected)), answer in zip(cases.items(), answers, strict=True):
        if expected == "read":
            outcomes[name] = "read" if "read" in answer else answer
        else:
            refused = answer.get("refused", "")
            fits = expected in refused and answer["hint"] in (GENUINE, SAVE_AS, *HINTS)
            outcomes[name] = "read" if fits else answer
    assert outcomes == dict.fromkeys(cases, "read")


# ------------------------------------------------------------------- memory


MEMORY_CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from pathlib import Path
    from filebridge.errors import InboxFileError
    from filebridge.inbox.file import load_inbound_mapping
    from filebridge.tables.readers import read_table
    from filebridge.inbox.validation import validate_table
    mapping = load_inbound_mapping("default", Path("."))
    path, cap_mb = Path(sys.argv[1]), int(sys.argv[2])
    def rss_mb():
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak / 1024 / (1024 if sys.platform == "darwin" else 1)
    before = rss_mb()
    with open("/proc/self/status") as status:
        vm = next(int(l.split()[1]) for l in status if l.startswith("VmSize:"))
    cap = (vm // 1024 + cap_mb) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
    try:
        table = read_table(path, max_bytes=20 * 1024 * 1024)
        result = validate_table(table, mapping)
        outcome = f"read {len(table.rows)} rows"
    except InboxFileError as exc:
        outcome = "refused: " + exc.message
    except MemoryError:
        outcome = "MemoryError"
    print(json.dumps({"outcome": outcome, "grew_mb": rss_mb() - before}))
    """
)


def peak_memory(path: Path, *, cap_mb: int) -> dict[str, object]:
    """Read + validate `path` in a child whose address space may grow by `cap_mb`."""
    done = subprocess.run(
        [sys.executable, "-c", MEMORY_CHILD, str(path), str(cap_mb)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    if done.returncode != 0:
        return {"outcome": f"died ({done.returncode}): {done.stderr[-300:]}"}
    answer: dict[str, object] = json.loads(done.stdout)
    return answer


def status_rows(count: int) -> list[bytes]:
    return [
        b"%d;SentOrder;JJD%010d;https://t.example.com/%d;1,5;Post" % (23990 + i, i, i)
        for i in range(count)
    ]


def status_workbook(rows: list[bytes]) -> bytes:
    """A workbook of the same rows, its sheet XML written directly (fast)."""
    cells = []
    for number, row in enumerate(rows, start=2):
        values = row.split(b";")
        cells.append(
            b'<row r="%d"><c r="A%d"><v>%s</v></c>' % (number, number, values[0])
            + b"".join(
                b'<c r="%s%d" t="inlineStr"><is><t>%s</t></is></c>'
                % (column_letters(c + 2).encode(), number, value)
                for c, value in enumerate(values[1:])
            )
            + b"</row>"
        )
    header = b"".join(
        b'<c r="%s1" t="inlineStr"><is><t>%s</t></is></c>'
        % (column_letters(c + 1).encode(), name)
        for c, name in enumerate(
            [
                b"order_id",
                b"state",
                b"tracking_code",
                b"tracking_url",
                b"weight",
                b"carrier",
            ]
        )
    )
    sheet = BASE_PARTS["xl/worksheets/sheet1.xml"]
    start, _, rest = sheet.partition(b"<sheetData>")
    _, _, end = rest.partition(b"</sheetData>")
    xml = start + b'<sheetData><row r="1">' + header + b"</row>" + b"".join(cells)
    return rezip(
        {**BASE_PARTS, "xl/worksheets/sheet1.xml": xml + b"</sheetData>" + end}
    )


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux /proc and RLIMIT_AS"
)
def test_memory_of_the_largest_realistic_files_is_bounded(tmp_path: Path) -> None:
    """A 100,000-row status file (CSV or XLSX) is read and validated in under 256 MB."""
    rows = status_rows(100_000)
    csv_path = tmp_path / "big.csv"
    csv_path.write_bytes(
        b"order_id;state;tracking_code;tracking_url;weight;carrier\r\n"
        + b"\r\n".join(rows)
    )
    xlsx_path = tmp_path / "big.xlsx"
    xlsx_path.write_bytes(status_workbook(rows))
    for path in (csv_path, xlsx_path):
        answer = peak_memory(path, cap_mb=1024)
        assert answer["outcome"] == "read 100000 rows", answer
        assert isinstance(answer["grew_mb"], float)
        assert answer["grew_mb"] < 256, (path.name, answer)


@pytest.mark.skipif(
    not Path("/proc/self/status").exists(), reason="needs Linux /proc and RLIMIT_AS"
)
def test_memory_of_a_file_at_the_size_limit_is_bounded(tmp_path: Path) -> None:
    """A 20 MB file of ten million tiny rows is refused or read within 1 GB, not 5 GB."""
    path = tmp_path / "tiny-rows.csv"
    path.write_bytes(b"order_id;state\n" + b"1;\n" * (LIMIT // 3 - 10))
    answer = peak_memory(path, cap_mb=1024)
    assert answer["outcome"] != "MemoryError", answer
    assert not str(answer["outcome"]).startswith("died"), answer
