"""WeChatClient over real HTTP: against the sandbox and against fakes of every failure mode."""

from __future__ import annotations

import pytest
from flask import jsonify, request

from integrations.errors import UpstreamError
from integrations.sandbox.wechat import openid_for
from integrations.wechat import WeChatClient, WeChatSession
from tests.support.upstream import APPID, SECRET, SHORT_TIMEOUT, TRANSPORT_FAILURES, full_text, sequence


def client(base_url: str, secret: str = SECRET) -> WeChatClient:
    return WeChatClient(base_url, APPID, secret, timeout=SHORT_TIMEOUT)


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
