"""The sandbox process: one Flask app serving every counterpart under its own path prefix."""

from __future__ import annotations

from flask import Flask

from . import agency, identity, tax_bureau, wechat


def create_sandbox_app(config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(config or {})
    app.register_blueprint(wechat.bp, url_prefix="/wechat")
    app.register_blueprint(identity.bp, url_prefix="/identity")
    app.register_blueprint(agency.bp, url_prefix="/agency")
    app.register_blueprint(tax_bureau.bp, url_prefix="/tax")
    return app
