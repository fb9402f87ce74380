"""Bearer tokens (API.md 'Auth and identity'): anything but a token the app issued is 401, and tokens
expire by the app clock."""

import datetime as dt

import jwt
import pytest

from models import WeChatUser, db
from tests.support.miniapp import login

CLAIMS = {"sub": "1", "iat": 1, "exp": 9999999999}


@pytest.mark.parametrize(
    "make_header",
    [
        lambda app: {},
        lambda app: {"Authorization": "Bearer not-a-jwt"},
        lambda app: {"Authorization": "Basic abc"},
        lambda app: {"Authorization": "Bearer " + jwt.encode(CLAIMS, key=None, algorithm="none")},
        lambda app: {"Authorization": "Bearer " + jwt.encode(CLAIMS, "x" * 32, algorithm="HS256")},
        lambda app: {"Authorization": "Bearer " + jwt.encode(CLAIMS, app.config["SECRET_KEY"], algorithm="HS512")},
    ],
    ids=["missing", "garbage", "basic", "alg-none", "wrong-key", "hs512"],
)
def test_bad_tokens_are_401_problems(app, client, make_header):
    with app.app_context():
        db.session.add(WeChatUser(openid="o1", created_at=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc)))
        db.session.commit()
    response = client.get("/api/v1/me", headers=make_header(app))
    assert response.status_code == 401 and response.content_type == "application/problem+json"
    assert response.get_json()["code"] == "unauthorized"


def test_tokens_expire_by_the_app_clock(make_app):
    app = make_app()
    headers = login(app.test_client(), "parent_1958")
    later = make_app(
        APP_NOW="2027-03-02T12:00:01+08:00",
        SECRET_KEY=app.config["SECRET_KEY"],
        DATABASE_URL=app.config["DATABASE_URL"],
    )
    assert later.test_client().get("/api/v1/me", headers=headers).status_code == 401
    still = make_app(APP_NOW="2027-03-02T11:59:00+08:00", DATABASE_URL=app.config["DATABASE_URL"])
    assert still.test_client().get("/api/v1/me", headers=headers).status_code == 200
