from __future__ import annotations

import base64
import stat

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from miniapp_api.certificates.numbers import new_certificate_number
from miniapp_api.certificates.token import (
    generate_private_key_file,
    key_id_of,
    load_private_key,
    sign_token,
    verify_token,
)

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@pytest.fixture(scope="module")
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture(scope="module")
def keys(key) -> dict:
    return {key_id_of(key.public_key()): key.public_key()}


@pytest.fixture(scope="module")
def token(key) -> str:
    return sign_token(key, key_id_of(key.public_key()), new_certificate_number())


def test_round_trip_is_url_safe_and_compact(key, keys):
    number = new_certificate_number()
    token = sign_token(key, key_id_of(key.public_key()), number)
    assert verify_token(keys, token) == number
    assert set(token) <= set(ALPHABET + ".") and "=" not in token
    assert len(token) == 8 + 1 + 99  # key id, dot, 64 + 10 bytes in base64url


def test_tokens_of_the_first_format_still_verify(key, keys):
    """Printed before the number was packed: the number's characters under the v1 domain tag."""
    number, key_id = new_certificate_number(), key_id_of(key.public_key())
    signature = key.sign(b"\0".join([b"SXBY-CERT-TOKEN-v1", key_id.encode(), number.encode()]))
    legacy = f"{key_id}.{base64.urlsafe_b64encode(signature + number.encode()).rstrip(b'=').decode()}"
    assert verify_token(keys, legacy) == number
    assert verify_token(keys, legacy[:-2] + ("A" if legacy[-2] != "A" else "B") + legacy[-1]) is None


def test_token_body_ends_in_a_character_with_unused_bits(token):
    """The tamper test below really covers the base64url trailing-bits trap."""
    body = token.split(".")[1]
    assert len(body) % 4 != 0
    assert (
        sum(
            base64.urlsafe_b64decode(body[:-1] + c + "==") == base64.urlsafe_b64decode(body + "==")
            for c in ALPHABET
            if c != body[-1]
        )
        > 0
    )


def test_changing_any_character_invalidates_the_token(keys, token):
    for position, original in enumerate(token):
        for replacement in ALPHABET + ".":
            if replacement != original:
                altered = token[:position] + replacement + token[position + 1 :]
                assert verify_token(keys, altered) is None, (position, replacement)


def test_dropping_or_adding_a_character_invalidates_the_token(keys, token):
    for position in range(len(token)):
        assert verify_token(keys, token[:position] + token[position + 1 :]) is None
    for position in range(len(token) + 1):
        assert verify_token(keys, token[:position] + "A" + token[position:]) is None


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        ".",
        "..",
        "abc",
        "abcd1234.",
        ".AAAA",
        "abcd1234.====",
        "abcd1234.AAAA=",
        "a.b.c",
        "abcd1234.AAAA\n",
        "abcd1234.ä",
        "x" * 5000,
        "\x00",
        None,
        42,
        b"abcd1234.AAAA",
    ],
)
def test_garbage_is_refused_without_raising(keys, garbage):
    assert verify_token(keys, garbage) is None


def test_padded_token_is_not_accepted(keys, token):
    assert verify_token(keys, token + "=") is None
    assert verify_token(keys, token + "==") is None


def test_unknown_key_and_relabelled_key_id_are_refused(key, token):
    other = Ed25519PrivateKey.generate()
    assert verify_token({}, token) is None
    assert verify_token({key_id_of(other.public_key()): other.public_key()}, token) is None
    # The same real key listed under another id must not accept a token signed under the first.
    relabelled = "zz" + token[2:]
    assert verify_token({relabelled.split(".")[0]: key.public_key()}, relabelled) is None


def test_rotation_keeps_old_certificates_valid(key, token):
    new = Ed25519PrivateKey.generate()
    new_id = key_id_of(new.public_key())
    both = {key_id_of(key.public_key()): key.public_key(), new_id: new.public_key()}
    fresh = sign_token(new, new_id, "SXBY-0000-0000-0000-0001")
    assert verify_token(both, token) is not None
    assert verify_token(both, fresh) == "SXBY-0000-0000-0000-0001"
    assert verify_token({new_id: new.public_key()}, token) is None


def test_sign_refuses_unusable_key_ids_and_empty_numbers(key):
    for key_id in ["", "a.b", "a b", "x" * 33, "é"]:
        with pytest.raises(ValueError):
            sign_token(key, key_id, "SXBY-0000-0000-0000-0001")
    for number in ["", "SXBY-0000", "sxby-0000-0000-0000-0001"]:
        with pytest.raises(ValueError):
            sign_token(key, "k1", number)


def test_key_id_is_eight_hex_characters_stable_per_key(key):
    key_id = key_id_of(key.public_key())
    assert len(key_id) == 8 and int(key_id, 16) >= 0
    assert key_id == key_id_of(key.public_key())
    assert key_id != key_id_of(Ed25519PrivateKey.generate().public_key())


def test_generated_key_file_loads_back_and_is_private(tmp_path):
    path = tmp_path / "keys" / "cert_signing_key.pem"
    key = generate_private_key_file(path)
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = load_private_key(path)
    token = sign_token(loaded, key_id_of(loaded.public_key()), "SXBY-0000-0000-0000-0001")
    assert verify_token({key_id_of(key.public_key()): key.public_key()}, token) is not None


def test_generate_never_overwrites(tmp_path):
    path = tmp_path / "key.pem"
    generate_private_key_file(path)
    before = path.read_bytes()
    with pytest.raises(FileExistsError):
        generate_private_key_file(path)
    assert path.read_bytes() == before


def test_load_refuses_other_key_types(tmp_path):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    path = tmp_path / "ec.pem"
    path.write_bytes(
        ec.generate_private_key(ec.SECP256R1()).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(TypeError):
        load_private_key(path)
