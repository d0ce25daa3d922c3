"""A new user's first hour (issue #13): every message, command and file says the right thing.

Commands run in this process through click's runner (`filebridge.cli.main`, so the exit
codes are the real ones) against the real sandbox over HTTP; files are real files.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from filebridge.cli import main
from filebridge.log import close_logging


@dataclass
class Ran:
    code: int
    out: str
    err: str


def fb(*args: str, token: str | None = None, path: str | None = None) -> Ran:
    """`filebridge ARGS` through click's runner, with the exit code `main` gives."""
    runner = CliRunner()
    env = {"SELLDONE_TOKEN": token or ""}
    if path is not None:
        env["PATH"] = path
    with runner.isolation(env=env) as (out, err, _):
        try:
            main(list(args))
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        else:  # main always exits; reaching here is a bug in main
            code = -1
        finally:
            close_logging()
        return Ran(code, out.getvalue().decode(), err.getvalue().decode())


def set_key(config: Path, key: str, value: str) -> None:
    """Replace the one `key = …` line of the init template."""
    text = config.read_text(encoding="utf-8")
    new, count = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {value}  ", text)
    assert count == 1, f"the init template has {count} `{key} =` lines"
    config.write_text(new, encoding="utf-8")


@pytest.fixture
def site(tmp_path: Path, sandbox: Any) -> Path:
    """`filebridge init --shop-id`, pointed at the sandbox, settle 0."""
    done = fb(
        "init",
        str(tmp_path / "site"),
        "--shop-id",
        str(sandbox.shop_id),
        "--api-url",
        sandbox.url,
    )
    assert done.code == 0, done.out + done.err
    config = tmp_path / "site" / "filebridge.toml"
    set_key(config, "settle_seconds", "0")
    return config


# --- 2: configured folders that do not exist ----------------------------------------


def test_run_stops_with_3_on_a_mistyped_outbox_and_creates_nothing(
    site: Path, sandbox: Any
) -> None:
    """A mistyped outbox stops run (exit 3, key named), creates no folder, sends nothing."""
    set_key(site, "outbox", '"outbx"')
    sandbox.clear_calls()
    ran = fb("run", "-c", str(site), token=sandbox.token)
    assert ran.code == 3, ran.out + ran.err
    assert "folders.outbox" in ran.err
    assert "outbx does not exist" in ran.err
    assert "check --create" in ran.err
    assert not (site.parent / "outbx").exists()
    assert sandbox.calls() == []
    log = (site.parent / "state" / "filebridge.log").read_text(encoding="utf-8")
    assert "folders.outbox" in log


def test_watch_and_export_stop_on_a_missing_state_folder_without_creating_it(
    site: Path, sandbox: Any
) -> None:
    """A missing state folder stops watch and export with 3; no log file makes it exist."""
    set_key(site, "state", '"stat"')
    for command in ("watch", "export", "inbox"):
        ran = fb(command, "-c", str(site), token=sandbox.token)
        assert ran.code == 3, (command, ran.out, ran.err)
        assert "folders.state" in ran.err
    assert not (site.parent / "stat").exists()


def test_check_create_makes_the_missing_folders_then_run_works(
    site: Path, sandbox: Any
) -> None:
    """`check` fails on a missing folder; `check --create` creates it; run then exits 0."""
    set_key(site, "inbox", '"erp/inbox"')
    checked = fb("check", "-c", str(site), token=sandbox.token)
    assert checked.code == 3
    assert "folders.inbox" in checked.out
    assert "check --create" in checked.out
    created = fb("check", "--create", "-c", str(site), token=sandbox.token)
    assert created.code == 0, created.out + created.err
    assert (site.parent / "erp" / "inbox").is_dir()
    assert f"Created {site.parent / 'erp' / 'inbox'}" in created.out
    ran = fb("run", "-c", str(site), token=sandbox.token)
    assert ran.code == 0, ran.out + ran.err


# --- 1: export.since after the first run; export --since DATE ------------------------


def exportable(sandbox: Any) -> list[dict[str, Any]]:
    """What the export sends: Payed, PHYSICAL, not rejected."""
    return [
        o
        for o in sandbox.orders()
        if o["status"] == "Payed"
        and o.get("type", "PHYSICAL") == "PHYSICAL"
        and not o.get("reject")
    ]


def test_changed_since_is_logged_and_checked_and_export_since_exports_history_once(
    site: Path, sandbox: Any
) -> None:
    """since=now exports nothing; a later since is a NOTE in check and one log line;
    `export --since` exports the history once, a second time nothing."""
    first = fb("run", "-c", str(site), token=sandbox.token)
    assert first.code == 0, first.err
    assert "export: no new orders" in first.out

    set_key(site, "since", '"2020-01-01"')
    again = fb("run", "-c", str(site), token=sandbox.token)
    assert "export: no new orders" in again.out
    fb("run", "-c", str(site), token=sandbox.token)
    log = (site.parent / "state" / "filebridge.log").read_text(encoding="utf-8")
    assert log.count("export.since = '2020-01-01' no longer changes anything") == 1
    assert "export --since 2020-01-01" in log

    checked = fb("check", "-c", str(site), token=sandbox.token)
    assert checked.code == 0, checked.out + checked.err
    assert "[NOTE] export.since: export.since = '2020-01-01'" in checked.out
    assert "the first export used 'now'" in checked.out
    assert "neither re-exports nor skips" in checked.out

    history = fb(
        "export", "--since", "2020-01-01", "-c", str(site), token=sandbox.token
    )
    assert history.code == 0, history.err
    assert f"export: exported {len(exportable(sandbox))} orders" in history.out
    twice = fb("export", "--since", "2020-01-01", "-c", str(site), token=sandbox.token)
    assert "export: no new orders" in twice.out
    files = list((site.parent / "outbox").glob("*.csv"))
    assert len(files) == 1


def test_export_since_refuses_a_non_date() -> None:
    """`--since yesterday` is refused with the config exit code and an example."""
    ran = fb("export", "--since", "yesterday", "-c", "nowhere.toml")
    assert ran.code == 3
    assert "--since 'yesterday' is not a date" in ran.err


# --- 3: schedule -----------------------------------------------------------------------


def test_schedule_without_the_launcher_on_path_runs_python_dash_m(
    site: Path, tmp_path: Path
) -> None:
    """No `filebridge` on PATH: the task runs `"python" -m filebridge run -c …`."""
    empty = tmp_path / "empty-path"
    empty.mkdir()
    ran = fb("schedule", "-c", str(site), path=str(empty))
    assert ran.code == 0, ran.err
    assert f'/TR "\\"{sys.executable}\\" -m filebridge run -c' in ran.out


@pytest.mark.parametrize("every", ["24h", "1440m", "0m"])
def test_schedule_refuses_an_interval_schtasks_cannot_repeat(
    site: Path, every: str
) -> None:
    """--every outside 1–1439 minutes is a usage error (2) naming the range."""
    ran = fb("schedule", "-c", str(site), "--every", every)
    assert ran.code == 2, ran.out + ran.err
    assert "1 … 1439 minutes" in ran.err
    assert "schtasks" not in ran.out
    assert "filebridge check" not in ran.err


def test_schedule_refuses_a_config_that_does_not_exist(tmp_path: Path) -> None:
    """A mistyped -c prints no task but says the file does not exist (3)."""
    ran = fb("schedule", "-c", str(tmp_path / "filebrige.toml"))
    assert ran.code == 3
    assert "does not exist; no task was made" in ran.err
    assert "schtasks" not in ran.out


# --- 4: config typos, init, auth-url ------------------------------------------------


def test_config_typos_get_did_you_mean(site: Path) -> None:
    """A mistyped key in filebridge.toml names the nearest real key, like mappings do."""
    text = site.read_text(encoding="utf-8")
    text = text.replace("since = ", "sinse = ").replace("[folders]", "[folder]")
    site.write_text(text, encoding="utf-8")
    ran = fb("check", "-c", str(site))
    assert ran.code == 3
    assert "export.sinse: unknown key; did you mean since?" in ran.err
    assert "folder: unknown key; did you mean folders?" in ran.err


def test_init_refuses_plain_http_and_writes_nothing(tmp_path: Path) -> None:
    """`init --api-url http://example.com` is refused at once, as check would refuse it."""
    ran = fb("init", str(tmp_path / "site"), "--api-url", "http://example.com")
    assert ran.code == 3
    assert "must be an https:// URL" in ran.err
    assert not (tmp_path / "site" / "filebridge.toml").exists()


def test_init_with_shop_id_asks_only_for_the_token(tmp_path: Path) -> None:
    """With --shop-id the next step names only the token; without it, the shop id too."""
    with_id = fb("init", str(tmp_path / "a"), "--shop-id", "12345")
    assert with_id.code == 0
    assert "put your token in it" in with_id.out
    assert "shop id" not in with_id.out
    without = fb("init", str(tmp_path / "b"))
    assert "put your shop id and token in it" in without.out


@pytest.mark.parametrize("lang", ["de/../evil", "x", "de.evil.com", ""])
def test_auth_url_refuses_a_lang_that_is_no_language_code(lang: str) -> None:
    """`--lang` must be a language code: anything else would build a broken URL."""
    ran = fb("auth-url", "--lang", lang)
    assert ran.code == 2
    assert "is not a language code" in ran.err
    assert "selldone.com" not in ran.out


def test_auth_url_with_a_language_builds_the_subdomain() -> None:
    """`--lang zh` gives the zh.selldone.com token page."""
    ran = fb("auth-url", "--lang", "zh")
    assert ran.code == 0
    assert ran.out.startswith("https://zh.selldone.com/auth/erp?")


# --- 5: a wrong shop id ------------------------------------------------------------


def test_wrong_shop_id_is_named_in_the_hint_and_check_tells_it_from_a_bad_token(
    site: Path, sandbox: Any
) -> None:
    """403 for shop 99999: run's hint names the shop id; check says the token was
    accepted, where a wrong token (401) is said to be the token's fault."""
    set_key(site, "shop_id", "99999")
    ran = fb("run", "-c", str(site), token=sandbox.token)
    assert ran.code == 4
    assert "shop id 99999 is wrong" in ran.err
    assert "99999 may be the wrong shop id" in ran.err

    checked = fb("check", "-c", str(site), token=sandbox.token)
    assert checked.code == 3
    assert "the token was accepted, but shop 99999 refused it (403)" in checked.out

    bad_token = fb("check", "-c", str(site), token="not-the-token")
    assert "the token itself was refused (401)" in bad_token.out
    assert "shop 99999 refused" not in bad_token.out


# --- 6: check counts as export does; the reject skip is logged ----------------------


def test_check_counts_what_export_exports_and_the_reject_skip_is_logged(
    site: Path, sandbox: Any
) -> None:
    """check's count equals the orders run exports; a rejected paid order is named as
    skipped by check and in the log."""
    rejected = [
        o for o in sandbox.orders() if o["status"] == "Payed" and o.get("reject")
    ]
    if not rejected:  # the seed has one; make sure the case is there either way
        target = exportable(sandbox)[0]
        rejected = [sandbox.update_order(target["id"], reject="LackOfInventory")]
    set_key(site, "since", '"2020-01-01"')
    checked = fb("check", "-c", str(site), token=sandbox.token)
    assert checked.code == 0, checked.out + checked.err
    count = len(exportable(sandbox))
    assert f"has {count} exportable order(s) with status Payed" in checked.out
    assert f"({len(rejected)} more are rejected in the shop: export skips them)" in (
        checked.out
    )
    ran = fb("run", "-c", str(site), token=sandbox.token)
    assert f"export: exported {count} orders" in ran.out
    log = (site.parent / "state" / "filebridge.log").read_text(encoding="utf-8")
    for order in rejected:
        assert f"order {order['id']} not exported: it is rejected in the shop" in log


# --- 7, 8: mapping check knows inbound mappings; presets and mapping copy ------------

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize(
    "name",
    [
        str(REPO / "mappings" / "inbox-default.toml"),
        str(REPO / "mappings" / "inbox-example-erp.toml"),
        "inbox-default",
    ],
)
def test_mapping_check_recognises_an_inbound_mapping(name: str) -> None:
    """The shipped inbound mappings check OK as inbound mappings, not as 5 problems."""
    ran = fb("mapping", "check", name)
    assert ran.code == 0, ran.err
    assert "OK, inbound mapping" in ran.out


def test_mapping_check_of_a_broken_export_mapping_points_to_the_field_list(
    tmp_path: Path,
) -> None:
    """An unknown source's hint names a command that really lists the sources."""
    broken = tmp_path / "erp.toml"
    broken.write_text(
        '[dialect]\nformat = "csv"\n\n[[columns]]\nheader = "x"\nsource = "order.idd"\n',
        encoding="utf-8",
    )
    ran = fb("mapping", "check", str(broken))
    assert ran.code == 3
    assert "`filebridge mapping fields` lists every valid source" in ran.err
    fields = fb("mapping", "fields")
    assert "order.id" in fields.out.split()
    assert "receiver.postal" in fields.out.split()


def test_german_inbox_example_is_a_preset_and_mapping_copy_copies_it(
    site: Path, sandbox: Any
) -> None:
    """`inbox.mapping = "example-erp"` works after install; `mapping copy` puts presets
    beside the config for editing and never overwrites."""
    listed = fb("mapping", "list")
    assert '[inbox] mapping = "example-erp"' in listed.out
    assert '[export] mapping = "german-excel"' in listed.out

    text = site.read_text(encoding="utf-8").replace(
        'mapping = "default"          # header aliases',
        'mapping = "example-erp"      # header aliases',
    )
    site.write_text(text, encoding="utf-8")
    checked = fb("check", "-c", str(site), token=sandbox.token)
    assert "[PASS] inbox mapping: example-erp loads" in checked.out

    copied = fb("mapping", "copy", "german-excel", "-c", str(site))
    assert copied.code == 0, copied.err
    target = site.parent / "mappings" / "german-excel.toml"
    packaged = REPO / "filebridge" / "presets" / "german-excel.toml"
    assert target.read_bytes() == packaged.read_bytes()
    assert '[export] mapping = "mappings/german-excel.toml"' in copied.out
    inbound = fb("mapping", "copy", "example-erp", "-c", str(site))
    assert (site.parent / "mappings" / "inbox-example-erp.toml").is_file()
    assert '[inbox] mapping = "mappings/inbox-example-erp.toml"' in inbound.out
    again = fb("mapping", "copy", "german-excel", "-c", str(site))
    assert again.code == 3
    assert "already exists; nothing was copied" in again.err


@pytest.mark.parametrize(
    "example", sorted(p.name for p in (REPO / "mappings").glob("*.toml"))
)
def test_every_example_mapping_is_packaged_identically(example: str) -> None:
    """Each file in mappings/ ships in the package too, byte for byte."""
    packaged = REPO / "filebridge" / "presets" / example
    assert packaged.is_file(), f"{example} is not packaged"
    assert packaged.read_bytes() == (REPO / "mappings" / example).read_bytes()


# --- 9: tracking links from carrier templates ----------------------------------------


def fresh_orders(sandbox: Any) -> list[dict[str, Any]]:
    """Paid, not rejected, still in CheckQueue: every change fits them."""
    return [o for o in exportable(sandbox) if o["delivery_state"] == "CheckQueue"]


def test_carrier_template_fills_a_missing_tracking_url_and_a_row_url_wins(
    site: Path, sandbox: Any
) -> None:
    """carrier DHL + code → the DHL link with the code; a row's own link is kept."""
    first, second = fresh_orders(sandbox)[:2]
    (site.parent / "inbox" / "tracking.csv").write_text(
        "order_id,tracking_code,carrier,tracking_url\n"
        f"{first['id']},00340434161094042557,DHL,\n"
        f"{second['id']},1Z999AA10123456784,UPS,https://erp.example.com/t/1\n",
        encoding="utf-8",
    )
    ran = fb("inbox", "-c", str(site), token=sandbox.token)
    assert ran.code == 0, ran.out + ran.err
    info = sandbox.get_order(first["id"])["delivery_info"]
    assert info["tracking_url"] == (
        "https://www.dhl.com/global-en/home/tracking/tracking-parcel.html"
        "?submit=1&tracking-id=00340434161094042557"
    )
    kept = sandbox.get_order(second["id"])["delivery_info"]
    assert kept["tracking_url"] == "https://erp.example.com/t/1"


def test_own_tracking_url_templates_in_an_inbound_mapping(
    site: Path, sandbox: Any, tmp_path: Path
) -> None:
    """A mapping's own [tracking_urls] entry (matched like headers) builds the link;
    a template without {code} is refused when the mapping is checked."""
    mapping = site.parent / "my-erp.toml"
    mapping.write_text(
        '[tracking_urls]\n"Acme Freight" = "https://acme.example/track/{code}"\n',
        encoding="utf-8",
    )
    text = site.read_text(encoding="utf-8").replace(
        'mapping = "default"          # header aliases',
        'mapping = "my-erp.toml"      # header aliases',
    )
    site.write_text(text, encoding="utf-8")
    order = fresh_orders(sandbox)[0]
    (site.parent / "inbox" / "t.csv").write_text(
        f"order_id,tracking_code,carrier\n{order['id']},AC 12/3,acme-freight\n",
        encoding="utf-8",
    )
    ran = fb("inbox", "-c", str(site), token=sandbox.token)
    assert ran.code == 0, ran.out + ran.err
    info = sandbox.get_order(order["id"])["delivery_info"]
    assert info["tracking_url"] == "https://acme.example/track/AC%2012%2F3"

    bad = tmp_path / "bad.toml"
    bad.write_text('[tracking_urls]\nAcme = "https://acme.example/track"\n', "utf-8")
    checked = fb("mapping", "check", str(bad))
    assert checked.code == 3
    assert "tracking_urls.Acme: must be an https:// link with {code}" in checked.err


# --- 10, 11: result files a person reads; the dry run --------------------------------


def result_file(site: Path, name: str) -> Path:
    found = list((site.parent / "archive").glob(f"*/{name}.result.csv"))
    assert len(found) == 1, found
    return found[0]


def test_result_file_is_written_in_the_inputs_dialect(site: Path, sandbox: Any) -> None:
    """A `;`/cp1252 input gets a `;`/cp1252 result: German Excel opens it in columns."""
    order = fresh_orders(sandbox)[0]
    (site.parent / "inbox" / "status.csv").write_bytes(
        f"Order ID;State;Comment\r\n{order['id']};OrderConfirm;Übergabe\r\n"
        "15020;Storniert;Lösung\r\n".encode("cp1252")
    )
    ran = fb("inbox", "-c", str(site), token=sandbox.token)
    assert ran.code == 1, ran.out + ran.err
    data = result_file(site, "status.csv").read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")  # no UTF-8 BOM: cp1252 as the input
    text = data.decode("cp1252")
    assert text.splitlines()[0] == "row;order_id;outcome;message;calls"
    assert f"2;{order['id']};applied;" in text


def test_result_file_of_a_utf8_comma_input_stays_utf8_with_bom(
    site: Path, sandbox: Any
) -> None:
    """A `,`/UTF-8 input keeps the `,`/UTF-8-BOM result (control for the dialect)."""
    order = fresh_orders(sandbox)[0]
    (site.parent / "inbox" / "s.csv").write_text(
        f"order_id,state\n{order['id']},OrderConfirm\n", encoding="utf-8-sig"
    )
    assert fb("inbox", "-c", str(site), token=sandbox.token).code == 0
    data = result_file(site, "s.csv").read_bytes()
    assert data.startswith(b"\xef\xbb\xbfrow,order_id,outcome,message,calls")


def test_result_file_names_the_order_of_a_rejected_row(
    site: Path, sandbox: Any
) -> None:
    """Rows rejected while reading still show the order id as the person wrote it."""
    order = fresh_orders(sandbox)[0]
    (site.parent / "inbox" / "m.csv").write_text(
        f"order_id,state\n{order['id']},Shiped\n1.50E+04,SentOrder\n",
        encoding="utf-8-sig",
    )
    assert fb("inbox", "-c", str(site), token=sandbox.token).code == 1
    text = result_file(site, "m.csv").read_text(encoding="utf-8-sig")
    assert f"2,{order['id']},rejected," in text
    assert "3,1.50E+04,rejected," in text


def test_dry_run_names_orders_once_per_method_and_counts_only_calls(
    site: Path, sandbox: Any
) -> None:
    """The dry run names a rejected row's order, writes each method once, and does not
    call rejected rows planned calls."""
    first, second = fresh_orders(sandbox)[:2]
    (site.parent / "inbox" / "d.csv").write_text(
        "order_id,state,tracking_code\n"
        f"{first['id']},Shiped,\n{second['id']},Versendet,\n{first['id']},Nope,\n",
        encoding="utf-8-sig",
    )
    ran = fb("inbox", "--dry-run", "-c", str(site), token=sandbox.token)
    assert "inbox (dry run): 0 planned calls, 3 rows or files with no call" in ran.out
    assert f"d.csv row 2: order {first['id']}: rejected:" in ran.out
    assert "order 0" not in ran.out

    (site.parent / "inbox" / "d.csv").write_text(
        f"order_id,state,tracking_code\n{first['id']},SentOrder,00340434161094042557\n",
        encoding="utf-8-sig",
    )
    ran = fb("inbox", "--dry-run", "-c", str(site), token=sandbox.token)
    assert "POST POST" not in ran.out
    assert "PUT PUT" not in ran.out
    assert f"order {first['id']}: POST state OrderConfirm" in ran.out
    assert f"order {first['id']}: PUT tracking (code 00340434161094042557)" in ran.out
    assert "inbox (dry run): 4 planned calls; nothing sent" in ran.out


# --- 12: no suggestion across meanings -----------------------------------------------


@pytest.mark.parametrize("word", ["Storniert", "STORNIERT"])
def test_a_word_of_another_meaning_gets_no_suggestion_but_the_accepted_values(
    site: Path, sandbox: Any, word: str
) -> None:
    """`Storniert` (cancelled) is never suggested as SentOrder; the failed/ file lists
    the accepted values instead."""
    order = fresh_orders(sandbox)[0]
    (site.parent / "inbox" / "c.csv").write_text(
        f"order_id,state\n{order['id']},{word}\n", encoding="utf-8-sig"
    )
    assert fb("inbox", "-c", str(site), token=sandbox.token).code == 1
    failed = next((site.parent / "failed").glob("c.failed-*.csv"))
    text = failed.read_text(encoding="utf-8-sig")
    assert "did you mean" not in text
    assert "unknown state" in text
    assert "use OrderConfirm, PreparingOrder, SentOrder, ToCustomer or Returned" in text
    assert sandbox.get_order(order["id"])["delivery_state"] == "CheckQueue"


def test_a_typo_still_gets_its_spelling_suggested(site: Path, sandbox: Any) -> None:
    """`Shiped` is a typo of `shipped`: that suggestion stays."""
    order = fresh_orders(sandbox)[0]
    (site.parent / "inbox" / "t.csv").write_text(
        f"order_id,state\n{order['id']},Shiped\n", encoding="utf-8-sig"
    )
    fb("inbox", "-c", str(site), token=sandbox.token)
    failed = next((site.parent / "failed").glob("t.failed-*.csv"))
    assert "did you mean shipped?" in failed.read_text(encoding="utf-8-sig")


# --- 13: an empty first sheet; trailing NUL bytes -------------------------------------


def test_an_empty_first_sheet_names_the_sheets_and_inbox_sheet(
    site: Path, sandbox: Any
) -> None:
    """The explanation lists the workbook's sheets and says to set [inbox] sheet; with
    it set, the same workbook is read."""
    from openpyxl import Workbook

    order = fresh_orders(sandbox)[0]
    book = Workbook()
    book.active.title = "Tabelle1"
    data = book.create_sheet("Versand")
    data.append(["order_id", "state"])
    data.append([order["id"], "OrderConfirm"])
    book.save(site.parent / "inbox" / "versand.xlsx")

    assert fb("inbox", "-c", str(site), token=sandbox.token).code == 1
    note = next((site.parent / "failed").glob("versand.xlsx.error*.txt"))
    text = note.read_text(encoding="utf-8-sig")
    assert "sheet 'Tabelle1' (the first sheet) has no rows" in text
    assert "the workbook's sheets are 'Tabelle1', 'Versand'" in text
    assert 'set [inbox] sheet = "Versand"' in text

    text = site.read_text(encoding="utf-8").replace(
        "[inbox]\n", '[inbox]\nsheet = "Versand"\n', 1
    )
    site.write_text(text, encoding="utf-8")
    book.save(site.parent / "inbox" / "versand-2.xlsx")
    assert fb("inbox", "-c", str(site), token=sandbox.token).code == 0
    assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"


def test_a_csv_padded_with_trailing_nul_bytes_is_read(site: Path, sandbox: Any) -> None:
    """Trailing NULs (an ERP writer's padding) are dropped and the rows applied."""
    order = fresh_orders(sandbox)[0]
    (site.parent / "inbox" / "padded.csv").write_bytes(
        f"order_id;state\r\n{order['id']};OrderConfirm\r\n".encode() + b"\x00" * 512
    )
    ran = fb("inbox", "-c", str(site), token=sandbox.token)
    assert ran.code == 0, ran.out + ran.err
    assert sandbox.get_order(order["id"])["delivery_state"] == "OrderConfirm"


def test_nul_bytes_inside_a_csv_are_still_refused(site: Path, sandbox: Any) -> None:
    """Only trailing padding is dropped: a NUL inside the text still means not text."""
    (site.parent / "inbox" / "binary.csv").write_bytes(b"order_id\x00;state\r\n1;x\r\n")
    assert fb("inbox", "-c", str(site), token=sandbox.token).code == 1
    note = next((site.parent / "failed").glob("binary.csv.error*.txt"))
    assert "NUL bytes" in note.read_text(encoding="utf-8-sig")


# --- 14: a busy sandbox port -----------------------------------------------------------


def test_sandbox_on_a_busy_port_says_so_and_suggests_port_0(sandbox: Any) -> None:
    """A second sandbox on a taken port: a plain message with --port 0, exit 2, no
    traceback and no mention of a log file it does not have."""
    port = int(sandbox.url.rsplit(":", 1)[1])
    ran = fb("sandbox", "--port", str(port))
    assert ran.code == 2, ran.out + ran.err
    assert f"port {port} on 127.0.0.1 is already in use" in ran.err
    assert "--port 0" in ran.err
    assert "Traceback" not in ran.err
    assert "log file" not in ran.err


# --- 15: the lock names its holder; watch lines have timestamps; --help -----------------


def test_a_second_run_names_the_lock_holder_pid_and_since_when(
    site: Path, sandbox: Any
) -> None:
    """The already-running message names the holder's pid and start from the pid file."""
    import os

    from filebridge.locking import single_instance

    with single_instance(site.parent / "state" / "filebridge.lock"):
        ran = fb("run", "-c", str(site), token=sandbox.token)
    assert ran.code == 6, ran.out + ran.err
    assert re.search(
        rf"Another filebridge run \(pid {os.getpid()}, since 20\d\d-\d\d-\d\dT[\d:]+",
        ran.err,
    ), ran.err


def test_watch_console_lines_carry_a_timestamp(site: Path, sandbox: Any) -> None:
    """Every line `watch` prints starts with the date and time (it runs for days)."""
    import os
    import signal
    import subprocess
    import threading

    env = {k: v for k, v in os.environ.items() if not k.startswith("SELLDONE_")}
    env.update(
        SELLDONE_TOKEN=sandbox.token,
        PYTHONUNBUFFERED="1",
        PYTHONPATH=str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
    )
    set_key(site, "since", '"2020-01-01"')
    child = subprocess.Popen(
        [sys.executable, "-m", "filebridge", "watch", "-c", str(site)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    guard = threading.Timer(60, child.kill)  # a silent child cannot stall the test
    guard.start()
    try:
        lines = [child.stdout.readline() for _ in range(2)]  # Watching…, export: …
        child.send_signal(signal.SIGTERM)
        rest, _ = child.communicate(timeout=30)
    finally:
        guard.cancel()
        child.kill()
    stamp = r"^20\d\d-\d\d-\d\d \d\d:\d\d:\d\d "
    assert re.match(stamp + "Watching ", lines[0]), lines
    assert re.match(stamp + "export: exported ", lines[1]), lines
    assert re.search(stamp[1:] + "Stopped cleanly", rest), rest


def test_top_level_help_shows_whole_descriptions() -> None:
    """`filebridge --help` lists each command's full first sentence, never `...`."""
    runner = CliRunner()
    from filebridge.cli import cli

    shown = runner.invoke(cli, ["--help"], terminal_width=80)
    commands = shown.output.split("Commands:", 1)[1]
    assert "..." not in commands
    flat = " ".join(commands.split())
    assert "order read and write scopes." in flat
    assert "(for Task Scheduler)." in flat


# --- 16: the docs point to real files and say how long the suite takes ---------------


def test_samples_readme_names_only_files_that_exist() -> None:
    """Every `.md`/`.py` file samples/README.md names is in the project."""
    text = (REPO / "samples" / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`([\w./-]+\.(?:md|py))`", text))
    named |= set(re.findall(r"python ([\w./-]+\.py)", text))
    assert named, "the README names its generator and tests"
    missing = [
        name
        for name in sorted(named)
        if not (REPO / name).is_file() and not (REPO / "samples" / name).is_file()
    ]
    assert missing == []


def test_readme_says_how_long_the_test_suite_takes() -> None:
    """The README's test command says how long the suite runs."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    try_it = text.split("## Try it", 1)[1].split("\n## ", 1)[0]
    after = try_it.split("python -m pytest", 1)[1]
    assert re.search(r"about \w+ minutes", after.split("\n\n", 2)[1])
