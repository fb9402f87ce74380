"""First visits that race: the same person logging in twice at once, two phones claiming one resident, one
verify_result sent twice at once."""

import datetime as dt

import pytest
import requests

from integrations.sandbox import demo_data
from models import BindingChange, Resident, UsedFaceResult, WeChatUser, db
from tests.support import factories
from tests.support.concurrency import at_once
from tests.support.database import count
from tests.support.live_server import serve
from tests.support.miniapp import face_check, login

WANG = demo_data.by_key("parent_1958")


def _real_name(base: str, headers: dict, verify_result: str):
    return lambda: requests.post(
        f"{base}/api/v1/auth/real-name",
        headers=headers,
        timeout=30,
        json={"id_number": WANG["id_number"], "name": WANG["name"], "verify_result": verify_result},
    )


@pytest.mark.postgres_only
@pytest.mark.parametrize("known", [False, True], ids=["first-visit", "resident-known"])
def test_two_phones_claiming_one_resident_bind_exactly_one(make_app, known):
    """Both face-verified: whichever binds first loses the binding to the other at once (never two holders,
    never a half-made move), and both moves are recorded. With the resident already known, both reach
    the binding together (a first visit serialises on inserting the resident)."""
    app = make_app()
    client = app.test_client()
    if known:
        with app.app_context():
            factories.resident(WANG["id_number"], name=WANG["name"])
            db.session.commit()
    phones = [login(client, f"phone{n}") for n in range(2)]
    results = [face_check(client, headers, WANG["id_number"], WANG["name"]) for headers in phones]
    with serve(app) as base:
        answers = at_once([_real_name(base, headers, result) for headers, result in zip(phones, results, strict=True)])
        assert sorted(r.status_code for r in answers) == [200, 200], [r.text for r in answers]
        mes = [requests.get(f"{base}/api/v1/me", headers=headers, timeout=30).status_code for headers in phones]
    assert sorted(mes) == [200, 401]  # the holder now, and the phone the binding moved away from
    assert count(app, Resident) == 1
    with app.app_context():
        holders = db.session.scalars(db.select(WeChatUser).where(WeChatUser.resident_id.is_not(None))).all()
        assert len(holders) == 1
        changes = db.session.scalars(db.select(BindingChange).order_by(BindingChange.id)).all()
        assert [c.cause for c in changes] == ["real_name", "face_verified_move"]
        assert changes[1].from_user_id == changes[0].to_user_id and changes[1].to_user_id == holders[0].id


@pytest.mark.postgres_only
def test_one_verify_result_sent_twice_at_once_is_accepted_once(make_app):
    app = make_app()
    client = app.test_client()
    headers = login(client, "parent_1958")
    result = face_check(client, headers, WANG["id_number"], WANG["name"])
    with serve(app) as base:
        answers = at_once([_real_name(base, headers, result) for _ in range(4)])
    outcomes = sorted((r.status_code, r.json().get("code")) for r in answers)
    assert outcomes == [(200, None)] + [(403, "face_verification_failed")] * 3
    assert count(app, UsedFaceResult) == 1


@pytest.mark.postgres_only
def test_the_same_first_login_twice_at_once_makes_one_user(make_app):
    app = make_app()
    with serve(app) as base:
        answers = at_once(
            [
                lambda n=n: requests.post(f"{base}/api/v1/auth/login", json={"code": f"test:twin:{n}"}, timeout=30)
                for n in range(4)
            ]
        )
    assert [r.status_code for r in answers] == [200] * 4
    assert count(app, WeChatUser) == 1


def test_a_resident_inserted_meanwhile_is_reused(app, monkeypatch):
    """The savepoint path, deterministically: the lookup misses, the insert collides, the winner is used."""
    from integrations.agency import parse_record
    from miniapp_api.identity import residents

    record = parse_record(demo_data.registry_record(WANG["id_number"], dt.date(2027, 3, 2)))
    with app.test_request_context():
        winner = residents.sync_from_registry(record)
        db.session.commit()
        monkeypatch.setattr(residents, "find_by_id_number", _miss_once(residents.find_by_id_number))
        assert residents.sync_from_registry(record).id == winner.id
        db.session.commit()
    assert count(app, Resident) == 1


def _miss_once(find):
    calls = []

    def lookup(number):
        calls.append(number)
        return None if len(calls) == 1 else find(number)

    return lookup


def test_a_binding_made_meanwhile_is_moved(app, monkeypatch):
    """The unique-constraint path, deterministically: the holder lookup misses, the binding collides with
    the user who took the resident meanwhile, and the second attempt moves it from them."""
    from miniapp_api.identity import bindings

    with app.test_request_context():
        resident = factories.resident(WANG["id_number"], name=WANG["name"])
        first, second = factories.user(resident), factories.user()
        db.session.commit()
        first_id, second_id = first.id, second.id
        monkeypatch.setattr(bindings, "_holder_of", _miss_once(bindings._holder_of))
        bindings.bind(second, resident)
        assert db.session.get(WeChatUser, first_id).resident_id is None
        assert db.session.get(WeChatUser, first_id).token_generation == 1
        assert db.session.get(WeChatUser, second_id).resident_id == resident.id
        moves = db.session.scalars(db.select(BindingChange)).all()
        assert [(m.cause, m.from_user_id, m.to_user_id) for m in moves] == [("face_verified_move", first_id, second_id)]
