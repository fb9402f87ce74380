"""Steps a mini-program takes, for tests that go through the API and the sandbox."""

from __future__ import annotations

import datetime as dt
import uuid

import jwt
import requests

from integrations.sandbox import demo_data
from models import WeChatUser, db


def login(client, key: str) -> dict:
    """Log in as the demo person `key` (a fresh single-use WeChat code) and return auth headers."""
    response = client.post("/api/v1/auth/login", json={"code": f"test:{key}:{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def openid_of(client, headers: dict) -> str:
    """The openid of the WeChat user whose token `headers` carry."""
    token = headers["Authorization"].partition(" ")[2]
    user_id = int(jwt.decode(token, options={"verify_signature": False})["sub"])
    with client.application.app_context():
        return db.session.get(WeChatUser, user_id).openid


def face_check(
    client,
    headers: dict,
    id_number: str,
    name: str,
    outcome: str = "pass",
    *,
    openid: str | None = None,
    age: dt.timedelta = dt.timedelta(0),
) -> str:
    """A fresh verify_result from the sandbox's stand-in for wx.startFacialRecognitionVerify, run on the
    phone of the user of `headers` (or of `openid`) for this ID number and name, `age` before the app's
    clock (which may stand elsewhere than the sandbox's)."""
    identified = client.application.extensions["clock"].now() - age
    response = requests.post(
        f"{client.application.config['WECHAT_API_BASE']}/sandbox/face-verify",
        json={
            "openid": openid or openid_of(client, headers),
            "id_number": id_number,
            "name": name,
            "outcome": outcome,
            "identify_time": int(identified.timestamp()),
        },
        timeout=10,
    )
    assert response.status_code == 200, response.text
    return response.json()["verify_result"]


def real_name(client, headers: dict, id_number: str, name: str, outcome: str = "pass", **body):
    """`POST /auth/real-name` after a face check with `outcome` for exactly this ID number and name;
    `body` adds or replaces fields (`verify_result=None` sends none)."""
    payload = {"id_number": id_number, "name": name}
    if "verify_result" not in body:
        payload["verify_result"] = face_check(client, headers, id_number, name, outcome)
    payload.update({field: value for field, value in body.items() if value is not None})
    return client.post("/api/v1/auth/real-name", headers=headers, json=payload)


def verify(client, headers: dict, key: str) -> dict:
    """Real-name bind the logged-in user to demo person `key`, face check included; returns the masked Resident."""
    person = demo_data.by_key(key)
    response = real_name(client, headers, person["id_number"], person["name"])
    assert response.status_code == 200, response.get_json()
    return response.get_json()["resident"]


def verified(client, key: str) -> tuple[dict, dict]:
    headers = login(client, key)
    return headers, verify(client, headers, key)
