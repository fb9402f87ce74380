"""Configuration from the environment variables of INTEGRATIONS.md.

Development generates its secrets under `instance/` on first run; production refuses to start
without real ones, and refuses a frozen clock (`APP_NOW`).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from pathlib import Path

from miniapp_api.core import devkeys, paths, production

ENV_KEYS = (
    *production.REQUIRED, "POLICY_FILE", "APP_ENV", "APP_NOW", "ID_ENCRYPTION_KEYS_PREVIOUS",
    # Beyond INTEGRATIONS.md: certificate key rotation, holiday overrides, public verify rate.
    "CERT_PREVIOUS_PUBLIC_KEYS", "CERT_CALENDAR_OVERRIDES", "CERT_VERIFY_PER_MINUTE",
    # How many reverse proxies in front set X-Forwarded-For (rate limits count per real client).
    "PROXY_FIX_HOPS",
    # The bearer token GET /metrics requires (without it, loopback only).
    "METRICS_TOKEN",
)  # fmt: skip
SANDBOX_BASE = "http://127.0.0.1:8001"


class ConfigError(RuntimeError):
    """The configuration cannot run; the message names the variable."""


DEV_DEFAULTS = {
    "WECHAT_API_BASE": f"{SANDBOX_BASE}/wechat",
    "WECHAT_APPID": "wx_sandbox_app",
    "WECHAT_SECRET": "sandbox-secret",
    "IDENTITY_API_BASE": f"{SANDBOX_BASE}/identity",
    "AGENCY_API_BASE": f"{SANDBOX_BASE}/agency",
    "TAX_API_BASE": f"{SANDBOX_BASE}/tax",
    "TAX_API_KEY": "sandbox-tax-key",
    "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
}


def from_environ(environ: Mapping[str, str] = os.environ) -> dict:
    return {key: environ[key] for key in ENV_KEYS if environ.get(key)}


def finalize(config: dict, instance_path: str) -> None:
    """Fill defaults, generate dev secrets, and refuse what production must not run with."""
    if not config.get("APP_ENV"):
        config["APP_ENV"] = _default_env()
    if config["APP_ENV"] not in ("production", "development", "testing"):
        raise ConfigError(f"APP_ENV must be production, development or testing, not {config['APP_ENV']!r}")
    if config["APP_ENV"] == "production":
        if problem := production.problem(config):
            raise ConfigError(problem)
    else:
        _fill_development(config, Path(instance_path))
    if len(config["SECRET_KEY"]) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters")
    config["SQLALCHEMY_DATABASE_URI"] = database_uri(config["DATABASE_URL"])
    # Bound parameters (names, birth dates, ciphertexts) never reach a log line or a stored exception.
    config.setdefault("SQLALCHEMY_ENGINE_OPTIONS", {"hide_parameters": True})


def _default_env() -> str:
    """Development only for the checkout's own tools; gunicorn or an installed package must say APP_ENV."""
    if paths.IN_CHECKOUT and "gunicorn.arbiter" not in sys.modules:
        return "development"
    raise ConfigError("set APP_ENV to production, development or testing (it has no default outside the checkout)")


def _fill_development(config: dict, instance: Path) -> None:
    for key, value in DEV_DEFAULTS.items():
        config.setdefault(key, value)
    config.setdefault("DATABASE_URL", f"sqlite:///{instance / 'pension.sqlite3'}")
    for key, make in devkeys.GENERATORS.items():
        if not config.get(key):
            config[key] = make(instance)


def database_uri(url: str) -> str:
    """Plain `postgresql://` (as hosting platforms hand out) uses psycopg 3."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
