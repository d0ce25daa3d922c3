"""Timestamps in the wire format: ISO-8601 UTC, whole seconds, `.000000Z`."""

from __future__ import annotations

from datetime import UTC, datetime

WIRE_FORMAT = "%Y-%m-%dT%H:%M:%S.000000Z"


def format_timestamp(moment: datetime) -> str:
    """Render like `2024-10-30T09:13:02.000000Z`: whole seconds, as the API examples.

    Truncating to the second is deliberate: many orders then share one `updated_at`
    second, which is exactly what breaks naive `>` sync cursors.
    """
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(WIRE_FORMAT)


def parse_timestamp(text: str) -> datetime:
    """Parse any ISO-8601 text (`Z` or an offset); a naive value is taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def utc_now() -> datetime:
    """The default wall clock of the sandbox."""
    return datetime.now(UTC)
