"""Certificate numbers: `SXBY-7KQ4-M2XD-93TF-A1BC`, 80 random bits in Crockford base32, nothing personal."""

from __future__ import annotations

import re
import secrets

PREFIX = "SXBY"  # 山西补充养老 (Shanxi supplementary pension)
RANDOM_BITS = 80
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # no I, L, O, U: nothing to misread
_GROUP = 4
_SYMBOLS = RANDOM_BITS // 5
_SHAPE = re.compile(rf"{PREFIX}(-[{CROCKFORD}]{{{_GROUP}}}){{{_SYMBOLS // _GROUP}}}")


def new_certificate_number() -> str:
    """A fresh, unguessable certificate number from the OS random source."""
    return unpacked(secrets.token_bytes(RANDOM_BITS // 8))


def packed(certificate_no: str) -> bytes:
    """The number's 80 random bits as 10 bytes (what a verification token carries); ValueError if no number."""
    if not is_certificate_number(certificate_no):
        raise ValueError("not a certificate number")
    symbols = certificate_no.removeprefix(PREFIX).replace("-", "")
    value = 0
    for symbol in symbols:
        value = value << 5 | CROCKFORD.index(symbol)
    return value.to_bytes(RANDOM_BITS // 8, "big")


def unpacked(raw: bytes) -> str:
    """The certificate number of `packed` bytes."""
    value = int.from_bytes(raw, "big")
    symbols = "".join(CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(_SYMBOLS)))
    groups = [symbols[i : i + _GROUP] for i in range(0, _SYMBOLS, _GROUP)]
    return "-".join([PREFIX, *groups])


def is_certificate_number(text: str) -> bool:
    """Whether `text` has the exact shape of a certificate number (uppercase, grouped)."""
    return isinstance(text, str) and _SHAPE.fullmatch(text) is not None
