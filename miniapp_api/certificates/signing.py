"""The keys of the certificates: the one that signs new tokens, the old ones that still verify, and
the settings read with them at start-up (holiday overrides, the public verification rate)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app

from miniapp_api.certificates.token import key_id_of, load_private_key
from miniapp_api.core.config import ConfigError

DEFAULT_VERIFY_PER_MINUTE = 60


@dataclass(frozen=True)
class Signing:
    """The key that signs new certificates, and every public key whose tokens still verify (by key id)."""

    private_key: Ed25519PrivateKey
    key_id: str
    public_keys: Mapping[str, Ed25519PublicKey]


@dataclass(frozen=True)
class Settings:
    signing: Signing
    calendar_overrides: Mapping[dt.date, bool]  # True: a working day, False: a holiday
    verify_per_minute: int  # public verifications per client address and minute


def init_app(app: Flask) -> None:
    config = app.config
    app.extensions["certificates"] = Settings(
        signing=load_signing(config["CERT_SIGNING_KEY"], config.get("CERT_PREVIOUS_PUBLIC_KEYS")),
        calendar_overrides=load_overrides(config.get("CERT_CALENDAR_OVERRIDES")),
        verify_per_minute=int(config.get("CERT_VERIFY_PER_MINUTE", DEFAULT_VERIFY_PER_MINUTE)),
    )


def load_signing(private_key_path: str, previous: str | Mapping | None = None) -> Signing:
    try:
        private_key = load_private_key(private_key_path)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"CERT_SIGNING_KEY: {exc}") from exc
    key_id = key_id_of(private_key.public_key())
    return Signing(private_key, key_id, {**load_public_keys(previous), key_id: private_key.public_key()})


def load_public_keys(source: str | Mapping | None) -> dict[str, Ed25519PublicKey]:
    """`{key_id: PEM}` from a mapping or a JSON file; each id must be its key's `key_id_of`."""
    return {
        key_id: _public_key(key_id, pem) for key_id, pem in _json_object(source, "CERT_PREVIOUS_PUBLIC_KEYS").items()
    }


def _public_key(key_id: str, pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, AttributeError, UnicodeEncodeError) as exc:
        raise ConfigError(f"CERT_PREVIOUS_PUBLIC_KEYS: {key_id!r} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey) or key_id_of(key) != key_id:
        raise ConfigError(f"CERT_PREVIOUS_PUBLIC_KEYS: {key_id!r} must be the key id of an Ed25519 key")
    return key


def load_overrides(source: str | Mapping | None) -> dict[dt.date, bool]:
    """`{"2027-10-01": false, "2027-09-26": true}` (false: holiday, true: working day), mapping or JSON file."""
    overrides = {}
    for day, working in _json_object(source, "CERT_CALENDAR_OVERRIDES").items():
        try:
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"CERT_CALENDAR_OVERRIDES: {day!r} is not a YYYY-MM-DD date") from exc
        if not isinstance(working, bool):
            raise ConfigError(f"CERT_CALENDAR_OVERRIDES: {day} must map to true or false")
        overrides[day] = working
    return overrides


def _json_object(source: str | Mapping | None, name: str) -> Mapping:
    if not source:
        return {}
    if isinstance(source, Mapping):
        return source
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot read {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: {source} must hold a JSON object")
    return data


def settings() -> Settings:
    return current_app.extensions["certificates"]


def public_key_entry() -> dict[str, str]:
    """`{key_id: PEM}` of the current key, as CERT_PREVIOUS_PUBLIC_KEYS wants it after a rotation."""
    signing = settings().signing
    pem = signing.public_keys[signing.key_id].public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {signing.key_id: pem.decode("ascii")}
