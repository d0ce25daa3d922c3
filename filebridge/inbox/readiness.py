"""Pure rules for which inbox files are complete, judged from successive looks at them.

A file is complete when its size and mtime are unchanged between two looks, it is not
empty, and its age (by mtime, or since we first saw it unchanged when the share's clock
runs ahead) is at least `settle_seconds`. An empty file is taken (to be reported) once it
stayed empty for the grace period. Hidden files, `~$` lock files, `*.tmp`, `*.part`,
extension-less temp names and unsupported types are never candidates.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePath

__all__ = [
    "FileStat",
    "Readiness",
    "ScanMemory",
    "files_ready",
    "ignore_reason",
    "is_stable",
    "observe",
    "sort_out",
]

IGNORED_PREFIXES = (".", "~$")
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial")


@dataclass(frozen=True)
class FileStat:
    """One look at a file: size, mtime (epoch s) and when we first saw it like this."""

    size: int
    mtime: float
    seen_at: float


@dataclass
class ScanMemory:
    """What a long-running watcher keeps between passes."""

    snapshot: dict[str, FileStat] = field(default_factory=dict)
    reported: set[str] = field(default_factory=set)
    swept_claims: set[int] = field(default_factory=set)
    """Open claims whose leftover report temps were already removed by this process."""


@dataclass(frozen=True)
class Readiness:
    """The inbox files sorted out: take `ready` now (in order), `waiting` are not yet.

    `next_check_in` says when the first waiting file may be complete (seconds), for the
    watcher; None when no waiting file has a known time.
    """

    ready: list[str]
    waiting: list[str]
    next_check_in: float | None
    ignored: tuple[tuple[str, str], ...] = ()
    """(name, why) of the files filebridge will never read, for `status`."""


def is_stable(
    now_stat: FileStat,
    before_stat: FileStat | None,
    *,
    now: float,
    settle_seconds: float,
) -> bool:
    """Complete = unchanged since the last look, not empty, and settled long enough.

    The age counts from the older of mtime and "first seen unchanged", so a share whose
    clock runs ahead (mtime in the future) still settles by our own clock.
    """
    if before_stat is None or now_stat.size <= 0:
        return False
    if (now_stat.size, now_stat.mtime) != (before_stat.size, before_stat.mtime):
        return False
    return now - min(now_stat.mtime, before_stat.seen_at) >= settle_seconds


def files_ready(
    snapshot_now: Mapping[str, FileStat],
    snapshot_before: Mapping[str, FileStat],
    *,
    now: float,
    settle_seconds: float,
) -> list[str]:
    """The names that are complete, in arrival order (mtime, then name)."""
    ready = [
        name
        for name, stat in snapshot_now.items()
        if is_stable(
            stat, snapshot_before.get(name), now=now, settle_seconds=settle_seconds
        )
    ]
    return sorted(ready, key=lambda n: (snapshot_now[n].mtime, n))


def ignore_reason(name: str, supported: Iterable[str]) -> str | None:
    """Why an inbox file name is not ours to read (None: it is a candidate)."""
    lower = name.lower()
    if lower.startswith(IGNORED_PREFIXES):
        return "hidden or Excel lock file"
    if lower.endswith(IGNORED_SUFFIXES):
        return "temporary file"
    suffix = PurePath(lower).suffix
    if not suffix:
        return "no extension (an editor's temporary file?)"
    if suffix not in {s.lower() for s in supported}:
        return f"unsupported file type {suffix}"
    return None


def observe(
    raw: Mapping[str, tuple[int, float]],
    before: Mapping[str, FileStat],
    now: float,
) -> dict[str, FileStat]:
    """Turn (size, mtime) looks into FileStats, keeping `seen_at` while unchanged."""
    result: dict[str, FileStat] = {}
    for name, (size, mtime) in raw.items():
        old = before.get(name)
        unchanged = old is not None and (old.size, old.mtime) == (size, mtime)
        result[name] = FileStat(size, mtime, old.seen_at if unchanged and old else now)
    return result


def sort_out(
    looks: Mapping[str, FileStat],
    stable: Sequence[str],
    openable: Sequence[str],
    *,
    now: float,
    settle_seconds: float,
    empty_grace_seconds: float,
) -> Readiness:
    """Sort the latest `looks` into ready and waiting files.

    `stable` are the complete files (`files_ready`), `openable` those of them that could
    be opened just now. A stable file that could not be opened waits for the next rescan
    (no time is known); an empty file is ready once it stayed empty for
    `max(empty_grace_seconds, settle_seconds)`, after the openable ones.
    """
    grace = max(empty_grace_seconds, settle_seconds)
    ready = list(openable)
    waiting: list[str] = []
    due: list[float] = []
    for name, stat in looks.items():
        if name in ready:
            continue
        if name in stable:
            waiting.append(name)  # open in another program: retried at the next rescan
            continue
        since = min(stat.mtime, stat.seen_at)
        if stat.size == 0:
            if now - since >= grace:
                ready.append(name)
            else:
                waiting.append(name)
                due.append(since + grace - now)
            continue
        waiting.append(name)
        due.append(since + settle_seconds - now)
    return Readiness(ready, waiting, max(0.0, min(due)) if due else None)
