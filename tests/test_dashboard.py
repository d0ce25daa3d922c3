"""The dashboard's guards and actions through Flask's test client (no browser).

Over a journal made by a real demo run (tests/dashboard_support.py): CSRF, the host and
password rules, path traversal, no token served, escaping of customer-typed text, and
the actions' idempotence, logging and lock. The pages in a real browser are in
tests/test_dashboard_browser.py.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from markupsafe import escape

from filebridge.dashboard import PASSWORD_ENV, create_app, password_for
from filebridge.errors import ConfigError
from filebridge.locking import single_instance
from filebridge.log import close_logging, setup_logging
from tests.dashboard_support import (
    HOSTILE_FILE,
    HOSTILE_NAME,
    HOSTILE_STATE,
    DemoSite,
    demo_site,
)

NETWORK_HOST = "0.0.0.0"  # noqa: S104 (the host the rule is about)
PAGES = ["/", "/exports", "/inbox", "/order?id=15005", "/log"]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoSite]:
    built = demo_site(tmp_path_factory.mktemp("dash"))
    setup_logging(log_file=built.settings.log_path, console=False)
    yield built
    close_logging()
    built.box.stop()


@pytest.fixture
def client(site: DemoSite) -> FlaskClient:
    return create_app(site.settings).test_client()


def csrf_of(client: FlaskClient, page: str = "/inbox") -> tuple[str, str]:
    html = client.get(page).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    nonce = re.search(r'name="nonce" value="([^"]+)"', html)
    assert token, "the page has no action form"
    assert nonce, "the page has no action form"
    return token.group(1), nonce.group(1)


def failed_names(site: DemoSite) -> list[str]:
    return sorted(p.name for p in site.settings.folders.failed.iterdir() if p.is_file())


# --- CSRF and idempotence -----------------------------------------------------------


def test_a_post_without_the_csrf_token_is_refused_and_moves_nothing(
    site: DemoSite, client: FlaskClient
) -> None:
    name = failed_names(site)[0]
    before = failed_names(site)
    _, nonce = csrf_of(client)
    url = f"/failed/{name}/dealt-with"
    assert client.post(url, data={"nonce": nonce}).status_code == 403
    wrong = {"csrf_token": "x" * 43, "nonce": nonce}
    assert client.post(url, data=wrong).status_code == 403
    assert failed_names(site) == before
    assert "without a valid CSRF token" in site.settings.log_path.read_text("utf-8")


def test_a_post_from_another_origin_is_refused(
    site: DemoSite, client: FlaskClient
) -> None:
    token, nonce = csrf_of(client)
    name = failed_names(site)[0]
    reply = client.post(
        f"/failed/{name}/dealt-with",
        data={"csrf_token": token, "nonce": nonce},
        headers={"Origin": "http://evil.example"},
    )
    assert reply.status_code == 403
    assert name in failed_names(site)


def test_a_token_of_another_dashboard_process_is_refused(site: DemoSite) -> None:
    """The CSRF token is per process: a page of one dashboard cannot post to another."""
    token, nonce = csrf_of(create_app(site.settings).test_client())
    name = failed_names(site)[0]
    other = create_app(site.settings).test_client()
    reply = other.post(
        f"/failed/{name}/dealt-with", data={"csrf_token": token, "nonce": nonce}
    )
    assert reply.status_code == 403


def test_mark_dealt_with_moves_the_file_once_and_logs_it(
    site: DemoSite, client: FlaskClient
) -> None:
    failed = site.settings.folders.failed
    (failed / "extra.csv").write_text("order_id,error\n1,x\n", encoding="utf-8")
    (failed / "extra.csv.error.txt").write_text("why\n", encoding="utf-8")
    token, nonce = csrf_of(client)
    form = {"csrf_token": token, "nonce": nonce}
    first = client.post("/failed/extra.csv/dealt-with", data=form)
    assert first.status_code == 303
    done = failed / "dealt-with"
    assert sorted(p.name for p in done.iterdir()) == [
        "extra.csv",
        "extra.csv.error.txt",
    ]
    assert not (failed / "extra.csv").exists()
    page = client.get("/inbox").get_data(as_text=True)
    assert "extra.csv moved to failed/dealt-with/" in page
    again = client.post("/failed/extra.csv/dealt-with", data=form)
    assert again.status_code == 303
    assert "Already done" in client.get("/inbox").get_data(as_text=True)
    token, nonce = csrf_of(client)
    client.post(
        "/failed/extra.csv/dealt-with", data={"csrf_token": token, "nonce": nonce}
    )
    assert "already marked as dealt with" in client.get("/inbox").get_data(as_text=True)
    assert sorted(p.name for p in done.iterdir()) == [
        "extra.csv",
        "extra.csv.error.txt",
    ]
    log = site.settings.log_path.read_text(encoding="utf-8")
    assert log.count("dashboard: marked extra.csv as dealt with") == 1


def test_reexport_waits_for_no_one_when_another_run_holds_the_lock(
    site: DemoSite, client: FlaskClient
) -> None:
    """The re-export takes the state folder's lock like `filebridge export` does."""
    batches = site.one("SELECT count(*) FROM export_batches")
    token, nonce = csrf_of(client, "/order?id=15005")
    with single_instance(site.settings.lock_path):
        reply = client.post(
            "/order/15005/reexport", data={"csrf_token": token, "nonce": nonce}
        )
    assert reply.status_code == 303
    page = client.get("/order?id=15005").get_data(as_text=True)
    assert f"Another filebridge run (pid {os.getpid()}, since " in page
    assert site.one("SELECT count(*) FROM export_batches") == batches
    assert "re-export of order 15005 refused" in site.settings.log_path.read_text(
        "utf-8"
    )


def test_reexport_writes_one_file_even_when_the_form_is_sent_twice(
    site: DemoSite, client: FlaskClient
) -> None:
    before = {p.name for p in site.settings.folders.outbox.iterdir()}
    token, nonce = csrf_of(client, "/order?id=15005")
    form = {"csrf_token": token, "nonce": nonce}
    assert client.post("/order/15005/reexport", data=form).status_code == 303
    assert client.post("/order/15005/reexport", data=form).status_code == 303
    new = {p.name for p in site.settings.folders.outbox.iterdir()} - before
    assert len(new) == 1
    assert site.sql(
        "SELECT b.reexport FROM export_batches b JOIN batch_orders o "
        "ON o.batch_id = b.id WHERE o.order_id = 15005 AND b.file_name = ?",
        (next(iter(new)),),
    ) == [(1,)]


# --- host and password ----------------------------------------------------------------


def test_a_non_loopback_host_needs_a_password() -> None:
    with pytest.raises(ConfigError, match="has no password"):
        password_for(NETWORK_HOST, {})
    assert password_for("127.0.0.1", {}) is None
    assert password_for(NETWORK_HOST, {PASSWORD_ENV: "s3cret"}) == "s3cret"


def test_with_a_password_every_page_asks_for_it(site: DemoSite) -> None:
    guarded = create_app(site.settings, password="s3cret").test_client()
    for page in [*PAGES, "/static/dashboard.css"]:
        assert guarded.get(page).status_code == 401, page
    bad = {"Authorization": "Basic " + _b64("admin:nope")}
    assert guarded.get("/", headers=bad).status_code == 401
    good = {"Authorization": "Basic " + _b64("admin:s3cret")}
    assert guarded.get("/", headers=good).status_code == 200


def _b64(text: str) -> str:
    import base64

    return base64.b64encode(text.encode()).decode()


def test_without_a_password_only_a_loopback_host_header_is_answered(
    client: FlaskClient,
) -> None:
    """DNS rebinding: a foreign name resolved to 127.0.0.1 gets no page."""
    assert client.get("/", headers={"Host": "evil.example"}).status_code == 400
    assert client.get("/", headers={"Host": "localhost:8766"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8766"}).status_code == 200


def test_the_cli_refuses_a_network_host_without_a_password(site: DemoSite) -> None:
    env = {k: v for k, v in os.environ.items() if k != PASSWORD_ENV}
    done = subprocess.run(
        [
            *(sys.executable, "-m", "filebridge", "dashboard"),
            *("-c", str(site.report.config_path), "--host", NETWORK_HOST),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 3, done.stderr
    assert PASSWORD_ENV in done.stderr


def test_the_cli_says_how_to_install_the_extra_when_flask_is_missing(
    site: DemoSite,
) -> None:
    code = (
        "import sys; sys.modules['flask'] = None; from filebridge.cli import main; "
        f"main(['dashboard', '-c', {str(site.report.config_path)!r}])"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 3, done.stderr
    assert 'pip install "selldone-filebridge[dashboard]"' in done.stderr


# --- nothing outside the folders, no secret -------------------------------------------


TRAVERSALS = [
    "/failed/..%2Ffilebridge.toml",
    "/failed/..%2F..%2Fetc%2Fpasswd",
    "/failed/%2e%2e%2fstate%2ffilebridge.sqlite3",
    "/failed/..%5Cstate%5Cfilebridge.sqlite3",
    "/failed/../state/filebridge.sqlite3",
    "/failed/..",
    "/failed/.",
    "/failed/dealt-with",
    "/failed/..?dealt=1",
    "/failed/..%2F..%2Fstate%2Ffilebridge.log?dealt=1",
    "/exports/0/download",
    "/exports/999/download",
    "/exports/-1/download",
    "/static/..%2F..%2F..%2Ffilebridge.toml",
    "/static/../app.py",
    "/static/%2e%2e/app.py",
]


@pytest.mark.parametrize("url", TRAVERSALS)
def test_no_path_outside_the_folders_is_served(client: FlaskClient, url: str) -> None:
    reply = client.get(url)
    assert reply.status_code in (400, 404, 405), (url, reply.status_code)
    assert b"SQLite format" not in reply.data
    assert b"[selldone]" not in reply.data


def test_a_link_in_failed_is_not_followed(site: DemoSite, client: FlaskClient) -> None:
    link = site.settings.folders.failed / "config-link.csv"
    try:
        link.symlink_to(site.report.config_path)
    except OSError:
        pytest.skip("this system does not allow creating symlinks")
    try:
        assert client.get("/failed/config-link.csv").status_code == 404
        assert "config-link.csv" not in client.get("/inbox").get_data(as_text=True)
    finally:
        link.unlink()


def test_a_traversal_in_an_action_moves_nothing(
    site: DemoSite, client: FlaskClient
) -> None:
    token, nonce = csrf_of(client)
    target = site.report.config_path
    reply = client.post(
        "/failed/..%2Ffilebridge.toml/dealt-with",
        data={"csrf_token": token, "nonce": nonce},
    )
    assert reply.status_code in (303, 404)
    assert target.is_file()
    assert not (site.settings.folders.failed / "dealt-with" / target.name).exists()


def test_the_downloads_are_the_files_in_the_folders(
    site: DemoSite, client: FlaskClient
) -> None:
    name = failed_names(site)[0]
    reply = client.get(f"/failed/{name}")
    assert reply.status_code == 200
    assert reply.data == (site.settings.folders.failed / name).read_bytes()
    assert reply.headers["Content-Disposition"].startswith("attachment")
    assert reply.mimetype == "application/octet-stream"
    first = site.sql("SELECT id, file_name FROM export_batches ORDER BY id")[0]
    reply = client.get(f"/exports/{first[0]}/download")
    assert reply.data == (site.settings.folders.outbox / first[1]).read_bytes()


def test_no_page_or_file_shows_the_token(site: DemoSite, client: FlaskClient) -> None:
    token = site.settings.selldone.token.get_secret_value()
    assert len(token) > 10
    with site.settings.log_path.open("a", encoding="utf-8") as log:
        log.write(f"2026-12-02 08:00:00,000 DEBUG   planted: Bearer {token} {token}\n")
    bodies = [client.get(page).get_data(as_text=True) for page in PAGES]
    bodies += [
        client.get(f"/failed/{n}").get_data(as_text=True) for n in failed_names(site)
    ]
    assert "planted: Bearer ***" in bodies[-len(failed_names(site)) - 1]
    assert all(token not in body for body in bodies)


# --- escaping ---------------------------------------------------------------------------


def test_customer_typed_markup_is_escaped_on_every_page(
    site: DemoSite, client: FlaskClient
) -> None:
    inbox = client.get("/inbox").get_data(as_text=True)
    assert escape(HOSTILE_FILE) in inbox
    assert "<i>bold" not in inbox
    assert "&lt;img src=x onerror=window.pwned=2&gt;" in inbox
    assert HOSTILE_STATE not in inbox
    assert HOSTILE_FILE not in client.get("/").get_data(as_text=True)
    assert "<script>" not in client.get("/log").get_data(as_text=True)


def test_pages_forbid_scripts_and_framing(client: FlaskClient) -> None:
    reply = client.get("/")
    assert "default-src 'none'" in reply.headers["Content-Security-Policy"]
    assert "script-src" not in reply.headers["Content-Security-Policy"]
    assert reply.headers["X-Frame-Options"] == "DENY"
    assert reply.headers["X-Content-Type-Options"] == "nosniff"


def test_the_hostile_name_reaches_the_order_page_only_escaped(
    site: DemoSite, client: FlaskClient
) -> None:
    """After a re-export the order's rows (with the hostile receiver name) are shown."""
    token, nonce = csrf_of(client, f"/order?id={site.hostile_order}")
    client.post(
        f"/order/{site.hostile_order}/reexport",
        data={"csrf_token": token, "nonce": nonce},
    )
    page = client.get(f"/order?id={site.hostile_order}").get_data(as_text=True)
    assert "&lt;script&gt;window.pwned=1&lt;/script&gt;Eve" in page
    assert "<script>" not in page
    assert HOSTILE_NAME not in page


def test_an_order_id_that_is_not_a_number_is_explained(client: FlaskClient) -> None:
    page = client.get("/order?id=<script>").get_data(as_text=True)
    assert "An order id is a number" in page
    assert 'value="&lt;script&gt;"' in page


def test_an_unknown_order_is_said_to_be_unknown(client: FlaskClient) -> None:
    page = client.get("/order?id=424242").get_data(as_text=True)
    assert "has no record of order 424242" in page


def test_the_packaged_files_exist() -> None:
    """Templates and the stylesheet ship in the package (package-data)."""
    root = Path(__file__).parents[1] / "filebridge" / "dashboard"
    names = {p.name for p in (root / "templates").glob("*.html")}
    assert names == {"base.html", "health.html", "exports.html", "inbox.html"} | {
        "trouble.html",
        "order.html",
        "log.html",
    }
    assert (root / "static" / "dashboard.css").is_file()


# --- served by `watch` ------------------------------------------------------------------


def test_watch_serves_the_dashboard_and_runs_its_reexport_under_its_own_lock(
    site: DemoSite, tmp_path: Path
) -> None:
    """`dashboard.port` makes `watch` serve it; a re-export runs in the watcher's loop
    (the watcher holds the lock, so a separate `run_once` could not)."""
    import requests

    config = site.report.config_path
    original = config.read_text(encoding="utf-8")
    config.write_text(original + "\n[dashboard]\nport = 0\n", encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env.update(SELLDONE_TOKEN=site.box.token, PYTHONUNBUFFERED="1")
    out = tmp_path / "watch.out"
    before = {p.name for p in site.settings.folders.outbox.iterdir()}
    with out.open("w") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "filebridge", "watch", "-c", str(config)],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url = wait_for_url(out, proc)
        web = requests.Session()
        html = web.get(url + "order?id=15005", timeout=10).text
        token = re.search(r'name="csrf_token" value="([^"]+)"', html)
        nonce = re.search(r'name="nonce" value="([^"]+)"', html)
        assert token
        assert nonce
        reply = web.post(
            url + "order/15005/reexport",
            data={"csrf_token": token.group(1), "nonce": nonce.group(1)},
            timeout=60,
        )
        assert reply.status_code == 200  # after the redirect to the order page
        new = {p.name for p in site.settings.folders.outbox.iterdir()} - before
        assert len(new) == 1, reply.text
        assert f"re-exported to {next(iter(new))}" in reply.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
        config.write_text(original, encoding="utf-8")
    assert "Stopped cleanly." in out.read_text()


def wait_for_url(out: Path, proc: subprocess.Popen[bytes]) -> str:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = re.search(r"Dashboard on (http://\S+/)", out.read_text())
        if found:
            return found.group(1)
        assert proc.poll() is None, out.read_text()
        time.sleep(0.05)
    pytest.fail(f"watch printed no dashboard URL: {out.read_text()}")


def test_the_cli_serves_with_the_password_until_sigterm(
    site: DemoSite, tmp_path: Path
) -> None:
    import requests

    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env.update({PASSWORD_ENV: "pw-for-test", "PYTHONUNBUFFERED": "1"})
    out = tmp_path / "dashboard.out"
    with out.open("w") as handle:
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "filebridge", "dashboard", "--port", "0"),
                *("-c", str(site.report.config_path)),
            ],
            stdout=handle,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        url = wait_for_url(out, proc)
        assert requests.get(url, timeout=10).status_code == 401
        assert requests.get(url, auth=("x", "wrong"), timeout=10).status_code == 401
        page = requests.get(url + "inbox", auth=("x", "pw-for-test"), timeout=10)
        assert page.status_code == 200
        assert "Rejected rows" in page.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=15) == 0, out.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)
    assert "Stopped cleanly." in out.read_text()


# --- the data module ---------------------------------------------------------------------


def test_health_names_doubtful_steps_and_held_orders(
    site: DemoSite, tmp_path: Path
) -> None:
    """A step sent without an answer and the row waiting behind it turn the verdict."""
    from datetime import UTC, datetime

    from filebridge.dashboard.data import health
    from filebridge.journal import Journal

    copy = tmp_path / "journal.sqlite3"
    copy.write_bytes(site.journal_path.read_bytes())
    with Journal.open(copy) as journal:
        clean = health(site.settings, journal, now=datetime.now(UTC))
        assert clean.doubtful_steps == ()
        assert clean.held_orders == ()
        journal.execute(
            "UPDATE steps SET state = 'sent', finished_at = NULL "
            "WHERE id = (SELECT max(id) FROM steps)"
        )
        (order,) = journal.query(
            "SELECT order_id, file_id, row_number FROM steps "
            "WHERE id = (SELECT max(id) FROM steps)"
        )
        journal.execute(
            "UPDATE inbox_rows SET outcome = 'pending' WHERE file_id = ? "
            "AND row_number = ?",
            (order[1], order[2]),
        )
        staged = health(site.settings, journal, now=datetime.now(UTC))
    assert [s.order_id for s in staged.doubtful_steps] == [order[0]]
    assert staged.held_orders == (order[0],)
    assert staged.verdict == "WARNING"
    assert "1 doubtful API step(s) (sent, no answer yet)" in staged.reasons
    assert "1 order(s) held by pending rows" in staged.reasons


def test_the_budget_chart_counts_calls_per_bucket_and_the_busiest_minute(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime, timedelta

    from filebridge.dashboard.data import api_budget
    from filebridge.journal import Journal

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    with Journal.open(tmp_path / "j.sqlite3") as journal:
        for minutes_ago, n in ((1, 3), (2, 2), (50, 4), (400, 9)):  # 400: too old
            for _ in range(n):
                at = (now - timedelta(minutes=minutes_ago)).isoformat()
                journal.record_api_call("GET", "/x", 200, at)
        chart = api_budget(journal, now=now, hours=6, per_minute_limit=80)
    assert chart.total == 9
    assert chart.peak_minute == 4
    counts = [bar.calls for bar in chart.bars]
    assert len(counts) == 24
    assert counts[-1] == 5  # 11:45-12:00
    assert counts[-4] == 4  # 11:00-11:15 holds 11:10
    assert sum(counts) == 9
    tallest = max(chart.bars, key=lambda bar: bar.height)
    assert tallest.calls == 5
    assert tallest.y + tallest.height == chart.height


def test_times_are_shown_in_the_machines_zone(monkeypatch: pytest.MonkeyPatch) -> None:
    import time as clock

    from filebridge.dashboard.data import local_time

    if not hasattr(clock, "tzset"):
        pytest.skip("time.tzset is POSIX only")
    monkeypatch.setenv("TZ", "Europe/Berlin")
    clock.tzset()
    try:
        assert local_time("2026-12-02T06:00:00+00:00") == "2026-12-02 07:00:00"
        assert local_time("2026-07-02T06:00:00.123+00:00") == "2026-07-02 08:00:00"
    finally:
        monkeypatch.undo()  # the previous TZ back, then re-read it
        clock.tzset()


def test_a_journal_that_cannot_be_opened_is_explained_not_a_crash(
    site: DemoSite, tmp_path: Path
) -> None:
    """The state folder is a file (a share gone wrong): the page says so, with a 503."""
    blocked = tmp_path / "state-is-a-file"
    blocked.write_text("not a folder", encoding="utf-8")
    folders = site.settings.folders.model_copy(update={"state": blocked})
    broken = site.settings.model_copy(update={"folders": folders})
    reply = create_app(broken).test_client().get("/")
    assert reply.status_code == 503
    assert "Cannot open the journal" in reply.get_data(as_text=True)
