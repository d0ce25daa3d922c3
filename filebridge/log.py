"""Logging setup: a human console, a rotating file in the state folder, secrets redacted."""

from __future__ import annotations

import logging
import logging.handlers
import re
from collections.abc import Iterable
from pathlib import Path

from filebridge.errors import StorageError

CONSOLE_FORMAT = "%(message)s"
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
REDACTED = "***"
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


class RedactingFilter(logging.Filter):
    """Replaces every known secret (and anything after `Bearer `) in a record's text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = sorted(
            {s for s in secrets if len(s) >= 4}, key=len, reverse=True
        )

    def add_secret(self, secret: str) -> None:
        if len(secret) >= 4 and secret not in self._secrets:
            self._secrets = sorted([*self._secrets, secret], key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _BEARER.sub(rf"\g<1>{REDACTED}", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = self.redact(record.getMessage())
        record.msg = message
        record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = self.redact(
                logging.Formatter().formatException(record.exc_info)
            )
            record.exc_info = None
        return True


_FILTER = RedactingFilter()


def _for_console(record: logging.LogRecord) -> bool:
    """Lines logged with `extra={"console": False}` go to the log file only."""
    return bool(getattr(record, "console", True))


def redact(text: str) -> str:
    """Redact the registered secrets from text about to be shown or stored."""
    return _FILTER.redact(text)


def register_secret(secret: str) -> None:
    """Every handler's filter will hide this value from now on."""
    _FILTER.add_secret(secret)


def setup_logging(
    *,
    level: str = "INFO",
    log_file: Path | None = None,
    max_kb: int = 1024,
    backups: int = 5,
    secrets: Iterable[str] = (),
    console: bool = True,
    console_level: str = "WARNING",
) -> None:
    """Configure the filebridge logger once per process (CLI only).

    The console shows warnings and errors (the CLI prints its own one-line summaries);
    the log file gets one line per decision at `level`.
    """
    for secret in secrets:
        register_secret(secret)
    logger = logging.getLogger("filebridge")
    logger.setLevel(logging.DEBUG)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.propagate = False
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(console_level)
        stream.setFormatter(logging.Formatter(CONSOLE_FORMAT))
        stream.addFilter(_FILTER)
        stream.addFilter(_for_console)
        logger.addHandler(stream)
    if log_file is not None:
        try:
            log_file.parent.mkdir(parents=True, exist_ok=True)
            rotating = logging.handlers.RotatingFileHandler(
                log_file,
                maxBytes=max_kb * 1024,
                backupCount=backups,
                encoding="utf-8",
                delay=True,
            )
        except OSError as exc:
            raise StorageError(
                f"Cannot write the log file {log_file}: {exc.strerror}.",
                hint="Check that the state folder is writable by the account "
                "that runs filebridge.",
            ) from exc
        rotating.setLevel(level)
        rotating.setFormatter(logging.Formatter(FILE_FORMAT))
        rotating.addFilter(_FILTER)
        logger.addHandler(rotating)


def file_logging_active() -> bool:
    """Whether the filebridge logger writes to a log file yet."""
    return any(
        isinstance(h, logging.FileHandler)
        for h in logging.getLogger("filebridge").handlers
    )


def close_logging() -> None:
    """Flush and close file handlers (so a test or a stopping watcher releases the file)."""
    logger = logging.getLogger("filebridge")
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
