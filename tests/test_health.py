"""`status` is a health check: facts, a verdict with reasons, `--check` and `--json`
(issue 12, items 2 and 3)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from filebridge.config import HealthSettings, load_settings
from filebridge.health import CRITICAL, OK, WARNING, gather_facts, judge
from filebridge.journal import Journal, runs
from tests.test_cli import filebridge, site  # noqa: F401 (fixture)


def status(config: Path, *args: str):
    return filebridge("status", "-c", str(config), *args)


def test_status_after_a_failure_then_a_success_shows_the_error_as_past(
    site: Path,  # noqa: F811
    sandbox,
) -> None:
    """The last error keeps its time, and says whether a later run succeeded."""
    assert filebridge("run", "-c", str(site), token="wrong-token").returncode == 4
    failing = status(site)
    assert failing.returncode == 0, failing.stderr
    error_line = next(
        ln for ln in failing.stdout.splitlines() if ln.startswith("last error:")
    )
    assert "AuthError: Selldone rejected the API token" in error_line
    assert "(exit 4) — still current: no run has succeeded since" in error_line
    assert "last successful run: never" in failing.stdout

    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 0
    healed = status(site)
    error_line = next(
        ln for ln in healed.stdout.splitlines() if ln.startswith("last error:")
    )
    assert "AuthError" in error_line
    assert "— past: a later run succeeded at " in error_line
    assert "last successful run: 20" in healed.stdout
    assert "  export: last run " in healed.stdout
    assert "  inbox: last run " in healed.stdout
    assert healed.stdout.startswith("health:             OK")


def test_status_check_exits_0_1_2_3_in_staged_situations(
    site: Path,  # noqa: F811
    sandbox,
) -> None:
    """Monitoring-plugin codes: never ran 3, clean 0, a foreign file 1, revoked token 2."""
    never = status(site, "--check")
    assert (never.returncode, never.stdout.split(":")[0]) == (3, "UNKNOWN")
    assert not (site.parent / "state" / "filebridge.sqlite3").exists()

    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 0
    clean = status(site, "--check")
    assert (clean.returncode, clean.stdout) == (0, "OK: filebridge is working\n")

    (site.parent / "inbox" / "invoice.pdf").write_bytes(b"%PDF-1.4")
    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 0
    foreign = status(site, "--check")
    assert foreign.returncode == 1
    assert foreign.stdout.startswith("WARNING: 1 files in the inbox")
    full = status(site)
    assert "invoice.pdf: unsupported file type .pdf (filebridge reads" in full.stdout

    sandbox.faults.revoke_token()
    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 4
    broken = status(site, "--check")
    assert broken.returncode == 2
    assert broken.stdout.startswith("CRITICAL: the last run failed (")
    assert "exit 4: Selldone token rejected" in broken.stdout


def test_status_check_without_a_readable_config_is_unknown(tmp_path: Path) -> None:
    """A monitor pointed at a missing config learns UNKNOWN (3), not a usage error."""
    done = filebridge("status", "--check", "-c", str(tmp_path / "nope.toml"))
    assert done.returncode == 3
    assert done.stdout.startswith("UNKNOWN: Config file ")


def test_status_json_prints_the_same_data(site: Path, sandbox) -> None:  # noqa: F811
    """`--json` carries the verdict, its reasons and the facts behind them."""
    (site.parent / "inbox" / "old.xls").write_bytes(b"\xd0\xcf\x11\xe0")
    (site.parent / "inbox" / "notes.docx").write_bytes(b"PK")
    assert filebridge("run", "-c", str(site), token=sandbox.token).returncode == 1
    data = json.loads(status(site, "--json").stdout)
    assert data["verdict"]["level"] == "WARNING"
    assert data["verdict"]["exit_code"] == 1
    kinds = [r["kind"] for r in data["verdict"]["reasons"]]
    assert kinds == ["rejected", "ignored_files"]
    assert [f["name"] for f in data["health"]["ignored_files"]] == ["notes.docx"]
    assert data["health"]["files_failed_recent"] == 1  # the .xls went to failed/
    assert data["health"]["last_success"]["exit_code"] == 1
    assert data["health"]["journal"] == "ok"
    assert data["journal"]["orders_exported_today"] > 0


def test_held_orders_and_doubtful_steps_come_from_the_steps_table(
    tmp_path: Path,
) -> None:
    """A step `sent` without an answer is doubtful; its order is held, and old → WARNING."""
    config = tmp_path / "filebridge.toml"
    config.write_text("[selldone]\nshop_id = 1\n", encoding="utf-8")
    settings = load_settings(config)
    now = datetime.now(UTC)
    with Journal.open(settings.journal_path) as journal:
        runs.record_run(
            journal,
            command="run",
            started_at=now.isoformat(),
            exit_code=0,
            exit_name="clean",
            export_outcome="ok",
            inbox_outcome="ok",
            summary="",
            error=None,
        )
        for key, state, minutes in (("a", "sent", 45), ("b", "confirmed", 50)):
            journal.execute(
                "INSERT INTO steps(idempotency_key, order_id, action, state, "
                "planned_at, sent_at) VALUES (?, ?, 'SentOrder', ?, ?, ?)",
                (
                    key,
                    100 if key == "a" else 200,
                    state,
                    now.isoformat(),
                    (now - timedelta(minutes=minutes)).isoformat(),
                ),
            )
        facts = gather_facts(settings, journal, now)
    assert facts.doubtful_steps == 1
    assert [h.order_id for h in facts.held_orders] == [100]
    assert judge(facts, HealthSettings(held_minutes=60)).level == OK
    verdict = judge(facts, HealthSettings(held_minutes=30))
    assert verdict.level == WARNING
    assert [r.kind for r in verdict.reasons] == ["held_orders"]
    assert "1 orders held behind a doubtful step for more than 30 min (100)" in (
        verdict.line()
    )


def test_no_successful_run_for_n_intervals_is_critical(tmp_path: Path) -> None:
    """The staleness threshold is N × the export interval, from `[health]`."""
    config = tmp_path / "filebridge.toml"
    config.write_text(
        "[selldone]\nshop_id = 1\n[export]\ninterval_minutes = 10\n", encoding="utf-8"
    )
    settings = load_settings(config)
    now = datetime.now(UTC)
    with Journal.open(settings.journal_path) as journal:
        runs.record_run(
            journal,
            command="export",
            started_at=now.isoformat(),
            finished_at=(now - timedelta(minutes=35)).isoformat(),
            exit_code=0,
            exit_name="clean",
            export_outcome="ok",
            inbox_outcome=None,
            summary="",
            error=None,
        )
        facts = gather_facts(settings, journal, now)
    assert judge(facts, HealthSettings(stale_after_intervals=4)).level == OK
    stale = judge(facts, HealthSettings(stale_after_intervals=3))
    assert stale.level == CRITICAL
    assert stale.reasons[0].text.startswith(
        "no successful export for more than 30 min (last at "
    )


def test_an_xls_dropped_in_the_inbox_lands_in_failed_with_its_explanation(
    site: Path,  # noqa: F811
    sandbox,
) -> None:
    """`filebridge run` takes an .xls out of the inbox into failed/, says how to fix it."""
    inbox = site.parent / "inbox"
    (inbox / "Lieferung.xls").write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1")
    (inbox / "invoice.pdf").write_bytes(b"%PDF-1.4")
    done = filebridge("run", "-c", str(site), token=sandbox.token)
    assert done.returncode == 1, done.stderr
    assert "1 files unreadable (see failed/)" in done.stdout
    failed = site.parent / "failed"
    assert (failed / "Lieferung.xls").exists()
    text = (failed / "Lieferung.xls.error.txt").read_text(encoding="utf-8-sig")
    assert "Lieferung.xls: this is an old Excel 97-2003 workbook (.xls)" in text
    assert "save it as Excel Workbook (.xlsx) or CSV UTF-8" in text
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["invoice.pdf"]
