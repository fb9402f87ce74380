"""The mini-program API: `create_app()` builds the Flask application."""
from __future__ import annotations

import os

from flask import Flask

from . import config as configuration
from . import (account_routes, benefits_cli, callbacks, certificate_cli, certificate_routes, clients,
               contribution_routes, demo_cli, docs, errors, family_routes, health, interest_cli, login, logs,
               payment_cli, pii, proxy_payments, ratelimit, rulebook, sandbox_cli)
from .api import OPENAPI_CONFIG, init_api
from .clock import Clock, parse_instant

MIGRATIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "migrations")


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, static_folder=None)
    app.config.update(OPENAPI_CONFIG)
    app.config.update(configuration.from_environ())
    app.config.update(config or {})
    configuration.finalize(app.config, app.instance_path)
    app.extensions["clock"] = Clock(_frozen_now(app.config))
    logs.configure(app)
    errors.register(app)
    pii.init_app(app)
    ratelimit.init_app(app)
    rulebook.init_app(app)
    clients.init_app(app)
    callbacks.init_app(app)
    _init_database(app)
    _register_routes(app)
    _trust_proxies(app)
    return app


def _trust_proxies(app: Flask) -> None:
    """Behind N reverse proxies, take the client address from their X-Forwarded-For (never more)."""
    hops = int(app.config.get("PROXY_FIX_HOPS") or 0)
    if hops:
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)


def _frozen_now(config: dict):
    return parse_instant(config["APP_NOW"]) if config.get("APP_NOW") else None


def _init_database(app: Flask) -> None:
    from flask_migrate import Migrate

    from models import db

    db.init_app(app)
    Migrate(app, db, directory=MIGRATIONS, render_as_batch=True, compare_type=True)


def _register_routes(app: Flask) -> None:
    api = init_api(app)
    for blueprint in (login.bp, account_routes.bp, contribution_routes.bp, family_routes.bp, callbacks.bp):
        api.register_blueprint(blueprint)
    certificate_routes.register(app)
    app.register_blueprint(health.bp)
    app.register_blueprint(docs.bp)
    for command in (proxy_payments.proxy_payments_command, payment_cli.cli, certificate_cli.cli, interest_cli.cli,
                    benefits_cli.cli, sandbox_cli.sandbox_command, demo_cli.demo_command):
        app.cli.add_command(command)
