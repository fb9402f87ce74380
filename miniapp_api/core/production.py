"""What production refuses to start with: missing or weak secrets, anything the development mode or
the sandbox generated, plain-HTTP services off this machine, a frozen clock, workers without Redis."""

from __future__ import annotations

import math
from pathlib import Path
from urllib.parse import urlsplit

from miniapp_api.core import devkeys

REQUIRED = (
    "DATABASE_URL", "SECRET_KEY", "WECHAT_API_BASE", "WECHAT_APPID", "WECHAT_SECRET",
    "IDENTITY_API_BASE", "AGENCY_API_BASE", "TAX_API_BASE", "TAX_API_KEY", "TAX_PUBLIC_KEYS",
    "CERT_SIGNING_KEY", "ID_ENCRYPTION_KEY", "PUBLIC_BASE_URL", "REDIS_URL",
)  # fmt: skip
BASE_URLS = ("WECHAT_API_BASE", "IDENTITY_API_BASE", "AGENCY_API_BASE", "TAX_API_BASE", "PUBLIC_BASE_URL")
SECRET_VALUES = ("SECRET_KEY", "ID_ENCRYPTION_KEY", "WECHAT_SECRET", "TAX_API_KEY")
KEY_FILES = ("CERT_SIGNING_KEY", "TAX_PUBLIC_KEYS")
# Values the sandbox ships with (devtools, config.DEV_DEFAULTS): known to everyone who read the code.
SANDBOX_VALUES = frozenset({"sandbox-secret", "sandbox-tax-key", "wx_sandbox_app"})
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
MIN_SECRET_BITS = 128
MIN_DISTINCT = 8


def problem(config: dict) -> str | None:
    """The first reason, naming the variable, why production must not run with `config`; None if none."""
    missing = [key for key in REQUIRED if not config.get(key)]
    if missing:
        return f"production refuses to start without: {', '.join(missing)}"
    if config.get("APP_NOW"):
        return "APP_NOW freezes the clock and is refused in production"
    checks = (_weak_secret_key, _generated_values, _generated_files, _plain_http)
    return next((found for check in checks if (found := check(config))), None)


def _weak_secret_key(config: dict) -> str | None:
    key = config["SECRET_KEY"]
    distinct = len(set(key))
    if distinct >= MIN_DISTINCT and len(key) * math.log2(distinct) >= MIN_SECRET_BITS:
        return None
    return (
        "SECRET_KEY has too little variety: generate one (python -c 'import secrets; print(secrets.token_urlsafe(48))')"
    )


def _generated_values(config: dict) -> str | None:
    for name in (*SECRET_VALUES, "WECHAT_APPID"):
        value = str(config.get(name) or "")
        if value in SANDBOX_VALUES or devkeys.is_marked(value):
            return f"{name} is a development or sandbox value, refused in production"
    return None


def _generated_files(config: dict) -> str | None:
    for name in KEY_FILES:
        try:
            text = Path(config[name]).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            return f"{name}: cannot read {config[name]} ({exc})"
        if devkeys.is_marked(text) or f'"{devkeys.SANDBOX_TAX_SERIAL}"' in text:
            return f"{name}: {config[name]} was generated for development or the sandbox"
    return None


def _plain_http(config: dict) -> str | None:
    for name in BASE_URLS:
        url = urlsplit(config[name])
        if not (url.scheme == "https" or (url.scheme == "http" and url.hostname in LOOPBACK)):
            return f"{name} must be an https:// URL (plain http only to this machine), not {config[name]!r}"
    return None
