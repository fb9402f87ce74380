"""Development secrets, generated once under `instance/` and reused on later runs (never in production)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.fernet import Fernet

from integrations.tax_signature import write_key_pair
from miniapp_api.certificates.token import generate_private_key_file

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
    path = instance / "cert_signing_key.pem"
    if not path.exists():
        generate_private_key_file(path)
    return str(path)


def sandbox_tax_private_key(instance: Path) -> Path:
    return instance / "sandbox_tax_private_key.pem"


def tax_public_keys(instance: Path) -> str:
    """The sandbox tax bureau's key pair; the API trusts its public half under serial `sandbox-1`."""
    public_keys = instance / "tax_public_keys.json"
    if not public_keys.exists():
        instance.mkdir(parents=True, exist_ok=True)
        write_key_pair(sandbox_tax_private_key(instance), public_keys, SANDBOX_TAX_SERIAL)
    return str(public_keys)


GENERATORS: dict[str, Callable[[Path], str]] = {
    "SECRET_KEY": secret_key,
    "ID_ENCRYPTION_KEY": id_encryption_key,
    "CERT_SIGNING_KEY": cert_signing_key,
    "TAX_PUBLIC_KEYS": tax_public_keys,
}
