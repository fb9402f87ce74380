"""Infrastructure every capability shares: configuration, clock, errors, logs, rate limits, ID-number
encryption, the external clients, the policy data, the database and the service
endpoints (`/healthz`, `/readyz`, `/metrics`)."""

from __future__ import annotations

from flask import Flask

from miniapp_api.core import (
    clients,
    errors,
    headers,
    json_provider,
    logs,
    paths,
    pii,
    ratelimit,
    readonly,
    rulebook,
    stateless,
)
from miniapp_api.core.clock import Clock, parse_instant


def init_app(app: Flask) -> None:
    app.extensions["clock"] = Clock(parse_instant(app.config["APP_NOW"]) if app.config.get("APP_NOW") else None)
    logs.configure(app)
    json_provider.init_app(app)
    headers.init_app(app)
    stateless.init_app(app)
    errors.register(app)
    from miniapp_api.core import bodies  # request bodies: 64 KiB, JSON within limits

    bodies.init_app(app)
    pii.init_app(app)
    ratelimit.init_app(app)
    rulebook.init_app(app)
    clients.init_app(app)
    readonly.init_app(app)
    _init_database(app)
    _init_service_pages(app)
    _trust_proxies(app)


def _init_database(app: Flask) -> None:
    from flask_migrate import Migrate

    from models import cursor, db

    db.init_app(app)
    with app.app_context():
        for engine in db.engines.values():  # the app's and the read-only bind's
            cursor.install(engine)
    Migrate(app, db, directory=str(paths.MIGRATIONS), render_as_batch=True, compare_type=True)


def _init_service_pages(app: Flask) -> None:
    from miniapp_api.core import docs, health, metrics

    app.register_blueprint(health.bp)
    metrics.init_app(app)
    app.register_blueprint(docs.bp)


def _trust_proxies(app: Flask) -> None:
    """Behind N reverse proxies, take the client address from their X-Forwarded-For (never more)."""
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)  # type: ignore[method-assign]
