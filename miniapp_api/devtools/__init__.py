"""Development tools: the sandbox counterparts and the demo, registered only outside production."""

from __future__ import annotations

from flask import Flask

from miniapp_api.devtools import app_sandbox
from miniapp_api.devtools.demo import demo_command
from miniapp_api.devtools.sandbox import sandbox_command


def register(app: Flask) -> None:
    app.cli.add_command(sandbox_command)
    app.cli.add_command(demo_command)
    app_sandbox.init_app(app)
