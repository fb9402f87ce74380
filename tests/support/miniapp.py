"""Steps a mini-program takes, for tests that go through the API and the sandbox."""

from __future__ import annotations

import uuid

from integrations.sandbox import demo_data


def login(client, key: str) -> dict:
    """Log in as the demo person `key` (a fresh single-use WeChat code) and return auth headers."""
    response = client.post("/api/v1/auth/login", json={"code": f"test:{key}:{uuid.uuid4().hex[:8]}"})
    assert response.status_code == 200, response.get_json()
    return {"Authorization": f"Bearer {response.get_json()['access_token']}"}


def verify(client, headers: dict, key: str) -> dict:
    """Real-name bind the logged-in user to demo person `key`; returns the masked Resident."""
    person = demo_data.by_key(key)
    response = client.post(
        "/api/v1/auth/real-name", headers=headers, json={"id_number": person["id_number"], "name": person["name"]}
    )
    assert response.status_code == 200, response.get_json()
    return response.get_json()["resident"]


def verified(client, key: str) -> tuple[dict, dict]:
    headers = login(client, key)
    return headers, verify(client, headers, key)
