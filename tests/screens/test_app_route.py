"""`/app/`: the screens' files under a strict content policy; the sandbox settings outside production only."""

from __future__ import annotations

from integrations.sandbox import demo_data
from integrations.sandbox.app import create_sandbox_app
from miniapp_api import create_app
from tests.core.test_config import _production, production_keys  # noqa: F401 (a fixture)


def test_the_page_and_its_modules_are_served_under_a_strict_policy(app, client):
    with client.get("/app/") as page:
        assert page.status_code == 200 and page.mimetype == "text/html"
        assert '<script type="module" src="main.js">' in page.get_data(as_text=True)
        policy = page.headers["Content-Security-Policy"]
    sandbox = app.config["WECHAT_API_BASE"].rsplit("/wechat", 1)[0]
    assert "script-src 'self';" in policy and "default-src 'none'" in policy and "frame-ancestors 'none'" in policy
    assert f"connect-src 'self' {sandbox};" in policy
    with client.get("/app/screens/pay.js") as module:
        assert "export async function render" in module.get_data(as_text=True)
        assert module.status_code == 200 and module.mimetype in ("text/javascript", "application/javascript")
        assert module.headers["X-Content-Type-Options"] == "nosniff"
    assert client.get("/app").status_code == 308 and client.get("/app").headers["Location"].endswith("/app/")
    assert client.get("/app/nothing-here.js").status_code == 404
    assert client.get("/app/../pyproject.toml").status_code == 404


def test_outside_production_the_screens_learn_the_sandbox_and_its_people(app, client):
    settings = client.get("/app/sandbox.json").get_json()
    assert settings["wechat_base"] == app.config["WECHAT_API_BASE"]
    people = {person["key"]: person for person in settings["people"]}
    assert set(people) == {p["key"] for p in demo_data.DEMO_RESIDENTS + demo_data.UNENROLLED}
    assert people["dibao_1972"]["role"] == "低保对象（政府代缴）"
    assert people["child_1985"]["id_number"] == demo_data.by_key("child_1985")["id_number"]


def test_in_production_there_is_no_sandbox_and_the_page_reaches_only_its_origin(production_keys, monkeypatch):  # noqa: F811
    monkeypatch.delenv("APP_NOW", raising=False)
    client = create_app(_production(production_keys)).test_client()
    assert client.get("/app/sandbox.json").status_code == 404
    with client.get("/app/") as page:
        assert "main.js" in page.get_data(as_text=True)
        assert page.status_code == 200 and "connect-src 'self';" in page.headers["Content-Security-Policy"]


def test_the_sandbox_face_check_answers_the_screens_from_another_origin():
    client = create_sandbox_app().test_client()
    preflight = client.options("/wechat/sandbox/face-verify", headers={"Origin": "http://127.0.0.1:8000"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    assert "Content-Type" in preflight.headers["Access-Control-Allow-Headers"]
    body = {"code": "test:child_1985", "name": "王丽", "id_number": demo_data.by_key("child_1985")["id_number"]}
    answer = client.post("/wechat/sandbox/face-verify", json=body)
    assert answer.status_code == 200 and answer.headers["Access-Control-Allow-Origin"] == "*"
    assert answer.get_json()["verify_result"].startswith("sbx_vr_")
    assert "Access-Control-Allow-Origin" not in client.get("/wechat/sandbox/calls").headers
