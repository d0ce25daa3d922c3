"""`filebridge init`: a commented filebridge.toml and the folders it names."""

from __future__ import annotations

from pathlib import Path

from filebridge.config import checked_api_url
from filebridge.errors import ConfigError, StorageError

FOLDER_NAMES = ("outbox", "inbox", "archive", "failed", "state")
CONFIG_MODE = 0o600

CONFIG_TEMPLATE = """\
# filebridge configuration. Relative folders resolve against THIS file's folder.
# Check it with:  filebridge check -c "{config_path}"

[selldone]
# The API (default https://api.selldone.com). The sandbox prints its own URL.
api_url = "{api_url}"
# Your shop id: shown next to the token when you create it (filebridge auth-url).
shop_id = {shop_id}
# The token. Better: leave this empty and set the SELLDONE_TOKEN environment variable,
# which wins over this value. Keep this file readable only by the account that runs filebridge.
token = "{token}"
timeout_seconds = 30
# A write that got no answer may still be applied by the shop for this long; only then
# does filebridge check it and, if it did not land, send it again (never twice).
write_settle_seconds = 60

[folders]
# Use UNC paths (\\\\server\\share\\erp\\outbox) rather than mapped drive letters:
# scheduled tasks do not see drive mappings. In TOML, write them in single quotes.
outbox = "outbox"    # order files for the ERP
inbox = "inbox"      # status and tracking files from the ERP or from people
archive = "archive"  # processed inbox files, by day, with a result file beside each
failed = "failed"    # rejected rows (fix them in Excel and drop the file back into inbox)
state = "state"      # journal, lock and log file: keep it on a local disk if you can

[export]
mapping = "default"          # a preset (default, one-row-per-order, german-excel) or a .toml path
# To edit a preset, copy it here first:  filebridge mapping copy german-excel
# format = "xlsx"            # csv or xlsx; overrides the mapping's dialect
statuses = ["Payed"]         # add "COD" to export cash-on-delivery orders too
since = "now"                # first run: "now" or a date such as "2026-11-01"
interval_minutes = 5         # how often `filebridge watch` exports
lookback_minutes = 10        # re-read this window each time; the journal drops repeats
done_marker = false          # also write an empty <file>.done after each file

[inbox]
mapping = "default"          # header aliases and ERP value maps: default, example-erp, or a path
settle_seconds = 5           # a file must stay unchanged this long before it is read
poll_seconds = 10            # full rescan interval (and polling interval)
polling = false              # true for network shares (SMB/NFS): events do not cross the network
# encoding = "cp1252"        # force a CSV encoding; default: UTF-8 (with or without BOM), then cp1252
max_file_mb = 20

[limits]
requests_per_minute = 80     # Selldone allows about 80 per token; export and inbox share it
concurrency = 4              # orders replayed at once (each order's steps stay in sequence)

[log]
level = "INFO"
"""


def render_config(
    *,
    config_path: Path,
    api_url: str = "https://api.selldone.com",
    shop_id: int = 0,
    token: str = "",
) -> str:
    return CONFIG_TEMPLATE.format(
        config_path=config_path, api_url=api_url, shop_id=shop_id, token=token
    )


def init_folder(
    directory: Path,
    *,
    api_url: str = "https://api.selldone.com",
    shop_id: int = 0,
    token: str = "",
    overwrite: bool = False,
) -> Path:
    """Write `filebridge.toml` and create the folders; never clobbers an existing config."""
    try:
        api_url = checked_api_url(api_url)
    except ValueError as exc:  # refused now, not only by the first `check`
        raise ConfigError(
            f"--api-url {api_url!r} {exc}; nothing was written.",
            hint="Leave --api-url out for https://api.selldone.com, or pass the URL "
            "`filebridge sandbox` prints.",
        ) from exc
    config_path = directory / "filebridge.toml"
    if config_path.exists() and not overwrite:
        raise ConfigError(
            f"{config_path} already exists; filebridge init changes nothing.",
            hint="Edit that file, or pass --force to replace it.",
        )
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for name in FOLDER_NAMES:
            (directory / name).mkdir(exist_ok=True)
        config_path.write_text(
            render_config(
                config_path=config_path.absolute(),
                api_url=api_url,
                shop_id=shop_id,
                token=token,
            ),
            encoding="utf-8",
        )
        # The file may hold the token: owner-only on POSIX (on Windows chmod only
        # toggles read-only, so NTFS permissions of the folder apply instead).
        config_path.chmod(CONFIG_MODE)
    except OSError as exc:
        raise StorageError(
            f"Cannot create {directory}: {exc.strerror}.",
            hint="Choose a folder this account may write to.",
        ) from exc
    return config_path
