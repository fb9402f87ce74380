"""Ed25519-signed verification tokens carrying a certificate number (the QR link's last segment).

Format: `<key_id>.<base64url(signature ‖ number)>`, no padding, where the number is the certificate
number's 80 bits packed in 10 bytes: 108 characters, the least an Ed25519 signature (64 bytes) and
the number allow, so the QR code stays small. Tokens issued before carry the number as its 24 UTF-8
characters under the v1 domain tag and still verify. The signature covers a domain tag, the key id
and the number, so a token cannot be moved to another key or purpose. The body must be canonical
base64url (it re-encodes to itself): without that check, the unused low bits of the last character
would let two different tokens decode to the same bytes.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from miniapp_api.certificates.numbers import packed, unpacked

_DOMAIN = b"SXBY-CERT-TOKEN-v2"  # signed over the packed number
_DOMAIN_V1 = b"SXBY-CERT-TOKEN-v1"  # signed over the number's characters
_SIGNATURE_BYTES = 64
_PACKED_BYTES = 10
_MAX_TOKEN_CHARS = 1024
_KEY_ID = re.compile(r"[A-Za-z0-9_-]{1,32}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def sign_token(private_key: Ed25519PrivateKey, key_id: str, certificate_no: str) -> str:
    """A URL-safe token proving that the holder of `key_id`'s key issued `certificate_no`."""
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError("key id must be 1-32 base64url characters")
    number = packed(certificate_no)
    signature = private_key.sign(_message(_DOMAIN, key_id, number))
    return f"{key_id}.{_b64encode(signature + number)}"


def verify_token(public_keys: Mapping[str, Ed25519PublicKey], token: str) -> str | None:
    """The certificate number if `token` is genuine under one of `public_keys`, else None."""
    parsed = _parse(token)
    if parsed is None or parsed[0] not in public_keys:
        return None
    key_id, signature, number = parsed
    domain = _DOMAIN if len(number) == _PACKED_BYTES else _DOMAIN_V1
    try:
        public_keys[key_id].verify(signature, _message(domain, key_id, number))
        return unpacked(number) if domain == _DOMAIN else number.decode("utf-8")
    except (InvalidSignature, UnicodeDecodeError):
        return None


def _parse(token: object) -> tuple[str, bytes, bytes] | None:
    if not isinstance(token, str) or len(token) > _MAX_TOKEN_CHARS or token.count(".") != 1:
        return None
    key_id, body = token.split(".")
    raw = _b64decode_strict(body)
    if not _KEY_ID.fullmatch(key_id) or raw is None or len(raw) <= _SIGNATURE_BYTES:
        return None
    return key_id, raw[:_SIGNATURE_BYTES], raw[_SIGNATURE_BYTES:]


def _message(domain: bytes, key_id: str, number: bytes) -> bytes:
    return b"\0".join([domain, key_id.encode("ascii"), number])


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode_strict(text: str) -> bytes | None:
    """Decode unpadded base64url, or None unless `text` is the one canonical encoding of its bytes."""
    if not _BASE64URL.fullmatch(text) or len(text) % 4 == 1:
        return None
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:  # binascii.Error
        return None
    return raw if _b64encode(raw) == text else None


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """First 8 hex characters of the SHA-256 of the raw public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:8]


def load_private_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Read an unencrypted PEM (PKCS8) Ed25519 private key; TypeError if it is another kind of key."""
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise TypeError(f"{path} does not hold an Ed25519 private key")
    return key


def generate_private_key_file(path: str | os.PathLike) -> Ed25519PrivateKey:
    """Create a new key as PEM PKCS8, readable by the owner only; never overwrites an existing file."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(pem)
    return key
