"""Alerts reach a person: real receivers on loopback (an SMTP server, a JSON webhook),
one alert per incident, one recovery message, and a dead receiver fails nothing
(issue 12, item 5)."""

from __future__ import annotations

import email
import json
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.policy import default as default_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from filebridge.alerts import check_conditions, raise_alerts
from filebridge.config import AlertSettings, load_settings
from filebridge.health import HealthFacts
from filebridge.journal import Journal, runs
from tests.conftest import wait_until
from tests.test_cli import filebridge, site  # noqa: F401 (fixture)


@pytest.fixture(scope="module", autouse=True)
def _apprise_pools() -> None:
    """apprise (2.x) delivers through two process-wide pools, each keeping one idle
    worker for the life of the process (reused, not one per alert). Start them before
    the thread-leak check of each test looks, so it still catches real leaks."""
    from apprise import apprise as core

    for pool in (core.get_coordinator_executor(), core.get_shared_executor()):
        pool.submit(int).result(timeout=5)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Mailbox:
    """aiosmtpd handler: keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=default_policy)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    """A real SMTP server on loopback."""
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, box
    controller.stop()


@pytest.fixture
def webhook() -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """A real HTTP server on loopback that keeps every JSON body posted to it."""
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], received
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def with_alerts(config: Path, *urls: str, extra: str = "") -> None:
    listed = ", ".join(json.dumps(u) for u in urls)
    config.write_text(
        config.read_text(encoding="utf-8") + f"\n[alerts]\nurls = [{listed}]\n{extra}",
        encoding="utf-8",
    )


def mailto(port: int) -> str:
    return (
        f"mailto://127.0.0.1:{port}?from=filebridge@example.com"
        "&to=ops@example.com&mode=insecure"
    )


def test_alerts_test_reaches_a_real_smtp_server_and_a_json_webhook(
    site: Path,  # noqa: F811
    smtp,
    webhook,
) -> None:
    """`filebridge alerts test` delivers one e-mail and one JSON message."""
    smtp_port, mailbox = smtp
    hook_port, received = webhook
    with_alerts(site, mailto(smtp_port), f"json://127.0.0.1:{hook_port}/alerts")
    done = filebridge("alerts", "test", "-c", str(site), token="secret-token-xyz")
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "sent: mailto://127.0.0.1",
        "sent: json://127.0.0.1",
    ]
    assert wait_until(lambda: len(mailbox.messages) == 1)
    mail = mailbox.messages[0]
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"].startswith("filebridge on ")
    assert "test alert (shop " in mail["Subject"]
    assert len(received) == 1
    assert "test alert" in received[0]["title"]
    assert "This is a test message from filebridge" in received[0]["message"]
    for text in (mail.as_string(), json.dumps(received)):
        assert "secret-token-xyz" not in text


def test_a_revoked_token_across_five_runs_alerts_once_then_recovers_once(
    site: Path,  # noqa: F811
    sandbox,
    smtp,
    webhook,
) -> None:
    """One incident, one alert (by mail and webhook); restoring the token, one recovery."""
    smtp_port, mailbox = smtp
    hook_port, received = webhook
    with_alerts(site, mailto(smtp_port), f"json://127.0.0.1:{hook_port}/")
    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 0
    sandbox.faults.revoke_token()
    for _ in range(5):
        assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 4
    assert len(received) == 1, received
    alert = received[0]
    assert "Selldone refused the API token" in alert["title"]
    assert f"(shop {sandbox.shop_id})" in alert["title"]
    assert "What happened: the last run stopped: AuthError" in alert["message"]
    assert "What to do: Create a new token" in alert["message"]
    assert "Machine: " in alert["message"]
    assert wait_until(lambda: len(mailbox.messages) == 1)
    assert "Selldone refused the API token" in mailbox.messages[0]["Subject"]

    sandbox.faults.restore_token()
    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 0
    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 0
    assert len(received) == 2, received
    assert "recovered: Selldone refused the API token" in received[1]["title"]
    assert wait_until(lambda: len(mailbox.messages) == 2)
    everything = json.dumps(received) + "".join(m.as_string() for m in mailbox.messages)
    assert sandbox.token not in everything
    with Journal.open(site.parent / "state" / "filebridge.sqlite3") as journal:
        rows = journal.query("SELECT kind, closed_at, alerted FROM incidents")
    assert [(r["kind"], r["closed_at"] is not None, r["alerted"]) for r in rows] == [
        ("auth", True, 1)
    ]


def test_a_receiver_that_is_down_fails_nothing(site: Path, sandbox) -> None:  # noqa: F811
    """Nobody listens at either URL: the runs keep their own exit codes; the log says so."""
    dead = free_port()
    with_alerts(site, mailto(dead), f"json://127.0.0.1:{dead}/")
    sandbox.faults.revoke_token()
    refused = filebridge("run", "-c", str(site), token=sandbox.token)
    assert refused.returncode == 4
    sandbox.faults.restore_token()
    fine = filebridge("run", "-c", str(site), token=sandbox.token)
    assert fine.returncode == 0, fine.stderr
    log = (site.parent / "state" / "filebridge.log").read_text(encoding="utf-8")
    assert "alert auth could not be delivered to mailto://127.0.0.1" in log
    assert "alert auth could not be delivered to json://127.0.0.1" in log
    assert "alert could not" not in refused.stderr + fine.stderr
    test = filebridge("alerts", "test", "-c", str(site), token=sandbox.token)
    assert test.returncode == 11
    assert "The test alert could not be delivered to mailto://127.0.0.1" in test.stderr


def test_rejected_rows_alert_once_per_run_and_the_quiet_period_holds_back_repeats(
    tmp_path: Path,
) -> None:
    """Notices (rejected rows) alert per run, but not again within `quiet_minutes`."""
    config = tmp_path / "filebridge.toml"
    config.write_text(
        '[selldone]\nshop_id = 7\n[alerts]\nurls = ["json://127.0.0.1:9/"]\n'
        "quiet_minutes = 60\nno_success = false\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    now = datetime.now(UTC)
    with Journal.open(settings.journal_path) as journal:
        sent = []
        for _ in range(2):
            runs.record_run(
                journal,
                command="inbox",
                started_at=now.isoformat(),
                exit_code=1,
                exit_name="done, but rows were rejected or held",
                export_outcome=None,
                inbox_outcome="ok",
                summary="",
                error=None,
                rows_rejected=3,
            )
            sent.append([a.kind for a in raise_alerts(settings, journal, now=now)])
        later = now + timedelta(minutes=61)
        sent.append([a.kind for a in raise_alerts(settings, journal, now=later)])
    assert sent == [["rejected_rows"], [], ["rejected_rows"]]


def test_api_unreachable_alerts_only_after_n_minutes() -> None:
    """A Selldone outage alerts once it lasted `api_unreachable_minutes`."""
    rules = AlertSettings(urls=("json://x/",), api_unreachable_minutes=30)
    now = datetime.now(UTC)

    def kinds(minutes: float) -> list[str]:
        facts = HealthFacts(journal="ok", consecutive_unavailable_minutes=minutes)
        return [c.kind for c in check_conditions(facts, None, None, rules, now)]

    assert kinds(29) == []
    assert kinds(31) == ["api_unreachable"]
