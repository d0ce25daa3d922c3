"""Serving the dashboard with waitress (pure Python, runs on Windows without a compiler).

Loopback only by default. Any other host exposes the journal's contents to the network,
so it is served only when `FILEBRIDGE_DASHBOARD_PASSWORD` is set; the password then
guards every request (HTTP basic auth). `DashboardServer` runs in a thread of its own so
`watch --dashboard` can show the watcher's state from the same process.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping
from types import TracebackType

from waitress import create_server

from filebridge.config import LOOPBACK_HOSTS, Settings
from filebridge.dashboard.actions import Reexport, run_reexport
from filebridge.dashboard.app import PASSWORD_ENV, create_app
from filebridge.errors import ConfigError

__all__ = ["DEFAULT_PORT", "DashboardServer", "password_for"]

log = logging.getLogger(__name__)

DEFAULT_PORT = 8766
THREADS = 4


def password_for(host: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The password the dashboard must ask for on `host`, or None on loopback without one.

    Raises ConfigError for a non-loopback host without a password: nothing is served.
    """
    env = os.environ if environ is None else environ
    password = env.get(PASSWORD_ENV, "")
    if password:
        return password
    if host in LOOPBACK_HOSTS:
        return None
    raise ConfigError(
        f"The dashboard would be reachable from the network on {host}, "
        "and it has no password.",
        hint=f"Set the environment variable {PASSWORD_ENV} to a password, or serve on "
        "127.0.0.1 (the default) and open it on this machine.",
    )


class DashboardServer:
    """The dashboard served on `host:port` in a background thread until `stop()`."""

    def __init__(
        self,
        settings: Settings,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        environ: Mapping[str, str] | None = None,
        reexport: Reexport = run_reexport,
    ) -> None:
        password = password_for(host, environ)
        app = create_app(settings, password=password, reexport=reexport)
        try:
            self._server = create_server(app, host=host, port=port, threads=THREADS)
        except OSError as exc:
            raise ConfigError(
                f"Cannot serve the dashboard on {host}:{port}: {exc.strerror or exc}.",
                hint="Another program uses that port: choose another with --port.",
            ) from exc
        self.host = host
        self.port = int(self._server.effective_port)
        shown = f"[{host}]" if ":" in host else host
        self.url = f"http://{shown}:{self.port}/"
        self._thread = threading.Thread(
            target=self._run, name=f"dashboard:{self.port}", daemon=True
        )
        self._stopped = False
        self.protected = password is not None

    def start(self) -> DashboardServer:
        self._thread.start()
        log.info(
            "dashboard serving on %s%s",
            self.url,
            " (password required)" if self.protected else " (this machine only)",
        )
        return self

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:  # the sockets were closed by stop()
            if not self._stopped:
                raise

    def stop(self) -> None:
        """Close the listening socket and every connection; join the thread."""
        if self._stopped:
            return
        self._stopped = True
        server = self._server
        logging.getLogger("waitress").setLevel(logging.ERROR)  # closing is not news
        for channel in list(server._map.values()):  # waitress has no public stop
            channel.handle_close()
        server.task_dispatcher.shutdown()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        log.info("dashboard stopped")

    def wait(self, stop: threading.Event) -> None:
        """Serve until `stop` is set (a timed wait, so Ctrl-C is seen on Windows)."""
        while not stop.wait(0.5):
            if not self._thread.is_alive():
                break

    def __enter__(self) -> DashboardServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
