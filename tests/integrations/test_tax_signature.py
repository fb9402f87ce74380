"""Callback signatures: signing, verification over raw bytes, and the `TAX_PUBLIC_KEYS` file."""

from __future__ import annotations

import base64
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from integrations import tax_signature

BODY = b'{"event_id":"evt_1","amount_fen":100000,"channel":"wechat"}'


@pytest.fixture(scope="module")
def key():
    return tax_signature.generate_private_key()


@pytest.fixture(scope="module")
def other_key():
    return tax_signature.generate_private_key()


def test_signature_verifies_with_the_matching_public_key(key):
    signature = tax_signature.sign(key, 1803262500, "n0nce", BODY)
    assert tax_signature.verify(key.public_key(), "1803262500", "n0nce", BODY, signature)


def test_signed_message_is_timestamp_nonce_body_each_followed_by_newline():
    assert tax_signature.message(1803262500, "abc", b"{}") == b"1803262500\nabc\n{}\n"


def test_verify_rejects_one_altered_body_byte(key):
    signature = tax_signature.sign(key, 1803262500, "n0nce", BODY)
    altered = BODY.replace(b"100000", b"100001")
    assert not tax_signature.verify(key.public_key(), "1803262500", "n0nce", altered, signature)


def test_verify_uses_raw_bytes_not_reserialised_json(key):
    signature = tax_signature.sign(key, 1803262500, "n0nce", BODY)
    same_json = json.dumps(json.loads(BODY)).encode()  # equal as JSON, different bytes
    assert not tax_signature.verify(key.public_key(), "1803262500", "n0nce", same_json, signature)


@pytest.mark.parametrize("timestamp, nonce", [("1803262501", "n0nce"), ("1803262500", "other")])
def test_verify_rejects_changed_timestamp_or_nonce(key, timestamp, nonce):
    signature = tax_signature.sign(key, 1803262500, "n0nce", BODY)
    assert not tax_signature.verify(key.public_key(), timestamp, nonce, BODY, signature)


def test_verify_rejects_a_key_of_another_serial(key, other_key):
    signature = tax_signature.sign(key, 1803262500, "n0nce", BODY)
    assert not tax_signature.verify(other_key.public_key(), "1803262500", "n0nce", BODY, signature)


@pytest.mark.parametrize("garbage", ["", "not base64!!", "QUJD", "====", "é", base64.b64encode(b"x" * 256).decode()])
def test_verify_answers_false_to_garbage_signatures(key, garbage):
    assert tax_signature.verify(key.public_key(), "1803262500", "n0nce", BODY, garbage) is False


@pytest.mark.parametrize("public_key", [None, "PEM text", ed25519.Ed25519PrivateKey.generate().public_key()])
def test_verify_answers_false_without_a_usable_rsa_key(key, public_key):
    signature = tax_signature.sign(key, 1803262500, "n0nce", BODY)
    assert tax_signature.verify(public_key, "1803262500", "n0nce", BODY, signature) is False


def test_verify_answers_false_to_an_unencodable_nonce(key):
    signature = tax_signature.sign(key, 1803262500, "n0nce", BODY)
    assert tax_signature.verify(key.public_key(), "1803262500", "\udcff", BODY, signature) is False


def test_signed_headers_carry_serial_timestamp_nonce_and_a_valid_signature(key):
    headers = tax_signature.signed_headers(key, "s-1", 1803262500, BODY)
    assert headers["Tax-Serial"] == "s-1" and headers["Tax-Timestamp"] == "1803262500"
    assert tax_signature.verify(
        key.public_key(), headers["Tax-Timestamp"], headers["Tax-Nonce"], BODY, headers["Tax-Signature"]
    )


def test_load_public_keys_reads_several_serials(tmp_path, key, other_key):
    path = tmp_path / "keys.json"
    path.write_text(tax_signature.public_keys_json({"old": key, "new": other_key.public_key()}))
    keys = tax_signature.load_public_keys(path)
    assert set(keys) == {"old", "new"}
    signature = tax_signature.sign(other_key, 1, "n", BODY)
    assert tax_signature.verify(keys["new"], "1", "n", BODY, signature)


@pytest.mark.parametrize(
    "content, named",
    [
        ('{"good": "%s", "broken": "-----BEGIN PUBLIC KEY-----\\nAAAA\\n-----END PUBLIC KEY-----\\n"}', "'broken'"),
        ('{"good": "%s", "number": 5}', "'number'"),
    ],
)
def test_load_public_keys_names_the_bad_entry(tmp_path, key, content, named):
    path = tmp_path / "keys.json"
    path.write_text(content % tax_signature.public_pem(key).replace("\n", "\\n"))
    with pytest.raises(tax_signature.TaxKeyError, match=named):
        tax_signature.load_public_keys(path)


def test_load_public_keys_refuses_a_non_rsa_key(tmp_path):
    path = tmp_path / "keys.json"
    pem = (
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    path.write_text(json.dumps({"ed": pem}))
    with pytest.raises(tax_signature.TaxKeyError, match="'ed' is not an RSA public key"):
        tax_signature.load_public_keys(path)


@pytest.mark.parametrize("content", ["not json", "[]", "{}"])
def test_load_public_keys_refuses_a_file_that_is_not_a_key_object(tmp_path, content):
    path = tmp_path / "keys.json"
    path.write_text(content)
    with pytest.raises(tax_signature.TaxKeyError, match="keys.json"):
        tax_signature.load_public_keys(path)


def test_write_key_pair_writes_a_usable_private_key_and_keys_file(tmp_path):
    tax_signature.write_key_pair(tmp_path / "private.pem", tmp_path / "public.json", "demo-1")
    private = tax_signature.load_private_key(tmp_path / "private.pem")
    public = tax_signature.load_public_keys(tmp_path / "public.json")["demo-1"]
    assert tax_signature.verify(public, "1", "n", BODY, tax_signature.sign(private, 1, "n", BODY))
    assert (tmp_path / "private.pem").stat().st_mode & 0o777 == 0o600
