"""`python -m filebridge.sandbox`: run the Selldone sandbox until Ctrl-C."""

from __future__ import annotations

import argparse

from . import DEFAULT_SHOP_ID, serve_forever_cli


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m filebridge.sandbox",
        description="Run a local Selldone back-office API sandbox with seeded orders.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate-per-minute", type=int, default=80)
    parser.add_argument("--token", default=None, help="default: a random token")
    parser.add_argument("--shop-id", type=int, default=DEFAULT_SHOP_ID)
    args = parser.parse_args(argv)
    serve_forever_cli(
        args.port,
        args.orders,
        args.seed,
        args.rate_per_minute,
        args.token,
        host=args.host,
        shop_id=args.shop_id,
    )


if __name__ == "__main__":
    main()
