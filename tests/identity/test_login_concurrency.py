"""First visits that race: the same person logging in twice at once, or two phones claiming one resident."""

import datetime as dt

import pytest
import requests

from integrations.sandbox import demo_data
from models import Resident, WeChatUser, db
from tests.support.concurrency import at_once
from tests.support.database import count
from tests.support.live_server import serve
from tests.support.miniapp import login

WANG = demo_data.by_key("parent_1958")


@pytest.mark.postgres_only
def test_two_phones_claiming_one_resident_bind_exactly_one(make_app):
    app = make_app()
    phones = [login(app.test_client(), f"phone{n}") for n in range(2)]
    with serve(app) as base:
        statuses = at_once(
            [
                lambda headers=headers: requests.post(
                    f"{base}/api/v1/auth/real-name",
                    headers=headers,
                    timeout=30,
                    json={"id_number": WANG["id_number"], "name": WANG["name"]},
                )
                for headers in phones
            ]
        )
    assert sorted((r.status_code, r.json().get("code")) for r in statuses) == [(200, None), (409, "already_bound")]
    assert count(app, Resident) == 1


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
