"""Real-name binding (API.md 'Auth and identity'): after the face check, the ID number and name against the
identity service and the agency's registry (sandbox, over HTTP), one resident per user, encryption at rest,
rate limits. The face check itself: test_face_verification.py."""

import pytest

from integrations.sandbox import demo_data
from miniapp_api.core.pii import IdCipher
from models import Resident, db
from policy import id_number as id_numbers
from tests.support.constants import NOW
from tests.support.miniapp import login, real_name, verified, verify
from tests.support.workers import REDIS_TEST_URL

WANG = demo_data.by_key("parent_1958")


def test_real_name_binds_and_returns_masked_resident(client):
    headers, resident = verified(client, "parent_1958")
    assert resident["name"] == "王*国" and resident["id_number"] == "1401**********0017"
    assert resident["birth_date"] == "1958-09-12" and resident["age"] == 68 and resident["region_code"] == "140105"
    me = client.get("/api/v1/me", headers=headers).get_json()
    assert me["verified"] is True and me["resident"] == resident and me["dependents"] == []
    assert verify(client, headers, "parent_1958") == resident  # repeating it is harmless


def test_lowercase_x_is_accepted(client):
    headers = login(client, "child_1985")
    person = demo_data.by_key("child_1985")
    response = real_name(client, headers, person["id_number"].lower(), person["name"])
    assert response.status_code == 200


@pytest.mark.parametrize(
    "id_number",
    [
        "14010519580912001",
        "1401051958091200177",
        "140105195809120018",
        "990105195809120017",
        "140105195802300017",
        "14010519580912001A",
        "",
    ],
)
def test_invalid_id_numbers_are_422(client, id_number):
    headers = login(client, "parent_1958")
    response = real_name(client, headers, id_number, "王建国", verify_result="never-read")
    assert response.status_code == 422 and response.get_json()["code"] == "invalid_id_number"
    assert "id_number" in response.get_json()["errors"]


@pytest.mark.parametrize(
    "key, name, status, error",
    [("parent_1958", "王建军", 403, "identity_mismatch"), ("unenrolled_1992", None, 404, "not_enrolled")],
)
def test_identity_and_enrolment_failures(client, key, name, status, error):
    headers = login(client, key)
    person = demo_data.by_key(key)
    response = real_name(client, headers, person["id_number"], name or person["name"])
    assert response.status_code == status and response.get_json()["code"] == error


def test_one_resident_per_user_and_one_user_per_resident(client):
    headers, _ = verified(client, "parent_1958")
    other = demo_data.by_key("child_1985")
    response = real_name(client, headers, other["id_number"], other["name"])
    assert response.status_code == 409 and response.get_json()["code"] == "already_bound"
    # One user per resident: a second face-verified user takes the binding over (the first loses it);
    # test_face_verification.py follows the move in full.
    second_user = login(client, "someone_else")
    response = real_name(client, second_user, WANG["id_number"], WANG["name"])
    assert response.status_code == 200
    assert client.get("/api/v1/me", headers=headers).status_code == 401
    assert client.get("/api/v1/me", headers=second_user).get_json()["verified"] is True


def test_id_number_is_encrypted_at_rest_with_a_blind_index(app, client):
    verified(client, "parent_1958")
    with app.app_context():
        row = db.session.scalar(db.select(Resident))
        assert WANG["id_number"] not in row.id_number_encrypted
        assert WANG["id_number"] not in row.id_number_index and len(row.id_number_index) == 64
        assert row.id_number_masked == WANG["id_number"][:4] + "*" * 10 + WANG["id_number"][-4:]


def test_masked_views_read_the_kept_mask_without_decrypting(app, client, monkeypatch):
    headers, _ = verified(client, "parent_1958")
    monkeypatch.setattr(IdCipher, "decrypt", lambda self, token: pytest.fail("decrypted for a masked view"))
    resident = client.get("/api/v1/me", headers=headers).get_json()["resident"]
    assert resident["id_number"] == WANG["id_number"][:4] + "*" * 10 + WANG["id_number"][-4:]


def test_real_name_attempts_are_rate_limited(client):
    headers = login(client, "parent_1958")
    statuses = [real_name(client, headers, WANG["id_number"], "王建军").status_code for _ in range(6)]
    assert statuses[:5] == [403] * 5 and statuses[5] == 429
    response = real_name(client, headers, WANG["id_number"], "x")
    assert response.get_json()["code"] == "rate_limited" and int(response.headers["Retry-After"]) > 0


def test_rate_limits_are_shared_through_redis(make_app):
    import redis

    store = redis.Redis.from_url(REDIS_TEST_URL)
    store.flushdb()
    first, second = make_app(REDIS_URL=REDIS_TEST_URL), make_app(REDIS_URL=REDIS_TEST_URL)
    from miniapp_api.core import ratelimit

    hits = []
    for app in (first, second, first):
        with app.test_request_context():
            try:
                ratelimit.limit("shared-test", 2, 60)
                hits.append("ok")
            except Exception as exc:  # the third hit, whichever worker takes it
                hits.append(exc.code)
    assert hits == ["ok", "ok", "rate_limited"]
    store.flushdb()
    store.close()


@pytest.mark.parametrize("hops, second_status", [(None, 429), (1, 403)])
def test_client_address_behind_a_proxy(make_app, hops, second_status):
    """Per-address limits count the real client only when PROXY_FIX_HOPS says a proxy is in front."""
    client = make_app(PROXY_FIX_HOPS=hops).test_client()
    statuses = []
    for n in range(31):
        headers = {**login(client, f"visitor{n}"), "X-Forwarded-For": f"10.0.0.{1 if n < 30 else 2}"}
        # A different (unknown) person each time: the per-person limit on failures stays out of the way.
        stranger = id_numbers.make("140105", NOW.date().replace(year=1970), 500 + n)
        statuses.append(real_name(client, headers, stranger, "王建军").status_code)
    assert statuses[:30] == [403] * 30 and statuses[30] == second_status
