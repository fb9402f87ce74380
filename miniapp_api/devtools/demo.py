"""`flask --app wsgi demo`: the API and the sandbox counterparts, with demo data, for a first look.

Three child processes, reached only over HTTP:

- the sandbox (`flask --app wsgi sandbox`): WeChat, identity check, agency registry (the demo residents of
  `integrations/sandbox/demo_data.py`) and tax bureau (pay page, signed callbacks with retries);
- the API (`flask --app wsgi run`) with its clock standing at `--now` (inside a collection window);
- the same API "a few days later" (`--later-port`): its clock stands on the day the payments made in
  the demo get their certificates (the 5th working day after payment), on the same database.

The database is a fresh SQLite file `instance/demo.sqlite3` (unless `DATABASE_URL` is set or
`--keep-data` is given), migrated with `db upgrade` first. Logs go to `instance/demo-logs/`.
The command prints a walkthrough of curl lines and stays in the foreground until Ctrl-C, then stops
its children.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path

import click
import requests
from flask import current_app
from flask.cli import with_appcontext

from integrations.sandbox import demo_data
from miniapp_api.core import devkeys
from miniapp_api.core.clock import parse_instant
from miniapp_api.devtools.sandbox import DEFAULT_SPEEDUP, default_private_key, trust_problem
from policy.calendar import SHANGHAI
from policy.data import load_standards
from policy.window import window_state
from policy.workdays import certificate_available_at

DEMO_POLICY = Path(demo_data.__file__).with_name("demo_policy.json")
DEFAULT_NOW = "2027-03-02T10:00:00+08:00"  # 2027 collection window (1-25 March), a Tuesday
START_TIMEOUT = 60.0  # seconds for each child to answer
STOP_TIMEOUT = 10.0


# --- What the demo runs ---------------------------------------------------------------------------


@dataclass
class Child:
    """One child process, its log file, and the URL that answers 200 once it is up."""

    name: str
    args: list[str]
    env: dict[str, str]
    log: Path
    ready_url: str
    process: subprocess.Popen | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(
                self.args, env=self.env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
            )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if not self.running():
            return
        with suppress(ProcessLookupError):
            self.process.terminate()
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(STOP_TIMEOUT)


def flask_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "flask", "--app", "miniapp_api", *args]


def api_command(host: str, port: int) -> list[str]:
    return flask_command("run", "--host", host, "--port", str(port), "--no-reload", "--no-debugger", "--with-threads")


def sandbox_command(host: str, port: int, speedup: float) -> list[str]:
    return flask_command("sandbox", "--host", host, "--port", str(port), "--speedup", f"{speedup:g}")


def api_environment(
    base: dict[str, str], *, now: str, database_url: str, public_url: str, sandbox_url: str, policy_file: str
) -> dict[str, str]:
    """The environment of an API (or sandbox) child: the demo clock, database, policy and sandbox URLs."""
    env = {key: value for key, value in base.items() if key not in ("FLASK_DEBUG", "FLASK_APP", "FLASK_RUN_PORT")}
    env.update(
        {
            "APP_ENV": "development",
            "APP_NOW": now,
            "DATABASE_URL": database_url,
            "POLICY_FILE": policy_file,
            "PUBLIC_BASE_URL": public_url,
            "WECHAT_API_BASE": f"{sandbox_url}/wechat",
            "IDENTITY_API_BASE": f"{sandbox_url}/identity",
            "AGENCY_API_BASE": f"{sandbox_url}/agency",
            "TAX_API_BASE": f"{sandbox_url}/tax",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def certificate_day(now: dt.datetime) -> dt.datetime:
    """The same time of day as `now`, on the day a payment made at `now` gets its certificate."""
    quiet = logging.getLogger("policy.workdays")  # a year without holiday data counts Monday to Friday
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        available = certificate_available_at(now)
    finally:
        quiet.setLevel(level)
    local = now.astimezone(SHANGHAI)
    return available + dt.timedelta(hours=local.hour, minutes=local.minute, seconds=local.second)


def check_window(now: dt.datetime, policy_file: str) -> None:
    """Refuse a demo clock outside a collection window: nothing could be paid."""
    book = load_standards([policy_file])
    standard = book.standard_for(now.astimezone(SHANGHAI).date())
    state = window_state(standard, now)
    if not state.open:
        raise click.ClickException(
            f"{now.isoformat()} is outside the collection window (next: {state.opens_at.isoformat()} to "
            f"{state.closes_at.isoformat()}); choose --now inside it, e.g. {DEFAULT_NOW}"
        )


def port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def wait_ready(children: list[Child], timeout: float = START_TIMEOUT) -> None:
    """Wait (bounded) until every child answers 200 at its ready URL; ClickException with its log if not."""
    deadline = time.monotonic() + timeout
    for child in children:
        while True:
            if not child.running():
                raise click.ClickException(f"the {child.name} stopped at start-up:\n{tail(child.log)}")
            with suppress(requests.RequestException):
                if requests.get(child.ready_url, timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise click.ClickException(
                    f"the {child.name} did not answer {child.ready_url} within {timeout:.0f} s:\n{tail(child.log)}"
                )
            time.sleep(0.2)


def tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def fresh_sqlite(instance: Path) -> tuple[str, Path]:
    path = instance / "demo.sqlite3"
    return f"sqlite:///{path}", path


def remove_database(path: Path) -> None:
    for suffix in ("", "-journal", "-wal", "-shm"):
        with suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


# --- What it prints -------------------------------------------------------------------------------

HELPERS = """\
pick() { python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1:]: d = d[int(k)] if isinstance(d, list) else d[k]
print(d)' "$@"; }
show() { python3 -m json.tool --no-ensure-ascii; }
post() { curl -sS -X POST -H 'Content-Type: application/json' "$@"; }"""


def walkthrough(api: str, sandbox: str, later: str | None, later_day: str = "", year: int = 2027) -> str:
    """The walkthrough as shell lines to copy and paste (bash or zsh; needs curl and python3).

    Without a later API (`--later-port 0`) the certificate step asks the API itself, which answers
    409 `not_yet_available` until its clock reaches the 5th working day after the payment.
    """
    child, parent = demo_data.by_key("child_1985"), demo_data.by_key("parent_1958")
    face = f'{{"code": "test:child_1985", "id_number": "{child["id_number"]}", "name": "{child["name"]}"}}'
    real_name = f'{{"id_number": "{child["id_number"]}", "name": "{child["name"]}", "verify_result": "\'$FACE\'"}}'
    link = f'{{"parent_id_number": "{parent["id_number"]}", "parent_name": "{parent["name"]}", "relation": "child"}}'
    later_note = (
        f"$LATER is the same API on the same database, its clock at {later_day}"
        if later
        else "run the demo again with --keep-data --now <that day> to get it"
    )
    return f"""\
# 0. the servers, and helpers: `pick KEY...` reads a field of a JSON answer, `show` pretty-prints one
API={api} SANDBOX={sandbox} LATER={later or api}
{HELPERS}

# 1. {child["name"]} (child_1985) logs in with a sandbox WeChat code, passes the face check on her phone (the
#    sandbox stands in for wx.startFacialRecognitionVerify) and binds her real name with its verify_result
TOKEN=$(post $API/api/v1/auth/login -d '{{"code": "test:child_1985:1"}}' | pick access_token)
AUTH="Authorization: Bearer $TOKEN"
FACE=$(post $SANDBOX/wechat/sandbox/face-verify -d '{face}' | pick verify_result)
ME=$(post $API/api/v1/auth/real-name -H "$AUTH" -d '{real_name}' | pick resident resident_id)
curl -sS $API/api/v1/me -H "$AUTH" | show

# 2. her contribution options for this year (the demo clock stands still inside the collection window)
curl -sS $API/api/v1/residents/$ME/contribution-options -H "$AUTH" | show
curl -sS $API/api/v1/residents/$ME/account -H "$AUTH" | pick balance_fen

# 3. she orders the 1000-yuan tier (pay_params.sandbox_pay_url in the answer is a pay page for a browser)
ORDER=$(post $API/api/v1/residents/$ME/contributions -H "$AUTH" -H "Idempotency-Key: demo-self-1" \\
  -d '{{"year": {year}, "tier_fen": 100000, "kind": "normal"}}'); echo "$ORDER" | show
ORDER_NO=$(echo "$ORDER" | pick order_no)

# 4. she pays at the sandbox tax bureau, which calls the API back (signed) at once: paid, balance up
post $SANDBOX/tax/pay/$ORDER_NO -d '{{"channel": "wechat"}}' | show; sleep 1
curl -sS $API/api/v1/orders/$ORDER_NO -H "$AUTH" | show
curl -sS $API/api/v1/residents/$ME/account -H "$AUTH" | pick balance_fen
curl -sS $API/api/v1/residents/$ME/ledger -H "$AUTH" | show
curl -sS $SANDBOX/tax/control/deliveries | show

# 5. she links her father {parent["name"]} (parent_1958); the registry lists her as his supporter: active at once
LINK=$(post $API/api/v1/family/links -H "$AUTH" -d '{link}'); echo "$LINK" | show
DAD=$(echo "$LINK" | pick parent resident_id)

# 6. and pays for him (payer "supporter"): past 65, he may back-pay the years he was under 65
curl -sS $API/api/v1/residents/$DAD/contribution-options -H "$AUTH" | show
DAD_ORDER=$(post $API/api/v1/residents/$DAD/contributions -H "$AUTH" -H "Idempotency-Key: demo-dad-1" \\
  -d '{{"year": 2023, "tier_fen": 50000, "kind": "back_payment"}}' | pick order_no)
post $SANDBOX/tax/pay/$DAD_ORDER -d '{{"channel": "bank_app"}}' | show; sleep 1
curl -sS $API/api/v1/orders/$DAD_ORDER -H "$AUTH" | show
curl -sS $API/api/v1/residents/$DAD/account -H "$AUTH" | pick balance_fen

# 7. certificates come from the 5th working day after payment: today the API answers 409 not_yet_available;
#    {later_note}
post $API/api/v1/residents/$ME/certificates -H "$AUTH" -d '{{"year": {year}}}' | show
LATER_AUTH="Authorization: Bearer $(post $LATER/api/v1/auth/login -d '{{"code": "test:child_1985:2"}}' | pick access_token)"
CERT=$(post $LATER/api/v1/residents/$ME/certificates -H "$LATER_AUTH" -d '{{"year": {year}}}'); echo "$CERT" | show
VERIFY_URL=$(echo "$CERT" | pick verify_url)
curl -sS $API/api/v1/verify/${{VERIFY_URL##*/}} | show
curl -sS -o certificate.pdf -H "$AUTH" $(echo "$CERT" | pick pdf_url)
echo "open in a browser: $VERIFY_URL   (certificate: ./certificate.pdf)"
"""


def residents_table() -> str:
    rows = [
        f"  {p['key']:<16} {p['name']:<4}  {p['id_number']}  {p['kind']}"
        for p in demo_data.DEMO_RESIDENTS + demo_data.UNENROLLED
    ]
    return "\n".join(rows)


# --- The command ----------------------------------------------------------------------------------


class Stop(Exception):
    """SIGTERM: leave the foreground loop and stop the children."""


def _on_sigterm(signum, frame):
    raise Stop()


@click.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface the three servers listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="The API's port.")
@click.option("--sandbox-port", default=8001, show_default=True, type=int, help="The sandbox's port.")
@click.option(
    "--later-port",
    default=8002,
    show_default=True,
    type=int,
    help="The API again, its clock on the day the demo's payments get certificates (0: do not run it).",
)
@click.option(
    "--now",
    envvar="APP_NOW",
    default=DEFAULT_NOW,
    show_default=True,
    help="The demo clock (ISO 8601 with offset), inside a collection window [env APP_NOW].",
)
@click.option(
    "--speedup",
    default=DEFAULT_SPEEDUP,
    show_default=True,
    type=float,
    help="The sandbox tax bureau's callback retries come this many times sooner.",
)
@click.option("--keep-data", is_flag=True, help="Keep the demo database of the last run (default: start afresh).")
@click.option(
    "--logs",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for the servers' logs [default: instance/demo-logs].",
)
@with_appcontext
def demo_command(
    host: str,
    port: int,
    sandbox_port: int,
    later_port: int,
    now: str,
    speedup: float,
    keep_data: bool,
    logs: Path | None,
) -> None:
    """Run the API with the sandbox counterparts and demo data; print a walkthrough; Ctrl-C stops."""
    try:
        instant = parse_instant(now)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from None
    if os.environ.get("APP_ENV") == "production":
        raise click.ClickException("the demo runs in development only (APP_ENV=production is set)")
    policy_file = os.environ.get("POLICY_FILE") or str(DEMO_POLICY)
    check_window(instant, policy_file)
    later_instant = certificate_day(instant)
    ports = {"--port": port, "--sandbox-port": sandbox_port, **({"--later-port": later_port} if later_port else {})}
    if len(set(ports.values())) != len(ports):
        raise click.ClickException(f"the ports must differ: {ports}")
    busy = [f"{option} {number}" for option, number in ports.items() if not port_free(host, number)]
    if busy:
        raise click.ClickException(f"in use: {', '.join(busy)} (choose other ports)")

    instance = Path(current_app.instance_path)
    signing_key = os.environ.get("SANDBOX_TAX_PRIVATE_KEY") or default_private_key(instance)
    problem = trust_problem(
        current_app.config, signing_key, os.environ.get("SANDBOX_TAX_KEY_SERIAL") or devkeys.SANDBOX_TAX_SERIAL
    )
    if problem:
        raise click.ClickException(f"the API would refuse the sandbox's payment callbacks: {problem}")
    logs = (logs or instance / "demo-logs").resolve()
    database_url = os.environ.get("DATABASE_URL")
    if not database_url:
        database_url, path = fresh_sqlite(instance)
        if not keep_data:
            remove_database(path)
    api_url, sandbox_url = f"http://{host}:{port}", f"http://{host}:{sandbox_port}"
    later_url = f"http://{host}:{later_port}" if later_port else None
    env = api_environment(
        dict(os.environ),
        now=instant.isoformat(),
        database_url=database_url,
        public_url=api_url,
        sandbox_url=sandbox_url,
        policy_file=policy_file,
    )
    later_env = {**env, "APP_NOW": later_instant.isoformat()}

    click.echo("migrating the demo database ...")
    upgrade = subprocess.run(flask_command("db", "upgrade"), env=env, capture_output=True, text=True)
    if upgrade.returncode:
        raise click.ClickException(f"db upgrade failed:\n{upgrade.stdout}{upgrade.stderr}")

    children = [
        Child(
            "sandbox",
            sandbox_command(host, sandbox_port, speedup),
            env,
            logs / "sandbox.log",
            f"{sandbox_url}/tax/v1/public-keys",
        ),
        Child("API", api_command(host, port), env, logs / "api.log", f"{api_url}/healthz"),
    ]
    if later_url:
        children.append(
            Child("later API", api_command(host, later_port), later_env, logs / "api-later.log", f"{later_url}/healthz")
        )
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        for child in children:
            child.start()
        wait_ready(children)
        click.echo(banner(api_url, sandbox_url, later_url, instant, later_instant, database_url, logs))
        click.echo(
            walkthrough(api_url, sandbox_url, later_url, later_instant.isoformat(), instant.astimezone(SHANGHAI).year)
        )
        click.echo("Running; Ctrl-C stops the demo.")
        while all(child.running() for child in children):
            time.sleep(0.5)
        stopped = next(child for child in children if not child.running())
        raise click.ClickException(f"the {stopped.name} stopped:\n{tail(stopped.log)}")
    except (KeyboardInterrupt, Stop):
        click.echo("\nstopping ...")
    finally:
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not orphan children
        try:
            for child in reversed(children):
                child.stop()
        finally:
            signal.signal(signal.SIGINT, previous_int)
            signal.signal(signal.SIGTERM, previous)
    click.echo("stopped.")


def banner(
    api: str, sandbox: str, later: str | None, now: dt.datetime, later_now: dt.datetime, database_url: str, logs: Path
) -> str:
    later_line = (
        f"\n  API, later        {later}   clock {later_now.isoformat()} (certificates available)" if later else ""
    )
    later_app = f"\n  the same, later   {later}/app/   (certificates can be issued there)" if later else ""
    return f"""
Open the app (the mini-program's screens) in a phone-sized browser window: {api}/app/{later_app}

Shanxi supplementary pension: demo
  API               {api}   clock {now.isoformat()} (standing still)
  sandbox           {sandbox}   WeChat, identity check, agency registry, tax bureau{later_line}
  API docs          {api}/api/v1/docs
  database          {database_url}
  logs              {logs}/

Demo residents (agency registry of the sandbox); log in with WeChat code test:<key>[:<anything>],
pass the sandbox face check ($SANDBOX/wechat/sandbox/face-verify, step 1), then bind the real name
with the ID number and name below and its verify_result (docs/demo.md tells them apart):
{residents_table()}

Walkthrough (paste into bash or zsh; needs curl and python3):
"""
