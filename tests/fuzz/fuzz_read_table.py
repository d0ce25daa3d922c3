"""Coverage-guided fuzzing of `read_table` + `validate_table` with atheris (on demand, not CI).

    pip install atheris
    PYTHONPATH=. python tests/fuzz/fuzz_read_table.py --make-corpus /tmp/fb-corpus
    PYTHONPATH=. python tests/fuzz/fuzz_read_table.py /tmp/fb-corpus \
        -max_total_time=300 -timeout=10 -rss_limit_mb=2048 -max_len=65536

The first input byte picks how the rest is used: a CSV or TXT file (with or without a
forced encoding), a raw .xlsx file, or new content for one part of a small valid
workbook (zipped again, so the bytes reach the XML parsers instead of failing the zip
checksum). The property is the one of tests/test_fuzz_inbox.py: the file is read and
validated, or refused with an `InboxFileError` that has a message and a hint. Any other
exception, a hang (-timeout) or a crash of the process is a finding; libFuzzer writes
the input to crash-*/timeout-* files, which reproduce with the same command and the
file as the only argument.
"""

from __future__ import annotations

import atexit
import io
import os
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from filebridge.errors import InboxFileError
    from filebridge.inbox.file import load_inbound_mapping
    from filebridge.inbox.validation import validate_table
    from filebridge.tables.readers import read_table

ROOT = Path(__file__).resolve().parents[2]
MAPPINGS = [
    load_inbound_mapping("default", ROOT),
    load_inbound_mapping("mappings/inbox-example-erp.toml", ROOT),
]
ENCODINGS = [None, None, "utf-8", "cp1252", "utf-16", "latin-1"]
FOLDER = Path(
    tempfile.mkdtemp(
        prefix="fb-fuzz-", dir="/dev/shm" if os.path.isdir("/dev/shm") else None
    )
)
atexit.register(shutil.rmtree, FOLDER, ignore_errors=True)


def base_parts() -> dict[str, bytes]:
    import xlsxwriter

    buffer = io.BytesIO()
    book = xlsxwriter.Workbook(buffer, {"in_memory": True})
    sheet = book.add_worksheet("Status")
    sheet.write_row(0, 0, ["order_id", "state", "tracking_code"])
    sheet.write_row(1, 0, [23990, "SentOrder", "JJD0001"])
    book.close()
    with zipfile.ZipFile(buffer) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


PARTS = base_parts()
PART_NAMES = sorted(PARTS)


def workbook_with(part: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in PARTS.items():
            archive.writestr(name, content if name == part else data)
    return buffer.getvalue()


def as_file(data: bytes) -> tuple[str, bytes, str | None]:
    """(file name, file bytes, forced encoding) from one fuzz input."""
    if not data:
        return "empty.csv", b"", None
    selector, body = data[0], data[1:]
    if selector < 96:
        encoding = ENCODINGS[selector % len(ENCODINGS)]
        return ("status.txt" if selector % 2 else "status.csv"), body, encoding
    if selector < 128:
        return "status.xlsx", body, None
    part = PART_NAMES[selector % len(PART_NAMES)]
    return "status.xlsx", workbook_with(part, body), None


def test_one_input(data: bytes) -> None:
    name, content, encoding = as_file(data)
    path = FOLDER / name
    path.write_bytes(content)
    try:
        table = read_table(path, encoding=encoding, max_bytes=20 * 1024 * 1024)
    except InboxFileError as exc:
        if not exc.message.startswith(f"{name}: ") or not exc.hint:
            raise AssertionError(f"refusal without explanation: {exc!r}") from exc
        return
    for mapping in MAPPINGS:
        checked = validate_table(table, mapping)
        if checked.file_issues:
            continue
        rows = sorted(
            [r.row for r in checked.valid] + [r.row for r, _ in checked.rejected]
        )
        if rows != [r.row for r in table.rows]:
            raise AssertionError("validation lost or invented rows")


def make_corpus(folder: Path) -> None:
    """Seeds: every bad-input corpus file, as CSV/TXT or XLSX input, plus each part."""
    folder.mkdir(parents=True, exist_ok=True)
    for number, path in enumerate(
        sorted((ROOT / "tests" / "badinput" / "files").iterdir())
    ):
        selector = 100 if path.suffix == ".xlsx" else number % 96
        (folder / f"seed-{path.name}").write_bytes(
            bytes([selector]) + path.read_bytes()
        )
    for number, name in enumerate(PART_NAMES):
        selector = next(s for s in range(128, 256) if s % len(PART_NAMES) == number)
        (folder / f"part-{number}").write_bytes(bytes([selector]) + PARTS[name])


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--make-corpus":
        make_corpus(Path(sys.argv[2]))
        return
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
