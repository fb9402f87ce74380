"""Benchmark: certificates issued per second (issue + PDF + QR) and verifications per second, against floors.

    .venv/bin/python bench/certificates.py [--certificates 600] [--rounds 3] [--seconds 10] [--connections 16]

Creates the PostgreSQL database `pension_bench16_certificates`, seeds residents with a paid 2027
order and a bound WeChat user each, and serves the app (`wsgi:app`) and its floors
(`bench/floors/certificates.py`) under gunicorn with 2 workers each. Then, alternating project and
floor for `--rounds` rounds:

- issuing: the project issues each round's share of certificates (POST, `--connections` at a
  time, each once) and downloads each one's PDF and QR code (the first download renders and stores
  them); the floor renders one PDF page with reportlab and one QR code per certificate.
  Certificates per second = certificates ÷ the time of all of it.
- verifying: `wrk` on `GET /api/v1/verify/<token>` over the issued tokens; the floor checks the
  Ed25519 signature and reads the certificate by its number (one keyed SELECT). With `--before
  REVISION`, that earlier commit is served too (a git worktree, same database) as a third side.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402

from bench import harness, load  # noqa: E402
from miniapp_api import create_app  # noqa: E402
from miniapp_api.core import config as configuration  # noqa: E402
from miniapp_api.core import devkeys  # noqa: E402
from models import db, dispose_engines  # noqa: E402
from tests.support import factories  # noqa: E402  (rows made the way the app makes them)

NOW = "2027-03-09T10:00:00+08:00"  # every factory payment (2027-03-02) is certifiable by then
BASE = "http://127.0.0.1:8000"  # PUBLIC_BASE_URL: the links the app answers start with it


def environment(args: argparse.Namespace, folder: Path) -> dict:
    keys = {name: make(folder) for name, make in devkeys.GENERATORS.items()}
    return {
        **os.environ,
        **keys,
        "DATABASE_URL": args.database,
        "APP_ENV": "development",
        "APP_NOW": NOW,
        "REDIS_URL": args.redis,
        "PUBLIC_BASE_URL": BASE,
        "CERT_VERIFY_PER_MINUTE": str(10**9),
    }


def seed(env: dict, count: int) -> list[tuple[str, dict]]:
    """`count` residents with a paid 2027 order: (resident_id, owner's auth header) each."""
    app = create_app({name: env[name] for name in configuration.ENV_KEYS if name in env})
    with app.app_context():
        people = []
        for n in range(count):  # 400 a birth date: the factory's ID numbers stay unique
            resident = factories.resident(birth_date=dt.date(1970, 5, 1) + dt.timedelta(days=n // 400))
            factories.paid_order(resident)
            people.append((resident.public_id, factories.user(bound_to=resident)))
        db.session.commit()
        made = [(resident_id, factories.auth_header(user)) for resident_id, user in people]
        dispose_engines()
    return made


def issue(base: str, people: list[tuple[str, dict]], connections: int) -> tuple[harness.Result, list[str]]:
    """Issue for everyone, then download each PDF and QR code; the result counts certificates."""
    body = b'{"year": 2027}'
    posts = [
        load.http("POST", f"/api/v1/residents/{rid}/certificates", {**h, "Content-Type": "application/json"}, body)
        for rid, h in people
    ]
    issued = load.once(base, posts, connections)
    certificates = [_certificate(base, rid, h) for rid, h in people]  # 201 again: the same certificate
    downloads = [
        load.http("GET", certificate[name].removeprefix(BASE), headers)
        for certificate, (_, headers) in zip(certificates, people, strict=True)
        for name in ("pdf_url", "qr_url")
    ]
    fetched = load.once(base, downloads, connections)
    seconds = issued.requests / issued.rps + fetched.requests / fetched.rps
    result = harness.Result(
        rps=len(people) / seconds,
        p50=issued.p50,
        p99=max(issued.p99, fetched.p99),
        requests=len(people),
        failures=issued.failures + fetched.failures,
    )
    return result, [certificate["verify_url"].rsplit("/", 1)[1] for certificate in certificates]


def _certificate(base: str, resident_id: str, headers: dict) -> dict:
    response = requests.post(
        f"{base}/api/v1/residents/{resident_id}/certificates", json={"year": 2027}, headers=headers
    )
    assert response.status_code == 201, response.text[:300]
    return response.json()


def render(base: str, people: list[tuple[str, dict]], connections: int) -> harness.Result:
    return load.once(
        base, [load.http("GET", f"/floor/certificate/SXBY-{n:04d}") for n in range(len(people))], connections
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=600, help="certificates to issue, shared by the rounds")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10, help="seconds of verification load per side and round")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database", default="postgresql://postgres@127.0.0.1/pension_bench16_certificates")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--before", metavar="REVISION", help="also serve this earlier commit in the verifying rounds")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-certificates-") as folder:
        env = environment(args, Path(folder))
        with harness.fresh_database(args.database, keep=args.keep):
            harness.migrate(env)
            people = seed(env, args.certificates)
            return run(args, env, people)


def run(args: argparse.Namespace, env: dict, people: list[tuple[str, dict]]) -> int:
    share = len(people) // args.rounds
    batches = [people[i * share : (i + 1) * share] for i in range(args.rounds)]
    tokens: list[str] = []
    with contextlib.ExitStack() as stack:
        project = stack.enter_context(harness.gunicorn("wsgi:app", env))
        floor = stack.enter_context(harness.gunicorn("bench.floors.certificates:app", env))
        pending = {project: iter(batches), floor: iter(batches)}

        def issuing(base: str) -> harness.Result:
            if base == floor:
                return render(base, next(pending[base]), args.connections)
            result, issued = issue(base, next(pending[base]), args.connections)
            tokens.extend(issued)
            return result

        print(f"issuing: {share} certificates a side and round, {args.connections} connections")
        issued = harness.alternate(args.rounds, {"project": project, "floor": floor}, issuing)
        lines = [harness.request_line("GET", f"/api/v1/verify/{token}") for token in tokens]
        print(f"\nverifying: {len(tokens)} tokens, {args.connections} connections, {args.seconds:g} s a round")
        bases = {"project": project, "floor": floor}
        if args.before:  # verifying only: every side reads the same certificates
            bases["before"] = stack.enter_context(harness.gunicorn_at(args.before, "wsgi:app", env))
        verified = harness.alternate(
            args.rounds, bases, lambda base: harness.wrk(base, lines, args.connections, args.seconds)
        )
    print("\n" + harness.TABLE_HEADER)
    print(harness.summary("certificates issued (issue + PDF + QR)", issued))
    print(harness.summary("GET /verify/{token}", verified))
    failed = sum(r.failures for results in (issued, verified) for runs in results.values() for r in runs)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
