"""ID numbers at rest: encrypted (AES-256-GCM), with a keyed blind index (HMAC-SHA256) for exact lookup.

Both keys are derived from an `ID_ENCRYPTION_KEY` with HKDF under different labels, so the index
reveals nothing without the key and cannot be used to decrypt. A token is `a1.` and the URL-safe
base64 of a random 96-bit nonce and the ciphertext with its tag. Rows written before 2026-12 hold
Fernet tokens (AES-128-CBC + HMAC-SHA256, under a third HKDF label): they still decrypt, and
`residents reencrypt-ids` rewrites them. Why not Fernet any more: it costs 25 µs an ID number on
this hardware against 4 µs (its cipher objects are built afresh per token in Python), and a
province-scale registry sync encrypts millions of them (docs/security.md).

Rotation: `ID_ENCRYPTION_KEYS_PREVIOUS` lists the earlier keys, newest first. They still decrypt,
never encrypt; `residents reencrypt-ids` moves every row to the current key. The blind
index stays derived from the first key ever used — the last of the previous keys, or the current key
while there is none — so lookups never change with a rotation and nothing but the ciphertext is
rewritten. That first key therefore stays listed for good (docs/security.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Flask, current_app

from models import Resident, db

REENCRYPT_BATCH = 500
TOKEN_PREFIX = "a1."  # AES-256-GCM; a token without it is a Fernet token of the earlier format
NONCE_BYTES = 12


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


def _master(key: str) -> bytes:
    master = base64.urlsafe_b64decode(key)
    if len(master) != 32:
        raise ValueError("ID_ENCRYPTION_KEY must be 32 bytes in URL-safe base64")
    return master


def _fernet(master: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(master, b"id-number-encryption")))


def _aead(master: bytes) -> AESGCM:
    return AESGCM(_derive(master, b"id-number-aes-256-gcm"))


def _opened(aead: AESGCM, token: str) -> str:
    """The ID number in an `a1.` token; InvalidToken for another key's token or a damaged one."""
    try:
        sealed = base64.urlsafe_b64decode(token[len(TOKEN_PREFIX) :])
        return aead.decrypt(sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], None).decode()
    except (InvalidTag, binascii.Error, ValueError):
        raise InvalidToken from None


class IdCipher:
    def __init__(self, key: str, previous: list[str] | tuple[str, ...] = ()):
        masters = [_master(k) for k in (key, *previous)]
        self._aeads = [_aead(master) for master in masters]  # the current key's first
        self._fernet = MultiFernet([_fernet(master) for master in masters])  # tokens of the earlier format
        # Each index copies this keyed state rather than keying HMAC afresh: 2.2 µs against 3.5 µs.
        self._index_mac = hmac.new(_derive(masters[-1], b"id-number-blind-index"), digestmod=hashlib.sha256)

    def __reduce__(self):
        raise TypeError("an IdCipher is not pickled: its keys would travel with it (pass cipher_keys())")

    def encrypt(self, id_number: str) -> str:
        return self.encrypt_many([id_number])[0]

    def encrypt_many(self, id_numbers: Sequence[str]) -> list[str]:
        """A token each, their random nonces cut from one read of the OS's randomness (a registry batch
        encrypts thousands: a read per token is a system call each)."""
        nonces = os.urandom(NONCE_BYTES * len(id_numbers))
        return [self._sealed(nonces[i * NONCE_BYTES : (i + 1) * NONCE_BYTES], n) for i, n in enumerate(id_numbers)]

    def _sealed(self, nonce: bytes, id_number: str) -> str:
        sealed = nonce + self._aeads[0].encrypt(nonce, id_number.encode(), None)
        return TOKEN_PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def decrypt(self, token: str) -> str:
        if not token.startswith(TOKEN_PREFIX):
            return self._fernet.decrypt(token.encode()).decode()
        for aead in self._aeads:
            try:
                return _opened(aead, token)
            except InvalidToken:
                continue
        raise InvalidToken

    def blind_index(self, id_number: str) -> str:
        mac = self._index_mac.copy()
        mac.update(id_number.upper().encode())
        return mac.hexdigest()

    def is_current(self, token: str) -> bool:
        """Whether `token` is of the current format and key (re-encryption leaves such rows alone)."""
        try:
            return token.startswith(TOKEN_PREFIX) and bool(_opened(self._aeads[0], token))
        except InvalidToken:
            return False

    def rotate(self, token: str) -> str:
        """The same ID number encrypted under the current key, in the current format."""
        return self.encrypt(self.decrypt(token))


def previous_keys(value: str | None) -> list[str]:
    return [key.strip() for key in (value or "").split(",") if key.strip()]


def init_app(app: Flask) -> None:
    app.extensions["id_cipher"] = IdCipher(*_keys(app))


def cipher_keys() -> tuple[str, tuple[str, ...]]:
    """The current key and the previous ones, as `IdCipher` takes them (for a process of its own: the
    registry sync's reader builds its cipher from them)."""
    return _keys(current_app)


def _keys(app: Flask) -> tuple[str, tuple[str, ...]]:
    return app.config["ID_ENCRYPTION_KEY"], tuple(previous_keys(app.config.get("ID_ENCRYPTION_KEYS_PREVIOUS")))


def cipher() -> IdCipher:
    return current_app.extensions["id_cipher"]


@dataclass(frozen=True)
class Reencrypted:
    residents: int  # rows read
    rewritten: int  # rows moved to the current key


def reencrypt_all(batch_size: int = REENCRYPT_BATCH) -> Iterator[Reencrypted]:
    """Move every resident's ID number to the current key, one committed batch at a time (keyset order,
    so a rerun after a crash simply finds those rows current); yields each batch's counts."""
    after = 0
    while rows := _batch(after, batch_size):
        rewritten = [(row_id, cipher().rotate(token)) for row_id, token in rows if not cipher().is_current(token)]
        for row_id, token in rewritten:
            db.session.execute(db.update(Resident).where(Resident.id == row_id).values(id_number_encrypted=token))
        db.session.commit()
        after = rows[-1][0]
        yield Reencrypted(len(rows), len(rewritten))


def _batch(after: int, size: int) -> list[tuple[int, str]]:
    query = (db.select(Resident.id, Resident.id_number_encrypted).where(Resident.id > after)
             .order_by(Resident.id).limit(size))  # fmt: skip
    return [(row_id, token) for row_id, token in db.session.execute(query)]
