"""Signatures of the tax bureau's payment callbacks (INTEGRATIONS.md §4), for the API and the sandbox.

`Tax-Signature` = base64 of RSA PKCS#1 v1.5 SHA-256 over `"{timestamp}\\n{nonce}\\n{raw body}\\n"`.
Verification always runs over the raw bytes received, never over re-serialised JSON.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

KEY_SIZE = 2048


class TaxKeyError(ValueError):
    """A key file cannot be used; the message names the file and the bad entry."""


def message(timestamp: int | str, nonce: str, raw_body: bytes) -> bytes:
    """The exact bytes that are signed."""
    return f"{timestamp}\n{nonce}\n".encode() + raw_body + b"\n"


def sign(private_key: rsa.RSAPrivateKey, timestamp: int, nonce: str, raw_body: bytes) -> str:
    """The base64 `Tax-Signature` of one callback."""
    signature = private_key.sign(message(timestamp, nonce, raw_body), padding.PKCS1v15(), hashes.SHA256())
    return base64.b64encode(signature).decode("ascii")


def verify(public_key: object, timestamp_header: str, nonce: str, raw_body: bytes, signature_b64: str) -> bool:
    """True only for a valid signature by `public_key`; any garbage input is simply False."""
    if not isinstance(public_key, rsa.RSAPublicKey):
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        public_key.verify(signature, message(timestamp_header, nonce, raw_body), padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, binascii.Error, ValueError, TypeError):
        return False
    return True


def new_nonce() -> str:
    return secrets.token_hex(16)


def signed_headers(
    private_key: rsa.RSAPrivateKey, serial: str, timestamp: int, raw_body: bytes, nonce: str | None = None
) -> dict[str, str]:
    """The four `Tax-*` headers of a callback carrying `raw_body`."""
    nonce = nonce or new_nonce()
    return {
        "Tax-Timestamp": str(timestamp),
        "Tax-Nonce": nonce,
        "Tax-Serial": serial,
        "Tax-Signature": sign(private_key, timestamp, nonce, raw_body),
    }


def load_public_keys(path: str | Path) -> dict[str, rsa.RSAPublicKey]:
    """The callback keys of a `TAX_PUBLIC_KEYS` file `{"<serial>": "<PEM>", ...}`."""
    entries = _read_json_object(Path(path))
    return {serial: _public_key(path, serial, pem) for serial, pem in entries.items()}


def _read_json_object(path: Path) -> dict:
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise TaxKeyError(f"{path}: cannot read a JSON key file ({exc})") from None
    if not isinstance(entries, dict) or not entries:
        raise TaxKeyError(f'{path}: expected a non-empty object {{"<serial>": "<PEM public key>"}}')
    return entries


def _public_key(path: str | Path, serial: str, pem: object) -> rsa.RSAPublicKey:
    if not isinstance(pem, str):
        raise TaxKeyError(f"{path}: entry {serial!r} is not a PEM string")
    try:
        key = serialization.load_pem_public_key(pem.encode("utf-8"))
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise TaxKeyError(f"{path}: entry {serial!r} is not a PEM public key ({exc})") from None
    if not isinstance(key, rsa.RSAPublicKey):
        raise TaxKeyError(f"{path}: entry {serial!r} is not an RSA public key")
    return key


def generate_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_SIZE)


def load_private_key(path: str | Path) -> rsa.RSAPrivateKey:
    """An unencrypted PEM RSA private key (the sandbox's signing key)."""
    try:
        key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise TaxKeyError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise TaxKeyError(f"{path}: not an RSA private key")
    return key


def private_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def public_pem(key: rsa.RSAPrivateKey | rsa.RSAPublicKey) -> str:
    public = key.public_key() if isinstance(key, rsa.RSAPrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode(
        "ascii"
    )


def public_keys_json(keys: dict[str, rsa.RSAPrivateKey | rsa.RSAPublicKey]) -> str:
    """The `TAX_PUBLIC_KEYS` file content for `{serial: key}`."""
    return json.dumps({serial: public_pem(key) for serial, key in keys.items()}, indent=2)


def write_key_pair(private_path: str | Path, public_keys_path: str | Path, serial: str) -> rsa.RSAPrivateKey:
    """Generate a key pair for dev and demo: the private PEM (mode 600) and its `TAX_PUBLIC_KEYS` file."""
    key = generate_private_key()
    private_path = Path(private_path)
    private_path.write_bytes(private_pem(key))
    private_path.chmod(0o600)
    Path(public_keys_path).write_text(public_keys_json({serial: key}), encoding="utf-8")
    return key
