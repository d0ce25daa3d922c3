"""Is filebridge healthy? Facts from the journal and the inbox folder, and a verdict.

`gather_facts` reads the journal only (never writes, never calls the API, never lists
a share: the inbox scan of each run keeps what it left alone there); `judge` is pure: facts +
thresholds (`[health]`) → `OK`, `WARNING` or `CRITICAL` with one reason per problem.
`status` prints both; the alerts open an incident per problem kind. `UNKNOWN` means
there is nothing to judge yet (no journal, no recorded run).

Held orders are an input like any other: a step journalled `sent` without an answer
is doubtful (it may or may not have been applied), and its order is held until the
step is reconciled.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from filebridge.config import HealthSettings, Settings
from filebridge.errors import AuthError, FilebridgeError
from filebridge.journal import Journal, runs
from filebridge.journal import inbox as inbox_ledger

__all__ = [
    "CRITICAL",
    "OK",
    "UNKNOWN",
    "WARNING",
    "HealthFacts",
    "Reason",
    "Verdict",
    "gather_facts",
    "judge",
]

OK, WARNING, CRITICAL, UNKNOWN = "OK", "WARNING", "CRITICAL", "UNKNOWN"
CHECK_EXIT = {OK: 0, WARNING: 1, CRITICAL: 2, UNKNOWN: 3}
"""The monitoring-plugin convention (Nagios, Icinga, Zabbix, PRTG)."""
_RANK = {OK: 0, UNKNOWN: 1, WARNING: 2, CRITICAL: 3}
# A run that ended with one of these needs a person: nothing heals by waiting.
_NEEDS_A_PERSON = {3, 4, 7, 8, 9, 10, 70}
_TRANSIENT = {5}


@dataclass(frozen=True)
class RunFacts:
    """One recorded run, as status shows it."""

    command: str
    finished_at: str
    exit_code: int
    exit_name: str
    summary: str
    error: str | None


@dataclass(frozen=True)
class HeldOrder:
    order_id: int
    action: str
    sent_at: str | None
    minutes: float | None


@dataclass(frozen=True)
class IgnoredFile:
    name: str
    why: str


@dataclass
class HealthFacts:
    """What the journal and the inbox folder say, as plain data (`--json` prints it)."""

    journal: str  # ok | missing | the problem
    migrations_unknown: list[str] = field(default_factory=list)
    last_run: RunFacts | None = None
    last_success: RunFacts | None = None
    last_run_by_half: dict[str, RunFacts | None] = field(default_factory=dict)
    last_success_by_half: dict[str, RunFacts | None] = field(default_factory=dict)
    success_age_minutes: dict[str, float | None] = field(default_factory=dict)
    last_error: RunFacts | None = None
    last_error_is_past: bool = False
    files_pending: int = 0
    oldest_pending_minutes: float | None = None
    rows_pending: int = 0
    files_failed_recent: int = 0
    rows_rejected_recent: int = 0
    inbox_scanned_at: str | None = None
    ignored_files: list[IgnoredFile] = field(default_factory=list)
    held_orders: list[HeldOrder] = field(default_factory=list)
    doubtful_steps: int = 0
    api_calls_last_hour: int = 0
    api_budget_per_hour: int = 0
    interval_minutes: float = 5.0
    recent_hours: float = 24.0
    consecutive_unavailable_minutes: float | None = None
    last_run_auth_failed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Reason:
    """One problem: `kind` names it for the alerts, `level` is its severity."""

    kind: str
    level: str
    text: str


@dataclass(frozen=True)
class Verdict:
    level: str
    reasons: list[Reason]

    @property
    def exit_code(self) -> int:
        return CHECK_EXIT[self.level]

    def line(self) -> str:
        if not self.reasons:
            return f"{self.level}: filebridge is working"
        return f"{self.level}: " + "; ".join(r.text for r in self.reasons)


def _moment(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _minutes_since(text: str | None, now: datetime) -> float | None:
    moment = _moment(text)
    return None if moment is None else (now - moment).total_seconds() / 60


def _facts(row: runs.RunRow | None) -> RunFacts | None:
    if row is None:
        return None
    return RunFacts(
        row.command,
        row.finished_at,
        row.exit_code,
        row.exit_name,
        row.summary,
        row.error,
    )


def _count(journal: Journal, sql: str, params: tuple[object, ...] = ()) -> int:
    row = journal.query_one(sql, params)
    return int(row[0]) if row is not None and row[0] is not None else 0


def gather_facts(
    settings: Settings, journal: Journal | None, now: datetime
) -> HealthFacts:
    """Read everything the verdict needs; `journal` None: there is none yet."""
    facts = HealthFacts(
        journal="missing" if journal is None else "ok",
        interval_minutes=settings.export.interval_minutes,
        recent_hours=settings.health.recent_hours,
        api_budget_per_hour=settings.limits.requests_per_minute * 60,
    )
    if journal is None:
        return facts
    try:
        _read_journal(facts, journal, settings.health, now)
    except FilebridgeError as exc:
        facts.journal = str(exc)
    return facts


def _read_journal(
    facts: HealthFacts, journal: Journal, rules: HealthSettings, now: datetime
) -> None:
    check = journal.query_one("PRAGMA quick_check")
    if check is None or str(check[0]) != "ok":
        facts.journal = f"integrity check failed: {check[0] if check else 'no answer'}"
    facts.migrations_unknown = journal.unknown_migrations()
    facts.inbox_scanned_at, ignored = inbox_ledger.ignored_files(journal)
    facts.ignored_files = [IgnoredFile(name, why) for name, why in ignored]
    facts.last_run = _facts(runs.last_run(journal))
    facts.last_success = _facts(runs.last_success(journal))
    for half in runs.HALVES:
        facts.last_run_by_half[half] = _facts(runs.last_run(journal, half))
        success = runs.last_success(journal, half)
        facts.last_success_by_half[half] = _facts(success)
        facts.success_age_minutes[half] = (
            None if success is None else _minutes_since(success.finished_at, now)
        )
    error = runs.last_failure(journal)
    if error is not None:
        facts.last_error = _facts(error)
        success = runs.last_success(journal)
        facts.last_error_is_past = success is not None and success.id > error.id
    recent = (now - timedelta(hours=rules.recent_hours)).isoformat()
    facts.files_pending = _count(
        journal, "SELECT count(*) FROM inbox_files WHERE state = 'claimed'"
    )
    oldest = journal.query_one(
        "SELECT MIN(arrived_at) FROM inbox_files WHERE state = 'claimed'"
    )
    facts.oldest_pending_minutes = _minutes_since(
        None if oldest is None else oldest[0], now
    )
    facts.rows_pending = _count(
        journal,
        "SELECT count(*) FROM inbox_rows r JOIN inbox_files f ON f.id = r.file_id "
        "WHERE f.state = 'claimed' AND r.outcome = 'pending'",
    )
    facts.files_failed_recent = _count(
        journal,
        "SELECT count(*) FROM inbox_files WHERE state = 'failed' AND finished_at >= ?",
        (recent,),
    )
    facts.rows_rejected_recent = _count(
        journal,
        "SELECT count(*) FROM inbox_rows r JOIN inbox_files f ON f.id = r.file_id "
        "WHERE r.outcome = 'rejected' AND f.finished_at >= ?",
        (recent,),
    )
    doubtful = journal.query(
        "SELECT order_id, action, sent_at FROM steps WHERE state = 'sent' ORDER BY id"
    )
    facts.doubtful_steps = len(doubtful)
    seen: set[int] = set()
    for row in doubtful:
        order_id = int(row["order_id"])
        if order_id in seen:
            continue
        seen.add(order_id)
        facts.held_orders.append(
            HeldOrder(
                order_id,
                str(row["action"]),
                row["sent_at"],
                _minutes_since(row["sent_at"], now),
            )
        )
    hour_ago = (now - timedelta(hours=1)).isoformat()
    facts.api_calls_last_hour = _count(
        journal, "SELECT count(*) FROM api_calls WHERE at >= ?", (hour_ago,)
    )
    facts.last_run_auth_failed = (
        facts.last_run is not None and facts.last_run.exit_code == AuthError.exit_code
    )
    facts.consecutive_unavailable_minutes = _unavailable_for(journal, now)


def _unavailable_for(journal: Journal, now: datetime) -> float | None:
    """How long every run has found Selldone unavailable (None: the last one did not)."""
    streak_start: str | None = None
    for row in runs.recent_runs(journal, limit=500):
        if row.exit_code not in _TRANSIENT:
            break
        streak_start = row.started_at
    return _minutes_since(streak_start, now)


def judge(facts: HealthFacts, rules: HealthSettings) -> Verdict:
    """The verdict: the worst level among the reasons (OK when there are none)."""
    reasons: list[Reason] = []
    add = reasons.append
    if facts.journal == "missing":
        add(Reason("journal", UNKNOWN, "no journal yet: filebridge has never run here"))
        return _verdict(reasons)
    if facts.journal != "ok":
        add(Reason("journal", CRITICAL, f"journal problem: {facts.journal}"))
        return _verdict(reasons)
    if facts.migrations_unknown:
        add(
            Reason(
                "journal",
                WARNING,
                "the journal was written by a newer filebridge "
                f"({', '.join(facts.migrations_unknown)}): update this installation",
            )
        )
    if facts.last_run is None:
        add(Reason("no_runs", UNKNOWN, "no run recorded yet"))
    _judge_last_run(facts, add)
    _judge_staleness(facts, rules, add)
    if facts.rows_rejected_recent or facts.files_failed_recent:
        add(
            Reason(
                "rejected",
                WARNING,
                f"{facts.rows_rejected_recent} rows rejected and "
                f"{facts.files_failed_recent} files failed in the last "
                f"{rules.recent_hours:g} h: fix them in failed/",
            )
        )
    old_held = [
        h for h in facts.held_orders if (h.minutes or 0.0) >= rules.held_minutes
    ]
    if old_held:
        ids = ", ".join(str(h.order_id) for h in old_held[:5])
        add(
            Reason(
                "held_orders",
                WARNING,
                f"{len(old_held)} orders held behind a doubtful step for more than "
                f"{rules.held_minutes:g} min ({ids})",
            )
        )
    if (
        facts.oldest_pending_minutes is not None
        and facts.oldest_pending_minutes >= rules.pending_file_minutes
    ):
        add(
            Reason(
                "pending_files",
                WARNING,
                f"{facts.files_pending} inbox files unfinished, the oldest for "
                f"{facts.oldest_pending_minutes:.0f} min",
            )
        )
    if facts.ignored_files:
        add(
            Reason(
                "ignored_files",
                WARNING,
                f"{len(facts.ignored_files)} files in the inbox that filebridge will "
                "never read",
            )
        )
    budget = facts.api_budget_per_hour * rules.budget_warning_percent / 100
    if facts.api_budget_per_hour and facts.api_calls_last_hour > budget:
        add(
            Reason(
                "budget",
                WARNING,
                f"{facts.api_calls_last_hour} API calls in the last hour, "
                f"over {rules.budget_warning_percent:g} % of the budget",
            )
        )
    return _verdict(reasons)


def _judge_last_run(facts: HealthFacts, add: Any) -> None:
    error = facts.last_error
    if error is None or facts.last_error_is_past:
        return
    level = CRITICAL if error.exit_code in _NEEDS_A_PERSON else WARNING
    kind = "auth" if error.exit_code == AuthError.exit_code else "last_run_failed"
    if error.exit_code in _TRANSIENT:
        kind = "api_unreachable"
    add(
        Reason(
            kind,
            level,
            f"the last run failed ({error.finished_at}, exit {error.exit_code}: "
            f"{error.exit_name}) and none succeeded since",
        )
    )


def _judge_staleness(facts: HealthFacts, rules: HealthSettings, add: Any) -> None:
    limit = rules.stale_after_intervals * facts.interval_minutes
    for half in runs.HALVES:
        if facts.last_run_by_half.get(half) is None:
            continue  # this half never runs here (only `export`, say)
        success = facts.last_success_by_half.get(half)
        age = facts.success_age_minutes.get(half)
        if age is None or age > limit:
            when = "never" if success is None else f"last at {success.finished_at}"
            add(
                Reason(
                    "no_success",
                    CRITICAL,
                    f"no successful {half} for more than {limit:g} min ({when})",
                )
            )


def _verdict(reasons: list[Reason]) -> Verdict:
    level = max((r.level for r in reasons), key=_RANK.__getitem__, default=OK)
    return Verdict(level, reasons)
