"""The mini-program API: `create_app()` builds the Flask application from its capabilities.

Each capability is a package (`identity`, `accounts`, `contributions`, `payments`, `family`,
`certificates`, `benefits`, `registry`) holding its routes, services, schemas and command-line jobs; `core`
holds the infrastructure they share, `devtools` the sandbox and demo commands (never in production).
"""

from __future__ import annotations

from flask import Flask

from miniapp_api import core
from miniapp_api.accounts import routes as accounts_routes
from miniapp_api.benefits import cli as benefits_cli
from miniapp_api.benefits import routes as benefits_routes
from miniapp_api.certificates import cli as certificates_cli
from miniapp_api.certificates import routes as certificates_routes
from miniapp_api.contributions import cli as contributions_cli
from miniapp_api.contributions import routes as contributions_routes
from miniapp_api.core import config as configuration
from miniapp_api.core import docs as core_docs
from miniapp_api.core.api import OPENAPI_CONFIG, init_api
from miniapp_api.core.openapi import finalize as finish_openapi
from miniapp_api.family import routes as family_routes
from miniapp_api.identity import cli as identity_cli
from miniapp_api.identity import routes as identity_routes
from miniapp_api.payments import callback
from miniapp_api.payments import cli as payments_cli
from miniapp_api.payments import routes as payments_routes
from miniapp_api.registry import cli as registry_cli
from miniapp_api.screens import routes as screens_routes

BLUEPRINTS = (
    identity_routes.bp,
    accounts_routes.bp,
    benefits_routes.bp,
    contributions_routes.bp,
    family_routes.bp,
    payments_routes.bp,
    certificates_routes.bp,
    core_docs.messages_bp,
)
COMMANDS = (
    contributions_cli.proxy_payments_command,
    payments_cli.cli,
    certificates_cli.cli,
    benefits_cli.interest_cli,
    benefits_cli.benefits_cli,
    identity_cli.cli,
    registry_cli.cli,
)


def create_app(config: dict | None = None) -> Flask:
    """The application for `config` on top of the environment (INTEGRATIONS.md, configuration)."""
    app = Flask(__name__, static_folder=None)
    app.config.update(OPENAPI_CONFIG)
    app.config.update(configuration.from_environ())
    app.config.update(config or {})
    configuration.finalize(app.config, app.instance_path)
    core.init_app(app)
    callback.init_app(app)
    certificates_routes.init_app(app)
    _register(app)
    return app


def _register(app: Flask) -> None:
    api = init_api(app)
    for blueprint in BLUEPRINTS:
        api.register_blueprint(blueprint)
    finish_openapi(api.spec)
    app.register_blueprint(certificates_routes.pages)
    app.register_blueprint(screens_routes.bp)
    for command in COMMANDS:
        app.cli.add_command(command)
    if app.config["APP_ENV"] != "production":
        from miniapp_api import devtools

        devtools.register(app)
