"""The demo walkthrough end to end, over HTTP, with the API and the sandbox as separate processes.

Nothing here runs in-process: `flask --app wsgi sandbox`, `flask --app wsgi run` (twice: the demo
clock, and the day the payment's certificate becomes available) and `flask --app wsgi demo` are
started as subprocesses on free ports, with their secrets and SQLite database in a temporary folder.
Every wait is bounded; every process is stopped in a `finally`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import pytest
import requests

from integrations.sandbox import demo_data
from miniapp_api.devtools.demo import walkthrough
from tests.support import waiting
from tests.support.constants import ROOT
from tests.support.processes import (
    CERTIFICATE_DAY,
    NOW,
    SPEEDUP,
    START_TIMEOUT,
    base_environment,
    flask,
    running_servers,
    start,
)
from tests.support.waiting import free_port

pytestmark = pytest.mark.slow

WAIT_TIMEOUT = 15.0
HTTP_TIMEOUT = 10.0
STOP_TIMEOUT = 90.0  # three children, each given up to 10 s to stop (longer on a loaded CI box)
PEOPLE = demo_data.DEMO_RESIDENTS + demo_data.UNENROLLED
CHILD = demo_data.by_key("child_1985")


# --- HTTP steps -----------------------------------------------------------------------------------


def wait_until(what: str, probe: Callable[[], object], timeout: float = WAIT_TIMEOUT):
    return waiting.wait_until(probe, timeout, what)


class Client:
    """One mini-program user against one API base URL; checks no response leaks an unmasked person."""

    def __init__(self, base: str):
        self.base = base
        self.headers: dict[str, str] = {}

    def call(self, method: str, path: str, **kwargs) -> requests.Response:
        response = requests.request(
            method,
            f"{self.base}{path}",
            headers={**self.headers, **kwargs.pop("headers", {})},
            timeout=HTTP_TIMEOUT,
            **kwargs,
        )
        if "json" in response.headers.get("Content-Type", ""):  # names arrive \u-escaped
            text = json.dumps(response.json(), ensure_ascii=False)
        else:
            text = response.text if response.headers.get("Content-Type", "").startswith("text/") else ""
        leaked = [p["key"] for p in PEOPLE if p["id_number"] in text or p["name"] in text]
        assert not leaked, f"{method} {path}: unmasked personal data of {leaked}"
        return response

    def get(self, path: str, **kwargs) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> requests.Response:
        return self.call("POST", path, **kwargs)

    def login(self, key: str) -> None:
        response = self.post("/api/v1/auth/login", json={"code": f"test:{key}:{uuid.uuid4().hex[:8]}"})
        assert response.status_code == 200, response.text
        self.headers = {"Authorization": f"Bearer {response.json()['access_token']}"}

    def face_check(self, sandbox: str, key: str) -> str:
        """A verify_result from the sandbox's stand-in for wx.startFacialRecognitionVerify, on `key`'s phone."""
        person = demo_data.by_key(key)
        body = {"code": f"test:{key}", "id_number": person["id_number"], "name": person["name"]}
        return sandbox_call("POST", f"{sandbox}/wechat/sandbox/face-verify", json=body).json()["verify_result"]

    def real_name(self, key: str, verify_result: str) -> dict:
        person = demo_data.by_key(key)
        response = self.post(
            "/api/v1/auth/real-name",
            json={"id_number": person["id_number"], "name": person["name"], "verify_result": verify_result},
        )
        assert response.status_code == 200, response.text
        return response.json()["resident"]

    def account(self, resident_id: str) -> dict:
        response = self.get(f"/api/v1/residents/{resident_id}/account")
        assert response.status_code == 200, response.text
        return response.json()

    def ledger_of(self, resident_id: str, order_no: str) -> list[dict]:
        response = self.get(f"/api/v1/residents/{resident_id}/ledger")
        assert response.status_code == 200, response.text
        return [entry for entry in response.json()["items"] if entry["order_no"] == order_no]

    def order(self, order_no: str) -> dict:
        response = self.get(f"/api/v1/orders/{order_no}")
        assert response.status_code == 200, response.text
        return response.json()

    def contribute(self, resident_id: str, body: dict) -> dict:
        response = self.post(
            f"/api/v1/residents/{resident_id}/contributions", json=body, headers={"Idempotency-Key": uuid.uuid4().hex}
        )
        assert response.status_code == 201, response.text
        return response.json()


def sandbox_call(method: str, url: str, **kwargs) -> requests.Response:
    response = requests.request(method, url, timeout=HTTP_TIMEOUT, **kwargs)
    assert response.status_code == 200, response.text
    return response


def delivered(sandbox: str, order_no: str, count: int) -> list[dict] | None:
    """The sandbox's delivery attempts of an order's callback, once there are `count` of them."""
    attempts = sandbox_call("GET", f"{sandbox}/tax/control/deliveries", params={"out_order_no": order_no}).json()
    return attempts if len(attempts) >= count else None


# --- The walkthrough with requests ----------------------------------------------------------------


def test_walkthrough_over_http(tmp_path):
    with running_servers(tmp_path) as urls:
        child = Client(urls.api)

        # Log in, pass the face check, bind the real name (the face check's verify_result works once), see the options.
        child.login("child_1985")
        verify_result = child.face_check(urls.sandbox, "child_1985")
        me = child.real_name("child_1985", verify_result)
        again = child.post(
            "/api/v1/auth/real-name",
            json={"id_number": CHILD["id_number"], "name": CHILD["name"], "verify_result": verify_result},
        )
        assert again.status_code == 403 and again.json()["code"] == "face_verification_failed", again.text
        assert me["name"] == "王*" and me["id_number"] == "1401**********002X"
        assert child.get("/api/v1/me").json()["verified"] is True
        options = child.get(f"/api/v1/residents/{me['resident_id']}/contribution-options").json()
        assert options["window"]["open"] is True and options["normal"] == {"allowed": True, "reason": None}
        assert 100000 in [tier["amount_fen"] for tier in options["tiers"]]
        before = child.account(me["resident_id"])
        assert before["balance_fen"] == 0

        # Order, then pay in the sandbox with the first callback dropped: the retry credits it.
        faults = sandbox_call("POST", f"{urls.sandbox}/tax/control/faults", json={"drop_next": 1}).json()
        assert faults["drop_next"] == 1
        order = child.contribute(me["resident_id"], {"year": 2027, "tier_fen": 100000, "kind": "normal"})
        assert order["status"] == "pending" and order["amount_fen"] == 100000
        assert order["pay_params"]["sandbox_pay_url"] == f"{urls.sandbox}/tax/pay/{order['order_no']}"
        paid = sandbox_call("POST", f"{urls.sandbox}/tax/pay/{order['order_no']}", json={"channel": "wechat"}).json()
        assert paid["status"] == "SUCCESS"
        wait_until("the order to be paid", lambda: child.order(order["order_no"])["status"] == "paid")
        attempts = wait_until("the retried delivery", lambda: delivered(urls.sandbox, order["order_no"], 2))
        assert [(a["attempt"], a["status"]) for a in attempts] == [(1, "dropped"), (2, 200)]
        shown = child.order(order["order_no"])
        assert shown["payer"] == "self" and shown["channel"] == "wechat" and shown["paid_at"] == NOW
        after = child.account(me["resident_id"])
        entries = child.ledger_of(me["resident_id"], order["order_no"])
        credited = order["amount_fen"] + order["subsidy_fen"] + order.get("collective_subsidy_fen", 0)
        assert sum(e["amount_fen"] for e in entries) == credited
        assert after["balance_fen"] == before["balance_fen"] + credited
        assert after["by_source"]["personal_fen"] == 100000
        assert 2027 in after["paid_years"]

        # Link the child to her father, who lists her as supporter: active at once.
        parent_person = demo_data.by_key("parent_1958")
        response = child.post(
            "/api/v1/family/links",
            json={
                "parent_id_number": parent_person["id_number"],
                "parent_name": parent_person["name"],
                "relation": "child",
            },
        )
        assert response.status_code == 201, response.text
        link = response.json()
        assert link["status"] == "active" and link["parent"]["name"] == "王*国"
        parent_id = link["parent"]["resident_id"]
        assert [d["resident_id"] for d in child.get("/api/v1/me").json()["dependents"]] == [parent_id]
        as_supporter = child.get("/api/v1/family/links").json()["as_supporter"]
        assert [item["link_id"] for item in as_supporter] == [link["link_id"]]

        # Pay for him, with the callback delivered twice: credited once.
        parent_options = child.get(f"/api/v1/residents/{parent_id}/contribution-options").json()
        assert 2023 in parent_options["back_payment"]["years"]
        parent_before = child.account(parent_id)
        assert (
            sandbox_call("POST", f"{urls.sandbox}/tax/control/faults", json={"duplicate_next": 1}).json()[
                "duplicate_next"
            ]
            == 1
        )
        parent_order = child.contribute(parent_id, {"year": 2023, "tier_fen": 50000, "kind": "back_payment"})
        sandbox_call("POST", f"{urls.sandbox}/tax/pay/{parent_order['order_no']}", json={"channel": "bank_app"})
        both = wait_until("the duplicated delivery", lambda: delivered(urls.sandbox, parent_order["order_no"], 2))
        assert [(a["attempt"], a["status"], a["duplicate"]) for a in both] == [(1, 200, False), (1, 200, True)]
        shown = child.order(parent_order["order_no"])
        assert shown["status"] == "paid" and shown["payer"] == "supporter" and shown["resident_id"] == parent_id
        credited = (
            parent_order["amount_fen"] + parent_order["subsidy_fen"] + parent_order.get("collective_subsidy_fen", 0)
        )
        entries = child.ledger_of(parent_id, parent_order["order_no"])
        assert len({e["kind"] for e in entries}) == len(entries) and sum(e["amount_fen"] for e in entries) == credited
        parent_after = child.account(parent_id)
        assert parent_after["balance_fen"] == parent_before["balance_fen"] + credited
        assert child.account(me["resident_id"])["balance_fen"] == after["balance_fen"]  # hers unchanged

        # Certificates: not yet on the payment day; on the 5th working day after (the later API) issued.
        early = child.post(f"/api/v1/residents/{me['resident_id']}/certificates", json={"year": 2027})
        assert early.status_code == 409 and early.json()["code"] == "not_yet_available", early.text
        later = Client(urls.later)
        later.login("child_1985")
        response = later.post(f"/api/v1/residents/{me['resident_id']}/certificates", json={"year": 2027})
        assert response.status_code == 201, response.text
        certificate = response.json()
        assert certificate["verify_url"].startswith(f"{urls.api}/verify/")
        token = certificate["verify_url"].rsplit("/", 1)[1]

        # The verify page the QR opens, and what it shows: public, masked.
        public = Client(urls.api)
        page = public.get(f"/verify/{token}")
        assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
        verification = public.get(f"/api/v1/verify/{token}").json()
        assert verification["valid"] is True and verification["certificate_no"] == certificate["certificate_no"]
        assert verification["name"] == "王*" and verification["id_number"] == "1401**********002X"
        assert verification["year"] == 2027 and verification["amount_fen"] == 100000
        forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert public.get(f"/api/v1/verify/{forged}").json()["valid"] is False
        pdf = child.get(f"/api/v1/certificates/{certificate['certificate_no']}.pdf")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")


# --- The demo command and its printed walkthrough -------------------------------------------------


@pytest.mark.skipif(
    not (shutil.which("bash") and shutil.which("curl")), reason="the printed walkthrough needs bash and curl"
)
def test_demo_command_prints_a_walkthrough_that_works(tmp_path):
    ports = [free_port() for _ in range(3)]
    env = base_environment(tmp_path)  # DATABASE_URL set: the demo leaves instance/demo.sqlite3 alone
    args = flask(
        "demo",
        "--port",
        str(ports[0]),
        "--sandbox-port",
        str(ports[1]),
        "--later-port",
        str(ports[2]),
        "--speedup",
        str(SPEEDUP),
        "--logs",
        str(tmp_path / "demo-logs"),
    )
    demo = start("demo", args, env, tmp_path, start_new_session=True)
    try:
        output = wait_until(
            "the demo to start",
            lambda: "Ctrl-C stops" in demo.log.read_text(errors="replace") and demo.log.read_text(errors="replace"),
            timeout=START_TIMEOUT,
        )
        assert demo.process.poll() is None, demo.log_tail()
        lines = output.splitlines()
        printed_first = next(line for line in lines if line.strip() and not line.startswith("migrating"))
        assert printed_first.endswith(f"http://127.0.0.1:{ports[0]}/app/"), printed_first  # the app's URL first
        first = next(i for i, line in enumerate(lines) if line.startswith("# 0."))
        last = next(i for i, line in enumerate(lines) if line.startswith("Running; Ctrl-C"))
        script = "\n".join(lines[first:last])
        assert f"API=http://127.0.0.1:{ports[0]} SANDBOX=http://127.0.0.1:{ports[1]}" in script
        path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])  # our python3 first
        walk = subprocess.run(
            ["bash", "-e", "-o", "pipefail", "-c", script],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "PATH": path},
        )
        assert walk.returncode == 0, walk.stdout + walk.stderr
        printed = walk.stdout
        assert '"code": "not_yet_available"' in printed and '"valid": true' in printed
        assert '"payer": "supporter"' in printed and printed.count('"status": "paid"') == 2
        assert '"verified": true' in printed  # the face check's verify_result bound her real name
        assert (tmp_path / "certificate.pdf").read_bytes().startswith(b"%PDF")
        demo.process.send_signal(signal.SIGINT)  # Ctrl-C
        assert demo.process.wait(STOP_TIMEOUT) == 0, demo.log_tail()
        assert demo.log.read_text().rstrip().endswith("stopped.")
        for port in ports:  # the children are gone with it
            with socket.socket() as probe:
                assert probe.connect_ex(("127.0.0.1", port)) != 0, f"port {port} still answers"
    finally:
        if demo.process.poll() is None:
            with suppress(ProcessLookupError):
                os.killpg(demo.process.pid, signal.SIGKILL)
            demo.process.wait(10)


def test_docs_show_the_walkthrough_the_demo_prints():
    printed = walkthrough(
        "http://127.0.0.1:8000", "http://127.0.0.1:8001", "http://127.0.0.1:8002", CERTIFICATE_DAY, 2027
    )
    assert printed in (ROOT / "docs" / "demo.md").read_text(encoding="utf-8")
