"""The exception tree: every class has an exit code, siblings stay siblings."""

from __future__ import annotations

import pytest

from filebridge import errors
from filebridge.errors import (
    AlreadyRunningError,
    ApiRejectedError,
    ApiUnavailableError,
    AuthError,
    ConfigError,
    FilebridgeError,
    RowIssue,
    TransitionRejectedError,
)


def all_error_classes() -> list[type[FilebridgeError]]:
    found: list[type[FilebridgeError]] = []
    pending: list[type[FilebridgeError]] = [FilebridgeError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found


def test_every_error_class_is_exported_and_has_an_exit_code() -> None:
    """Each class in the tree is in __all__ with an int exit code and a summary."""
    for cls in all_error_classes():
        assert cls.__name__ in errors.__all__
        assert isinstance(cls.exit_code, int)
        assert cls.summary


def test_stop_conditions_are_not_rejections() -> None:
    """`except ApiRejectedError` can never swallow an auth or availability failure."""
    assert not issubclass(AuthError, ApiRejectedError)
    assert not issubclass(ApiUnavailableError, ApiRejectedError)
    assert issubclass(TransitionRejectedError, ApiRejectedError)


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (ConfigError, 3),
        (AuthError, 4),
        (ApiUnavailableError, 5),
        (AlreadyRunningError, 6),
        (ApiRejectedError, 7),
        (errors.StorageError, 8),
        (errors.ApiError, 9),
    ],
)
def test_exit_codes_are_the_documented_ones(
    cls: type[FilebridgeError], code: int
) -> None:
    """The README exit-code table relies on these exact numbers."""
    assert cls.exit_code == code


def test_config_error_lists_every_problem() -> None:
    """All problems appear in the message, one per line."""
    exc = ConfigError("Two problems:", problems=["a.b: bad", "c: missing"])
    assert str(exc) == "Two problems:\n  - a.b: bad\n  - c: missing"
    assert exc.problems == ["a.b: bad", "c: missing"]


def test_row_issue_describes_row_column_value_and_fix() -> None:
    """A row issue reads like a sentence a person can act on."""
    issue = RowIssue(
        row=7,
        column="Order ID (A)",
        value="1.23E+11",
        message="lost digits",
        hint="format the column as Text",
    )
    assert issue.describe() == (
        "row 7, column 'Order ID (A)': lost digits (value '1.23E+11') — format the column as Text"
    )
