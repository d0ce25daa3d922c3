"""Pure safety checks of an XLSX file's bytes, before any spreadsheet parser sees them.

Inbox files are untrusted. An .xlsx file is a zip of XML parts, and three tricks make a
small file cost a parser unbounded memory or time:

* **zip bombs**: parts that unpack 1000× (checked: member count, declared sizes and
  ratios, and the *actual* inflated size, which may exceed the declared one);
* **entity expansion** ("billion laughs"): a DTD with nested `<!ENTITY>`s; Excel never
  writes a DTD, so any `<!DOCTYPE`/`<!ENTITY` in any part refuses the file;
* **sparse sheets**: calamine allocates rows × columns of a sheet's used area up front,
  so a 5 KB file with values in A1 and XFD1048576 aborts the whole process. The used
  area of each worksheet is bounded from the XML before calamine parses it (cells with
  a value only: Excel's formatted-but-empty cells, down to row 1,048,576, do not count).

`check_workbook` raises `InboxFileError` with the reason and what to do, or returns the
bound of each sheet's area. It works on bytes in memory: no file access, no clock.
"""

from __future__ import annotations

import io
import posixpath
import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final
from xml.etree import ElementTree

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
_VALUED_ROWS = re.compile(rb'<c r="[A-Z]+([0-9]+)"[^>/]*>')
_CELL_COLUMNS = re.compile(rb'<c r="([A-Z]+)')
_ANY_CELL_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?c[\s/>][^>]*>")
_ANY_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>][^>]*>")
_CELL_REFERENCE = re.compile(rb"""\sr\s*=\s*["']([A-Za-z]+)([0-9]+)["']""")
_ROW_REFERENCE = re.compile(rb"""\sr\s*=\s*["']([0-9]+)["']""")
SAVE_AS: Final = "open it in Excel and save it as Excel Workbook (.xlsx) or CSV UTF-8"


def _refuse(name: str, problem: str, hint: str) -> InboxFileError:
    return InboxFileError(f"{name}: {problem}", hint=hint)


@dataclass
class _SheetExtent:
    """Upper bound of the area calamine will allocate for one worksheet part."""

    max_row: int = 0
    max_column: int = 0  # 1-based
    unplaced_cells: int = 0  # cells without a plain r="A1" we could read
    row_elements: int = 0

    @property
    def cells(self) -> int:
        rows = self.max_row + (self.row_elements if self.unplaced_cells else 0)
        return rows * (self.max_column + self.unplaced_cells)


def _column_number(letters: bytes) -> int:
    number = 0
    for byte in letters:
        number = number * 26 + (byte - 64)
    return number


def _measure_sheet(xml: bytes, extent: _SheetExtent) -> None:
    """Raise the bound by the cells in one chunk of worksheet XML (whole tags only)."""
    columns_seen = _CELL_COLUMNS.findall(xml)  # every <c r="…">, valued or not
    tags = sum(
        xml.count(b"<c" + end) for end in (b" ", b">", b"/", b"\t", b"\n", b"\r")
    )
    if tags != len(columns_seen) or b":c" in xml:
        _measure_sheet_slowly(xml, extent)  # unusual writer: prefixes, r not first
        return
    rows = _VALUED_ROWS.findall(xml)  # self-closing <c …/> cells hold no value
    if rows:
        extent.max_row = max(extent.max_row, max(map(int, set(rows))))
    columns = set(columns_seen)
    if columns:
        extent.max_column = max(extent.max_column, *map(_column_number, columns))


def _measure_sheet_slowly(xml: bytes, extent: _SheetExtent) -> None:
    """Every valued cell tag, whatever its prefix or attribute order.

    Cells without a reference are placed conservatively (see `_SheetExtent.cells`).
    """
    for tag in _ANY_CELL_TAG.findall(xml):
        if tag.endswith(b"/>"):  # an empty (formatted) cell holds no value
            continue
        reference = _CELL_REFERENCE.search(tag)
        if reference is None:
            extent.unplaced_cells += 1
            continue
        letters, digits = reference.groups()
        extent.max_column = max(extent.max_column, _column_number(letters.upper()))
        extent.max_row = max(extent.max_row, int(digits))
    for tag in _ANY_ROW_TAG.findall(xml):
        extent.row_elements += 1
        number = _ROW_REFERENCE.search(tag)
        if number is not None:
            extent.max_row = max(extent.max_row, int(number.group(1)))


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
    data: bytes, info: zipfile.ZipInfo, extent: _SheetExtent | None
) -> bool:
    """True when the member holds a DTD/ENTITY; measures worksheet cells on the way."""
    carry = b""
    crc = 0
    for chunk in _member_data(data, info):
        crc = zlib.crc32(chunk, crc)
        block = carry + chunk
        cut = block.rfind(b">") + 1  # never split a tag between two blocks
        if cut == 0 and len(block) < 4 * _INFLATE_CHUNK:
            carry = block
            continue
        # Without any ">" keep an overlap, so a `<!DOCTYPE` split here is still seen.
        whole, carry = (block[:cut], block[cut:]) if cut else (block, block[-16:])
        if _has_dtd(whole):
            return True
        if extent is not None:
            _measure_sheet(whole, extent)
    if carry and _has_dtd(carry):
        return True
    if extent is not None and carry:
        _measure_sheet(carry, extent)
    if crc != info.CRC:
        raise zipfile.BadZipFile(f"{info.filename} fails its checksum")
    return False


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
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
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
        for member in members:
            is_sheet = member.filename.startswith("xl/worksheets/") and (
                member.filename.endswith(".xml")
            )
            extent = (
                extents.setdefault(member.filename, _SheetExtent())
                if is_sheet
                else None
            )
            if _scan_member(data, member, extent):
                raise _refuse(
                    name,
                    f"the workbook part {member.filename} declares an XML document "
                    "type or entities, which Excel never writes (an entity "
                    "expansion attack?)",
                    "if the file is genuine, " + SAVE_AS,
                )
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error) as exc:
        raise _refuse(
            name,
            f"the workbook is damaged ({exc})",
            "if the file is genuine, " + SAVE_AS,
        ) from exc
    return extents


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _sheet_parts(data: bytes) -> dict[str, str]:
    """Sheet name → worksheet part path, from workbook.xml and its relationships.

    Parsed only after `_check_zip` refused any DTD, so expat cannot expand entities.
    """
    archive = zipfile.ZipFile(io.BytesIO(data))
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))  # noqa: S314 - no DTD (checked)
        rels = ElementTree.fromstring(  # noqa: S314 - no DTD (checked)
            archive.read("xl/_rels/workbook.xml.rels")
        )
    except (KeyError, ElementTree.ParseError):
        return {}
    targets = {
        rel.get("Id", ""): rel.get("Target", "")
        for rel in rels.iter()
        if _local(rel.tag) == "Relationship"
    }
    parts: dict[str, str] = {}
    for element in workbook.iter():
        if _local(element.tag) != "sheet":
            continue
        rel_id = next((v for k, v in element.attrib.items() if _local(k) == "id"), "")
        target = targets.get(rel_id, "")
        if target:
            full = target[1:] if target.startswith("/") else "xl/" + target
            parts[element.get("name", "")] = posixpath.normpath(full)
    return parts


@dataclass(frozen=True)
class WorkbookLayout:
    """What the checks learned: each worksheet part's area bound, sheet → part."""

    extents: dict[str, _SheetExtent]
    parts: dict[str, str]

    def area(self, sheet: str) -> int:
        """Upper bound of the cells calamine allocates for `sheet` (0: empty sheet).

        When the sheet's part is unknown the largest of all sheets counts.
        """
        part = self.parts.get(sheet)
        extent = self.extents.get(part) if part else None
        if extent is not None:
            return extent.cells
        return max((e.cells for e in self.extents.values()), default=0)


def check_workbook(name: str, data: bytes) -> WorkbookLayout:
    """Refuse zip bombs, entity tricks and non-workbooks; bound each sheet's area.

    `name` is the file name used in messages.
    """
    extents = _check_zip(name, data)
    return WorkbookLayout(extents=extents, parts=_sheet_parts(data))
