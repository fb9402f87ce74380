"""Per-address rate limits key on the real client address that `PROXY_FIX_HOPS` yields, behind a real
reverse proxy, over real HTTP, with clients on different loopback addresses forging X-Forwarded-For.

The proxy (tests/support/loopback.py) appends the connecting address to whatever X-Forwarded-For the
client sent, as nginx's `$proxy_add_x_forwarded_for` does: with `PROXY_FIX_HOPS=1` the app trusts only
that last entry, so a forged header neither lets a client escape its limit nor spends another
client's; with `PROXY_FIX_HOPS=0` behind the proxy, every client is the proxy and shares its bucket.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from miniapp_api.payments import callback
from tests.support import payments as pf
from tests.support.live_server import serve
from tests.support.loopback import Answer, reverse_proxy, send

LIMIT = 3
ALICE, BOB, CAROL = "127.0.0.2", "127.0.0.3", "127.0.0.4"


def verify_certificate(proxy: str, source: str, forwarded_for: str | None) -> Answer:
    """`GET /api/v1/verify/<token>`: CERT_VERIFY_PER_MINUTE per address (a made-up token: 200, not valid)."""
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return send(proxy, "GET", f"/api/v1/verify/{secrets.token_urlsafe(16)}", source=source, headers=headers)


def unsigned_callback(proxy: str, source: str, forwarded_for: str | None) -> Answer:
    """An unsigned payment callback: the notify throttle per address (401 until it answers 429)."""
    headers = {
        "Content-Type": "application/json",
        "Tax-Timestamp": str(pf.NOW_TS),
        "Tax-Nonce": secrets.token_hex(8),
        "Tax-Serial": pf.SERIAL,
        "Tax-Signature": "AAAA",
        **({"X-Forwarded-For": forwarded_for} if forwarded_for else {}),
    }
    return send(proxy, "POST", pf.NOTIFY_PATH, source=source, body=b"{}", headers=headers)


ROUTES: dict[str, Callable[[str, str, str | None], Answer]] = {
    "certificate_verify": verify_certificate,
    "tax_notify": unsigned_callback,
}


@pytest.fixture(params=ROUTES.keys())
def limited(request, monkeypatch) -> Callable[[str, str, str | None], Answer]:
    """A per-address-limited route, its limit set to LIMIT a minute."""
    monkeypatch.setattr(callback, "NOTIFY_PER_MINUTE", LIMIT)
    return ROUTES[request.param]


def served(answer: Answer) -> bool:
    assert answer.status in (200, 401, 429), (answer.status, answer.body)
    return answer.status != 429


def test_behind_one_trusted_proxy_the_limit_follows_the_real_client(make_app, limited):
    app = make_app(PROXY_FIX_HOPS=1, CERT_VERIFY_PER_MINUTE=LIMIT)
    with serve(app) as base, reverse_proxy(base) as proxy:
        # Bob frames Alice: his requests say they come from her. They count for him, not for her.
        assert all(served(limited(proxy, BOB, ALICE)) for _ in range(LIMIT))
        assert all(served(limited(proxy, ALICE, None)) for _ in range(LIMIT))
        # Alice's limit is spent; a forged header (a fresh address, a list, Carol's) does not free her.
        for forged in ("10.1.2.3", "10.9.9.9, 10.8.8.8", CAROL):
            refused = limited(proxy, ALICE, forged)
            assert refused.status == 429 and int(refused.headers["Retry-After"]) >= 1
        assert not served(limited(proxy, BOB, "10.1.2.4"))  # nor Bob's
        assert all(served(limited(proxy, CAROL, None)) for _ in range(LIMIT))  # Carol's is her own


def test_behind_a_proxy_not_trusted_every_client_shares_the_proxys_bucket(make_app, limited):
    app = make_app(PROXY_FIX_HOPS=0, CERT_VERIFY_PER_MINUTE=LIMIT)
    with serve(app) as base, reverse_proxy(base) as proxy:
        assert all(served(limited(proxy, ALICE, None)) for _ in range(LIMIT))
        # The app sees only the proxy (127.0.0.1): Alice's requests spent Bob's and Carol's limit too.
        assert not served(limited(proxy, BOB, None))
        assert not served(limited(proxy, CAROL, BOB))


def test_straight_to_the_app_the_source_address_counts(make_app, limited):
    """No proxy, no trust: the source address is the client, whatever X-Forwarded-For says."""
    app = make_app(CERT_VERIFY_PER_MINUTE=LIMIT)
    with serve(app) as base:
        assert all(served(limited(base, ALICE, f"10.0.0.{n}")) for n in range(LIMIT))
        assert not served(limited(base, ALICE, "10.0.0.99"))
        assert served(limited(base, BOB, ALICE))
