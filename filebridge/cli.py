"""The `filebridge` command: thin click commands over the use cases; errors become exit codes."""

from __future__ import annotations

import logging
import re
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from filebridge import __version__
from filebridge.errors import EXIT_BUG, EXIT_INTERRUPTED, ConfigError, FilebridgeError
from filebridge.schedule import DEFAULT_TASK_NAME

if TYPE_CHECKING:  # each command imports its use case when it runs: a fast --version
    from filebridge.config import Settings
    from filebridge.jobs import RunResult
    from filebridge.progress import Progress

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

LANG_CODE = re.compile(r"[a-z]{2,3}")  # the token page's language subdomain, e.g. zh
AUTH_URL_TEMPLATE = "https://{host}/auth/erp?scopes[]=backoffice:order:read&scopes[]=backoffice:order:write"


def config_option(func: F) -> F:
    """`-c/--config FILE`, defaulting to ./filebridge.toml."""
    return click.option(
        "-c",
        "--config",
        "config_path",
        type=click.Path(path_type=Path, dir_okay=False),
        default=Path("filebridge.toml"),
        show_default=True,
        help="The filebridge.toml to use. Relative folders in it resolve against its folder.",
    )(func)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="filebridge")
@click.option(
    "-v",
    "--verbose",
    is_flag=True,
    help="Also show each decision (exported order, applied step) on the console.",
)
@click.pass_context
def cli(ctx: click.Context, verbose: bool) -> None:
    """Exchange Selldone orders, statuses and tracking with an ERP through files.

    Start with `filebridge demo` (no setup needed), then `filebridge init DIR`.
    """
    ctx.obj = {"console_level": "INFO" if verbose else "WARNING"}


@cli.command("demo")
@click.option(
    "--dir",
    "directory",
    type=click.Path(path_type=Path, file_okay=False),
    default="filebridge-demo",
    show_default=True,
    help="Demo folder (re-created on each run; only a folder the demo made is cleared).",
)
def demo(directory: Path) -> None:
    """Export and import against a built-in sandbox shop, then show what happened."""
    from filebridge.demo import run_demo

    run_demo(directory, out=click.echo)


@cli.command("auth-url")
@click.option(
    "--lang",
    default=None,
    metavar="CODE",
    help="Language subdomain for the token page, e.g. zh or de.",
)
def auth_url(lang: str | None) -> None:
    """Print the link that creates an ERP token with order read and write scopes."""
    if lang is not None and not LANG_CODE.fullmatch(lang):
        raise click.BadParameter(
            f"{lang!r} is not a language code; use two or three letters such as de or zh.",
            param_hint="--lang",
        )
    host = f"{lang}.selldone.com" if lang else "selldone.com"
    click.echo(AUTH_URL_TEMPLATE.format(host=host))
    click.echo(
        "Open it while logged in to Selldone, choose your shop, and copy the token and "
        "the shop id shown. Put the token in SELLDONE_TOKEN or [selldone] token."
    )


@cli.command("sandbox")
@click.option(
    "--port", type=int, default=8765, show_default=True, help="0 picks a free port."
)
@click.option(
    "--orders", type=int, default=40, show_default=True, help="Seeded orders."
)
@click.option(
    "--seed", type=int, default=1, show_default=True, help="Seed for the orders."
)
@click.option(
    "--rate-per-minute",
    type=int,
    default=80,
    show_default=True,
    help="The sandbox's per-token rate limit, like the real API's.",
)
@click.option("--token", default=None, help="Use this token instead of a random one.")
def sandbox(
    port: int, orders: int, seed: int, rate_per_minute: int, token: str | None
) -> None:
    """Run the local Selldone sandbox (a fake shop API on 127.0.0.1) until Ctrl-C."""
    import errno

    from filebridge.sandbox import serve_forever_cli

    try:
        serve_forever_cli(
            port=port,
            orders=orders,
            seed=seed,
            rate_per_minute=rate_per_minute,
            token=token,
        )
    except OSError as exc:
        # EADDRINUSE; 10048 is WSAEADDRINUSE, 10013 WSAEACCES (a port Windows reserved).
        if exc.errno not in (errno.EADDRINUSE, 10048, 10013):
            raise
        raise click.BadParameter(
            f"port {port} on 127.0.0.1 is already in use (another sandbox, or another "
            "program); stop it, choose another port, or pass --port 0 for a free one.",
            param_hint="--port",
        ) from exc


def load_config(config_path: Path) -> Settings:
    """Load settings and set up logging (console + rotating file, token redacted)."""
    from filebridge import run_record
    from filebridge.config import load_settings
    from filebridge.log import setup_logging

    context = click.get_current_context(silent=True)
    command = context.command_path.partition(" ")[2] if context is not None else ""
    record = run_record.begin(command or "?", config_path)
    settings = load_settings(config_path)
    root = context.find_root().obj if context is not None else None
    setup_logging(
        console_level=(root or {}).get("console_level", "WARNING"),
        level=settings.log.level,
        # A missing state folder is reported (exit 3), never created by the log file.
        log_file=settings.log_path if settings.folders.state.is_dir() else None,
        max_kb=settings.log.file_max_kb,
        backups=settings.log.file_backups,
        secrets=settings.secrets(),
    )
    record.attach(settings)
    return settings


@cli.command("init")
@click.argument(
    "directory", type=click.Path(path_type=Path, file_okay=False), default=Path()
)
@click.option("--shop-id", type=int, default=0, help="Your Selldone shop id.")
@click.option(
    "--api-url",
    default="https://api.selldone.com",
    show_default=True,
    help="The API (the sandbox prints its own URL).",
)
@click.option("--force", is_flag=True, help="Replace an existing filebridge.toml.")
def init(directory: Path, shop_id: int, api_url: str, force: bool) -> None:
    """Write a commented filebridge.toml and its folders into DIRECTORY."""
    from filebridge.scaffold import init_folder

    config_path = init_folder(
        directory, api_url=api_url, shop_id=shop_id, overwrite=force
    )
    click.echo(f"Wrote {config_path} and the folders beside it.")
    todo = "your token" if shop_id else "your shop id and token"
    click.echo(
        f"Next: put {todo} in it (or set SELLDONE_TOKEN for the token), then run "
        f'filebridge check -c "{config_path}"'
    )


@cli.command("check")
@config_option
@click.option(
    "--create",
    is_flag=True,
    help="Create the configured folders that do not exist yet, then check.",
)
def check(config_path: Path, create: bool) -> None:
    """Check folders, mappings, token and API reachability; exit 3 when anything fails."""
    from filebridge.checks import run_checks
    from filebridge.config import load_settings
    from filebridge.folders import create_folders
    from filebridge.jobs import configured_folders, open_client

    created = (
        create_folders(configured_folders(load_settings(config_path))) if create else []
    )
    settings = load_config(config_path)
    for folder in created:
        log.info("created folder %s (check --create)", folder)
        click.echo(f"Created {folder}")
    click.echo(f"Config: {settings.source}")
    with open_client(settings, require_token=False) as client:
        results = run_checks(settings, client)
    for result in results:
        click.echo(result.line())
    checked = [r for r in results if not r.note]
    failed = [r for r in checked if not r.ok]
    if failed:
        raise ConfigError(
            f"{len(failed)} of {len(checked)} checks failed.",
            hint="Fix the FAIL lines above and run `filebridge check` again.",
        )
    click.echo(f"All {len(checked)} checks passed.")


@cli.command("status")
@config_option
@click.option(
    "--check",
    is_flag=True,
    help="Print only the verdict line and exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN "
    "(for Nagios, Icinga, Zabbix, PRTG).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the same data as JSON.")
def status(config_path: Path, check: bool, as_json: bool) -> None:
    """Show health (OK/WARNING/CRITICAL and why), last runs, pending work and API use."""
    from datetime import UTC, datetime

    from filebridge.config import load_settings
    from filebridge.status import read_full_status

    try:
        settings = load_settings(config_path)
        full = read_full_status(settings, now=datetime.now(UTC))
    except FilebridgeError as exc:
        if not check:
            raise
        click.echo(f"UNKNOWN: {exc}".splitlines()[0])
        sys.exit(3)
    if as_json:
        click.echo(full.as_json())
    elif check:
        click.echo(full.verdict.line())
    else:
        for line in full.lines():
            click.echo(line)
    if check:
        sys.exit(full.verdict.exit_code)


@cli.command("schedule")
@config_option
@click.option(
    "--every", default="5m", show_default=True, help="Interval, e.g. 5m or 1h."
)
@click.option(
    "--task-name", default=DEFAULT_TASK_NAME, show_default=True, help="Task name."
)
@click.option(
    "--xml",
    "xml_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Also write the task definition (IgnoreNew, time limit) to this XML file.",
)
def schedule(
    config_path: Path, every: str, task_name: str, xml_path: Path | None
) -> None:
    """Print the schtasks command that runs `filebridge run` every interval."""
    from filebridge.schedule import make_plan, parse_every, schtasks_command, task_xml

    if not config_path.is_file():
        raise ConfigError(
            f"Config file {config_path.absolute()} does not exist; no task was made.",
            hint="Create one with `filebridge init DIR`, then pass it with -c.",
        )
    try:
        interval = parse_every(every)
    except ConfigError as exc:
        raise click.BadParameter(f"{exc} {exc.hint}", param_hint="--every") from exc
    executable, as_module = _executable()
    plan = make_plan(
        executable=executable,
        config_path=str(config_path.absolute()),
        every=interval,
        task_name=task_name,
        as_module=as_module,
    )
    click.echo(schtasks_command(plan))
    if xml_path is not None:
        xml_path.write_text(task_xml(plan), encoding="utf-16")
        click.echo(
            f"Wrote {xml_path}. Import it with: "
            f'schtasks /Create /XML "{xml_path.absolute()}" /TN "{task_name}"'
        )


def _executable() -> tuple[str, bool]:
    """The installed `filebridge` launcher, or (not on PATH) this Python with -m.

    A frozen build is its own launcher: another `filebridge` on the PATH is not it.
    """
    if getattr(sys, "frozen", False):
        return sys.executable, False
    found = shutil.which("filebridge")
    if found:
        return str(Path(found).absolute()), False
    return sys.executable, True


def _progress() -> Progress:
    """Long work's progress: in the log every 10 s; a live line on a terminal only."""
    from filebridge.progress import Progress

    return Progress(stream=sys.stderr if sys.stderr.isatty() else None)


@cli.command("export")
@config_option
@click.option(
    "--dry-run", is_flag=True, help="Show what would be exported; write nothing."
)
@click.option(
    "--reexport",
    "reexport",
    type=int,
    multiple=True,
    metavar="ORDER_ID",
    help="Export this order again on purpose, in a file of its own (repeatable).",
)
@click.option(
    "--since",
    "since_text",
    default=None,
    metavar="DATE",
    help="Also export older orders: those updated since DATE that were never "
    "exported (each exactly once).",
)
def export(
    config_path: Path,
    dry_run: bool,
    reexport: tuple[int, ...],
    since_text: str | None,
) -> None:
    """Export new paid orders to the outbox (the export half of `run`)."""
    from filebridge.cli_text import export_summary
    from filebridge.jobs import run_once
    from filebridge.outbox import parse_since

    if since_text is not None and reexport:
        raise click.UsageError("use --since or --reexport, not both")
    since = parse_since(since_text) if since_text is not None else None
    settings = load_config(config_path)
    stop = stop_on_signals()
    with _progress() as progress:
        result = run_once(
            settings,
            do_inbox=False,
            dry_run=dry_run,
            reexport=reexport,
            progress=progress.exporting,
            since=since,
            stop=stop,
        )
    if result.export is None:  # do_export=True always yields a result: a bug (exit 70)
        raise RuntimeError("the export did not run although it was asked to")
    click.echo(export_summary(result.export))
    if dry_run and result.export.order_ids:
        ids = ", ".join(str(i) for i in result.export.order_ids)
        click.echo(f"orders: {ids}")


def stop_on_signals() -> threading.Event:
    """Ctrl-C / SIGTERM / Ctrl-Break set the returned event: work stops after the API
    step in flight. A second Ctrl-C interrupts at once (every step is crash-safe)."""
    stop = threading.Event()

    def request_stop(signum: int, _frame: object) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        click.echo(
            "Stopping after the step in flight (Ctrl-C again to abort)…", err=True
        )

    for name in ("SIGINT", "SIGTERM", "SIGBREAK"):  # SIGBREAK: Ctrl-Break on Windows
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), request_stop)
    return stop


def _finish(result: RunResult, stop: threading.Event | None = None) -> None:
    """Exit 5 when Selldone gave out mid-inbox, 1 when rows were rejected, else 0."""
    if result.inbox is not None and result.inbox.unavailable is not None:
        from filebridge import run_record

        hint = "pending rows resume on the next run; nothing was lost."
        click.echo(f"Error: {result.inbox.unavailable}", err=True)
        click.echo(f"Hint: {hint}", err=True)
        record = run_record.current()
        if record is not None:
            record.error, record.hint = result.inbox.unavailable, hint
    if stop is not None and stop.is_set():
        click.echo("Stopped cleanly; the next run resumes the rest.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    if result.exit_code:
        sys.exit(result.exit_code)


@cli.command("run")
@config_option
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
def run(config_path: Path, dry_run: bool) -> None:
    """One pass: export new orders, then drain the inbox (for Task Scheduler)."""
    from filebridge.cli_text import export_summary, inbox_summary, planned_lines
    from filebridge.jobs import run_once

    settings = load_config(config_path)
    stop = stop_on_signals()
    with _progress() as progress:
        result = run_once(
            settings,
            dry_run=dry_run,
            progress=progress.exporting,
            inbox_progress=progress.update,
            stop=stop,
        )
    if result.export is not None:
        click.echo(export_summary(result.export))
    if result.inbox is not None:
        click.echo(inbox_summary(result.inbox))
        for line in planned_lines(result.inbox):
            click.echo(line)
    _finish(result, stop)


@cli.command("inbox")
@config_option
@click.option("--dry-run", is_flag=True, help="Print the planned calls; send nothing.")
def inbox(config_path: Path, dry_run: bool) -> None:
    """Drain the inbox once: validate files and replay them (the inbox half of `run`)."""
    from filebridge.cli_text import inbox_summary, planned_lines
    from filebridge.jobs import run_once

    settings = load_config(config_path)
    stop = stop_on_signals()
    with _progress() as progress:
        result = run_once(
            settings,
            do_export=False,
            dry_run=dry_run,
            stop=stop,
            inbox_progress=progress.update,
        )
    if result.inbox is not None:
        click.echo(inbox_summary(result.inbox))
        for line in planned_lines(result.inbox):
            click.echo(line)
    _finish(result, stop)


@cli.command("watch")
@config_option
@click.option(
    "--dashboard",
    "with_dashboard",
    is_flag=True,
    help="Also serve the dashboard (on dashboard.port, else 8766); it is served "
    "anyway when dashboard.port is set.",
)
def watch(config_path: Path, with_dashboard: bool) -> None:
    """Run until stopped: watch the inbox and export every [export] interval_minutes.

    Ctrl-C or SIGTERM stops it cleanly after the API step in flight.
    """
    from contextlib import nullcontext

    from filebridge.cli_text import export_summary, inbox_summary
    from filebridge.jobs import WatchRequests, run_watch

    settings = load_config(config_path)
    serve = with_dashboard or settings.dashboard.port is not None
    dashboard_server = _dashboard_server_class() if serve else None
    stop = stop_on_signals()
    requests = WatchRequests()
    served: Any = nullcontext()
    if dashboard_server is not None:
        served = dashboard_server(
            settings,
            host=settings.dashboard.host,
            port=_dashboard_port(settings, None),
            reexport=lambda _s, order_id: requests.reexport(order_id, timeout=120.0),
        )
    with served as server:
        if server is not None:
            click.echo(_stamped(f"Dashboard on {server.url}"))
        click.echo(
            _stamped(f"Watching {settings.folders.inbox}; press Ctrl-C to stop.")
        )
        run_watch(
            settings,
            stop=stop,
            on_export=lambda r: (
                click.echo(_stamped(export_summary(r))) if r.orders else None
            ),
            on_pass=lambda r: (
                click.echo(_stamped(inbox_summary(r))) if r.files else None
            ),
            requests=requests,
        )
    click.echo(_stamped("Stopped cleanly."))


def _stamped(line: str) -> str:
    """A watch console line with the local date and time: it runs for days."""
    from datetime import datetime

    return f"{datetime.now().astimezone():%Y-%m-%d %H:%M:%S} {line}"


@cli.command("dashboard")
@config_option
@click.option(
    "--port",
    type=int,
    default=None,
    help="Port to serve on (0 picks a free one); default dashboard.port, else 8766.",
)
@click.option(
    "--host",
    default=None,
    help="Address to serve on (default dashboard.host, i.e. 127.0.0.1); any but "
    "loopback needs FILEBRIDGE_DASHBOARD_PASSWORD.",
)
def dashboard(config_path: Path, port: int | None, host: str | None) -> None:
    """Serve the local dashboard (health, exports, inbox, orders, log) until Ctrl-C."""
    dashboard_server = _dashboard_server_class()
    settings = load_config(config_path)
    stop = stop_on_signals()
    with dashboard_server(
        settings,
        host=host or settings.dashboard.host,
        port=_dashboard_port(settings, port),
    ) as server:
        click.echo(f"Dashboard on {server.url} ; press Ctrl-C to stop.")
        if not server.protected:
            click.echo("Only this machine can open it (loopback).")
        server.wait(stop)
    click.echo("Stopped cleanly.")


def _dashboard_server_class() -> Any:
    """The dashboard's server, or a ConfigError saying how to install its extra."""
    try:
        from filebridge.dashboard import DashboardServer
    except ModuleNotFoundError as exc:
        raise ConfigError(
            f"The dashboard needs {exc.name}, which is not installed.",
            hint='Install the extra: pip install "selldone-filebridge[dashboard]"',
        ) from exc
    return DashboardServer


def _dashboard_port(settings: Settings, port: int | None) -> int:
    if port is not None:
        return port
    return settings.dashboard.port if settings.dashboard.port is not None else 8766


@cli.group("journal")
def journal_group() -> None:
    """Back up, list or restore the journal (the record of what was done)."""


@journal_group.command("restore")
@config_option
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path, dir_okay=False, exists=True),
    default=None,
    help="Restore this file instead of the newest backup in STATE/backups/.",
)
def journal_restore(config_path: Path, source: Path | None) -> None:
    """Put the newest intact backup (or --from FILE) back as the journal."""
    from filebridge.journal import restore_journal
    from filebridge.locking import single_instance

    settings = load_config(config_path)
    with single_instance(settings.lock_path):
        chosen = restore_journal(settings.journal_path, source)
    log.warning("journal restored from %s", chosen)
    click.echo(f"Restored {settings.journal_path} from {chosen}.")
    click.echo("The next run goes on from there; what it finds done, it skips.")


@journal_group.command("backup")
@config_option
def journal_backup(config_path: Path) -> None:
    """Back up the journal now (runs also do it after every pass)."""
    from filebridge.journal import Journal

    settings = load_config(config_path)
    with Journal.open(settings.journal_path) as journal:
        click.echo(f"Backed up to {journal.backup()}.")


@journal_group.command("list")
@config_option
def journal_list(config_path: Path) -> None:
    """List the journal backups, newest first."""
    from filebridge.journal import list_backups

    settings = load_config(config_path)
    found = list_backups(settings.journal_path)
    for backup in found:
        click.echo(f"{backup.written_at:%Y-%m-%d %H:%M:%S} UTC  {backup.path}")
    if not found:
        click.echo("No backups yet (they are written after every run).")


@cli.command("order")
@click.argument("order_id", type=int)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print the story as JSON.")
@click.option(
    "--refresh",
    is_flag=True,
    help="Also read the order's state in the shop now (one API call; writes nothing).",
)
def order(order_id: int, config_path: Path, as_json: bool, refresh: bool) -> None:
    """Show one order's whole story from the journal: exports, inbox rows, API steps."""
    from filebridge.config import load_settings
    from filebridge.errors import StorageError
    from filebridge.journal import Journal
    from filebridge.order_story import read_story

    settings = load_settings(config_path)
    if not settings.journal_path.exists():
        raise StorageError(
            f"There is no journal at {settings.journal_path} yet.",
            hint="Run `filebridge run` first; the journal records every order.",
        )
    with Journal.open(settings.journal_path) as journal:
        story = read_story(journal, order_id)
    if refresh:
        from filebridge.jobs import open_client

        with open_client(settings) as client:
            now = client.get_order(order_id)
        story.shop_now = {
            "delivery_state": now.delivery_state,
            "status": now.status,
            "tracking_code": now.delivery_info.tracking_code
            if now.delivery_info
            else None,
        }
    if as_json:
        click.echo(story.as_json())
    else:
        for line in story.lines():
            click.echo(line)


@cli.group("alerts")
def alerts_group() -> None:
    """Alerts: one message per incident to the [alerts] urls (apprise format)."""


@alerts_group.command("test")
@config_option
def alerts_test(config_path: Path) -> None:
    """Send a test alert to every configured URL; exit 11 if one cannot be reached."""
    from filebridge.alerts import send_test

    settings = load_config(config_path)
    for url in send_test(settings):
        click.echo(f"sent: {url}")


@cli.group("mapping")
def mapping_group() -> None:
    """Check, preview, list or copy mappings (mappings/*.toml and the presets)."""


@mapping_group.command("check")
@click.argument("mapping_file")
def mapping_check(mapping_file: str) -> None:
    """Validate a mapping file or preset name (export or inbound, told apart by its
    keys); exit 3 with the problems if it is wrong."""
    from filebridge.presets import INBOUND, mapping_kind

    kind, name = mapping_kind(mapping_file, Path.cwd())
    if kind is INBOUND:
        from filebridge.inbox import load_inbound_mapping

        inbound = load_inbound_mapping(name, Path.cwd())
        maps = ", ".join(sorted(inbound.value_maps)) or "none"
        click.echo(
            f"{mapping_file}: OK, inbound mapping (for [inbox] mapping): header "
            f"aliases for {len(inbound.aliases)} columns, value maps: {maps}"
        )
        return
    from filebridge.outbox import check_mapping

    spec = check_mapping(name, Path.cwd())
    click.echo(f"{mapping_file}: OK, {len(spec.columns)} columns")


@mapping_group.command("fields")
def mapping_fields() -> None:
    """List every source an export mapping's column may name."""
    from filebridge.outbox import FIELDS

    for name in FIELDS:
        click.echo(name)


@mapping_group.command("list")
def mapping_list() -> None:
    """List the packaged presets, with the config key that takes each."""
    import tomllib

    from filebridge.presets import all_presets

    for preset in all_presets():
        described = tomllib.loads(preset.text()).get("description", "")
        click.echo(
            f"{preset.file_name.removesuffix('.toml'):<20} {preset.kind.config_key} "
            f'= "{preset.name}"  {described}'
        )


@mapping_group.command("copy")
@click.argument("name")
@click.argument("dest", required=False, type=click.Path(path_type=Path), default=None)
@config_option
def mapping_copy(name: str, dest: Path | None, config_path: Path) -> None:
    """Copy preset NAME to DEST (default: mappings/ beside the config) to edit it."""
    from filebridge.presets import copy_preset, find_preset

    preset = find_preset(name)
    folder = config_path.expanduser().absolute().parent
    default = folder / "mappings" / preset.file_name
    target = copy_preset(preset, dest if dest is not None else default)
    shown = target.absolute()
    if shown.is_relative_to(folder):  # else the config names it by its full path
        shown = shown.relative_to(folder)
    click.echo(f"Copied preset {preset.name!r} to {target}.")
    click.echo(
        f'Edit it, then set {preset.kind.config_key} = "{shown.as_posix()}" in '
        f"{config_path} and run `filebridge mapping check {target}`."
    )


@mapping_group.command("preview")
@click.argument("mapping_file")
@config_option
@click.option(
    "--rows",
    "limit",
    type=int,
    default=5,
    show_default=True,
    help="How many rows to show.",
)
def mapping_preview(mapping_file: str, config_path: Path, limit: int) -> None:
    """Show the first rows MAPPING_FILE would produce from the shop's orders."""
    from filebridge.jobs import open_client
    from filebridge.outbox import check_mapping, preview_rows

    settings = load_config(config_path)
    spec = check_mapping(mapping_file, Path.cwd())
    with open_client(settings) as client:
        orders = client.iter_orders(statuses=settings.export.statuses, page_size=50)
        table = preview_rows(spec, orders, limit)
    for row in table:
        click.echo(" | ".join(row))


def _printable_output() -> None:
    """Output redirected on Windows is cp1252: a `→` or a Cyrillic name must not crash.

    A Windows console takes any text, but `filebridge demo > out.txt` or a Task
    Scheduler log gets the ANSI code page; such a character becomes `?` there.
    """
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None and stream.errors == "strict":
            reconfigure(errors="replace")


def _untruncated_short_help(group: click.Group) -> None:
    """List each command with its whole first paragraph in `--help`: click would cut
    it at about 45 characters ("Print the link that creates an ERP token with...")."""
    for command in group.commands.values():
        if command.help and not command.short_help:
            first = command.help.strip().split("\n\n", 1)[0]
            command.short_help = " ".join(first.split())
        if isinstance(command, click.Group):
            _untruncated_short_help(command)


_untruncated_short_help(cli)


def _has_log_file() -> bool:
    """Whether this command set up filebridge's log file (commands with a config do)."""
    import logging.handlers

    return any(
        isinstance(handler, logging.handlers.RotatingFileHandler)
        for handler in logging.getLogger("filebridge").handlers
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: FilebridgeError → message, hint and its exit code; anything else → 70.

    Whatever the outcome, the log file gets the error and the end line (`run_record`).
    """
    _printable_output()
    code, error = _run_cli(argv)
    # Only a command that loaded a config began a record (and imported the module);
    # importing it here for `--version` would cost pydantic's start-up.
    record = sys.modules.get("filebridge.run_record")
    if record is not None:
        record.finish(code, error)
    sys.exit(code)


def _run_cli(argv: list[str] | None) -> tuple[int, BaseException | None]:
    """Run the command; (exit code, the error that ended it, if any)."""
    try:
        cli.main(args=argv, prog_name="filebridge", standalone_mode=False)
    except SystemExit as exc:  # a command's sys.exit(code): an outcome, not an error
        return (exc.code if isinstance(exc.code, int) else 1), None
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        return EXIT_INTERRUPTED, None
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code, None
    except FilebridgeError as exc:
        from filebridge.log import redact

        click.echo(f"Error: {redact(str(exc))}", err=True)
        if exc.hint:
            click.echo(f"Hint: {redact(exc.hint)}", err=True)
        return exc.exit_code, exc
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
        return EXIT_INTERRUPTED, None
    except Exception as exc:
        if _has_log_file():
            log.exception("filebridge hit an unexpected error (a bug)")
            where = "The traceback is in the log file"
        else:  # e.g. `sandbox`, `init`: no config, so no log file to point to
            import traceback

            traceback.print_exc()
            where = "The traceback is above"
        click.echo(
            f"Error: unexpected failure (a bug). {where}; please report it.", err=True
        )
        return EXIT_BUG, exc
    return 0, None
