"""`/app/`: the screens' page and its modules, from `static/app/`, under a strict content policy.

The page reaches only this origin, plus the origins in `SCREENS_CONNECT_ORIGINS` (set by the devtools
outside production: the sandbox that stands in for the WeChat client's login, face check and payment).
"""

from __future__ import annotations

import flask
from flask import current_app, send_from_directory

from miniapp_api.core.paths import STATIC

APP_FOLDER = STATIC / "app"

bp = flask.Blueprint("screens", __name__)


def content_policy(extra_origins: list[str]) -> str:
    connect = " ".join(["'self'", *extra_origins])
    return (
        f"default-src 'none'; script-src 'self'; style-src 'self'; connect-src {connect}; "
        "img-src 'self' blob: data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def _with_headers(response: flask.Response) -> flask.Response:
    response.headers["Content-Security-Policy"] = content_policy(current_app.config.get("SCREENS_CONNECT_ORIGINS", []))
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/app")
def app_redirect():
    """The screens live under `/app/` (relative module paths need the slash)."""
    return flask.redirect("/app/", code=308)


@bp.get("/app/")
def app_page():
    """The screens' single page."""
    return _with_headers(send_from_directory(APP_FOLDER, "index.html", max_age=0))


@bp.get("/app/<path:name>")
def app_asset(name: str):
    """A module, style sheet or image of the screens."""
    return _with_headers(send_from_directory(APP_FOLDER, name, max_age=0))
