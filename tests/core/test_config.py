"""Configuration: production refuses weak or missing secrets and a frozen clock; URLs are normalised."""

import datetime as dt

import pytest

from miniapp_api import create_app
from miniapp_api.core.config import ConfigError, database_uri


def _production(keys, **overrides):
    config = {
        "APP_ENV": "production",
        "DATABASE_URL": "sqlite://",
        "WECHAT_API_BASE": "https://wx",
        "WECHAT_APPID": "a",
        "WECHAT_SECRET": "s",
        "IDENTITY_API_BASE": "https://id",
        "AGENCY_API_BASE": "https://ag",
        "TAX_API_BASE": "https://tax",
        "TAX_API_KEY": "k",
        "PUBLIC_BASE_URL": "https://pension.example",
        **keys,
    }
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not None}


def test_production_starts_with_every_secret(keys, monkeypatch):
    monkeypatch.delenv("APP_NOW", raising=False)
    app = create_app(_production(keys))
    assert app.config["APP_ENV"] == "production"


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ID_ENCRYPTION_KEY", "CERT_SIGNING_KEY", "TAX_PUBLIC_KEYS", "DATABASE_URL", "TAX_API_KEY"]
)
def test_production_refuses_missing_secret(keys, missing):
    with pytest.raises(ConfigError, match=missing):
        create_app(_production(keys, **{missing: None}))


def test_production_refuses_app_now(keys):
    with pytest.raises(ConfigError, match="APP_NOW"):
        create_app(_production(keys, APP_NOW="2027-03-02T10:00:00+08:00"))


def test_short_secret_key_is_refused(keys):
    with pytest.raises(ConfigError, match="32"):
        create_app(_production(keys, SECRET_KEY="short"))


def test_development_generates_keys_under_instance(tmp_path, monkeypatch):
    from miniapp_api.core import config as configuration

    settings = {"APP_ENV": "development"}
    configuration.finalize(settings, str(tmp_path))
    again = {"APP_ENV": "development"}
    configuration.finalize(again, str(tmp_path))
    assert settings["SECRET_KEY"] == again["SECRET_KEY"] and len(settings["SECRET_KEY"]) >= 32
    assert (tmp_path / "cert_signing_key.pem").exists() and (tmp_path / "tax_public_keys.json").exists()


@pytest.mark.parametrize(
    "url, uri",
    [
        ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
        ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
        ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
    ],
)
def test_database_url_uses_psycopg(url, uri):
    assert database_uri(url) == uri


def test_app_now_freezes_the_clock(make_app):
    app = make_app(APP_NOW="2027-06-25T23:59:59+08:00")
    with app.app_context():
        from miniapp_api.core.clock import clock

        assert clock().now() == dt.datetime.fromisoformat("2027-06-25T23:59:59+08:00")
        assert clock().today() == dt.date(2027, 6, 25)


def test_app_now_without_offset_is_refused(keys):
    with pytest.raises(ValueError, match="offset"):
        create_app({"APP_ENV": "testing", "DATABASE_URL": "sqlite://", "APP_NOW": "2027-03-02T10:00:00", **keys})


DEV_TOOLS = {"sandbox", "demo"}


def test_production_has_no_development_tools(keys, monkeypatch):
    monkeypatch.delenv("APP_NOW", raising=False)
    commands = set(create_app(_production(keys)).cli.list_commands(None))
    assert not commands & DEV_TOOLS
    assert {"payments", "proxy-payments", "interest", "benefits", "certificates"} <= commands


def test_development_has_the_sandbox_and_the_demo(app):
    assert set(app.cli.list_commands(None)) >= DEV_TOOLS
