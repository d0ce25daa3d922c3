"""Settings from filebridge.toml: every problem reported at once, paths resolved once.

Relative paths resolve against the config file's folder, because Windows Task Scheduler starts
programs in System32. `SELLDONE_TOKEN` in the environment wins over the file's token.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path, PureWindowsPath
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
)

from filebridge.errors import ConfigError

TOKEN_ENV = "SELLDONE_TOKEN"
DEFAULT_API_URL = "https://api.selldone.com"
DEFAULT_CONFIG_NAME = "filebridge.toml"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def checked_api_url(value: str) -> str:
    """An https:// URL (http:// only on loopback), without a trailing slash; else ValueError."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return value.rstrip("/")  # the local sandbox: nothing leaves this machine
    raise ValueError(
        "must be an https:// URL (plain http:// only for the local sandbox on "
        "127.0.0.1 or localhost): the token must not travel unencrypted"
    )


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SelldoneSettings(_Section):
    """`[selldone]`: where the API is and who we are."""

    api_url: str = DEFAULT_API_URL
    shop_id: int = Field(gt=0)
    token: SecretStr = SecretStr("")
    timeout_seconds: float = Field(default=30.0, gt=0)
    write_settle_seconds: float = Field(default=60.0, gt=0)

    @field_validator("api_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return checked_api_url(value)


class FolderSettings(_Section):
    """`[folders]`: absolute after loading."""

    outbox: Path = Path("outbox")
    inbox: Path = Path("inbox")
    archive: Path = Path("archive")
    failed: Path = Path("failed")
    state: Path = Path("state")


class ExportSettings(_Section):
    """`[export]`: which orders and how they are written."""

    mapping: str = "default"
    format: Literal["csv", "xlsx"] | None = None
    statuses: tuple[str, ...] = ("Payed",)
    since: str = "now"
    interval_minutes: float = Field(default=5.0, gt=0)
    lookback_minutes: float = Field(default=10.0, ge=0)
    page_size: int = Field(default=250, ge=1, le=250)
    done_marker: bool = False

    @field_validator("statuses")
    @classmethod
    def _known_statuses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        allowed = {"Payed", "COD", "Open", "Reserved", "Canceled"}
        unknown = [s for s in value if s not in allowed]
        if unknown:
            raise ValueError(f"unknown status {unknown}; use some of {sorted(allowed)}")
        if not value:
            raise ValueError("list at least one status, e.g. ['Payed']")
        return value


class InboxSettings(_Section):
    """`[inbox]`: how files are read and when they count as complete."""

    mapping: str = "default"
    settle_seconds: float = Field(default=5.0, ge=0)
    poll_seconds: float = Field(default=10.0, gt=0)
    polling: bool = False
    encoding: str | None = None
    sheet: str | None = None
    max_file_mb: float = Field(default=20.0, gt=0)
    empty_file_grace_seconds: float = Field(default=300.0, ge=0)


class LimitSettings(_Section):
    """`[limits]`: the API budget shared by export and replay."""

    requests_per_minute: int = Field(default=80, ge=1)
    concurrency: int = Field(default=4, ge=1, le=16)
    """Orders replayed at once (each order's steps stay in sequence). One request at
    a time leaves budget unused once answers take longer than 60 s / 80 = 0.75 s;
    4 keeps the budget full up to ~3 s per answer (tests/benchmarks/bench_budget.py)."""


class LogSettings(_Section):
    """`[log]`: console and rotating file in the state folder."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    file_max_kb: int = Field(default=1024, ge=16)
    file_backups: int = Field(default=5, ge=0)


class DashboardSettings(_Section):
    """`[dashboard]`: the local web dashboard (`filebridge dashboard`, `watch`)."""

    port: int | None = Field(default=None, ge=0, le=65535)
    host: str = "127.0.0.1"


class HealthSettings(_Section):
    """`[health]`: when `status` (and the alerts) call filebridge unhealthy."""

    stale_after_intervals: float = Field(default=3.0, gt=0)
    """No successful run for this many export intervals is CRITICAL."""
    held_minutes: float = Field(default=30.0, ge=0)
    """An order held behind a doubtful step for longer is a WARNING."""
    pending_file_minutes: float = Field(default=60.0, ge=0)
    """An inbox file claimed but unfinished for longer is a WARNING."""
    recent_hours: float = Field(default=24.0, gt=0)
    """Rejected rows and failed files this recent are a WARNING."""
    budget_warning_percent: float = Field(default=90.0, gt=0, le=100)
    """API calls in the last hour above this share of the hour's budget: a WARNING."""


class AlertSettings(_Section):
    """`[alerts]`: where alerts go (apprise URLs) and which events send one."""

    urls: tuple[str, ...] = ()
    auth_failure: bool = True
    api_unreachable: bool = True
    api_unreachable_minutes: float = Field(default=30.0, ge=0)
    rejected_rows: bool = True
    failed_files: bool = True
    held_orders: bool = True
    held_orders_minutes: float = Field(default=60.0, ge=0)
    journal_problems: bool = True
    no_success: bool = True
    no_success_minutes: float = Field(default=60.0, ge=0)
    quiet_minutes: float = Field(default=60.0, ge=0)
    """After an alert, another incident of the same kind within this time is not sent."""
    timeout_seconds: float = Field(default=10.0, gt=0)


class Settings(_Section):
    """The whole configuration; `source` is the file it came from (None when built in code)."""

    selldone: SelldoneSettings
    folders: FolderSettings = FolderSettings()
    export: ExportSettings = ExportSettings()
    inbox: InboxSettings = InboxSettings()
    limits: LimitSettings = LimitSettings()
    log: LogSettings = LogSettings()
    dashboard: DashboardSettings = DashboardSettings()
    health: HealthSettings = HealthSettings()
    alerts: AlertSettings = AlertSettings()
    source: Path | None = None

    @property
    def journal_path(self) -> Path:
        return self.folders.state / "filebridge.sqlite3"

    @property
    def lock_path(self) -> Path:
        return self.folders.state / "filebridge.lock"

    @property
    def log_path(self) -> Path:
        return self.folders.state / "filebridge.log"

    def redacted(self) -> dict[str, Any]:
        """The effective settings as plain data with the token shown as `***`."""
        data = self.model_dump(mode="json")
        data["selldone"]["token"] = (
            "***" if self.selldone.token.get_secret_value() else ""
        )
        data["alerts"]["urls"] = [_url_scheme(u) + "://***" for u in self.alerts.urls]
        return data

    def secrets(self) -> list[str]:
        """Everything the logs must never show: the token, and alert URLs' passwords."""
        found = [self.selldone.token.get_secret_value()]
        for url in self.alerts.urls:
            found.append(url)
            password = urlsplit(url).password
            if password:
                found.append(password)
        return [s for s in found if s]


def _url_scheme(url: str) -> str:
    return urlsplit(url).scheme or "?"


def _did_you_mean(loc: tuple[Any, ...]) -> str:
    """`; did you mean since?` for a mistyped key, from the keys its section knows."""
    model: type[BaseModel] = Settings
    for part in loc[:-1]:
        field = model.model_fields.get(str(part))
        annotation = field.annotation if field is not None else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    keys = [k for k in model.model_fields if k != "source"]
    close = (
        difflib.get_close_matches(str(loc[-1]), keys, n=3, cutoff=0.6) if loc else []
    )
    return f"; did you mean {', '.join(close)}?" if close else ""


def _problem_text(error: Mapping[str, Any]) -> str:
    key = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid"))
    if error.get("type") == "extra_forbidden":
        message = "unknown key" + _did_you_mean(tuple(error.get("loc", ())))
        message += " (check the spelling against the README's settings table)"
    elif error.get("type") == "missing":
        message = "missing; this key is required"
    return f"{key}: {message}"


def is_absolute_folder(value: str) -> bool:
    """Absolute here or on Windows: `C:\\ERP\\in`, `C:/ERP/in`, `\\\\server\\share\\in`.

    The same config is read on every system (and tested on Linux), so a Windows
    absolute path is never joined onto the config's folder, wherever it is read.
    """
    return Path(value).is_absolute() or PureWindowsPath(value).is_absolute()


def _resolve_folders(raw_folders: Mapping[str, Any], base: Path) -> dict[str, Any]:
    resolved: dict[str, Any] = dict(raw_folders)
    for name, value in raw_folders.items():
        if isinstance(value, str) and value:
            path = Path(value).expanduser()
            # A UNC path (\\server\share\...) is absolute on Windows; keep it as written.
            if not is_absolute_folder(str(path)) and not value.startswith(
                ("\\\\", "//")
            ):
                path = base / path
            resolved[name] = path
    return resolved


def build_settings(
    raw: Mapping[str, Any],
    *,
    base_dir: Path,
    source: Path | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Validate raw TOML data; relative folders resolve against `base_dir`."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = dict(raw.items())
    folders = {
        name: getattr(FolderSettings(), name).as_posix()
        for name in FolderSettings.model_fields
    }
    if isinstance(data.get("folders"), Mapping):
        folders.update(data["folders"])
    data["folders"] = _resolve_folders(folders, base_dir)
    selldone = dict(data.get("selldone") or {})
    env_token = env.get(TOKEN_ENV, "").strip()
    if env_token:
        selldone["token"] = env_token
    data["selldone"] = selldone
    data["source"] = source
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        where = f" in {source}" if source else ""
        raise ConfigError(
            f"The configuration{where} has {exc.error_count()} problem(s):",
            problems=[_problem_text(e) for e in exc.errors()],
        ) from None  # pydantic's text echoes the input, token included


_BOMS: tuple[tuple[bytes, str], ...] = (
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xff\xfe", "utf-16-le"),  # Notepad's "Unicode"
    (b"\xfe\xff", "utf-16-be"),  # Notepad's "Unicode big endian"
)


def decode_config(data: bytes) -> str:
    """The config's text, however Notepad saved it: by BOM, else UTF-8, else cp1252.

    Notepad writes UTF-8 (with or without BOM), UTF-16 with BOM ("Unicode") or the ANSI
    code page; tomllib wants text, and reads CRLF line ends as they are.
    """
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def load_settings(path: Path, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read and validate a filebridge.toml file."""
    path = path.expanduser().absolute()
    try:
        text = decode_config(path.read_bytes())
    except FileNotFoundError as exc:
        raise ConfigError(
            f"Config file {path} does not exist.",
            hint="Create one with `filebridge init DIR`, then pass it with -c.",
        ) from exc
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror}.") from exc
    except UnicodeDecodeError as exc:  # a UTF-16 BOM followed by broken text
        raise ConfigError(
            f"Config file {path} is not readable text ({exc.reason}).",
            hint="Open it in Notepad and save it again with the encoding UTF-8.",
        ) from exc
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"Config file {path} is not valid TOML: {exc}.",
            hint="Check quotes around paths; on Windows write paths with / "
            "or in single quotes ('C:\\ERP\\inbox').",
        ) from exc
    return build_settings(raw, base_dir=path.parent, source=path, environ=environ)


def fallback_state_folder(path: Path) -> Path | None:
    """The state folder a config names, read as leniently as possible (None: unknown).

    For logging an error that stopped the config from loading at all: the file's
    `[folders] state` if the TOML parses that far, else the default `state` beside it.
    """
    path = path.expanduser().absolute()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError:
        return None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raw = {}
    folders = raw.get("folders")
    state = folders.get("state") if isinstance(folders, Mapping) else None
    if not isinstance(state, str) or not state:
        state = FolderSettings().state.as_posix()
    resolved = _resolve_folders({"state": state}, path.parent)["state"]
    return resolved if isinstance(resolved, Path) else None
