"""The dashboard's web app (Flask): five read-only pages, three actions, and its guards.

Guards, each on every request: the password (HTTP basic auth) when one is set; without
one, only a loopback `Host` header is answered (a web page cannot reach the dashboard
by pointing its own domain at 127.0.0.1); every POST carries the process's CSRF token
and a same-origin `Origin`; no page runs a script (`Content-Security-Policy`), and
Jinja2 escapes every value. Files are served only by their listed name in the outbox
or `failed/` (`data.outbox_file_path`, `data.failed_file_path`), always as downloads.
"""

from __future__ import annotations

import hmac
import logging
import secrets
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import (
    Flask,
    Response,
    abort,
    flash,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from werkzeug.wrappers.response import Response as BaseResponse

from filebridge.config import LOOPBACK_HOSTS, Settings
from filebridge.dashboard import data
from filebridge.dashboard.actions import Actions, Reexport, run_reexport
from filebridge.errors import FilebridgeError
from filebridge.journal import Journal

__all__ = ["PASSWORD_ENV", "create_app"]

log = logging.getLogger(__name__)

PASSWORD_ENV = "FILEBRIDGE_DASHBOARD_PASSWORD"
CSP = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


def create_app(
    settings: Settings,
    *,
    password: str | None = None,
    reexport: Reexport = run_reexport,
) -> Flask:
    """The dashboard for `settings`; with `password`, every request must give it."""
    app = Flask(__name__)
    app.secret_key = secrets.token_bytes(32)  # per process: a restart logs everyone out
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Strict",
        SESSION_COOKIE_NAME="filebridge_dashboard",
        MAX_CONTENT_LENGTH=64 * 1024,
    )
    csrf_token = secrets.token_urlsafe(32)
    actions = Actions(settings, reexport)

    def journal() -> Journal:
        return Journal.open(settings.journal_path)

    @app.before_request
    def guard() -> BaseResponse | None:
        if password:
            auth = request.authorization
            given = (auth.password or "") if auth is not None else ""
            if not hmac.compare_digest(given.encode(), password.encode()):
                if auth is not None:
                    log.warning(
                        "dashboard: wrong password from %s", request.remote_addr
                    )
                return Response(
                    "The filebridge dashboard needs its password.",
                    401,
                    {"WWW-Authenticate": 'Basic realm="filebridge", charset="UTF-8"'},
                )
        elif (urlsplit(f"//{request.host}").hostname or "") not in LOOPBACK_HOSTS:
            log.warning("dashboard: refused Host %r (loopback only)", request.host)
            abort(400)
        if request.method == "POST":
            _check_post(csrf_token)
        return None

    @app.after_request
    def headers(response: BaseResponse) -> BaseResponse:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "same-origin"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers.setdefault("Cache-Control", "no-store")
        return response

    @app.context_processor
    def common() -> dict[str, Any]:
        return {
            "csrf_token": csrf_token,
            "new_nonce": lambda: secrets.token_urlsafe(16),  # one per form
            "zone": datetime.now().astimezone().tzname() or "local",
            "shop_id": settings.selldone.shop_id,
        }

    @app.errorhandler(FilebridgeError)
    def trouble(exc: FilebridgeError) -> tuple[str, int]:
        """A journal that is locked or gone: say so, with the CLI's hint, not a 500."""
        log.warning("dashboard: %s", exc)
        return render_template("trouble.html", error=exc, active=""), 503

    @app.get("/")
    def health_page() -> str:
        with journal() as j:
            page = data.health(settings, j, now=datetime.now(UTC))
        return render_template("health.html", page=page, active="health")

    @app.get("/exports")
    def exports_page() -> str:
        with journal() as j:
            files = data.list_exports(settings, j)
        return render_template("exports.html", files=files, active="exports")

    @app.get("/exports/<int:batch_id>/download")
    def download_export(batch_id: int) -> BaseResponse:
        with journal() as j:
            path = data.outbox_file_path(settings, j, batch_id)
        return _download(path)

    @app.get("/inbox")
    def inbox_page() -> str:
        with journal() as j:
            page = data.inbox_page(settings, j)
        return render_template("inbox.html", page=page, active="inbox")

    @app.get("/failed/<name>")
    def download_failed(name: str) -> BaseResponse:
        dealt = request.args.get("dealt") == "1"
        return _download(data.failed_file_path(settings, name, dealt_with=dealt))

    @app.post("/failed/<name>/dealt-with")
    def dealt_with(name: str) -> BaseResponse:
        result = actions.once(_nonce(), lambda: actions.dealt_with(name))
        flash(result.message, "ok" if result.ok else "error")
        return redirect(url_for("inbox_page"), 303)

    @app.get("/order")
    def order_page() -> str:
        raw = request.args.get("id", "").strip()
        story = None
        problem = ""
        if raw:
            if raw.isdigit() and len(raw) < 19:
                with journal() as j:
                    story = data.order_story(j, int(raw), settings=settings)
            else:
                problem = "An order id is a number, e.g. 15005."
        return render_template(
            "order.html", story=story, query=raw, problem=problem, active="order"
        )

    @app.post("/order/<int:order_id>/reexport")
    def reexport_order(order_id: int) -> BaseResponse:
        result = actions.once(_nonce(), lambda: actions.reexport(order_id))
        flash(result.message, "ok" if result.ok else "error")
        return redirect(url_for("order_page", id=order_id), 303)

    @app.get("/log")
    def log_page() -> str:
        return render_template("log.html", lines=data.log_tail(settings), active="log")

    return app


def _check_post(csrf_token: str) -> None:
    """A POST must carry this process's token and, when it says, come from our origin."""
    given = request.form.get("csrf_token", "")
    if not hmac.compare_digest(given.encode(), csrf_token.encode()):
        log.warning(
            "dashboard: refused a POST to %s without a valid CSRF token", request.path
        )
        abort(403)
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        log.warning("dashboard: refused a POST from origin %r", origin)
        abort(403)


def _nonce() -> str:
    nonce = request.form.get("nonce", "")
    if not nonce or len(nonce) > 64:
        abort(400)
    return nonce


def _download(path: Path | None) -> BaseResponse:
    if path is None:
        abort(404)
    return send_file(
        path,
        as_attachment=True,
        download_name=path.name,
        mimetype="application/octet-stream",
        max_age=0,
    )
