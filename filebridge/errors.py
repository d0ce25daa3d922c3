"""The one exception hierarchy of filebridge; the recovery is encoded in the type.

```
FilebridgeError                      exit  recovery
├── ConfigError                        3   fix filebridge.toml; run `filebridge check`
├── MappingError                       3   fix mappings/*.toml (names the file, key, nearest names)
├── InboxFileError                    (1)  one unreadable inbox file → moved to failed/ with an explanation
├── ApiError                           9   the API answered in a shape filebridge does not know
│   ├── ApiUnavailableError            5   gave up after retries (timeouts, 5xx, 429): try again later
│   ├── AuthError                      4   401/403: token missing, wrong or revoked → get a new token
│   └── ApiRejectedError               7   other 4xx / app-level error: this request never succeeds as sent
│       └── TransitionRejectedError   (1)  the shop refused one order's state change → reported per row
├── StorageError                       8   journal/outbox/inbox not writable, disk full, share gone
├── AlreadyRunningError                6   another run holds the lock: this run did nothing
├── JournalMissingError               10   journal missing/empty/unreadable after earlier runs → `filebridge journal restore`
├── StopRequestedError               130   Ctrl-C/SIGTERM during a wait: no request was started
└── AlertError                        11   `filebridge alerts test` could not deliver to every URL
```

Exit codes in parentheses are not raised out of a run: the use case catches them for one file
or one order, reports them and carries on. A run that finished but rejected anything exits 1;
a clean run exits 0; click usage errors exit 2; an unexpected exception (a bug) exits 70.
`AuthError` and `ApiUnavailableError` are siblings of `ApiRejectedError`, never subclasses, so an
`except ApiRejectedError` around one order can never swallow a condition that must stop the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import ClassVar

__all__ = [
    "EXIT_BUG",
    "EXIT_CLEAN",
    "EXIT_INTERRUPTED",
    "EXIT_REJECTED_ROWS",
    "EXIT_USAGE",
    "AlertError",
    "AlreadyRunningError",
    "ApiError",
    "ApiRejectedError",
    "ApiUnavailableError",
    "AuthError",
    "ConfigError",
    "FilebridgeError",
    "InboxFileError",
    "JournalMissingError",
    "MappingError",
    "RequestFate",
    "RowIssue",
    "StopRequestedError",
    "StorageError",
    "TransitionRejectedError",
    "exit_name",
]

EXIT_CLEAN = 0
EXIT_REJECTED_ROWS = 1
EXIT_USAGE = 2
EXIT_BUG = 70
EXIT_INTERRUPTED = 130

_EXIT_NAMES = {
    EXIT_CLEAN: "clean",
    EXIT_REJECTED_ROWS: "done, but rows were rejected or held",
    EXIT_USAGE: "command-line usage error",
    EXIT_BUG: "unexpected error (a bug)",
    EXIT_INTERRUPTED: "stopped (Ctrl-C or SIGTERM)",
}


class FilebridgeError(Exception):
    """Root of every error filebridge raises on purpose.

    `hint` is the next action for a person, printed on its own line by the CLI.
    """

    exit_code: ClassVar[int] = 1
    summary: ClassVar[str] = "filebridge failed"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message


class ConfigError(FilebridgeError):
    """The configuration cannot be used; every problem is listed at once."""

    exit_code = 3
    summary = "configuration problem"

    def __init__(
        self,
        message: str,
        *,
        problems: Sequence[str] = (),
        hint: str | None = "Fix the listed keys and run `filebridge check -c CONFIG`.",
    ) -> None:
        self.problems = list(problems)
        full = (
            message
            if not self.problems
            else message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        )
        super().__init__(full, hint=hint)


class MappingError(FilebridgeError):
    """A column mapping file is invalid (unknown field, bad format, bad dialect)."""

    exit_code = 3
    summary = "mapping problem"


class InboxFileError(FilebridgeError):
    """One inbox file cannot be read at all; it goes to failed/ with this explanation."""

    exit_code = 1
    summary = "unreadable inbox file"


class RequestFate(StrEnum):
    """What a failed request did in the shop, as far as its answer (or none) tells.

    Replay needs it for writes: a write the shop did not process is sent again; one it
    finished with is looked for in the order; one that may still run there is looked
    for only once it must have finished (`selldone.write_settle_seconds`).
    """

    NOT_PROCESSED = "not-processed"  # no connection was made, or 429/503
    ENDED = "ended"  # the shop answered: whatever it did is done
    MAY_BE_RUNNING = "may-be-running"  # no complete answer: timeout, drop, 502/504


class ApiError(FilebridgeError):
    """A Selldone API call failed. Holds method, path and status only: never the token.

    Raised as itself only when an answer has a shape filebridge does not understand (the
    API changed): not transient, so it has its own exit code rather than "retry later".
    """

    exit_code = 9
    summary = "unexpected Selldone API answer"

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        api_message: str | None = None,
        hint: str | None = None,
        fate: RequestFate = RequestFate.ENDED,
    ) -> None:
        super().__init__(message, hint=hint)
        self.method = method
        self.path = path
        self.status = status
        self.api_message = api_message
        self.fate = fate


class ApiUnavailableError(ApiError):
    """The API could not be reached or kept failing after retries: try again later."""

    exit_code = 5
    summary = "Selldone API unavailable"


class AuthError(ApiError):
    """401/403: the token is missing, wrong, lacks a scope or was revoked. Stop at once."""

    exit_code = 4
    summary = "Selldone token rejected"


class ApiRejectedError(ApiError):
    """The API refused this request as sent (4xx, 422, app-level error on 200)."""

    exit_code = 7
    summary = "Selldone API rejected a request"

    def __init__(
        self,
        message: str,
        *,
        method: str = "",
        path: str = "",
        status: int | None = None,
        api_message: str | None = None,
        field_errors: dict[str, list[str]] | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(
            message,
            method=method,
            path=path,
            status=status,
            api_message=api_message,
            hint=hint,
        )
        self.field_errors = field_errors or {}


class TransitionRejectedError(ApiRejectedError):
    """The shop refused one order's state change (skip, backwards move, wrong status)."""

    exit_code = 1
    summary = "state change refused"


class StorageError(FilebridgeError):
    """A folder, file or the journal cannot be read or written (share gone, disk full)."""

    exit_code = 8
    summary = "storage problem"


class AlreadyRunningError(FilebridgeError):
    """Another filebridge run holds the lock for this state folder; this run did nothing."""

    exit_code = 6
    summary = "already running"


class JournalMissingError(FilebridgeError):
    """The journal is missing, empty or unreadable although the state folder shows
    earlier runs: starting over would export every order again, so the run stops.

    The hint names the command that restores the newest backup.
    """

    exit_code = 10
    summary = "journal missing or unreadable"


class StopRequestedError(FilebridgeError):
    """A stop was asked for (Ctrl-C, SIGTERM) while waiting to send: nothing was sent.

    Raised by every wait of the client (rate budget, Retry-After, backoff) so that no
    request starts after the signal; the step it was for stays `planned`.
    """

    exit_code = EXIT_INTERRUPTED
    summary = "stopped before the next request"


class AlertError(FilebridgeError):
    """An alert could not be delivered. Only `alerts test` raises it: during a run an
    undeliverable alert is logged and never changes the run's outcome."""

    exit_code = 11
    summary = "alert not delivered"


@dataclass(frozen=True)
class RowIssue:
    """One problem of one inbox row, as a person sees it in Excel.

    `row` is the spreadsheet row number (header = 1, first data row = 2); `column` is the
    header text as written in the file (plus the column letter for XLSX where known).
    """

    row: int
    column: str
    value: str
    message: str
    hint: str = ""

    def describe(self) -> str:
        where = f"row {self.row}" + (f", column {self.column!r}" if self.column else "")
        text = f"{where}: {self.message}"
        if self.value:
            text += f" (value {self.value!r})"
        if self.hint:
            text += f" — {self.hint}"
        return text


def exit_name(code: int) -> str:
    """A few words for an exit code, as the log's end line and the runs table say it."""
    if code in _EXIT_NAMES:
        return _EXIT_NAMES[code]
    pending: list[type[FilebridgeError]] = [FilebridgeError]
    while pending:
        cls = pending.pop(0)  # breadth first: ConfigError names 3, not MappingError
        if cls.exit_code == code and cls is not FilebridgeError:
            return cls.summary
        pending.extend(cls.__subclasses__())
    return f"exit code {code}"
