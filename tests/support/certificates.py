"""A resident with a paid year and the callers around them, and their certificate issued through the API."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from models import WeChatUser, db
from tests.support import factories
from tests.support.callers import caller_users

ID_NUMBER = "140105195809120017"
NAME = "王建国"
PAID_AT = factories.T0  # Tuesday 2027-03-02 10:00 +08:00
AVAILABLE_AT = "2027-03-09T00:00:00+08:00"  # five weekdays later (2027: no holiday data)


def at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text)


def freeze(app, text: str) -> None:
    app.extensions["clock"].freeze(at(text))


def seed(app, paid_at: dt.datetime | None = PAID_AT, year: int = 2027, kind: str = "normal") -> SimpleNamespace:
    """The resident (with a paid order for `year` unless paid_at is None) and the user ids of the caller
    set around them (tests/support/callers.py) in `users`; `owner` and `stranger` for short."""
    with app.app_context():
        owner = factories.resident(ID_NUMBER, name=NAME, birth_date=dt.date(1958, 9, 12))
        if paid_at is not None:
            factories.paid_order(owner, year=year, paid_at=paid_at, kind=kind, collective_fen=5_000)
        users = {who: user.id for who, user in caller_users(owner).items()}
        world = SimpleNamespace(
            resident_id=owner.public_id,
            owner_row_id=owner.id,
            users=users,
            owner=users["self"],
            stranger=users["stranger"],
        )
        db.session.commit()
    return world


def auth(client, user_id: int) -> dict:
    """A bearer header issued at the app's current (frozen) time."""
    with client.application.app_context():
        return factories.auth_header(db.session.get(WeChatUser, user_id))


def issue(client, world, user_id: int | None = None, year: int = 2027):
    return client.post(
        f"/api/v1/residents/{world.resident_id}/certificates",
        json={"year": year},
        headers=auth(client, world.owner if user_id is None else user_id),
    )


def issued(app, client, world) -> dict:
    freeze(app, AVAILABLE_AT)
    response = issue(client, world)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def token_of(certificate: dict) -> str:
    return certificate["verify_url"].rsplit("/", 1)[1]
