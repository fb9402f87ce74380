"""Development secrets, generated once under `instance/` and reused on later runs (never in production)."""
from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Callable

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

SANDBOX_TAX_SERIAL = "sandbox-1"


def _kept(path: Path, make: Callable[[], bytes]) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
        path.chmod(0o600)
    return path


def secret_key(instance: Path) -> str:
    return _kept(instance / "secret_key", lambda: secrets.token_urlsafe(48).encode()).read_text().strip()


def id_encryption_key(instance: Path) -> str:
    return _kept(instance / "id_encryption.key", Fernet.generate_key).read_text().strip()


def cert_signing_key(instance: Path) -> str:
    return str(_kept(instance / "cert_signing_key.pem", lambda: _pem(ed25519.Ed25519PrivateKey.generate())))


def tax_public_keys(instance: Path) -> str:
    """The sandbox tax bureau's key pair; the API trusts its public half under serial `sandbox-1`."""
    private = _kept(instance / "sandbox_tax_private_key.pem",
                    lambda: _pem(rsa.generate_private_key(public_exponent=65537, key_size=2048)))
    return str(_kept(instance / "tax_public_keys.json", lambda: _public_keys_json(private)))


def _pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _public_keys_json(private_path: Path) -> bytes:
    key = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                        serialization.PublicFormat.SubjectPublicKeyInfo)
    return json.dumps({SANDBOX_TAX_SERIAL: pem.decode()}, indent=2).encode()


GENERATORS: dict[str, Callable[[Path], str]] = {
    "SECRET_KEY": secret_key,
    "ID_ENCRYPTION_KEY": id_encryption_key,
    "CERT_SIGNING_KEY": cert_signing_key,
    "TAX_PUBLIC_KEYS": tax_public_keys,
}
