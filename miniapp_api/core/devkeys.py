"""Development secrets, generated once under `instance/` and reused on later runs (never in production).

Everything generated here carries a mark that production start-up refuses (`is_marked`): secrets
start with `DEV_PREFIX`, the ID-number key's bytes with `DEV_KEY_BYTES`, and PEM files (also the PEMs
inside the tax public keys file) with the explanatory line `DEV_PEM_LINE` before their BEGIN line,
which PEM readers skip.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Callable
from pathlib import Path

from integrations.tax_signature import write_key_pair
from miniapp_api.certificates.token import generate_private_key_file

SANDBOX_TAX_SERIAL = "sandbox-1"
DEV_PREFIX = "dev-only-"
DEV_KEY_BYTES = b"DEV-ONLY"
DEV_PEM_LINE = "Generated for development by miniapp_api.core.devkeys: production refuses it."


def _kept(path: Path, make: Callable[[], bytes]) -> Path:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(make())
        path.chmod(0o600)
    return path


def secret_key(instance: Path) -> str:
    make = lambda: (DEV_PREFIX + secrets.token_urlsafe(48)).encode()  # noqa: E731
    return _kept(instance / "secret_key", make).read_text().strip()


def id_encryption_key(instance: Path) -> str:
    make = lambda: base64.urlsafe_b64encode(DEV_KEY_BYTES + secrets.token_bytes(32 - len(DEV_KEY_BYTES)))  # noqa: E731
    return _kept(instance / "id_encryption.key", make).read_text().strip()


def cert_signing_key(instance: Path) -> str:
    path = instance / "cert_signing_key.pem"
    if not path.exists():
        generate_private_key_file(path)
        _mark_pem_file(path)
    return str(path)


def sandbox_tax_private_key(instance: Path) -> Path:
    return instance / "sandbox_tax_private_key.pem"


def tax_public_keys(instance: Path) -> str:
    """The sandbox tax bureau's key pair; the API trusts its public half under serial `sandbox-1`."""
    public_keys = instance / "tax_public_keys.json"
    if not public_keys.exists():
        instance.mkdir(parents=True, exist_ok=True)
        write_key_pair(sandbox_tax_private_key(instance), public_keys, SANDBOX_TAX_SERIAL)
        _mark_pem_file(sandbox_tax_private_key(instance))
        keys = json.loads(public_keys.read_text(encoding="utf-8"))
        public_keys.write_text(json.dumps({serial: _marked(pem) for serial, pem in keys.items()}), encoding="utf-8")
    return str(public_keys)


def _marked(pem: str) -> str:
    return f"{DEV_PEM_LINE}\n{pem}"


def _mark_pem_file(path: Path) -> None:
    path.write_text(_marked(path.read_text(encoding="ascii")), encoding="ascii")


def is_marked(value: str) -> bool:
    """Whether a secret, an ID-number key or the text of a key file was generated here."""
    if value.startswith(DEV_PREFIX) or DEV_PEM_LINE in value:
        return True
    try:
        return base64.urlsafe_b64decode(value).startswith(DEV_KEY_BYTES)
    except (ValueError, TypeError):
        return False


GENERATORS: dict[str, Callable[[Path], str]] = {
    "SECRET_KEY": secret_key,
    "ID_ENCRYPTION_KEY": id_encryption_key,
    "CERT_SIGNING_KEY": cert_signing_key,
    "TAX_PUBLIC_KEYS": tax_public_keys,
}
