"""Configuration: production refuses weak or missing secrets and a frozen clock; URLs are normalised."""

import datetime as dt
import secrets
import sys

import pytest
from cryptography.fernet import Fernet

from integrations import tax_signature
from miniapp_api import create_app
from miniapp_api.certificates.token import generate_private_key_file
from miniapp_api.core import devkeys
from miniapp_api.core.config import ConfigError, database_uri


@pytest.fixture(scope="module")
def production_keys(tmp_path_factory) -> dict:
    """Secrets made as an operator would make them (not by the development mode)."""
    folder = tmp_path_factory.mktemp("production-keys")
    generate_private_key_file(folder / "cert.pem")
    tax_signature.write_key_pair(folder / "tax-private.pem", folder / "tax-public.json", "tax-2027")
    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "ID_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "CERT_SIGNING_KEY": str(folder / "cert.pem"),
        "TAX_PUBLIC_KEYS": str(folder / "tax-public.json"),
    }


def _production(keys, **overrides):
    config = {"APP_ENV": "production", "DATABASE_URL": "sqlite://", "WECHAT_API_BASE": "https://wx",
              "WECHAT_APPID": "wx1234567890", "WECHAT_SECRET": "s" + secrets.token_hex(16),
              "IDENTITY_API_BASE": "https://id", "AGENCY_API_BASE": "https://ag", "TAX_API_BASE": "https://tax",
              "TAX_API_KEY": secrets.token_hex(16), "PUBLIC_BASE_URL": "https://pension.example",
              "REDIS_URL": "redis://127.0.0.1:6379/13", **keys}  # fmt: skip
    config.update(overrides)
    return {key: value for key, value in config.items() if value is not None}


def test_production_starts_with_every_secret(production_keys, monkeypatch):
    monkeypatch.delenv("APP_NOW", raising=False)
    app = create_app(_production(production_keys))
    assert app.config["APP_ENV"] == "production"


@pytest.mark.parametrize(
    "missing", ["SECRET_KEY", "ID_ENCRYPTION_KEY", "CERT_SIGNING_KEY", "TAX_PUBLIC_KEYS", "DATABASE_URL", "TAX_API_KEY"]
)
def test_production_refuses_missing_secret(production_keys, missing):
    with pytest.raises(ConfigError, match=missing):
        create_app(_production(production_keys, **{missing: None}))


def test_production_refuses_app_now(production_keys):
    with pytest.raises(ConfigError, match="APP_NOW"):
        create_app(_production(production_keys, APP_NOW="2027-03-02T10:00:00+08:00"))


@pytest.mark.parametrize("secret_key", ["short", "a" * 32, "ab" * 40, "0123456" * 10])
def test_weak_secret_key_is_refused(production_keys, secret_key):
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        create_app(_production(production_keys, SECRET_KEY=secret_key))


@pytest.mark.parametrize("name", ["SECRET_KEY", "ID_ENCRYPTION_KEY", "CERT_SIGNING_KEY", "TAX_PUBLIC_KEYS"])
def test_production_refuses_what_development_generated(production_keys, keys, name):
    """`keys` is what the development mode generates (tests/conftest.py): each of them is refused."""
    with pytest.raises(ConfigError, match=name):
        create_app(_production(production_keys, **{name: keys[name]}))


@pytest.mark.parametrize("name, value", [("TAX_API_KEY", "sandbox-tax-key"), ("WECHAT_SECRET", "sandbox-secret"),
                                         ("WECHAT_APPID", "wx_sandbox_app")])  # fmt: skip
def test_production_refuses_the_sandbox_values(production_keys, name, value):
    with pytest.raises(ConfigError, match=name):
        create_app(_production(production_keys, **{name: value}))


def test_production_refuses_a_key_file_of_the_sandbox_serial(production_keys, tmp_path):
    tax_signature.write_key_pair(tmp_path / "p.pem", tmp_path / "public.json", devkeys.SANDBOX_TAX_SERIAL)
    with pytest.raises(ConfigError, match="TAX_PUBLIC_KEYS"):
        create_app(_production(production_keys, TAX_PUBLIC_KEYS=str(tmp_path / "public.json")))


PLAIN_HTTP = [
    ("http://agency.example", True),
    ("http://10.1.2.3:8080", True),
    ("ftp://x", True),
    ("http://127.0.0.1:8001", False),
    ("http://localhost:8001", False),
    ("https://agency.example", False),
]


@pytest.mark.parametrize("url, refused", PLAIN_HTTP)
@pytest.mark.parametrize("name", ["WECHAT_API_BASE", "IDENTITY_API_BASE", "AGENCY_API_BASE", "TAX_API_BASE",
                                  "PUBLIC_BASE_URL"])  # fmt: skip
def test_plain_http_only_to_this_machine(production_keys, monkeypatch, name, url, refused):
    monkeypatch.delenv("APP_NOW", raising=False)
    config = _production(production_keys, **{name: url})
    if refused:
        with pytest.raises(ConfigError, match=name):
            create_app(config)
    else:
        assert create_app(config).config[name] == url


def test_app_env_defaults_to_development_only_in_the_checkout(tmp_path, monkeypatch):
    from miniapp_api.core import config as configuration

    settings: dict = {}
    configuration.finalize(settings, str(tmp_path))
    assert settings["APP_ENV"] == "development"
    monkeypatch.setattr(configuration.paths, "IN_CHECKOUT", False)
    with pytest.raises(ConfigError, match="APP_ENV"):
        configuration.finalize({}, str(tmp_path))
    settings = {"APP_ENV": "development"}
    configuration.finalize(settings, str(tmp_path))  # said explicitly, an installed package runs
    assert settings["APP_ENV"] == "development"


def test_gunicorn_needs_app_env_even_in_the_checkout(tmp_path, monkeypatch):
    from miniapp_api.core import config as configuration

    monkeypatch.setitem(sys.modules, "gunicorn.arbiter", object())
    with pytest.raises(ConfigError, match="APP_ENV"):
        configuration.finalize({}, str(tmp_path))


def test_sql_parameters_are_hidden_from_errors(app):
    """By every engine: the app's and the read-only bind's (core.readonly)."""
    with app.app_context():
        from models import db

        assert len(db.engines) == 2 and all(engine.hide_parameters is True for engine in db.engines.values())


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


def test_production_has_no_development_tools(production_keys, monkeypatch):
    monkeypatch.delenv("APP_NOW", raising=False)
    commands = set(create_app(_production(production_keys)).cli.list_commands(None))
    assert not commands & DEV_TOOLS
    assert {"payments", "proxy-payments", "interest", "benefits", "certificates"} <= commands


def test_development_has_the_sandbox_and_the_demo(app):
    assert set(app.cli.list_commands(None)) >= DEV_TOOLS
