"""Windows realities, simulated on Linux where they cannot run here.

Paths in the config as a Windows admin writes them (drive letters, UNC shares), configs
as Notepad saves them (UTF-16 with BOM, UTF-8 with BOM, ANSI, CRLF), an archive on
another drive or share (rename across them fails: copy then delete), names near the
255-character limit, and output redirected into a cp1252 file. A file held open by Excel
is simulated in tests/test_inbox.py::test_run_inbox_file_held_open_on_windows_waits_then_is_taken.
"""

from __future__ import annotations

import errno
import logging
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path, PureWindowsPath

import pytest

from filebridge.config import load_settings
from filebridge.errors import ConfigError, MappingError
from filebridge.inbox.moves import PROCESSING_DIR
from filebridge.inbox.report import MAX_NAME_BYTES, windows_safe_name
from filebridge.inbox.run import run_inbox
from filebridge.journal.store import Journal
from filebridge.presets import EXPORT, read_mapping_text
from tests.inbox_support import make_client, write_config, write_csv

NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
DAY = "2026-03-02"
REPO = Path(__file__).resolve().parents[1]


# --- paths in the config -----------------------------------------------------------------


@pytest.mark.parametrize(
    "written",
    [
        r"C:\ERP\inbox",
        "C:/ERP/inbox",
        r"D:\Lager\Eingänge",
        r"\\erp-server\exchange\erp\in",
        r"\\?\C:\ERP\inbox",
    ],
)
def test_windows_absolute_folders_are_kept_as_written(
    tmp_path: Path, written: str
) -> None:
    """A drive-letter or UNC folder is absolute: never joined onto the config's folder."""
    config = tmp_path / "filebridge.toml"
    config.write_text(
        f"[selldone]\nshop_id = 7\n[folders]\ninbox = '{written}'\noutbox = 'out'\n",
        encoding="utf-8",
    )
    settings = load_settings(config, environ={})
    assert settings.folders.inbox == Path(written)
    assert PureWindowsPath(str(settings.folders.inbox)).is_absolute()
    assert settings.folders.outbox == tmp_path / "out"  # relative still resolves


@pytest.mark.parametrize("written", [r"C:\ERP\my-erp.toml", r"\\srv\share\map.toml"])
def test_windows_absolute_mapping_path_is_kept_as_written(
    tmp_path: Path, written: str
) -> None:
    """`export.mapping = 'C:\\ERP\\my-erp.toml'` names that file, not one under the config."""
    with pytest.raises(MappingError) as info:
        read_mapping_text(written, tmp_path, EXPORT)
    assert f"file {Path(written)} does not exist" in str(info.value)
    assert str(tmp_path) not in str(info.value)


# --- configs as Notepad saves them -------------------------------------------------------

CONFIG_TEXT = """\
# Lager Müller: Ordner auf dem Server
[selldone]
shop_id = 7
token = "tok-ßü"

[folders]
inbox = 'Eingänge'
archive = '''Archiv'''

[export]
statuses = [
  "Payed",
  "COD",
]
"""


def _notepad_bytes(encoding: str) -> bytes:
    text = CONFIG_TEXT.replace("\n", "\r\n")  # Notepad writes CRLF
    if encoding == "utf-16-le-bom":
        return b"\xff\xfe" + text.encode("utf-16-le")
    if encoding == "utf-16-be-bom":
        return b"\xfe\xff" + text.encode("utf-16-be")
    return text.encode(encoding)


@pytest.mark.parametrize(
    "encoding",
    ["utf-16-le-bom", "utf-16-be-bom", "utf-8-sig", "utf-8", "cp1252"],
    ids=[
        "unicode-utf16-bom",
        "unicode-big-endian",
        "utf8-bom",
        "utf8",
        "ansi-cp1252",
    ],
)
def test_config_saved_by_notepad_with_crlf_loads(tmp_path: Path, encoding: str) -> None:
    """UTF-16 with BOM, UTF-8 with or without BOM and ANSI, all with CRLF, read alike."""
    config = tmp_path / "filebridge.toml"
    config.write_bytes(_notepad_bytes(encoding))
    settings = load_settings(config, environ={})
    assert settings.folders.inbox == tmp_path / "Eingänge"
    assert settings.folders.archive == tmp_path / "Archiv"
    assert settings.selldone.token.get_secret_value() == "tok-ßü"
    assert settings.export.statuses == ("Payed", "COD")


# --- the inbox on a share ----------------------------------------------------------------


@pytest.fixture
def other_drive() -> Iterator[Path]:
    """A folder on another file system than tmp_path (tmpfs): a rename there is EXDEV."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK):
        pytest.skip("no /dev/shm here; the simulated cross-device test still runs")
    folder = shm / f"filebridge-test-{os.getpid()}-{datetime.now(UTC).timestamp()}"
    folder.mkdir()
    yield folder
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()


def _inbox_settings(tmp_path: Path, box, archive: Path, failed: Path):
    config = write_config(tmp_path, box)
    text = config.read_text(encoding="utf-8")
    text = text.replace('archive = "archive"', f"archive = '{archive}'")
    text = text.replace('failed = "failed"', f"failed = '{failed}'")
    config.write_text(text, encoding="utf-8")
    return load_settings(config)


def _drop(settings, box) -> tuple[Path, Path, dict]:
    order = box.add_order()
    good = write_csv(
        settings.folders.inbox / "status.csv",
        ["order_id", "state"],
        [[order["id"], "OrderConfirm"], ["12x", "SentOrder"]],
    )
    junk = settings.folders.inbox / "binary.csv"
    junk.write_bytes(b"\x00\x01\x02PK\x03\x04" * 50)
    old = datetime.now(UTC).timestamp() - 60
    for path in (good, junk):
        os.utime(path, (old, old))
    return good, junk, order


def _run_and_check(settings, box, good_bytes: bytes, order: dict) -> None:
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
    ):
        result = run_inbox(settings, client, journal, now=NOW)
    assert (result.rows_applied, result.rows_rejected) == (1, 1)
    archived = settings.folders.archive / DAY / "status.csv"
    assert archived.read_bytes() == good_bytes
    assert (settings.folders.archive / DAY / "status.csv.result.csv").is_file()
    assert (settings.folders.failed / "binary.csv").is_file()
    assert (settings.folders.failed / "binary.csv.error.txt").is_file()
    assert list((settings.folders.inbox / PROCESSING_DIR).iterdir()) == []
    leftovers = [
        p
        for folder in (settings.folders.archive, settings.folders.failed)
        for p in folder.rglob(".~*")
    ]
    assert leftovers == []
    assert box.get_order(order["id"])["delivery_state"] == "OrderConfirm"


def test_archive_on_another_drive_is_copied_then_deleted(
    tmp_path: Path, sandbox, other_drive: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Real EXDEV: inbox and archive on different file systems; nothing stays behind."""
    probe = tmp_path / "probe"
    probe.write_bytes(b"x")
    if probe.stat().st_dev == other_drive.stat().st_dev:
        pytest.skip("/dev/shm is on the same device as tmp_path here")
    settings = _inbox_settings(
        tmp_path, sandbox, other_drive / "archive", other_drive / "failed"
    )
    good, _, order = _drop(settings, sandbox)
    good_bytes = good.read_bytes()
    with caplog.at_level(logging.INFO, logger="filebridge"):
        _run_and_check(settings, sandbox, good_bytes, order)
    assert "copying it there, then deleting it" in caplog.text


def test_share_that_refuses_renames_across_folders_gets_copy_then_delete(
    tmp_path: Path, sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A share answering a cross-folder rename with EXDEV (Windows: error 17).

    Only the OS call is simulated: os.replace fails when the file would leave
    `.processing/` for another folder, as such a share does; renames within one folder
    still work, and everything else is real.
    """
    settings = _inbox_settings(
        tmp_path, sandbox, tmp_path / "share" / "archive", tmp_path / "share" / "failed"
    )
    real_replace = os.replace
    refused: list[str] = []

    def share_replace(src, dst):
        source, target = Path(src), Path(dst)
        if source.parent.name == PROCESSING_DIR and target.parent != source.parent:
            refused.append(source.name)
            raise OSError(errno.EXDEV, "Invalid cross-device link", str(src))
        return real_replace(src, dst)

    good, _, order = _drop(settings, sandbox)
    good_bytes = good.read_bytes()
    monkeypatch.setattr(os, "replace", share_replace)
    _run_and_check(settings, sandbox, good_bytes, order)
    assert len(refused) == 2  # the archived file and the unreadable one


# --- long names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    [
        "x" * 300 + ".csv",
        "Bestellstatus-" + "ü" * 200 + ".failed-20261202-070000.csv",
        "订单" * 120 + ".xlsx",
        "😀" * 80 + ".csv",
    ],
    ids=["ascii", "umlauts-with-stamp", "cjk", "emoji"],
)
def test_names_filebridge_makes_stay_bounded(name: str) -> None:
    """Every name for archive/ and failed/ fits, with the suffixes added to it later."""
    safe = windows_safe_name(name)
    assert len(safe.encode("utf-8")) <= MAX_NAME_BYTES
    assert safe.endswith(Path(name).suffix)
    assert safe[:3] == name[:3]
    assert len(f".~{safe}.result.csv.partial".encode()) <= 255
    assert windows_safe_name("orders.csv") == "orders.csv"


def test_inbox_file_with_a_name_near_the_limit_is_processed(
    tmp_path: Path, sandbox
) -> None:
    """A 250-character name: claimed, archived and reported without a too-long name."""
    settings = _inbox_settings(
        tmp_path, sandbox, tmp_path / "archive", tmp_path / "failed"
    )
    order = sandbox.add_order()
    name = "Statusmeldung-" + "a" * 232 + ".csv"
    assert len(name) == 250
    dropped = write_csv(
        settings.folders.inbox / name,
        ["order_id", "state"],
        [[order["id"], "OrderConfirm"], ["12x", "SentOrder"]],
    )
    old = datetime.now(UTC).timestamp() - 60
    os.utime(dropped, (old, old))
    with (
        Journal.open(settings.journal_path) as journal,
        make_client(settings) as client,
    ):
        result = run_inbox(settings, client, journal, now=NOW)
    assert (result.rows_applied, result.rows_rejected) == (1, 1)
    made = [
        *settings.folders.archive.rglob("*"),
        *settings.folders.failed.iterdir(),
    ]
    files = [p for p in made if p.is_file()]
    assert len(files) == 3  # the file, its result, its failed rows
    assert all(len(p.name.encode()) <= MAX_NAME_BYTES + 11 for p in files)
    assert all(p.name.startswith("Statusmeldung-aaa") for p in files)
    assert list((settings.folders.inbox / PROCESSING_DIR).iterdir()) == []
    assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"


# --- output redirected on Windows --------------------------------------------------------


@pytest.mark.slow
def test_output_redirected_into_a_cp1252_file_does_not_crash(tmp_path: Path) -> None:
    """`filebridge demo > out.txt` on Windows writes cp1252: `→` must not be exit 70."""
    env = {**os.environ, "PYTHONIOENCODING": "cp1252", "PYTHONUTF8": "0"}
    env["PYTHONPATH"] = str(REPO)  # this tree's code, whatever is installed
    done = subprocess.run(
        [sys.executable, "-m", "filebridge", "demo", "--dir", str(tmp_path / "d")],
        capture_output=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode("cp1252", errors="replace")
    out = done.stdout.decode("cp1252")
    assert "Done in" in out
    assert "CheckQueue ? ToCustomer" in out  # the arrow, replaced, not a crash


def test_config_with_a_bom_and_broken_text_is_a_config_error(tmp_path: Path) -> None:
    """A UTF-16 BOM followed by an odd byte: exit 3 with what to do, never a crash (70)."""
    config = tmp_path / "filebridge.toml"
    config.write_bytes(b"\xff\xfe" + "[selldone]\n".encode("utf-16-le") + b"\x00\xd8")
    with pytest.raises(ConfigError) as info:
        load_settings(config, environ={})
    assert info.value.exit_code == 3
    assert "save it again with the encoding UTF-8" in (info.value.hint or "")
