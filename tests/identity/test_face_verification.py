"""Face verification before real-name binding (API.md `POST /auth/real-name`, INTEGRATIONS.md §1a, §1b),
through the API and the sandbox's WeChat over HTTP: only the person, on their own phone, for exactly what
they bind, recently, once; the binding moves to the face-verified person; failures count per person."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re

import pytest
import requests

from integrations.sandbox import demo_data
from integrations.sandbox.wechat import openid_for
from miniapp_api.core.logs import JsonFormatter
from models import BindingChange, UsedFaceResult, WeChatUser, db
from tests.support.miniapp import face_check, login, openid_of, real_name, verified
from tests.support.problems import assert_problem
from tests.support.workers import REDIS_TEST_URL

WANG = demo_data.by_key("parent_1958")
LI = demo_data.by_key("child_1985")
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def bind_wang(client, headers, outcome: str = "pass", **body):
    return real_name(client, headers, WANG["id_number"], WANG["name"], outcome, **body)


def me(client, headers):
    return client.get("/api/v1/me", headers=headers)


def sandbox_calls(app) -> dict:
    return requests.get(f"{app.config['WECHAT_API_BASE']}/sandbox/calls", timeout=10).json()


def calls_since(app, before: dict) -> dict:
    now = sandbox_calls(app)
    return {api: now[api] - before[api] for api in now}


# --- What the face check must show -------------------------------------------------------------------


@pytest.mark.parametrize(
    "verify_result", [{}, {"verify_result": ""}, {"verify_result": None}], ids=["missing", "empty", "null"]
)
def test_no_verify_result_is_422_face_verification_required(client, verify_result):
    headers = login(client, "parent_1958")
    payload = {"id_number": WANG["id_number"], "name": WANG["name"], **verify_result}
    problem = assert_problem(
        client.post("/api/v1/auth/real-name", headers=headers, json=payload), 422, "face_verification_required"
    )
    assert "verify_result" in problem["errors"] and CHINESE.search(problem["detail"])
    assert me(client, headers).get_json()["verified"] is False


def test_a_failed_face_check_is_403(client):
    headers = login(client, "parent_1958")
    problem = assert_problem(bind_wang(client, headers, "fail"), 403, "face_verification_failed")
    assert CHINESE.search(problem["detail"])
    assert me(client, headers).get_json()["verified"] is False


def test_an_unknown_verify_result_is_403(client):
    headers = login(client, "parent_1958")
    assert_problem(bind_wang(client, headers, verify_result="sbx_vr_never-handed-out"), 403, "face_verification_failed")


def test_a_verify_result_is_accepted_once(app, client):
    headers = login(client, "parent_1958")
    verify_result = face_check(client, headers, WANG["id_number"], WANG["name"])
    assert bind_wang(client, headers, verify_result=verify_result).status_code == 200
    # Not again, not even for the same harmless repeat, and not by anybody else.
    assert_problem(bind_wang(client, headers, verify_result=verify_result), 403, "face_verification_failed")
    other = login(client, "parent_1958")
    assert_problem(bind_wang(client, other, verify_result=verify_result), 403, "face_verification_failed")
    with app.app_context():
        spent = db.session.scalars(db.select(UsedFaceResult)).all()
        assert [row.digest for row in spent] == [hashlib.sha256(verify_result.encode()).hexdigest()]
    assert bind_wang(client, headers).status_code == 200  # a fresh face check: the repeat is harmless


def test_a_face_checked_on_another_users_phone_is_403(client):
    caller, thief = login(client, "parent_1958"), login(client, "thief")
    verify_result = face_check(client, caller, WANG["id_number"], WANG["name"], openid=openid_of(client, thief))
    assert_problem(bind_wang(client, caller, verify_result=verify_result), 403, "face_verification_failed")


@pytest.mark.parametrize(
    "checked",
    [
        {"id_number": LI["id_number"], "name": WANG["name"]},
        {"id_number": WANG["id_number"], "name": "王建军"},
        {"id_number": LI["id_number"], "name": LI["name"]},
    ],
    ids=["other-id-number", "other-name", "other-person"],
)
def test_a_face_checked_for_other_details_is_403(client, checked):
    headers = login(client, "parent_1958")
    verify_result = face_check(client, headers, checked["id_number"], checked["name"])
    assert_problem(bind_wang(client, headers, verify_result=verify_result), 403, "face_verification_failed")


def test_the_md5_of_the_id_number_takes_x_upper_case(client):
    """The mini-program may pass a lower-case x to WeChat: WeChat hashes X upper-case, as the API does."""
    headers = login(client, "child_1985")
    verify_result = face_check(client, headers, LI["id_number"].lower(), LI["name"])
    response = real_name(client, headers, LI["id_number"].lower(), LI["name"], verify_result=verify_result)
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize(
    "age, status",
    [
        (dt.timedelta(minutes=9, seconds=50), 200),
        (dt.timedelta(minutes=10, seconds=10), 403),
        (dt.timedelta(hours=5), 403),
        (dt.timedelta(seconds=-30), 200),
        (dt.timedelta(minutes=-5), 403),
    ],
    ids=["9m50s-ago", "10m10s-ago", "5h-ago", "30s-ahead", "5m-ahead"],
)
def test_identify_time_must_be_recent_by_the_app_clock(client, age, status):
    headers = login(client, "parent_1958")
    verify_result = face_check(client, headers, WANG["id_number"], WANG["name"], age=age)
    response = bind_wang(client, headers, verify_result=verify_result)
    assert response.status_code == status, response.get_json()
    if status == 403:
        assert response.get_json()["code"] == "face_verification_failed"


def test_the_face_check_comes_before_the_identity_check(client):
    """A wrong name with a failed face check says face_verification_failed, not identity_mismatch."""
    headers = login(client, "parent_1958")
    response = real_name(client, headers, WANG["id_number"], "王建军", "fail")
    assert_problem(response, 403, "face_verification_failed")
    assert_problem(real_name(client, headers, WANG["id_number"], "王建军"), 403, "identity_mismatch")


def test_the_sandbox_derives_openids_as_its_logins_do(client):
    """`code` at the sandbox's face check names the same WeChat user as the login code does."""
    headers = login(client, "parent_1958")
    assert openid_of(client, headers) == openid_for("parent_1958")
    answer = requests.post(
        f"{client.application.config['WECHAT_API_BASE']}/sandbox/face-verify",
        json={
            "code": "test:parent_1958:any",
            "id_number": WANG["id_number"],
            "name": WANG["name"],
            "identify_time": int(client.application.extensions["clock"].now().timestamp()),
        },
        timeout=10,
    ).json()
    assert answer["openid"] == openid_for("parent_1958") and answer["outcome"] == "pass"
    assert bind_wang(client, headers, verify_result=answer["verify_result"]).status_code == 200


# --- The binding moves to the face-verified person ---------------------------------------------------


def test_the_binding_moves_to_the_face_verified_person(app, client):
    old_phone, resident = verified(client, "parent_1958")
    new_phone = login(client, "parent_1958_new_phone")
    response = bind_wang(client, new_phone)
    assert response.status_code == 200 and response.get_json()["resident"] == resident

    assert_problem(me(client, old_phone), 401, "unauthorized")  # every token of the old phone ends at once
    shown = me(client, new_phone).get_json()
    assert shown["verified"] is True and shown["resident"] == resident
    assert client.get(f"/api/v1/residents/{resident['resident_id']}/account", headers=new_phone).status_code == 200
    again = login(client, "parent_1958")  # the old phone logs in again: a user without a resident
    assert me(client, again).get_json() == {"verified": False, "resident": None, "dependents": []}
    assert_problem(client.get(f"/api/v1/residents/{resident['resident_id']}/account", headers=again), 404, "not_found")

    with app.app_context():
        old = db.session.scalar(db.select(WeChatUser).where(WeChatUser.openid == openid_for("parent_1958")))
        new = db.session.scalar(db.select(WeChatUser).where(WeChatUser.openid == openid_for("parent_1958_new_phone")))
        assert old.resident_id is None and old.verified_at is None and old.token_generation == 1
        assert new.resident_id is not None and new.token_generation == 0
        changes = db.session.scalars(db.select(BindingChange).order_by(BindingChange.id)).all()
        assert [(c.cause, c.from_user_id, c.to_user_id, c.resident_id) for c in changes] == [
            ("real_name", None, old.id, new.resident_id),
            ("face_verified_move", old.id, new.id, new.resident_id),
        ]
        assert all(c.changed_at is not None and c.reason is None for c in changes)


def test_a_failed_face_check_moves_nothing(app, client):
    owner, resident = verified(client, "parent_1958")
    intruder = login(client, "intruder")
    assert_problem(bind_wang(client, intruder, "fail"), 403, "face_verification_failed")
    assert me(client, owner).get_json()["resident"] == resident
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(BindingChange)) == 1


def test_a_user_bound_to_someone_else_is_409_before_any_face_check(app, client):
    headers, _ = verified(client, "parent_1958")
    verify_result = face_check(client, headers, LI["id_number"], LI["name"])
    assert_problem(
        real_name(client, headers, LI["id_number"], LI["name"], verify_result=verify_result), 409, "already_bound"
    )
    with app.app_context():  # the verify_result was not spent
        assert db.session.get(UsedFaceResult, hashlib.sha256(verify_result.encode()).hexdigest()) is None


# --- At most 5 failed attempts an hour against one person, whoever makes them ------------------------


def test_five_failures_against_one_person_lock_them_for_everyone(client):
    statuses = []
    for n in range(5):
        headers = login(client, f"stranger{n}")
        failing = (
            bind_wang(client, headers, "fail") if n % 2 else real_name(client, headers, WANG["id_number"], "王建军")
        )
        statuses.append(failing.get_json()["code"])
    assert statuses == ["identity_mismatch", "face_verification_failed"] * 2 + ["identity_mismatch"]
    fresh = login(client, "parent_1958")  # the real person, face-verified, on a fresh user
    refused = bind_wang(client, fresh)
    assert_problem(refused, 429, "rate_limited")
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    other = login(client, "child_1985")  # another person is not affected
    assert real_name(client, other, LI["id_number"], LI["name"]).status_code == 200


def test_successes_do_not_count_against_the_person(client):
    for n in range(4):
        assert bind_wang(client, login(client, f"stranger{n}"), "fail").status_code == 403
    assert bind_wang(client, login(client, "parent_1958")).status_code == 200  # does not count
    assert bind_wang(client, login(client, "stranger4"), "fail").status_code == 403  # the 5th failure
    assert_problem(bind_wang(client, login(client, "stranger5")), 429, "rate_limited")


def test_a_reused_verify_result_counts_as_a_failure(client):
    headers = login(client, "parent_1958")
    verify_result = face_check(client, headers, WANG["id_number"], WANG["name"])
    assert bind_wang(client, headers, verify_result=verify_result).status_code == 200
    for n in range(5):
        assert bind_wang(client, login(client, f"replayer{n}"), verify_result=verify_result).status_code == 403
    assert_problem(bind_wang(client, login(client, "replayer5")), 429, "rate_limited")


# --- The access token (§1a) --------------------------------------------------------------------------


def test_one_access_token_serves_many_face_checks(app, client):
    before = sandbox_calls(app)
    for key in ("parent_1958", "child_1985", "ordinary_1975"):
        verified(client, key)
    calls = calls_since(app, before)
    assert calls["getinfo"] == 3 and calls["stable_token"] == 1


def test_a_token_wechat_no_longer_knows_is_replaced_once(app, client):
    verified(client, "parent_1958")
    requests.post(f"{app.config['WECHAT_API_BASE']}/sandbox/control/revoke-tokens", timeout=10)
    before = sandbox_calls(app)
    verified(client, "child_1985")  # getinfo: 40001, a fresh token, getinfo again
    assert calls_since(app, before) == {"jscode2session": 1, "stable_token": 1, "getinfo": 2}


REDIS_DB = REDIS_TEST_URL


def test_the_access_token_is_shared_through_redis(make_app):
    import redis

    store = redis.Redis.from_url(REDIS_DB)
    store.flushdb()
    try:
        first, second = make_app(REDIS_URL=REDIS_DB), make_app(REDIS_URL=REDIS_DB)
        before = sandbox_calls(first)
        verified(first.test_client(), "parent_1958")
        verified(second.test_client(), "child_1985")  # another worker: the token from Redis
        calls = calls_since(first, before)
        assert calls["getinfo"] == 2 and calls["stable_token"] == 1
        key = f"wechat:access_token:{first.config['WECHAT_APPID']}"
        assert 0 < store.ttl(key) <= 7200 - 300
        assert store.get(key).decode() == first.extensions["clients"]["wechat"].tokens.get()
    finally:
        store.flushdb()
        store.close()


def test_the_access_token_and_the_verify_result_stay_out_of_the_logs(app, client, caplog):
    with caplog.at_level(logging.DEBUG):
        headers = login(client, "parent_1958")
        verify_result = face_check(client, headers, WANG["id_number"], WANG["name"])
        assert bind_wang(client, headers, verify_result=verify_result).status_code == 200
    token = app.extensions["clients"]["wechat"].tokens.get()
    assert token
    # The API's own records (the in-process sandbox's access log is the sandbox's business)...
    ours = [record.getMessage() for record in caplog.records if not record.name.startswith("werkzeug")]
    assert any("getinfo" in line for line in ours)  # urllib3 logged the call: the check looks at something
    assert not [line for line in ours if token in line or app.config["WECHAT_SECRET"] in line]
    # ...and every line as the app writes it.
    written = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert token not in written and verify_result not in written and WANG["id_number"] not in written


def test_wechat_down_during_the_face_check_is_503_and_spends_nothing(app, client, make_app):
    headers = login(client, "parent_1958")
    verify_result = face_check(client, headers, WANG["id_number"], WANG["name"])
    # The same API (database, keys, clock) at a moment WeChat does not answer.
    down = make_app(WECHAT_API_BASE="http://127.0.0.1:9/wechat", DATABASE_URL=app.config["DATABASE_URL"])
    response = down.test_client().post(
        "/api/v1/auth/real-name",
        headers=headers,
        json={"id_number": WANG["id_number"], "name": WANG["name"], "verify_result": verify_result},
    )
    assert_problem(response, 503, "wechat_unavailable")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(UsedFaceResult)) == 0
    assert bind_wang(client, headers, verify_result=verify_result).status_code == 200  # still good


def test_every_face_check_gets_a_fresh_verify_result(client):
    headers = login(client, "parent_1958")
    assert len({face_check(client, headers, WANG["id_number"], WANG["name"]) for _ in range(3)}) == 3


def test_the_api_document_shows_verify_result(client):
    schema = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"]["RealName"]
    assert "verify_result" in schema["properties"] and set(schema["required"]) == {"id_number", "name"}
