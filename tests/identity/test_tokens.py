"""Bearer tokens (API.md 'Auth and identity'): anything but a token the app issued is 401, and tokens
expire by the app clock."""

import datetime as dt

import jwt
import pytest

from miniapp_api.identity import tokens
from models import WeChatUser, db
from tests.support import factories
from tests.support.constants import NOW
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


def test_a_token_accepted_once_is_refused_under_another_key(make_app):
    """A token's signature is checked once per secret: a verdict cached under one key never serves another."""
    app = make_app()
    headers = login(app.test_client(), "parent_1958")
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200
    rotated = make_app(SECRET_KEY="k" * 48, DATABASE_URL=app.config["DATABASE_URL"])
    assert rotated.test_client().get("/api/v1/me", headers=headers).status_code == 401
    assert app.test_client().get("/api/v1/me", headers=headers).status_code == 200


def _user_with_token(app, generation: int = 0) -> tuple[int, dict]:
    with app.app_context():
        user = WeChatUser(openid="o_gen", created_at=dt.datetime(2027, 1, 1, tzinfo=dt.timezone.utc))
        db.session.add(user)
        db.session.commit()
        return user.id, {"Authorization": f"Bearer {tokens.issue(user.id, generation)[0]}"}


def test_tokens_carry_the_users_generation(app, client):
    """Raising a user's token_generation (binding moved or ended) ends every token issued before, at once."""
    user_id, headers = _user_with_token(app)
    assert client.get("/api/v1/me", headers=headers).status_code == 200
    with app.app_context():
        db.session.get(WeChatUser, user_id).token_generation = 1
        db.session.commit()
        fresh = {"Authorization": f"Bearer {tokens.issue(user_id, 1)[0]}"}
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=fresh).status_code == 200


def test_a_login_issues_a_token_of_the_current_generation(app, client):
    headers = login(client, "parent_1958")
    with app.app_context():
        user = db.session.scalar(db.select(WeChatUser))
        user.token_generation = 3
        db.session.commit()
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=login(client, "parent_1958")).status_code == 200


@pytest.mark.parametrize(
    "claims, status",
    [
        ({"gen": "0"}, 401),
        ({"gen": True}, 401),
        ({"gen": 1}, 401),
        ({"iat": "yesterday"}, 401),
        ({"exp": [1]}, 401),
        ({}, 200),  # tokens from before generations existed belong to generation 0
    ],
    ids=["gen-string", "gen-bool", "gen-ahead", "iat-string", "exp-list", "no-gen"],
)
def test_odd_claims_are_401_never_500(app, client, claims, status):
    user_id, _ = _user_with_token(app)
    now = int(NOW.timestamp())
    token = jwt.encode(
        {"sub": str(user_id), "iat": now, "exp": now + 60, **claims}, app.config["SECRET_KEY"], algorithm="HS256"
    )
    assert client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).status_code == status


BAD_HEADERS = [
    {},
    {"Authorization": "Bearer not-a-jwt"},
    {"Authorization": "Bearer " + jwt.encode(CLAIMS, "x" * 32, algorithm="HS256")},
]


@pytest.mark.parametrize("path", ["account", "ledger"])
def test_resident_reads_check_the_token_and_its_generation(app, client, path):
    """The account and ledger read the resident and the caller in one statement: the same 401s as /me."""
    with app.app_context():
        owner = factories.resident()
        user = factories.user(owner)
        db.session.commit()
        url, user_id = f"/api/v1/residents/{owner.public_id}/{path}", user.id
        current = {"Authorization": f"Bearer {tokens.issue(user_id, 0)[0]}"}
    assert client.get(url, headers=current).status_code == 200
    for headers in BAD_HEADERS:
        response = client.get(url, headers=headers)
        assert (response.status_code, response.get_json()["code"]) == (401, "unauthorized"), headers
    with app.app_context():
        db.session.get(WeChatUser, user_id).token_generation = 1
        db.session.commit()
    assert client.get(url, headers=current).status_code == 401
