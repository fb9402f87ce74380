"""What a request passes on to the external systems it calls: its X-Request-ID, one id across the logs of
both sides."""

from __future__ import annotations

import re

from flask import jsonify, request

from tests.support.live_server import serve
from tests.support.upstream import fake_app


def _recording_wechat(seen: list):
    def answer():
        seen.append(request.headers.get("X-Request-ID"))
        return jsonify({"openid": "o_outbound_1", "session_key": "k"})

    return fake_app(answer)


def test_the_request_id_is_forwarded_to_wechat(make_app):
    seen: list = []
    with serve(_recording_wechat(seen)) as wechat:
        client = make_app(WECHAT_API_BASE=wechat).test_client()
        given = client.post("/api/v1/auth/login", json={"code": "c1"}, headers={"X-Request-ID": "req-login-1"})
        made = client.post("/api/v1/auth/login", json={"code": "c2"})
    assert given.status_code == made.status_code == 200
    assert seen[0] == "req-login-1"
    assert re.fullmatch(r"[0-9a-f]{32}", seen[1]) and seen[1] == made.headers["X-Request-ID"]
