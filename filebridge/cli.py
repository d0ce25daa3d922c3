"""The `filebridge` command: thin click commands over the use cases; errors become exit codes."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from filebridge import __version__
from filebridge.errors import EXIT_BUG, FilebridgeError

log = logging.getLogger(__name__)

F = TypeVar("F", bound=Callable[..., Any])

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
def cli() -> None:
    """Exchange Selldone orders, statuses and tracking with an ERP through files.

    Start with `filebridge demo` (no setup needed), then `filebridge init DIR`.
    """


@cli.command("auth-url")
@click.option(
    "--lang",
    default=None,
    metavar="CODE",
    help="Language subdomain for the token page, e.g. zh or de.",
)
def auth_url(lang: str | None) -> None:
    """Print the link that creates an ERP token with order read and write scopes."""
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
    from filebridge.sandbox import serve_forever_cli

    serve_forever_cli(
        port=port,
        orders=orders,
        seed=seed,
        rate_per_minute=rate_per_minute,
        token=token,
    )


def main(argv: list[str] | None = None) -> None:
    """Entry point: FilebridgeError → message, hint and its exit code; anything else → 70."""
    try:
        cli.main(args=argv, prog_name="filebridge", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except FilebridgeError as exc:
        from filebridge.log import redact

        click.echo(f"Error: {redact(str(exc))}", err=True)
        if exc.hint:
            click.echo(f"Hint: {redact(exc.hint)}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("Stopped.", err=True)
        sys.exit(130)
    except Exception:
        log.exception("filebridge hit an unexpected error (a bug)")
        click.echo(
            "Error: unexpected failure (a bug). The traceback is in the log file; "
            "please report it.",
            err=True,
        )
        sys.exit(EXIT_BUG)
    sys.exit(0)
