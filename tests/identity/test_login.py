"""WeChat login (API.md 'Auth and identity') against the sandbox counterparts over HTTP."""

import json
import logging
import uuid

import pytest

from integrations.sandbox import demo_data
from tests.support.miniapp import verified

WANG = demo_data.by_key("parent_1958")


def test_login_issues_a_short_lived_bearer_token(client):
    response = client.post("/api/v1/auth/login", json={"code": f"test:parent_1958:{uuid.uuid4().hex}"})
    body = response.get_json()
    assert response.status_code == 200 and body["token_type"] == "Bearer" and body["verified"] is False
    assert 0 < body["expires_in"] <= 6 * 3600
    assert "session_key" not in json.dumps(body)


@pytest.mark.parametrize(
    "code, status, error",
    [
        ("test:invalid", 400, "invalid_wechat_code"),
        ("not-a-test-code", 400, "invalid_wechat_code"),
        ("test:busy", 503, "wechat_unavailable"),
        ("test:ratelimit", 503, "wechat_unavailable"),
        ("test:blocked", 403, "wechat_user_blocked"),
    ],
)
def test_login_failures_map_to_api_codes(client, code, status, error):
    response = client.post("/api/v1/auth/login", json={"code": code})
    assert response.status_code == status and response.get_json()["code"] == error


def test_used_code_is_refused(client):
    code = f"test:once:{uuid.uuid4().hex}"
    client.post("/api/v1/auth/login", json={"code": code})
    response = client.post("/api/v1/auth/login", json={"code": code})
    assert response.get_json()["code"] == "invalid_wechat_code"


def test_wechat_down_is_503(make_app):
    app = make_app(WECHAT_API_BASE="http://127.0.0.1:9/wechat")
    response = app.test_client().post("/api/v1/auth/login", json={"code": "test:x"})
    assert response.status_code == 503 and response.get_json()["code"] == "wechat_unavailable"


def test_nothing_personal_or_secret_is_logged(client, caplog):
    with caplog.at_level(logging.DEBUG):
        headers, _ = verified(client, "parent_1958")
        client.get("/api/v1/me", headers=headers)
    from miniapp_api.core.logs import JsonFormatter

    text = "\n".join(JsonFormatter().format(record) for record in caplog.records)
    assert WANG["id_number"] not in text and "session_key" not in text
