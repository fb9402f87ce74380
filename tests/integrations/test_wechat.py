"""WeChatClient over real HTTP: against the sandbox and against fakes of every failure mode.

Login (§1), the server access token (§1a: cached, refreshed once on 40001/42001, shared through Redis)
and face verification results (§1b)."""

from __future__ import annotations

import hashlib
import logging
import threading
import time

import pytest
import redis
import requests
from flask import jsonify, request

from integrations.errors import UpstreamError
from integrations.sandbox import demo_data
from integrations.sandbox.wechat import openid_for
from integrations.wechat import FaceVerification, WeChatClient, WeChatSession
from integrations.wechat_tokens import MemoryTokenCache, RedisTokenCache
from tests.support.upstream import (
    APPID,
    SECRET,
    SHORT_TIMEOUT,
    TRANSPORT_FAILURES,
    closed_port_url,
    full_text,
    sequence,
)
from tests.support.workers import REDIS_TEST_URL

WANG = demo_data.by_key("parent_1958")
LEAKY_TOKEN = "at-do-not-leak-93c1b7"


def client(base_url: str, secret: str = SECRET, **kwargs) -> WeChatClient:
    wechat = WeChatClient(base_url, APPID, secret, timeout=SHORT_TIMEOUT, **kwargs)
    wechat.retry_pause = 0.01
    return wechat


def refusal(code: str, base_url: str, secret: str = SECRET) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        client(base_url, secret).code_to_session(code)
    return caught.value


def assert_nothing_leaks(exc: UpstreamError, *secrets: str) -> None:
    for text in (SECRET, *secrets):
        assert text not in str(exc)
        assert text not in full_text(exc)


def test_sandbox_test_code_gives_a_stable_openid(sandbox_url):
    wechat = client(f"{sandbox_url}/wechat")
    first = wechat.code_to_session("test:alice")
    again = wechat.code_to_session("test:alice:2")
    assert first.openid == again.openid == openid_for("alice")
    assert first.session_key and first.session_key != again.session_key
    assert first.unionid is None
    assert wechat.code_to_session("test:bob").openid != first.openid


def test_session_key_and_secret_stay_out_of_reprs(sandbox_url):
    session = client(f"{sandbox_url}/wechat").code_to_session("test:carol")
    assert session.session_key not in repr(session)
    assert session.openid in repr(session)
    assert SECRET not in repr(client(sandbox_url))


def test_sandbox_code_works_once(sandbox_url):
    wechat = client(f"{sandbox_url}/wechat")
    wechat.code_to_session("test:dave")
    exc = refusal("test:dave", f"{sandbox_url}/wechat")
    assert (exc.code, exc.status) == ("invalid_wechat_code", 400)


@pytest.mark.parametrize(
    "code, expected",
    [
        ("test:invalid", ("invalid_wechat_code", 400)),
        ("not-a-test-code", ("invalid_wechat_code", 400)),
        ("test:", ("invalid_wechat_code", 400)),
        ("test:busy", ("wechat_unavailable", 503)),
        ("test:ratelimit", ("wechat_unavailable", 503)),
    ],
)
def test_sandbox_documented_codes(sandbox_url, code, expected):
    exc = refusal(code, f"{sandbox_url}/wechat")
    assert (exc.code, exc.status) == expected
    assert_nothing_leaks(exc)


def test_sandbox_refuses_a_wrong_secret_without_revealing_it(sandbox_url):
    wrong = "wrong-secret-0a9b8c"
    exc = refusal("test:alice", f"{sandbox_url}/wechat", secret=wrong)
    assert (exc.code, exc.status) == ("wechat_unavailable", 503)
    assert_nothing_leaks(exc, wrong)


def test_sends_the_documented_query(serve_fake):
    def answer():
        expected = {"appid": APPID, "secret": SECRET, "js_code": "abc", "grant_type": "authorization_code"}
        if request.path != "/sns/jscode2session" or request.args.to_dict() != expected:
            return jsonify({"errcode": 40013, "errmsg": "unexpected request"})
        return jsonify({"openid": "o1", "session_key": "k1", "unionid": "u1"})

    assert client(serve_fake(answer)).code_to_session("abc") == WeChatSession("o1", "k1", "u1")


@pytest.mark.parametrize(
    "errcode, expected",
    [
        (40029, ("invalid_wechat_code", 400)),
        (40163, ("invalid_wechat_code", 400)),
        (40226, ("wechat_user_blocked", 403)),
        (45011, ("wechat_unavailable", 503)),
        (-1, ("wechat_unavailable", 503)),
        (40125, ("wechat_unavailable", 503)),
        (99999, ("wechat_unavailable", 503)),
    ],
)
def test_errcodes_answered_with_http_200(serve_fake, errcode, expected):
    base = serve_fake(lambda: jsonify({"errcode": errcode, "errmsg": f"secret={SECRET}"}))
    exc = refusal("abc", base)
    assert (exc.code, exc.status) == expected
    assert_nothing_leaks(exc)


@pytest.mark.parametrize(
    "body",
    [
        {"openid": "o1"},
        {"session_key": "k1"},
        {"openid": "", "session_key": "k1"},
        {"openid": "o1", "session_key": 5},
        {"openid": "o1", "session_key": "leaky-key", "unionid": 7},
        {"errcode": "oops", "errmsg": "?"},
        {"errcode": [40029], "errmsg": "?"},
    ],
)
def test_malformed_answers(serve_fake, body):
    exc = refusal("abc", serve_fake(lambda: jsonify(body)))
    assert (exc.code, exc.status) == ("wechat_unavailable", 503)
    assert_nothing_leaks(exc, "leaky-key")


@pytest.mark.parametrize("mode", TRANSPORT_FAILURES)
def test_transport_failures(failing_url, mode):
    exc = refusal("abc", failing_url(mode))
    assert (exc.code, exc.status) == ("wechat_unavailable", 503)
    assert_nothing_leaks(exc)


def test_get_is_retried_after_a_503(serve_fake):
    answer = sequence(("busy", 503), {"openid": "o1", "session_key": "k1"})
    assert client(serve_fake(answer)).code_to_session("abc").openid == "o1"
    assert len(answer.calls) == 2


# --- §1a, §1b against the sandbox --------------------------------------------------------------------


def md5(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest()


def sandbox_face(sandbox_url: str, **body) -> str:
    body = {"code": "test:wang", "id_number": WANG["id_number"], "name": WANG["name"], **body}
    response = requests.post(f"{sandbox_url}/wechat/sandbox/face-verify", json=body, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()["verify_result"]


def test_sandbox_face_check_reads_as_wechat_would(sandbox_url):
    wechat = client(f"{sandbox_url}/wechat")
    before = time.time()
    outcome = wechat.face_verification(sandbox_face(sandbox_url, id_number=WANG["id_number"].lower()))
    assert outcome.recognised and outcome.openid == openid_for("wang")
    assert outcome.id_card_number_md5 == md5(WANG["id_number"].upper()) and outcome.name_utf8_md5 == md5(WANG["name"])
    assert before - 5 <= outcome.identify_time <= time.time() + 5  # the sandbox clock runs in real time here


def test_sandbox_face_check_failures(sandbox_url):
    wechat = client(f"{sandbox_url}/wechat")
    failed = wechat.face_verification(sandbox_face(sandbox_url, outcome="fail"))
    assert failed == FaceVerification(90100) and not failed.recognised
    assert wechat.face_verification("sbx_vr_unknown") is None  # errcode 84001
    verify_result = sandbox_face(sandbox_url, openid="o_given", identify_time=1804040000)
    assert wechat.face_verification(verify_result) == wechat.face_verification(
        verify_result
    )  # WeChat does not spend it
    assert wechat.face_verification(verify_result).openid == "o_given"
    assert wechat.face_verification(verify_result).identify_time == 1804040000


@pytest.mark.parametrize(
    "body",
    [
        {"id_number": WANG["id_number"], "name": WANG["name"]},
        {"code": "not-a-test-code", "id_number": WANG["id_number"], "name": WANG["name"]},
        {"code": "test:wang", "name": WANG["name"]},
        {"code": "test:wang", "id_number": WANG["id_number"], "name": " "},
        {"code": "test:wang", "id_number": WANG["id_number"], "name": WANG["name"], "outcome": "maybe"},
        {"code": "test:wang", "id_number": WANG["id_number"], "name": WANG["name"], "identify_time": "now"},
    ],
    ids=["no-user", "bad-code", "no-id-number", "blank-name", "bad-outcome", "bad-time"],
)
def test_sandbox_face_check_refuses_bad_requests(sandbox_url, body):
    response = requests.post(f"{sandbox_url}/wechat/sandbox/face-verify", json=body, timeout=5)
    assert response.status_code == 400 and response.json()["error"] == "bad_request"


def test_sandbox_stable_token_checks_the_credentials_without_revealing_them(sandbox_url):
    wrong = "wrong-secret-5d4c3b"
    with pytest.raises(UpstreamError) as caught:
        client(f"{sandbox_url}/wechat", secret=wrong).face_verification(sandbox_face(sandbox_url))
    assert (caught.value.code, caught.value.status) == ("wechat_unavailable", 503)
    assert_nothing_leaks(caught.value, wrong)
    answer = requests.post(
        f"{sandbox_url}/wechat/cgi-bin/stable_token",
        json={"grant_type": "client_credential", "appid": "wx_other", "secret": SECRET},
        timeout=5,
    ).json()
    assert answer["errcode"] == 40013


def test_sandbox_tokens_are_stable_and_checked(sandbox_url):
    def stable(**extra):
        body = {"grant_type": "client_credential", "appid": APPID, "secret": SECRET, **extra}
        return requests.post(f"{sandbox_url}/wechat/cgi-bin/stable_token", json=body, timeout=5).json()

    def getinfo(token):
        url = f"{sandbox_url}/wechat/cityservice/face/identify/getinfo"
        params = {"access_token": token} if token else {}
        return requests.post(url, params=params, json={"verify_result": "x"}, timeout=5).json()["errcode"]

    first = stable()
    assert first["access_token"] and 0 < first["expires_in"] <= 7200
    assert stable()["access_token"] == first["access_token"]  # the token in force
    forced = stable(force_refresh=True)["access_token"]
    assert forced != first["access_token"]
    assert getinfo(forced) == 84001 and getinfo("made-up") == 40001 and getinfo(None) == 41001
    requests.post(f"{sandbox_url}/wechat/sandbox/control/revoke-tokens", timeout=5)
    assert getinfo(forced) == 40001


# --- §1a the access token, against fakes --------------------------------------------------------------


class FakeWeChat:
    """A fake WeChat server API: stable_token answers `tokens` in turn (then the last), getinfo `faces`
    in turn; both record what they were sent."""

    def __init__(self, tokens=None, faces=None):
        self.tokens = tokens or [{"access_token": "T1", "expires_in": 7200}]
        self.faces = faces or [recognised()]
        self.token_requests: list[dict] = []
        self.face_requests: list[dict] = []
        self.lock = threading.Lock()

    def __call__(self):
        with self.lock:
            if request.path == "/cgi-bin/stable_token":
                self.token_requests.append({"query": request.args.to_dict(), "json": request.get_json(silent=True)})
                return jsonify(self.tokens[min(len(self.token_requests), len(self.tokens)) - 1])
            if request.path == "/cityservice/face/identify/getinfo":
                self.face_requests.append({"query": request.args.to_dict(), "json": request.get_json(silent=True)})
                answer = self.faces[min(len(self.face_requests), len(self.faces)) - 1]
                return answer(self.face_requests[-1]) if callable(answer) else jsonify(answer)
        return jsonify({"errcode": 40066, "errmsg": "invalid url"})

    @property
    def used_tokens(self) -> list[str | None]:
        return [call["query"].get("access_token") for call in self.face_requests]


def recognised(**fields) -> dict:
    return {
        "errcode": 0,
        "errmsg": "ok",
        "identify_ret": 0,
        "identify_time": 1804040000,
        "validate_data": "v",
        "openid": "o1",
        "user_id_key": "k",
        "finish_time": 1804040005,
        "id_card_number_md5": md5(WANG["id_number"]).upper(),
        "name_utf8_md5": md5(WANG["name"]),
        **fields,
    }


def test_stable_token_and_getinfo_are_called_as_documented(serve_fake):
    fake = FakeWeChat()
    outcome = client(serve_fake(fake)).face_verification("VR-1")
    assert outcome == FaceVerification(0, "o1", 1804040000, md5(WANG["id_number"]), md5(WANG["name"]))
    assert fake.token_requests == [
        {"query": {}, "json": {"grant_type": "client_credential", "appid": APPID, "secret": SECRET}}
    ]  # the secret in the body, never in the URL
    assert fake.face_requests == [{"query": {"access_token": "T1"}, "json": {"verify_result": "VR-1"}}]


def test_one_token_serves_many_calls(serve_fake):
    fake = FakeWeChat()
    wechat = client(serve_fake(fake))
    for n in range(5):
        wechat.face_verification(f"VR-{n}")
    assert len(fake.token_requests) == 1 and fake.used_tokens == ["T1"] * 5


def test_simultaneous_first_calls_fetch_one_token(serve_fake):
    fake = FakeWeChat()
    wechat = client(serve_fake(fake))
    threads = [threading.Thread(target=wechat.face_verification, args=(f"VR-{n}",)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert len(fake.token_requests) == 1 and len(fake.face_requests) == 6


@pytest.mark.parametrize("expires_in, fetches", [(7200, 1), (301, 1), (300, 3), (60, 3)])
def test_the_token_is_cached_until_five_minutes_before_it_expires(serve_fake, expires_in, fetches):
    fake = FakeWeChat(tokens=[{"access_token": "T1", "expires_in": expires_in}])
    wechat = client(serve_fake(fake))
    for n in range(3):
        wechat.face_verification(f"VR-{n}")
    assert len(fake.token_requests) == fetches


def test_a_cached_token_expires_on_time(serve_fake):
    fake = FakeWeChat(tokens=[{"access_token": "T1", "expires_in": 301}, {"access_token": "T2", "expires_in": 7200}])
    wechat = client(serve_fake(fake))
    wechat.face_verification("VR-1")
    time.sleep(1.1)
    wechat.face_verification("VR-2")
    assert fake.used_tokens == ["T1", "T2"]


@pytest.mark.parametrize("stale", [40001, 42001])
def test_a_stale_token_is_replaced_once_and_the_call_repeated_once(serve_fake, stale):
    fake = FakeWeChat(
        tokens=[{"access_token": "T1", "expires_in": 7200}, {"access_token": "T2", "expires_in": 7200}],
        faces=[{"errcode": stale, "errmsg": "invalid credential"}, recognised()],
    )
    wechat = client(serve_fake(fake))
    assert wechat.face_verification("VR-1").recognised
    assert fake.used_tokens == ["T1", "T2"] and len(fake.token_requests) == 2
    wechat.face_verification("VR-2")
    assert fake.used_tokens == ["T1", "T2", "T2"] and len(fake.token_requests) == 2  # T2 is cached


def test_a_token_stale_twice_is_503_not_a_loop(serve_fake):
    fake = FakeWeChat(
        tokens=[{"access_token": "T1", "expires_in": 7200}, {"access_token": "T2", "expires_in": 7200}],
        faces=[{"errcode": 40001, "errmsg": "invalid credential"}],
    )
    with pytest.raises(UpstreamError) as caught:
        client(serve_fake(fake)).face_verification("VR-1")
    assert (caught.value.code, caught.value.status) == ("wechat_unavailable", 503)
    assert fake.used_tokens == ["T1", "T2"] and len(fake.token_requests) == 2


def test_a_stale_token_replaced_by_another_worker_is_not_dropped(serve_fake):
    """Dropping forgets only the token that failed: a fresher one another worker stored stays."""
    cache = MemoryTokenCache()
    cache.put("T-new", 600)
    cache.drop("T-old")
    assert cache.get() == "T-new"
    cache.drop("T-new")
    assert cache.get() is None


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": 40013, "errmsg": f"invalid appid {SECRET}"},
        {"errcode": 40125, "errmsg": f"invalid appsecret {SECRET}"},
        {"errcode": -1, "errmsg": "system error"},
        {"access_token": "", "expires_in": 7200},
        {"access_token": "T1"},
        {"access_token": "T1", "expires_in": "7200"},
        {"access_token": "T1", "expires_in": 0},
        {"access_token": 5, "expires_in": 7200},
    ],
)
def test_stable_token_failures_are_503_and_leak_nothing(serve_fake, answer):
    fake = FakeWeChat(tokens=[answer])
    with pytest.raises(UpstreamError) as caught:
        client(serve_fake(fake)).face_verification("VR-1")
    assert (caught.value.code, caught.value.status) == ("wechat_unavailable", 503)
    assert_nothing_leaks(caught.value)
    assert fake.face_requests == []


# --- §1b the face verification result, against fakes --------------------------------------------------


def test_unknown_verify_result_is_none(serve_fake):
    fake = FakeWeChat(faces=[{"errcode": 84001, "errmsg": "invalid verify_result"}])
    assert client(serve_fake(fake)).face_verification("VR-1") is None


def test_a_face_not_recognised_needs_no_other_fields(serve_fake):
    fake = FakeWeChat(faces=[{"errcode": 0, "errmsg": "ok", "identify_ret": 90017}])
    assert client(serve_fake(fake)).face_verification("VR-1") == FaceVerification(90017)


@pytest.mark.parametrize(
    "answer",
    [
        {"errcode": -1, "errmsg": "system error"},
        {"errcode": 45009, "errmsg": "reach max api daily quota limit"},
        {"errcode": "0", "errmsg": "ok"},
        recognised(identify_ret=None),
        recognised(identify_ret="0"),
        recognised(openid=""),
        recognised(identify_time="1804040000"),
        recognised(identify_time=True),
        recognised(id_card_number_md5="not-an-md5"),
        recognised(name_utf8_md5=None),
    ],
)
def test_malformed_or_failed_face_answers_are_503(serve_fake, answer):
    with pytest.raises(UpstreamError) as caught:
        client(serve_fake(FakeWeChat(faces=[answer]))).face_verification("VR-1")
    assert (caught.value.code, caught.value.status) == ("wechat_unavailable", 503)


@pytest.mark.parametrize("mode", TRANSPORT_FAILURES)
def test_face_transport_failures_are_503_and_leak_nothing(failing_url, mode):
    wechat = client(failing_url(mode), token_cache=MemoryTokenCache())
    wechat.tokens.put(LEAKY_TOKEN, 600)
    with pytest.raises(UpstreamError) as caught:
        wechat.face_verification("VR-1")
    assert (caught.value.code, caught.value.status) == ("wechat_unavailable", 503)
    assert_nothing_leaks(caught.value, LEAKY_TOKEN)


def test_the_token_in_the_url_stays_out_of_the_http_librarys_logs(serve_fake, caplog):
    """urllib3 logs every request line, query included, at DEBUG; the line is there, the token is not."""
    wechat = client(serve_fake(FakeWeChat(faces=[recognised()])), token_cache=MemoryTokenCache())
    wechat.tokens.put(LEAKY_TOKEN, 600)
    with caplog.at_level(logging.DEBUG):
        wechat.face_verification("VR-1")
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("urllib3")]
    assert any("access_token=***" in line for line in lines), lines
    assert not [line for line in lines if LEAKY_TOKEN in line or SECRET in line]


def test_the_login_secret_stays_out_of_the_http_librarys_logs(sandbox_url, caplog):
    with caplog.at_level(logging.DEBUG):
        client(f"{sandbox_url}/wechat").code_to_session("test:secretive")
    # Ours only: the sandbox's own server logs what it was sent.
    lines = [record.getMessage() for record in caplog.records if record.name.startswith("urllib3")]
    assert any("secret=***" in line for line in lines), lines
    assert not [line for line in lines if SECRET in line or "test:secretive" in line]


def test_a_blocked_user_is_refused_at_the_face_check_too(serve_fake):
    wechat = client(serve_fake(FakeWeChat(faces=[{"errcode": 40226, "errmsg": "user blocked"}])))
    with pytest.raises(UpstreamError) as caught:
        wechat.face_verification("VR-1")
    assert (caught.value.code, caught.value.status) == ("wechat_user_blocked", 403)


# --- The cache shared through Redis -------------------------------------------------------------------

REDIS_DB = REDIS_TEST_URL


@pytest.fixture
def redis_db():
    store = redis.Redis.from_url(REDIS_DB)
    store.flushdb()
    yield store
    store.flushdb()
    store.close()


def test_two_workers_share_one_token_through_redis(serve_fake, redis_db):
    fake = FakeWeChat()
    base = serve_fake(fake)
    workers = [client(base, token_cache=RedisTokenCache.from_url(REDIS_DB, APPID)) for _ in range(2)]
    for n in range(4):
        workers[n % 2].face_verification(f"VR-{n}")
    assert len(fake.token_requests) == 1 and fake.used_tokens == ["T1"] * 4
    assert 7200 - 300 - 5 <= redis_db.ttl(f"wechat:access_token:{APPID}") <= 7200 - 300


def test_a_stale_token_is_dropped_for_every_worker(serve_fake, redis_db):
    fake = FakeWeChat(
        tokens=[{"access_token": "T1", "expires_in": 7200}, {"access_token": "T2", "expires_in": 7200}],
        faces=[recognised(), {"errcode": 40001, "errmsg": "invalid credential"}, recognised()],
    )
    base = serve_fake(fake)
    first, second = (client(base, token_cache=RedisTokenCache.from_url(REDIS_DB, APPID)) for _ in range(2))
    first.face_verification("VR-1")  # T1
    second.face_verification("VR-2")  # T1: 40001, then T2
    first.face_verification("VR-3")  # T2, from Redis
    assert fake.used_tokens == ["T1", "T1", "T2", "T2"] and len(fake.token_requests) == 2


def test_redis_drop_spares_a_newer_token(redis_db):
    first, second = RedisTokenCache.from_url(REDIS_DB, APPID), RedisTokenCache.from_url(REDIS_DB, APPID)
    first.put("T-new", 600)
    second.drop("T-old")
    assert second.get() == "T-new"
    second.drop("T-new")
    assert first.get() is None


def test_redis_down_still_works_without_sharing(serve_fake, caplog):
    fake = FakeWeChat()
    down = RedisTokenCache.from_url(closed_port_url().replace("http", "redis"), APPID)
    wechat = client(serve_fake(fake), token_cache=down)
    with caplog.at_level(logging.WARNING):
        assert wechat.face_verification("VR-1").recognised
        assert wechat.face_verification("VR-2").recognised
    assert len(fake.token_requests) == 2  # nothing cached, nothing broken
    assert any("token cache unavailable" in record.getMessage() for record in caplog.records)
    assert "T1" not in repr(down) and "T1" not in caplog.text
