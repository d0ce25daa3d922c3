"""Runtime switches for behaviour the API notes mark as unknown ([I]/[?])."""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, field, fields
from typing import Any, Literal

SkipPolicy = Literal["error", "accept"]
SKIP_POLICIES: tuple[str, ...] = ("error", "accept")
SCOPES: tuple[str, ...] = ("read", "write")


@dataclass
class Options:
    """Mutable at runtime (`box.options.skip_policy = "accept"`), checked on assignment.

    skip_policy: "error" answers a skipped or backward state change with an app error;
        "accept" applies any valid target state (the real behaviour is unknown, §5.3).
    app_error_status: the HTTP status that carries `{error: true, ...}` bodies.
    updated_at_inclusive: the `updated_at` list filter keeps orders updated at or
        after the timestamp (`>=`); False makes it strictly after (`>`).
    scopes: what the token may do: {"read", "write"}, or {"read"} for a read-only token.
    latency_seconds: every request is answered this much later (a slow shop or a long
        way over the internet); the request counts against the rate limit on arrival.
    """

    skip_policy: SkipPolicy = "error"
    app_error_status: int = 200
    updated_at_inclusive: bool = True
    scopes: Set[str] = field(default_factory=lambda: frozenset(SCOPES))
    latency_seconds: float = 0.0

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "skip_policy" and value not in SKIP_POLICIES:
            raise ValueError(
                f"skip_policy must be one of {SKIP_POLICIES}, not {value!r}"
            )
        if name == "app_error_status" and (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not 100 <= value <= 599
        ):
            raise ValueError(f"app_error_status must be an HTTP status, not {value!r}")
        if name == "latency_seconds" and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 <= value <= 60
        ):
            raise ValueError(f"latency_seconds must be 0..60 seconds, not {value!r}")
        if name == "scopes":
            value = frozenset(value)
            if not value <= set(SCOPES):
                raise ValueError(
                    f"scopes must be a subset of {SCOPES}, not {sorted(value)}"
                )
        super().__setattr__(name, value)

    def restore(self, other: Options) -> None:
        """Copy every field of `other` into this object, keeping its identity."""
        for item in fields(self):
            setattr(self, item.name, getattr(other, item.name))
