"""The CLI as a person uses it: real processes, real folders, the sandbox over HTTP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from filebridge.locking import single_instance
from tests.conftest import wait_until

REPO = Path(__file__).resolve().parents[1]


def filebridge(
    *args: str, token: str | None = None, cwd: Path | None = None, timeout: float = 90
) -> subprocess.CompletedProcess[str]:
    """Run `python -m filebridge ARGS` as Task Scheduler would: a fresh process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    if token is not None:
        env["SELLDONE_TOKEN"] = token
    return subprocess.run(
        [sys.executable, "-m", "filebridge", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=timeout,
        check=False,
    )


def fresh_paid_orders(sandbox) -> list[dict]:
    """Paid, not rejected orders still in CheckQueue: every state change fits them."""
    return [
        o
        for o in sandbox.orders()
        if o["status"] == "Payed"
        and o["delivery_state"] == "CheckQueue"
        and not o.get("reject")
    ]


def point_at_sandbox(config: Path, sandbox) -> None:
    """What a person does after `init`: set the API URL, shop id and a start date."""
    text = config.read_text(encoding="utf-8")
    text = text.replace(
        'api_url = "https://api.selldone.com"', f'api_url = "{sandbox.url}"'
    )
    text = text.replace("shop_id = 0", f"shop_id = {sandbox.shop_id}")
    text = text.replace('since = "now"', 'since = "2020-01-01"')
    text = text.replace("settle_seconds = 5", "settle_seconds = 0")
    config.write_text(text, encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, sandbox) -> Path:
    """A folder set up with `filebridge init` and pointed at the sandbox."""
    sandbox.options.skip_policy = "error"
    done = filebridge("init", str(tmp_path / "site"), token=None)
    assert done.returncode == 0, done.stderr
    config = tmp_path / "site" / "filebridge.toml"
    point_at_sandbox(config, sandbox)
    return config


def test_new_user_path_init_check_run_status(tmp_path: Path, sandbox) -> None:
    """init → check (fails without token: 3) → check → run → status, with exact exit codes."""
    assert filebridge("init", str(tmp_path / "site"), token=None).returncode == 0
    config = tmp_path / "site" / "filebridge.toml"

    fresh = filebridge("check", "-c", str(config), token=None)
    assert fresh.returncode == 3
    assert "selldone.shop_id: Input should be greater than 0" in fresh.stderr

    point_at_sandbox(config, sandbox)
    no_token = filebridge("check", "-c", str(config), token=None)
    assert no_token.returncode == 3
    assert "[FAIL] API and token: no token" in no_token.stdout
    checked = filebridge("check", "-c", str(config), token=sandbox.token)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "All 10 checks passed." in checked.stdout
    assert "[PASS] clock: within" in checked.stdout

    paid = [
        o for o in sandbox.orders() if o["status"] == "Payed" and not o.get("reject")
    ]
    ran = filebridge("run", "-c", str(config), token=sandbox.token)
    assert ran.returncode == 0, ran.stderr
    assert f"export: exported {len(paid)} orders" in ran.stdout
    outbox = list((tmp_path / "site" / "outbox").glob("*.csv"))
    assert len(outbox) == 1

    again = filebridge("run", "-c", str(config), token=sandbox.token)
    assert again.returncode == 0
    assert "export: no new orders" in again.stdout
    assert len(list((tmp_path / "site" / "outbox").glob("*.csv"))) == 1

    status = filebridge("status", "-c", str(config), token=None)
    assert status.returncode == 0
    assert f"orders exported today (UTC): {len(paid)}" in status.stdout
    assert "last error:         none" in status.stdout


def test_run_with_rejected_rows_exits_1_and_writes_failed_file(
    site: Path, sandbox
) -> None:
    """A file with one bad row: the good row applies, the run exits 1, failed/ has the row."""
    order = fresh_paid_orders(sandbox)[0]
    inbox = site.parent / "inbox"
    (inbox / "status.csv").write_text(
        f"order_id;state\n{order['id']};OrderConfirm\n{order['id']};Shiped\n",
        encoding="utf-8-sig",
    )
    ran = filebridge("inbox", "-c", str(site), token=sandbox.token)
    assert ran.returncode == 1, ran.stdout + ran.stderr
    assert "1 rows applied" in ran.stdout
    assert "1 rejected" in ran.stdout
    assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"
    failed = list((site.parent / "failed").glob("status.failed-*.csv"))
    assert len(failed) == 1
    assert "Shiped" in failed[0].read_text(encoding="utf-8-sig")


def test_second_run_exits_6_and_touches_nothing(site: Path, sandbox) -> None:
    """While a run holds the state folder's lock, another exits 6 and writes nothing."""
    state = site.parent / "state"
    before = {p.name for p in state.iterdir()} if state.exists() else set()
    with single_instance(state / "filebridge.lock"):
        blocked = filebridge("run", "-c", str(site), token=sandbox.token)
    assert blocked.returncode == 6
    assert f"Another filebridge run (pid {os.getpid()}, since " in blocked.stderr
    assert list((site.parent / "outbox").iterdir()) == []
    after = {p.name for p in state.iterdir()}
    # The log file says why it did nothing (issue 12: the log is the record).
    assert after - before <= {"filebridge.lock", "filebridge.pid", "filebridge.log"}
    assert "filebridge.sqlite3" not in after


def test_two_concurrent_runs_exactly_one_works(site: Path, sandbox) -> None:
    """Two `run`s started together on one state folder: one exports, the other exits 6."""
    sandbox.faults.delay_next(1.5, times=3, method="GET")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["SELLDONE_TOKEN"] = sandbox.token
    argv = [sys.executable, "-m", "filebridge", "run", "-c", str(site)]
    first = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    time.sleep(0.2)  # a real scheduler overlap: the second starts while the first works
    second = subprocess.Popen(
        argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    for proc in (first, second):
        proc.communicate(timeout=60)  # waits and closes the pipes
    codes = sorted([first.returncode, second.returncode])
    assert codes == [0, 6]
    assert len(list((site.parent / "outbox").glob("*.csv"))) == 1


def test_token_never_written_anywhere_after_a_failing_run(site: Path, sandbox) -> None:
    """After runs that end in a revoked token, no log, journal, result or failed file holds it."""
    order = fresh_paid_orders(sandbox)[0]
    inbox = site.parent / "inbox"
    (inbox / "a.csv").write_text(
        f"order_id,state,tracking_url\n{order['id']},SentOrder,https://t.example/{order['id']}\n"
        "12,Shiped,nope\n",
        encoding="utf-8",
    )
    assert filebridge("-v", "run", "-c", str(site), token=sandbox.token).returncode == 1
    sandbox.faults.revoke_token()
    (inbox / "b.csv").write_text(
        f"order_id,state\n{order['id']},ToCustomer\n", encoding="utf-8"
    )
    revoked = filebridge("-v", "run", "-c", str(site), token=sandbox.token)
    assert revoked.returncode == 4
    assert sandbox.token not in revoked.stdout + revoked.stderr
    wrong = filebridge("run", "-c", str(site), token="wrong-" + sandbox.token)
    assert wrong.returncode == 4
    assert sandbox.token not in wrong.stdout + wrong.stderr
    written = [p for p in site.parent.rglob("*") if p.is_file() and p != site]
    assert any(p.suffix == ".sqlite3" for p in written)
    assert any(p.name.startswith("filebridge.log") for p in written)
    assert any("failed" in p.parts for p in written)
    for path in written:
        assert sandbox.token.encode() not in path.read_bytes(), path


def test_config_problems_exit_3_with_every_key_named(tmp_path: Path) -> None:
    """A broken config names each bad key at once and exits 3."""
    config = tmp_path / "filebridge.toml"
    config.write_text(
        '[selldone]\napi_url = "ftp://x"\n[inbox]\nsettle = 3\n', encoding="utf-8"
    )
    done = filebridge("run", "-c", str(config), token="any-token")
    assert done.returncode == 3
    assert "selldone.shop_id: missing" in done.stderr
    assert "selldone.api_url:" in done.stderr
    assert "inbox.settle: unknown key" in done.stderr


def test_auth_url_prints_the_scoped_link_with_language() -> None:
    """The token link carries the read and write order scopes, on the language subdomain."""
    done = filebridge("auth-url", "--lang", "zh", token=None)
    assert done.returncode == 0
    assert done.stdout.splitlines()[0] == (
        "https://zh.selldone.com/auth/erp?scopes[]=backoffice:order:read"
        "&scopes[]=backoffice:order:write"
    )


def test_dry_run_changes_nothing(site: Path, sandbox) -> None:
    """`run --dry-run` lists what it would do; no file, no journal record, no write call."""
    order = fresh_paid_orders(sandbox)[0]
    (site.parent / "inbox" / "s.csv").write_text(
        f"order_id,state\n{order['id']},SentOrder\n", encoding="utf-8"
    )
    sandbox.clear_calls()
    done = filebridge("run", "--dry-run", "-c", str(site), token=sandbox.token)
    assert done.returncode == 0, done.stderr
    assert "would export" in done.stdout
    assert "planned calls" in done.stdout
    assert list((site.parent / "outbox").iterdir()) == []
    assert (site.parent / "inbox" / "s.csv").exists()
    assert all(c.method == "GET" for c in sandbox.calls())
    assert sandbox.get_order(order["id"])["delivery_state"] == "CheckQueue"


def test_api_outage_mid_inbox_exits_5_and_the_rerun_completes(
    site: Path, sandbox
) -> None:
    """503s on every write: exit 5, rows stay pending; once Selldone is back, exit 0."""
    order = fresh_paid_orders(sandbox)[0]
    (site.parent / "inbox" / "s.csv").write_text(
        f"order_id,state\n{order['id']},PreparingOrder\n", encoding="utf-8"
    )
    assert filebridge("export", "-c", str(site), token=sandbox.token).returncode == 0
    sandbox.faults.fail_next(status=503, times=50, method="POST")
    down = filebridge("inbox", "-c", str(site), token=sandbox.token)
    assert down.returncode == 5, down.stdout + down.stderr
    assert "pending rows resume on the next run" in down.stderr
    assert sandbox.get_order(order["id"])["delivery_state"] == "CheckQueue"
    sandbox.faults.clear()
    back = filebridge("inbox", "-c", str(site), token=sandbox.token)
    assert back.returncode == 0, back.stdout + back.stderr
    assert sandbox.get_order(order["id"])["delivery_state"] == "PreparingOrder"
    posts = [c for c in sandbox.calls() if c.method == "POST" and c.status == 200]
    assert [c.path.rsplit("/", 1)[-1] for c in posts] == ["state", "state"]


def test_ctrl_c_during_run_finishes_the_step_and_exits_130(site: Path, sandbox) -> None:
    """SIGINT mid-inbox: the step in flight completes, exit 130; the rerun does the rest once."""
    orders = fresh_paid_orders(sandbox)[:8]
    rows = "".join(f"{o['id']},SentOrder\n" for o in orders)
    (site.parent / "inbox" / "s.csv").write_text(
        f"order_id,state\n{rows}", encoding="utf-8"
    )
    sandbox.faults.delay_next(0.3, times=100, method="POST")
    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env["SELLDONE_TOKEN"] = sandbox.token
    proc = subprocess.Popen(
        [sys.executable, "-m", "filebridge", "inbox", "-c", str(site)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        moved = lambda: sum(  # noqa: E731
            sandbox.get_order(o["id"])["delivery_state"] != "CheckQueue" for o in orders
        )
        assert wait_until(lambda: moved() >= 1, timeout=30)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert "Stopped cleanly" in err
    assert (
        sum(sandbox.get_order(o["id"])["delivery_state"] == "SentOrder" for o in orders)
        < 8
    )
    sandbox.faults.clear()
    rerun = filebridge("inbox", "-c", str(site), token=sandbox.token)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert all(
        sandbox.get_order(o["id"])["delivery_state"] == "SentOrder" for o in orders
    )
    applied = [
        (c.path, (c.body or {}).get("state"))
        for c in sandbox.calls()
        if c.method == "POST" and c.status == 200
    ]
    assert len(applied) == len(set(applied)) == 8 * 3
