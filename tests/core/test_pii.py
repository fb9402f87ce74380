"""ID numbers at rest: encryption, the blind index, and rotating the key without recomputing anything else."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import pickle

import pytest
from cryptography.fernet import Fernet, InvalidToken

from miniapp_api.core import pii
from miniapp_api.identity import residents
from models import Resident, db
from tests.support import factories

NUMBERS = [factories.new_id_number() for _ in range(7)]


def _stored(app) -> dict[int, tuple[str, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(Resident.id, Resident.id_number_encrypted, Resident.id_number_index))
        return {row_id: (token, index) for row_id, token, index in rows}


def _seed(app) -> None:
    with app.app_context():
        for number in NUMBERS:
            factories.resident(number)
        db.session.commit()


def test_a_previous_key_still_decrypts_and_the_index_stays(make_app, keys):
    first = make_app()
    _seed(first)
    rotated = make_app(
        ID_ENCRYPTION_KEY=Fernet.generate_key().decode(), ID_ENCRYPTION_KEYS_PREVIOUS=keys["ID_ENCRYPTION_KEY"]
    )
    with rotated.app_context():
        found = [residents.find_by_id_number(number) for number in NUMBERS]
        assert [residents.id_number_of(resident) for resident in found] == NUMBERS


def test_reencryption_moves_every_row_to_the_current_key_and_touches_nothing_else(make_app, keys):
    first = make_app()
    _seed(first)
    before = _stored(first)
    new_key = Fernet.generate_key().decode()
    rotated = make_app(ID_ENCRYPTION_KEY=new_key, ID_ENCRYPTION_KEYS_PREVIOUS=keys["ID_ENCRYPTION_KEY"])
    with rotated.app_context():
        batches = list(pii.reencrypt_all(batch_size=3))
        assert [(b.residents, b.rewritten) for b in batches] == [(3, 3), (3, 3), (1, 1)]
        assert sum(b.rewritten for b in pii.reencrypt_all(batch_size=3)) == 0  # a rerun finds nothing to do
    after = _stored(rotated)
    assert {row: index for row, (_, index) in after.items()} == {row: index for row, (_, index) in before.items()}
    assert all(after[row][0] != before[row][0] for row in before)
    current_only = pii.IdCipher(new_key)
    assert sorted(current_only.decrypt(token) for token, _ in after.values()) == sorted(NUMBERS)


def test_the_index_root_survives_a_second_rotation(make_app, keys):
    first = make_app()
    _seed(first)
    second, third = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    previous = f"{second}, {keys['ID_ENCRYPTION_KEY']}"  # newest first; the first key ever used stays last
    app = make_app(ID_ENCRYPTION_KEY=third, ID_ENCRYPTION_KEYS_PREVIOUS=previous)
    with app.app_context():
        assert residents.find_by_id_number(NUMBERS[0]) is not None
        assert residents.id_number_of(residents.find_by_id_number(NUMBERS[-1])) == NUMBERS[-1]


def test_new_rows_are_encrypted_with_the_current_key_only(keys):
    new_key = Fernet.generate_key().decode()
    rotated = pii.IdCipher(new_key, [keys["ID_ENCRYPTION_KEY"]])
    token = rotated.encrypt(NUMBERS[0])
    assert pii.IdCipher(new_key).decrypt(token) == NUMBERS[0]
    assert rotated.is_current(token) and not rotated.is_current(pii.IdCipher(keys["ID_ENCRYPTION_KEY"]).encrypt("x"))


def test_the_command_reencrypts_and_prints_one_json_line(make_app, keys):
    _seed(make_app())
    rotated = make_app(
        ID_ENCRYPTION_KEY=Fernet.generate_key().decode(), ID_ENCRYPTION_KEYS_PREVIOUS=keys["ID_ENCRYPTION_KEY"]
    )
    result = rotated.test_cli_runner().invoke(args=["residents", "reencrypt-ids", "--batch-size", "4"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output.strip().splitlines()[-1]) == {
        "command": "residents reencrypt-ids", "residents": len(NUMBERS), "reencrypted": len(NUMBERS)}  # fmt: skip
    again = rotated.test_cli_runner().invoke(args=["residents", "reencrypt-ids"])
    assert json.loads(again.output.strip().splitlines()[-1])["reencrypted"] == 0


def _earlier_format(key: str, number: str) -> str:
    """A Fernet token as rows written before AES-256-GCM hold them."""
    return pii._fernet(pii._master(key)).encrypt(number.encode()).decode()


def test_tokens_are_aes_gcm_sealed_with_a_fresh_nonce_and_refuse_tampering(keys):
    cipher = pii.IdCipher(keys["ID_ENCRYPTION_KEY"])
    first, second = cipher.encrypt(NUMBERS[0]), cipher.encrypt(NUMBERS[0])
    assert first.startswith(pii.TOKEN_PREFIX) and first != second
    assert cipher.decrypt(first) == cipher.decrypt(second) == NUMBERS[0]
    sealed = bytearray(base64.urlsafe_b64decode(first[len(pii.TOKEN_PREFIX) :]))
    sealed[-1] ^= 1
    tampered = pii.TOKEN_PREFIX + base64.urlsafe_b64encode(bytes(sealed)).decode()
    for bad in (tampered, pii.TOKEN_PREFIX + "not base64!", pii.IdCipher(Fernet.generate_key().decode()).encrypt("x")):
        with pytest.raises(InvalidToken):
            cipher.decrypt(bad)


def test_tokens_made_together_each_have_their_own_nonce(keys):
    cipher = pii.IdCipher(keys["ID_ENCRYPTION_KEY"])
    tokens = cipher.encrypt_many([NUMBERS[0]] * 50 + list(NUMBERS))
    nonces = {base64.urlsafe_b64decode(token[len(pii.TOKEN_PREFIX) :])[: pii.NONCE_BYTES] for token in tokens}
    assert len(nonces) == len(tokens)
    assert [cipher.decrypt(token) for token in tokens] == [NUMBERS[0]] * 50 + list(NUMBERS)
    assert cipher.encrypt_many([]) == []


def test_a_cipher_cannot_be_pickled_into_a_cache_or_a_queue_its_keys_travel_only_on_purpose(app, keys):
    with pytest.raises(TypeError):
        pickle.dumps(pii.IdCipher(keys["ID_ENCRYPTION_KEY"]))
    with app.app_context():
        rebuilt = pii.IdCipher(*pii.cipher_keys())  # what the registry sync's reader does
        assert rebuilt.decrypt(pii.cipher().encrypt(NUMBERS[0])) == NUMBERS[0]
        assert rebuilt.blind_index(NUMBERS[0]) == pii.cipher().blind_index(NUMBERS[0])


def test_the_blind_index_is_hmac_sha256_of_the_upper_case_number_under_the_derived_key(keys):
    """Every stored row is found by this value: any other formula would orphan them all."""
    master = base64.urlsafe_b64decode(keys["ID_ENCRYPTION_KEY"])
    key = pii._derive(master, b"id-number-blind-index")
    number = "14010519580912001x"
    expected = hmac.new(key, number.upper().encode(), hashlib.sha256).hexdigest()
    cipher = pii.IdCipher(keys["ID_ENCRYPTION_KEY"])
    assert cipher.blind_index(number) == cipher.blind_index(number.upper()) == expected


def test_tokens_of_the_earlier_fernet_format_still_decrypt_and_are_rewritten(app, keys):
    with app.app_context():
        for number in NUMBERS[:3]:
            factories.resident(number).id_number_encrypted = _earlier_format(keys["ID_ENCRYPTION_KEY"], number)
        db.session.commit()
        assert [residents.id_number_of(residents.find_by_id_number(n)) for n in NUMBERS[:3]] == NUMBERS[:3]
        assert not pii.cipher().is_current(_earlier_format(keys["ID_ENCRYPTION_KEY"], NUMBERS[0]))
        assert sum(batch.rewritten for batch in pii.reencrypt_all()) == 3  # same key, current format
    after = _stored(app)
    assert all(token.startswith(pii.TOKEN_PREFIX) for token, _ in after.values())
    assert sorted(pii.IdCipher(keys["ID_ENCRYPTION_KEY"]).decrypt(t) for t, _ in after.values()) == sorted(NUMBERS[:3])
