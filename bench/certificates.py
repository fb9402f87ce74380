"""Benchmark: certificates issued per second (issue + PDF + QR through the API) and verifications per second.

    .venv/bin/python bench/certificates.py [--certificates 200] [--verifications 2000]

Runs the real app (create_app) in-process with Flask's test client on a temporary SQLite database,
so the figures are of the application code (signing, rendering, queries), not of an HTTP server.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402

from miniapp_api import create_app  # noqa: E402
from miniapp_api.core import devkeys  # noqa: E402
from models import db  # noqa: E402
from tests.support import factories  # noqa: E402  (rows made the way the app makes them)

NOW = "2027-03-09T10:00:00+08:00"  # every factory payment (2027-03-02) is certifiable by then


def build_app(folder: Path):
    keys = {name: make(folder) for name, make in devkeys.GENERATORS.items()}
    app = create_app(
        {
            "APP_ENV": "testing",
            "DATABASE_URL": f"sqlite:///{folder / 'bench.sqlite3'}",
            "APP_NOW": NOW,
            "CERT_VERIFY_PER_MINUTE": 10**9,
            **keys,
        }
    )
    logging.getLogger().setLevel(logging.WARNING)
    with app.app_context():
        flask_migrate.upgrade()
    return app


def seed(app, count: int) -> list[tuple[str, dict]]:
    """`count` residents with a paid 2027 order: (resident_id, owner's auth header) each."""
    with app.app_context():
        people = []
        for _ in range(count):
            resident = factories.resident()
            factories.paid_order(resident)
            people.append((resident.public_id, factories.user(bound_to=resident)))
        db.session.commit()
        return [(resident_id, factories.auth_header(user)) for resident_id, user in people]


def issue_all(client, people) -> list[str]:
    """Issue, then download the PDF and the QR code, for everyone; the verification tokens."""
    tokens = []
    for resident_id, headers in people:
        created = client.post(f"/api/v1/residents/{resident_id}/certificates", json={"year": 2027}, headers=headers)
        certificate = created.get_json()
        for url in (certificate["pdf_url"], certificate["qr_url"]):
            response = client.get(url.removeprefix(app_base(client)), headers=headers)
            assert response.status_code == 200, response.status_code
        tokens.append(certificate["verify_url"].rsplit("/", 1)[1])
    return tokens


def app_base(client) -> str:
    return client.application.config["PUBLIC_BASE_URL"].rstrip("/")


def verify_all(client, tokens: list[str], count: int) -> None:
    for i in range(count):
        assert client.get(f"/api/v1/verify/{tokens[i % len(tokens)]}").get_json()["valid"] is True


def timed(label: str, count: int, run) -> float:
    start = time.perf_counter()
    result = run()
    seconds = time.perf_counter() - start
    print(f"{label}: {count} in {seconds:.2f} s = {count / seconds:.1f}/s ({1000 * seconds / count:.1f} ms each)")
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--certificates", type=int, default=200, help="certificates to issue (default 200)")
    parser.add_argument("--verifications", type=int, default=2000, help="verifications to run (default 2000)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        app = build_app(Path(folder))
        client = app.test_client()
        people = seed(app, args.certificates)
        tokens = timed("certificates issued (issue + PDF + QR)", args.certificates, lambda: issue_all(client, people))
        timed("verifications", args.verifications, lambda: verify_all(client, tokens, args.verifications))
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
