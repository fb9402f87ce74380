"""ID numbers at rest: encrypted (Fernet), with a keyed blind index (HMAC-SHA256) for exact lookup.

Both keys are derived from `ID_ENCRYPTION_KEY` with HKDF under different labels, so the index
reveals nothing without the key and cannot be used to decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app


def _derive(master: bytes, label: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=label).derive(master)


class IdCipher:
    def __init__(self, key: str):
        master = base64.urlsafe_b64decode(key)
        if len(master) != 32:
            raise ValueError("ID_ENCRYPTION_KEY must be 32 bytes in URL-safe base64")
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(master, b"id-number-encryption")))
        self._index_key = _derive(master, b"id-number-blind-index")

    def encrypt(self, id_number: str) -> str:
        return self._fernet.encrypt(id_number.encode()).decode()

    def decrypt(self, token: str) -> str:
        return self._fernet.decrypt(token.encode()).decode()

    def blind_index(self, id_number: str) -> str:
        return hmac.new(self._index_key, id_number.upper().encode(), hashlib.sha256).hexdigest()


def init_app(app) -> None:
    app.extensions["id_cipher"] = IdCipher(app.config["ID_ENCRYPTION_KEY"])


def cipher() -> IdCipher:
    return current_app.extensions["id_cipher"]
