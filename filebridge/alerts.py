"""Alerts that reach a person: one message per incident, one when it clears.

After every recorded run (and every watcher tick) the health facts are turned into the
conditions of `[alerts]` (auth failure, API unreachable for N minutes, held orders older
than N minutes, journal problems, no successful run for N minutes: these are *states*;
rejected rows and failed files are *notices*, one per run that produced them). A state
opens an incident in the journal once and sends one alert; while it holds, later runs
only touch the incident; when it clears, the incident is closed and one "recovered"
message goes out. A new incident of a kind alerted less than `quiet_minutes` ago is
recorded but not sent (a flapping share sends one message, not twenty).

Delivery goes through apprise (its URL format is the contract: `mailto://`, `msteams://`,
`slack://`, `tgram://`, `json://`, …). Each URL is tried on its own; a failure is
logged and never fails the run. The text names the shop, the machine, what happened and
what to do, and passes the log's redaction, so the token never appears.
"""

from __future__ import annotations

import logging
import platform
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from filebridge.config import AlertSettings, Settings
from filebridge.errors import AlertError, AuthError, ConfigError
from filebridge.health import HealthFacts, gather_facts
from filebridge.journal import Journal, runs
from filebridge.log import redact

__all__ = ["Alert", "check_conditions", "deliver", "raise_alerts", "send_test"]

log = logging.getLogger(__name__)

STATES = ("auth", "api_unreachable", "held_orders", "journal", "no_success")
NOTICES = ("rejected_rows", "failed_files")
TITLES = {
    "auth": "Selldone refused the API token",
    "api_unreachable": "Selldone has been unreachable",
    "held_orders": "orders are held behind a doubtful step",
    "journal": "the journal has a problem",
    "no_success": "no run has succeeded lately",
    "rejected_rows": "rows were rejected",
    "failed_files": "inbox files could not be read",
}
ADVICE = {
    "auth": "Create a new token with the link `filebridge auth-url` prints, set it as "
    "SELLDONE_TOKEN (or [selldone] token) and run `filebridge check`. Nothing is lost: "
    "pending work resumes with the next run.",
    "api_unreachable": "Nothing is lost: pending work resumes by itself. If it lasts, "
    "check this machine's internet connection and proxy, and Selldone's status.",
    "held_orders": "filebridge checks these orders again by itself; if they stay held, "
    "look them up with `filebridge order ORDER_ID` and in the Selldone back office.",
    "journal": "Check disk space and the state folder; run `filebridge status`. Do not "
    "delete the journal: it is what prevents double exports and double steps.",
    "no_success": "Look at `filebridge status` and the log file in the state folder; "
    "check that the scheduled task still runs.",
    "rejected_rows": "Open the files in failed/, fix the cells named in the `error` "
    "column and drop them into the inbox again.",
    "failed_files": "Read the .error.txt beside each file in failed/, fix the file and "
    "drop it into the inbox again.",
}


@dataclass(frozen=True)
class Alert:
    """One message: `recovered` messages say an incident cleared."""

    kind: str
    title: str
    body: str


@dataclass(frozen=True)
class Condition:
    kind: str
    what: str  # what happened, for a person


def _enabled(rules: AlertSettings, kind: str) -> bool:
    flag = {
        "auth": rules.auth_failure,
        "api_unreachable": rules.api_unreachable,
        "held_orders": rules.held_orders,
        "journal": rules.journal_problems,
        "no_success": rules.no_success,
        "rejected_rows": rules.rejected_rows,
        "failed_files": rules.failed_files,
    }
    return flag[kind]


def _minutes_since(text: str | None, now: datetime) -> float | None:
    if not text:
        return None
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (now - moment).total_seconds() / 60


def check_conditions(
    facts: HealthFacts,
    last: runs.RunRow | None,
    first_started: str | None,
    rules: AlertSettings,
    now: datetime,
) -> list[Condition]:
    """Which alert conditions hold now (pure: facts in, conditions out)."""
    found: list[Condition] = []
    if last is not None and last.exit_code == AuthError.exit_code:
        found.append(Condition("auth", f"the last run stopped: {last.error}"))
    down = facts.consecutive_unavailable_minutes
    if down is not None and down >= rules.api_unreachable_minutes:
        found.append(
            Condition(
                "api_unreachable",
                f"every run for {down:.0f} min found Selldone unavailable "
                f"(last: {last.error if last else '?'})",
            )
        )
    held = [
        h for h in facts.held_orders if (h.minutes or 0.0) >= rules.held_orders_minutes
    ]
    if held:
        ids = ", ".join(str(h.order_id) for h in held[:10])
        found.append(
            Condition(
                "held_orders",
                f"{len(held)} orders have waited more than "
                f"{rules.held_orders_minutes:g} min behind a step that was sent but "
                f"never answered: {ids}",
            )
        )
    if (
        facts.journal != "ok"
        or facts.migrations_unknown
        or (last is not None and last.exit_code == 10)
    ):
        problem = (
            facts.journal if facts.journal != "ok" else (last.error if last else "")
        )
        found.append(Condition("journal", f"journal: {problem or 'newer schema'}"))
    success_at = facts.last_success.finished_at if facts.last_success else None
    quiet_for = _minutes_since(success_at or first_started, now)
    if quiet_for is not None and quiet_for >= rules.no_success_minutes:
        since = f"since {success_at}" if success_at else "ever"
        found.append(
            Condition(
                "no_success",
                f"no run has succeeded for {quiet_for:.0f} min ({since})",
            )
        )
    if last is not None and last.rows_rejected:
        found.append(
            Condition(
                "rejected_rows",
                f"the run at {last.finished_at} rejected {last.rows_rejected} rows",
            )
        )
    if last is not None and last.files_failed:
        found.append(
            Condition(
                "failed_files",
                f"the run at {last.finished_at} moved {last.files_failed} unreadable "
                "files to failed/",
            )
        )
    return [c for c in found if _enabled(rules, c.kind)]


def raise_alerts(
    settings: Settings, journal: Journal, *, now: datetime | None = None
) -> list[Alert]:
    """Open, touch and close incidents for the current conditions; send what is new.

    Returns the alerts that were due (delivered or not). Does nothing without URLs.
    """
    rules = settings.alerts
    if not rules.urls:
        return []
    moment = now or datetime.now(UTC)
    facts = gather_facts(settings, journal, moment)
    last = runs.last_run(journal)
    first = journal.query_one("SELECT MIN(started_at) FROM runs")
    conditions = check_conditions(
        facts, last, None if first is None else first[0], rules, moment
    )
    due = _settle_incidents(settings, journal, conditions, moment)
    deliver(settings, due)
    return due


def _settle_incidents(
    settings: Settings,
    journal: Journal,
    conditions: Sequence[Condition],
    now: datetime,
) -> list[Alert]:
    rules = settings.alerts
    open_now = runs.open_incidents(journal)
    holding = {c.kind: c for c in conditions}
    due: list[Alert] = []
    with journal.atomic():
        for kind, incident in open_now.items():
            if kind in holding:
                runs.touch_incident(journal, incident.id, holding[kind].what)
                continue
            runs.close_incident(journal, incident.id)
            if incident.alerted:
                due.append(_recovered(settings, incident))
        for condition in conditions:
            if condition.kind in open_now:
                continue
            quiet = _in_quiet_period(journal, condition.kind, rules, now)
            incident_id = runs.open_incident(
                journal, condition.kind, condition.what, alerted=not quiet
            )
            if condition.kind in NOTICES:
                runs.close_incident(journal, incident_id)  # a one-off: nothing clears
            if quiet:
                log.info(
                    "alert %s not sent: one went out less than %g min ago (%s)",
                    condition.kind,
                    rules.quiet_minutes,
                    condition.what,
                )
                continue
            due.append(_opened(settings, condition))
    return due


def _in_quiet_period(
    journal: Journal, kind: str, rules: AlertSettings, now: datetime
) -> bool:
    last = runs.last_alert_at(journal, kind)
    if last is None or rules.quiet_minutes <= 0:
        return False
    moment = datetime.fromisoformat(last)
    return now - moment < timedelta(minutes=rules.quiet_minutes)


def _when(text: str) -> str:
    """An ISO moment from the journal as a person reads it (UTC, to the minute)."""
    return text[:16].replace("T", " ") + " UTC"


def _sentence(text: str) -> str:
    """`text` ending in exactly one full stop (API messages bring their own)."""
    return text.rstrip(". ") + "."


def _where(settings: Settings) -> tuple[str, str]:
    """(the shop, the machine) as the alert names them."""
    return f"shop {settings.selldone.shop_id}", platform.node() or "this machine"


def _opened(settings: Settings, condition: Condition) -> Alert:
    shop, machine = _where(settings)
    title = f"filebridge on {machine}: {TITLES[condition.kind]} ({shop})"
    body = (
        f"What happened: {_sentence(condition.what)}\n"
        f"What to do: {ADVICE[condition.kind]}\n\n"
        f"Shop: {settings.selldone.shop_id} · Machine: {machine} · "
        f"Config: {settings.source or '?'}\n"
        f'Details: filebridge status -c "{settings.source or "filebridge.toml"}" '
        "and the log file in the state folder."
    )
    return Alert(condition.kind, redact(title), redact(body))


def _recovered(settings: Settings, incident: runs.Incident) -> Alert:
    shop, machine = _where(settings)
    title = f"filebridge on {machine}: recovered: {TITLES[incident.kind]} ({shop})"
    body = (
        f"Recovered: the problem that began at {_when(incident.opened_at)} is gone "
        "(as of the last run).\n"
        f"It was: {_sentence(incident.message)}\n\n"
        f"Shop: {settings.selldone.shop_id} · Machine: {machine}"
    )
    return Alert(incident.kind, redact(title), redact(body))


def _safe_url(url: str) -> str:
    """How a URL is named in the log: scheme and host, never a password or token."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '…'}"


def _with_timeouts(url: str, seconds: float) -> str:
    """apprise's connect/read timeouts (`cto`, `rto`) unless the URL sets its own."""
    query = urlsplit(url).query
    extra = [f"{key}={seconds:g}" for key in ("cto", "rto") if f"{key}=" not in query]
    if not extra:
        return url
    return url + ("&" if "?" in url else "?") + "&".join(extra)


def deliver(settings: Settings, alerts: Sequence[Alert]) -> list[str]:
    """Send each alert to each URL; returns the URLs (as logged) that failed.

    Never raises: an alert that cannot be delivered is logged, and the run goes on.
    """
    if not alerts or not settings.alerts.urls:
        return []
    import apprise  # ~0.1 s to import: only when there is something to send

    _route_apprise_logs()
    failed: list[str] = []
    for url in settings.alerts.urls:
        named = _safe_url(url)
        for alert in alerts:
            try:
                # One URL at a time, in this thread: no pool left behind in a watcher.
                sender = apprise.Apprise(asset=apprise.AppriseAsset(async_mode=False))
                if not sender.add(_with_timeouts(url, settings.alerts.timeout_seconds)):
                    log.warning(
                        "alert URL %s is not a valid apprise URL; see [alerts] urls",
                        named,
                    )
                    failed.append(named)
                    break
                sent = bool(sender.notify(title=alert.title, body=alert.body))
            except Exception as exc:  # noqa: BLE001 (an alert must never fail the run)
                log.warning("alert %s to %s failed: %s", alert.kind, named, exc)
                sent = False
            if sent:
                log.info("alert %s sent to %s: %s", alert.kind, named, alert.title)
            else:
                log.warning(
                    "alert %s could not be delivered to %s: %s",
                    alert.kind,
                    named,
                    alert.title,
                )
                failed.append(named)
    return failed


def _route_apprise_logs() -> None:
    """apprise's own warnings go to our log file (redacted), not to the console."""
    ours = logging.getLogger("filebridge")
    theirs = logging.getLogger("apprise")
    theirs.propagate = False
    theirs.setLevel(logging.WARNING)
    for handler in list(theirs.handlers):
        theirs.removeHandler(handler)
    for handler in ours.handlers:
        if isinstance(handler, logging.FileHandler):
            theirs.addHandler(handler)


def send_test(settings: Settings) -> list[str]:
    """`filebridge alerts test`: one test message to every URL; raises if one failed."""
    if not settings.alerts.urls:
        raise ConfigError(
            "No alert URLs are configured.",
            hint='Add [alerts] urls = ["mailto://…", "json://…"] to the config '
            "(apprise URL format), then run `filebridge alerts test` again.",
        )
    shop, machine = _where(settings)
    alert = Alert(
        "test",
        redact(f"filebridge on {machine}: test alert ({shop})"),
        redact(
            "This is a test message from filebridge. Alerts reach you here.\n\n"
            f"Shop: {settings.selldone.shop_id} · Machine: {machine} · "
            f"Config: {settings.source or '?'}"
        ),
    )
    failed = deliver(settings, [alert])
    if failed:
        raise AlertError(
            f"The test alert could not be delivered to {', '.join(failed)}.",
            hint="Check the URL, the receiver and this machine's network; the log "
            "file in the state folder has apprise's reason.",
        )
    return [_safe_url(u) for u in settings.alerts.urls]
