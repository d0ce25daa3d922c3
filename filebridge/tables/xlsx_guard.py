"""Pure safety checks of an XLSX file's bytes, before any spreadsheet parser sees them.

Inbox files are untrusted. An .xlsx file is a zip of XML parts, and four tricks make a
small file cost a parser unbounded memory or time:

* **zip bombs**: parts that unpack 1000× (checked: member count, declared sizes and
  ratios, and the *actual* inflated size, which may exceed the declared one);
* **entity expansion** ("billion laughs"): a DTD with nested `<!ENTITY>`s; Excel never
  writes a DTD, so any `<!DOCTYPE`/`<!ENTITY` in any part refuses the file;
* **sparse sheets**: calamine allocates rows × columns of a sheet's used area up front,
  so a 5 KB file with values in A1 and XFD1048576 aborts the whole process. The used
  area of each worksheet is bounded from the XML before calamine parses it (cells with
  a value only: Excel's formatted-but-empty cells, down to row 1,048,576, do not count).
  Every part calamine could read as a worksheet is measured (everything under
  `xl/worksheets/` and every target of the workbook's relationships, however spelled),
  tag by tag whatever the writer's spelling (prefixes, either quote, `>` inside a
  quoted value, several `r` attributes: the farthest counts). A cell whose place
  cannot be known for certain (a tag that does not parse, a reference that is not
  letters + digits, UTF-16 XML) refuses the file instead of being guessed;
* **lying counts**: calamine reserves memory for the `uniqueCount` a shared-strings part
  declares, so a count far beyond the strings the part holds refuses the file.

`check_workbook` raises `InboxFileError` with the reason and what to do, or returns the
bound of the sheets' area. It works on bytes in memory: no file access, no clock.
"""

from __future__ import annotations

import html
import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from operator import itemgetter
from typing import Final
from urllib.parse import unquote

from filebridge.errors import InboxFileError

__all__ = [
    "MAX_SHEET_CELLS",
    "XLSX_MAX_MEMBERS",
    "XLSX_MAX_RATIO",
    "XLSX_MAX_UNCOMPRESSED",
    "WorkbookLayout",
    "check_workbook",
]

MAX_SHEET_CELLS: Final = 5_000_000  # calamine needs ~40 bytes per cell of the used area
XLSX_MAX_MEMBERS: Final = 10_000
XLSX_MAX_UNCOMPRESSED: Final = 300 * 1024 * 1024
XLSX_MAX_RATIO: Final = 100  # real sheets compress 5-20×; zip bombs 1000×
XLSX_RATIO_FROM: Final = 1024 * 1024  # small parts may compress better than 100×
_INFLATE_CHUNK: Final = 1024 * 1024
_ZIP_MAGIC: Final = b"PK\x03\x04"
_DTD = re.compile(rb"<\x00?!\x00?[DdEe]")  # <!DOCTYPE / <!ENTITY, UTF-8 or UTF-16
# What Excel, LibreOffice, openpyxl and xlsxwriter write: `r` first, double quotes, no
# `<`/`>` inside a value and no second `r` attribute. (letters, digits, "/" if empty)
_PLAIN_CELL = re.compile(
    rb'<c r="([A-Z]+)([0-9]+)"(?:\s+(?!r=)[A-Za-z_][\w:.-]*="[^"<>]*")*\s*(/?)>'
)
_CELL_TAG_ENDS: Final = (b" ", b">", b"/", b"\t", b"\n", b"\r")
_LETTERS, _DIGITS, _EMPTY = itemgetter(0), itemgetter(1), itemgetter(2)
# Any spelling: a namespace prefix, either quote, `>` inside quoted values.
_TAG_BODY = rb"""(?=[\s/>])((?:[^>"']|"[^"]*"|'[^']*')*)>"""
_ANY_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c" + _TAG_BODY)
_ANY_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row" + _TAG_BODY)
_ANY_SST_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?sst" + _TAG_BODY)
_CELL_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>]")
_ROW_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")
_SI_START = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?si[\s/>]")
_ATTRIBUTE = re.compile(rb"""([^\s=/>"']+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_CELL_REFERENCE = re.compile(rb"([A-Za-z]+)([0-9]+)")
_COUNT = re.compile(rb"\+?([0-9]+)")  # how Rust's usize::from_str reads a count
_TARGET = re.compile(rb"""\sTarget\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_WORKBOOK_RELS: Final = "xl/_rels/workbook.xml.rels"
_SHARED_STRINGS_SLACK: Final = MAX_SHEET_CELLS  # writers that put `count` there
_MAX_DIGITS: Final = 18
_HUGE: Final = 10**18
SAVE_AS: Final = "open it in Excel and save it as Excel Workbook (.xlsx) or CSV UTF-8"


def _refuse(name: str, problem: str, hint: str) -> InboxFileError:
    return InboxFileError(f"{name}: {problem}", hint=hint)


@dataclass
class _SheetExtent:
    """Upper bound of the area calamine will allocate for one worksheet part.

    Only valued cells count. A valued cell without `r` lies in the row its `<row>`
    names, or one below the previous row: `max_row_tag + row_elements` bounds it.
    Row tags are read only by the slow path, so a part with such cells is measured
    again all slowly when some chunk took the fast path (`fast_chunks`).
    """

    max_row: int = 0  # of valued cells with a reference
    max_column: int = 0  # 1-based
    unplaced_cells: int = 0  # valued cells without an `r` attribute
    row_elements: int = 0
    max_row_tag: int = 0
    fast_chunks: int = 0

    def absorb(self, slow: _SheetExtent) -> None:
        """Add a slow measurement of the same part (its row tags included)."""
        self.max_row = max(self.max_row, slow.max_row)
        self.max_column = max(self.max_column, slow.max_column)
        self.unplaced_cells += slow.unplaced_cells
        self.row_elements += slow.row_elements
        self.max_row_tag = max(self.max_row_tag, slow.max_row_tag)
        self.fast_chunks = 0

    @property
    def cells(self) -> int:
        rows = self.max_row
        if self.unplaced_cells:
            rows = max(rows, self.max_row_tag + self.row_elements)
        return rows * (self.max_column + self.unplaced_cells)


class _UnreadableXml(Exception):  # noqa: N818 - private signal, becomes InboxFileError
    """A tag whose cell or row reference cannot be known for certain."""


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters[:_MAX_DIGITS]:
        number = number * 26 + (byte - 64)
    return number


def _is_valued(cell: tuple[bytes, bytes, bytes]) -> bool:
    return not cell[2]


def _number(digits: bytes) -> int:
    """A row number or count; absurdly long ones (beyond `int`'s digit limit) as 10¹⁸."""
    return int(digits) if len(digits) <= _MAX_DIGITS else _HUGE


def _measure_sheet(xml: bytes, extent: _SheetExtent, *, slow: bool = False) -> None:
    """Raise the bound by the cells in one chunk of worksheet XML (whole tags only).

    Fast path: every cell tag is plain (`_PLAIN_CELL`), so the regex sees exactly what
    calamine sees. Anything else is parsed tag by tag (`_measure_sheet_slowly`).
    """
    if not slow and b":c" not in xml:
        tags = sum(xml.count(b"<c" + end) for end in _CELL_TAG_ENDS)
        found = _PLAIN_CELL.findall(xml) if tags else []
        if len(found) == tags:
            extent.fast_chunks += 1
            valued = found if not any(map(_EMPTY, found)) else filter(_is_valued, found)
            rows = set(map(_DIGITS, valued))
            if rows:
                longest = max(map(len, rows))
                number = int if longest <= _MAX_DIGITS else _number
                extent.max_row = max(extent.max_row, max(map(number, rows)))
            columns = set(map(_LETTERS, found))
            if columns:
                extent.max_column = max(
                    extent.max_column, *map(_column_number, columns)
                )
            return
    _measure_sheet_slowly(xml, extent)


def _references(body: bytes) -> list[bytes]:
    """Every value of an unprefixed `r` attribute in a tag's body (calamine's key)."""
    return [
        double or single
        for name, double, single in _ATTRIBUTE.findall(body)
        if name == b"r"
    ]


def _measure_sheet_slowly(xml: bytes, extent: _SheetExtent) -> None:
    """Every cell and row tag, whatever its prefix, quotes or attribute order.

    A cell with several `r` attributes counts at the farthest. A tag that cannot be
    parsed, or a reference that is not letters + digits, raises `_UnreadableXml`.
    """
    cells = _ANY_CELL_TAG.findall(xml)
    rows = _ANY_ROW_TAG.findall(xml)
    if len(cells) != len(_CELL_START.findall(xml)) or len(rows) != len(
        _ROW_START.findall(xml)
    ):
        raise _UnreadableXml("a cell or row tag is not well-formed")
    for body in cells:
        if body.endswith(b"/"):  # an empty (formatted) cell holds no value
            continue
        references = _references(body)
        if not references:
            extent.unplaced_cells += 1
        for reference in references:
            parts = _CELL_REFERENCE.fullmatch(reference)
            if parts is None:
                raise _UnreadableXml(f"cell reference {reference[:20]!r}")
            letters, digits = parts.groups()
            extent.max_column = max(extent.max_column, _column_number(letters.upper()))
            extent.max_row = max(extent.max_row, _number(digits))
    for body in rows:
        extent.row_elements += 1
        for reference in _references(body):
            if not reference.isdigit():
                raise _UnreadableXml(f"row number {reference[:20]!r}")
            extent.max_row_tag = max(extent.max_row_tag, _number(reference))


@dataclass
class _StringsCount:
    """What a shared-strings part declares (`uniqueCount`) and what it holds."""

    declared: int = 0
    seen_sst: bool = False
    strings: int = 0

    def measure(self, xml: bytes) -> None:
        if not self.seen_sst and b"sst" in xml:
            for body in _ANY_SST_TAG.findall(xml):
                self.seen_sst = True
                for name, double, single in _ATTRIBUTE.findall(body):
                    number = _COUNT.fullmatch(double or single)
                    if name == b"uniqueCount" and number is not None:
                        self.declared = max(self.declared, _number(number.group(1)))
        if self.seen_sst and b"si" in xml:
            self.strings += len(_SI_START.findall(xml))

    @property
    def lies(self) -> bool:
        return self.declared > self.strings + _SHARED_STRINGS_SLACK


def _has_dtd(xml: bytes) -> bool:
    """A `<!DOCTYPE` or `<!ENTITY` (UTF-8 or UTF-16); plain finds first, for speed."""
    if b"<!" in xml or b"<\x00!" in xml:
        return _DTD.search(xml) is not None
    return False


def _member_data(data: bytes, info: zipfile.ZipInfo) -> Iterator[bytes]:
    """Inflate one member ourselves: never more than its declared size (bomb guard)."""
    offset = info.header_offset
    if len(data) < offset + 30 or data[offset : offset + 4] != _ZIP_MAGIC:
        raise zipfile.BadZipFile(f"bad local header for {info.filename}")
    name_length, extra_length = struct.unpack("<HH", data[offset + 26 : offset + 30])
    start = offset + 30 + name_length + extra_length
    raw = data[start : start + info.compress_size]
    if info.compress_type == zipfile.ZIP_STORED:
        yield raw[: info.file_size]
        return
    inflater = zlib.decompressobj(-15)
    produced = 0
    pending = raw
    while pending and not inflater.eof:
        chunk = inflater.decompress(pending, _INFLATE_CHUNK)
        pending = inflater.unconsumed_tail
        produced += len(chunk)
        if produced > info.file_size:
            raise zipfile.LargeZipFile(f"{info.filename} is larger than it declares")
        yield chunk
    tail = inflater.flush()
    if produced + len(tail) != info.file_size:
        raise zipfile.BadZipFile(f"{info.filename} has the wrong size")
    if tail:
        yield tail


def _scan_member(
    data: bytes,
    info: zipfile.ZipInfo,
    extent: _SheetExtent | None,
    *,
    slow: bool = False,
) -> tuple[bool, _StringsCount]:
    """(holds a DTD/ENTITY, its shared-strings counts); measures worksheet cells."""
    carry = b""
    crc = 0
    strings = _StringsCount()
    utf16 = False  # no spreadsheet writes it, and the byte regexes cannot see into it
    for chunk in _member_data(data, info):
        utf16 = utf16 or (not crc and b"\x00" in chunk[:64])
        crc = zlib.crc32(chunk, crc)
        block = carry + chunk
        cut = block.rfind(b">") + 1  # never split a tag between two blocks
        if cut == 0 and len(block) < 4 * _INFLATE_CHUNK:
            carry = block
            continue
        # Without any ">" keep an overlap, so a `<!DOCTYPE` split here is still seen.
        whole, carry = (block[:cut], block[cut:]) if cut else (block, block[-16:])
        if _has_dtd(whole):
            return True, strings
        strings.measure(whole)
        if extent is not None:
            _measure_sheet(whole, extent, slow=slow)
    if carry and _has_dtd(carry):
        return True, strings
    strings.measure(carry)
    if extent is not None and carry:
        _measure_sheet(carry, extent, slow=slow)
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"{info.filename} fails its checksum")
    if utf16 and extent is not None and info.filename.startswith("xl/"):
        raise _UnreadableXml("the part is not UTF-8 XML")
    return False, strings


def _sheet_targets(data: bytes, members: list[zipfile.ZipInfo]) -> set[str]:
    """Every part name the workbook's relationships may point calamine at.

    Each `Target` is resolved the way calamine does (`/xl/x` and `xl/x` kept, else
    `xl/` + target) and the way the OPC rules do (normalised, unescaped, %-decoded):
    the union, so no spelling of a target escapes measuring.
    """
    names: set[str] = set()
    for member in members:
        if member.filename != _WORKBOOK_RELS:
            continue
        xml = b"".join(_member_data(data, member))
        for double, single in _TARGET.findall(xml):
            raw = (double or single).decode("utf-8", "replace")
            for target in {raw, html.unescape(raw), unquote(html.unescape(raw))}:
                target = target.replace("\\", "/")
                if target.startswith("/xl/"):
                    as_calamine = target[1:]
                elif target.startswith("xl/"):
                    as_calamine = target
                else:
                    as_calamine = "xl/" + target
                as_opc = target[1:] if target.startswith("/") else "xl/" + target
                for name in (as_calamine, as_opc):
                    names.update((name, posixpath.normpath(name)))
    return names


_OTHER_ZIPS: Final = (
    ("word/document.xml", "a Word document"),
    ("ppt/presentation.xml", "a PowerPoint presentation"),
    ("content.xml", "an OpenDocument file"),
)


def _check_zip(name: str, data: bytes) -> dict[str, _SheetExtent]:
    """Refuse zip bombs, entity tricks and non-workbooks; return each sheet's extent."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        members = archive.infolist()
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        ValueError,
        NotImplementedError,  # "zip file version 12.6" in a central directory entry
    ) as exc:
        raise _refuse(
            name,
            "the file is not a valid .xlsx workbook (it is damaged or not an Excel "
            "file)",
            SAVE_AS,
        ) from exc
    names = {m.filename for m in members}
    if "xl/workbook.xml" not in names or "[Content_Types].xml" not in names:
        kind = next((k for n, k in _OTHER_ZIPS if n in names), "a zip archive")
        raise _refuse(name, f"this is {kind}, not an Excel workbook", SAVE_AS)
    if len(members) > XLSX_MAX_MEMBERS:
        raise _refuse(
            name, f"the workbook has {len(members)} parts", "save it as CSV UTF-8"
        )
    total = 0
    for member in members:
        if member.flag_bits & 0x1:
            raise _refuse(name, "the workbook's parts are encrypted", SAVE_AS)
        if member.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            raise _refuse(name, "the workbook uses an unusual zip compression", SAVE_AS)
        total += member.file_size
        ratio = member.file_size / max(member.compress_size, 1)
        if total > XLSX_MAX_UNCOMPRESSED or (
            member.file_size > XLSX_RATIO_FROM and ratio > XLSX_MAX_RATIO
        ):
            raise _refuse(
                name,
                "the workbook unpacks to far more data than a sheet of orders "
                f"({member.filename}: {member.file_size:,} bytes from "
                f"{member.compress_size:,}; a zip bomb?)",
                "if the file is genuine, " + SAVE_AS,
            )
    extents: dict[str, _SheetExtent] = {}
    try:
        sheets = _sheet_targets(data, members)
        for member in members:
            is_sheet = member.filename in sheets or (
                member.filename.startswith("xl/worksheets/")
                and not member.filename.endswith(".rels")
            )
            extent = (
                extents.setdefault(member.filename, _SheetExtent())
                if is_sheet
                else None
            )
            try:
                has_dtd, strings = _scan_member(data, member, extent)
                if extent is not None and extent.unplaced_cells and extent.fast_chunks:
                    again = _SheetExtent()
                    _scan_member(data, member, again, slow=True)
                    extent.absorb(again)
            except _UnreadableXml as exc:
                raise _refuse(
                    name,
                    f"the workbook part {member.filename} cannot be measured safely "
                    f"({exc}); Excel never writes it like this",
                    "if the file is genuine, " + SAVE_AS,
                ) from exc
            if has_dtd:
                raise _refuse(
                    name,
                    f"the workbook part {member.filename} declares an XML document "
                    "type or entities, which Excel never writes (an entity "
                    "expansion attack?)",
                    "if the file is genuine, " + SAVE_AS,
                )
            if strings.lies:
                raise _refuse(
                    name,
                    f"the workbook part {member.filename} declares "
                    f"{strings.declared:,} shared strings but holds "
                    f"{strings.strings:,} (a damaged or hostile file)",
                    "if the file is genuine, " + SAVE_AS,
                )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error) as exc:
        raise _refuse(
            name,
            f"the workbook is damaged ({exc})",
            "if the file is genuine, " + SAVE_AS,
        ) from exc
    return extents


@dataclass(frozen=True)
class WorkbookLayout:
    """What the checks learned: the area bound of every part that may be a sheet."""

    extents: dict[str, _SheetExtent]

    def area(self, sheet: str) -> int:
        """Upper bound of the cells calamine allocates for `sheet` (0: empty sheet).

        The largest area of all parts that may be worksheets, whichever `sheet` is
        read: calamine maps sheet names to parts its own way (raw relationship
        targets, only the `r:id` attribute), so guessing that mapping could measure
        one part while calamine reads another.
        """
        del sheet  # kept for the callers: the bound holds for every sheet
        return max((e.cells for e in self.extents.values()), default=0)


def check_workbook(name: str, data: bytes) -> WorkbookLayout:
    """Refuse zip bombs, entity tricks and non-workbooks; bound each sheet's area.

    `name` is the file name used in messages.
    """
    return WorkbookLayout(extents=_check_zip(name, data))
