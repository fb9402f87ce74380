"""Where the tax bureau sends its payment callbacks (INTEGRATIONS.md §4), given with every order."""

from __future__ import annotations

from flask import current_app

NOTIFY_PATH = "/api/v1/payments/tax-bureau/notify"


def notify_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/") + NOTIFY_PATH
