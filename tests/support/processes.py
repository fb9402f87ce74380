"""Server processes for the tests that run the product as the demo does: the sandbox and the API (twice:
the demo clock, and the day certificates become available) as separate `flask` processes on free ports,
with their secrets and SQLite database in a temporary folder. Every wait is bounded."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from miniapp_api.core import config as configuration
from miniapp_api.core import devkeys
from tests.support import waiting
from tests.support.constants import DEMO_POLICY, ROOT
from tests.support.waiting import free_port

NOW = "2027-03-02T10:00:00+08:00"  # a Tuesday inside the 2027 collection window (1-25 March)
CERTIFICATE_DAY = "2027-03-09T10:00:00+08:00"  # the 5th working day after NOW
SPEEDUP = 1000  # the tax bureau's 15 s first retry comes after 15 ms
START_TIMEOUT = 60.0


def flask(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "wsgi", *args]


def base_environment(tmp_path: Path) -> dict[str, str]:
    """This environment without any of the app's variables, plus secrets made in `tmp_path`."""
    keys = tmp_path / "keys"
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in configuration.ENV_KEYS and not k.startswith(("FLASK_", "SANDBOX_"))
    }
    env.update({name: make(keys) for name, make in devkeys.GENERATORS.items()})
    env.update(
        SANDBOX_TAX_PRIVATE_KEY=str(devkeys.sandbox_tax_private_key(keys)),
        PYTHONUNBUFFERED="1",
        DATABASE_URL=f"sqlite:///{tmp_path / 'walkthrough.sqlite3'}",
        POLICY_FILE=str(DEMO_POLICY),
    )
    return env


def api_environment(env: dict[str, str], now: str, api: str, sandbox: str) -> dict[str, str]:
    return {
        **env,
        "APP_ENV": "development",
        "APP_NOW": now,
        "PUBLIC_BASE_URL": api,
        "WECHAT_API_BASE": f"{sandbox}/wechat",
        "IDENTITY_API_BASE": f"{sandbox}/identity",
        "AGENCY_API_BASE": f"{sandbox}/agency",
        "TAX_API_BASE": f"{sandbox}/tax",
    }


@dataclass
class Server:
    name: str
    process: subprocess.Popen
    log: Path

    def log_tail(self) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-40:]) if self.log.exists() else ""


def start(name: str, args: list[str], env: dict[str, str], folder: Path, **popen) -> Server:
    log = folder / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, **popen
        )
    return Server(name, process, log)


def stop(server: Server, sig: int = signal.SIGTERM) -> None:
    """Signal the server (SIGTERM unless told otherwise), then stop it as every test does (`waiting.stop`)."""
    if server.process.poll() is None:
        with suppress(ProcessLookupError):
            server.process.send_signal(sig)
    waiting.stop(server.process, timeout=10)


def wait_ready(server: Server, url: str, timeout: float = START_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.process.poll() is None, f"{server.name} exited:\n{server.log_tail()}"
        with suppress(requests.RequestException):
            if requests.get(url, timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    pytest.fail(f"{server.name} did not answer {url} within {timeout} s:\n{server.log_tail()}")


@dataclass(frozen=True)
class Urls:
    api: str
    later: str
    sandbox: str


@contextmanager
def running_servers(tmp_path: Path) -> Iterator[Urls]:
    """The sandbox, the API at NOW and the API at CERTIFICATE_DAY (same database), each its own process."""
    ports = [free_port() for _ in range(3)]
    urls = Urls(*(f"http://127.0.0.1:{port}" for port in ports))
    env = base_environment(tmp_path)
    api_env = api_environment(env, NOW, urls.api, urls.sandbox)
    later_env = {**api_env, "APP_NOW": CERTIFICATE_DAY}
    upgrade = subprocess.run(flask("db", "upgrade"), cwd=ROOT, env=api_env, capture_output=True, text=True, timeout=120)
    assert upgrade.returncode == 0, upgrade.stdout + upgrade.stderr
    servers: list[Server] = []
    try:
        servers.append(
            start(
                "sandbox",
                flask("sandbox", "--port", str(ports[2]), "--speedup", str(SPEEDUP), "--clock-frozen"),
                api_env,
                tmp_path,
            )
        )
        run = ("run", "--host", "127.0.0.1", "--no-reload", "--no-debugger", "--with-threads", "--port")
        servers.append(start("api", flask(*run, str(ports[0])), api_env, tmp_path))
        servers.append(start("api-later", flask(*run, str(ports[1])), later_env, tmp_path))
        wait_ready(servers[0], f"{urls.sandbox}/tax/v1/public-keys")
        wait_ready(servers[1], f"{urls.api}/healthz")
        wait_ready(servers[2], f"{urls.later}/healthz")
        yield urls
    finally:
        for server in servers:
            stop(server)
