"""`flask --app wsgi proxy-payments --year Y` (POLICY.md R7): every hardship resident the registry's feed
lists gets one proxy order a year, whether or not they ever used the mini-program."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa

from integrations.sandbox import demo_data
from miniapp_api.contributions import proxy_payments
from miniapp_api.core import rulebook
from models import ContributionKind, Order, Resident, db
from policy.rules import Quote
from tests.support.miniapp import verified
from tests.support.registry import add_change, agency_url, command, new_record, sync  # noqa: F401 (a fixture)

HARDSHIP = ("dibao_1972", "tekun_1969", "disability_1990")


@pytest.fixture
def app(make_app, agency_url):  # noqa: F811
    return make_app(AGENCY_API_BASE=agency_url)


def proxy(app, *args: str, exit_code: int = 0) -> dict:
    return command(app, "proxy-payments", "--year", "2027", *args, exit_code=exit_code)


def proxy_orders(app) -> list[tuple]:
    with app.app_context():
        query = (
            sa.select(Resident.name, Order.payer, Order.amount_fen, Order.subsidy_fen, Order.tax_order_no.is_not(None))
            .join(Resident, Resident.id == Order.resident_id)
            .where(Order.kind == "proxy")
            .order_by(Resident.id)
        )
        return [tuple(row) for row in db.session.execute(query)]


def names(*keys: str) -> list[str]:
    return [demo_data.by_key(key)["name"] for key in keys]


def test_feed_only_hardship_residents_get_their_proxy_order_once(app):
    sync(app)
    first = proxy(app)
    assert (first["created"], first["created_fen"], first["registered"]) == (3, 60000, 3)
    assert (first["unpaid"], first["unpaid_fen"]) == (3, 60000)
    orders = proxy_orders(app)
    assert [o[0] for o in orders] == names(*HARDSHIP)
    assert {o[1:] for o in orders} == {("government", 20000, 7000, True)}
    second = proxy(app)
    assert (second["created"], second["registered"], second["unpaid"]) == (0, 0, 3)
    assert len(proxy_orders(app)) == 3


def test_the_database_allows_one_live_proxy_order_a_year_even_when_two_runs_insert_at_once(app):
    sync(app)
    with app.app_context():
        ids = list(db.session.scalars(proxy_payments.without_live_proxy(2027)))
        assert proxy_payments.create_orders(ids, 2027)["created"] == 3
        with db.session.no_autoflush:  # a second run's rows for the same residents: the index keeps them out
            quote = Quote(ContributionKind.PROXY, 20000, 7000)
            rows = [proxy_payments._order_row(o.resident, quote, 2027) for o in db.session.scalars(sa.select(Order))]
            assert proxy_payments._insert(rows) == []
        db.session.commit()
    assert len(proxy_orders(app)) == 3


def test_category_changes_during_the_year_are_honoured(app, agency_url):  # noqa: F811
    sync(app)
    add_change(agency_url, demo_data.by_key("dibao_1972")["id_number"], update={"categories": []})
    sync(app)
    proxy(app)
    assert [o[0] for o in proxy_orders(app)] == names("tekun_1969", "disability_1990")
    client = app.test_client()
    headers, me = verified(client, "ordinary_1985")
    placed = client.post(
        f"/api/v1/residents/{me['resident_id']}/contributions",
        json={"year": 2027, "tier_fen": 50000, "kind": "normal"},
        headers={**headers, "Idempotency-Key": "normal-1"},
    )
    assert placed.status_code == 201, placed.get_json()
    newcomer = new_record("1975-06-06", 51, categories=["dibao"], name="低保新人")
    add_change(agency_url, newcomer["id_number"], record=newcomer)
    add_change(agency_url, demo_data.by_key("ordinary_1975")["id_number"], update={"categories": ["tekun"]})
    add_change(agency_url, demo_data.by_key("ordinary_1985")["id_number"], update={"categories": ["dibao"]})
    add_change(agency_url, demo_data.by_key("tekun_1969")["id_number"], update={"categories": []})
    sync(app)
    later = proxy(app, "--list-unpaid")
    assert (later["created"], later["skipped_order_pending"]) == (2, 1)
    created = [o[0] for o in proxy_orders(app)]
    # tekun_1969 left the category after the first run: the order made while listed stays (docs/decisions.md).
    assert created == names("ordinary_1975", "tekun_1969", "disability_1990") + ["低保新人"]


def test_the_unpaid_are_listed_by_resident_id(app):
    sync(app)
    result = app.test_cli_runner().invoke(args=["proxy-payments", "--year", "2027", "--list-unpaid"])
    with app.app_context():
        ids = set(db.session.scalars(sa.select(Resident.public_id).join(Order, Order.resident_id == Resident.id)))
    listed = {line.removeprefix("unpaid: ") for line in result.output.splitlines() if line.startswith("unpaid: ")}
    assert listed == ids and len(ids) == 3


def test_orders_the_tax_bureau_could_not_take_are_registered_by_the_next_run(make_app, app):
    sync(app)
    down = make_app(AGENCY_API_BASE=app.config["AGENCY_API_BASE"], TAX_API_BASE="http://127.0.0.1:9/tax")
    failed = proxy(down, exit_code=1)
    assert (failed["created"], failed["registration_failed"]) == (3, 3)
    assert {o[-1] for o in proxy_orders(app)} == {False}
    retried = proxy(app)
    assert (retried["created"], retried["registered"]) == (0, 3)
    assert {o[-1] for o in proxy_orders(app)} == {True}


def test_a_dry_run_counts_and_writes_nothing(app):
    sync(app)
    dry = proxy(app, "--dry-run")
    assert (dry["dry_run"], dry["created"], dry.get("registered", 0)) == (True, 3, 0)
    assert proxy_orders(app) == []


def test_outside_the_window_nothing_is_created(make_app, agency_url):  # noqa: F811
    app = make_app(AGENCY_API_BASE=agency_url, APP_NOW="2027-07-02T10:00:00+08:00")
    sync(app)
    assert proxy(app)["skipped_window_closed"] == 3 and proxy_orders(app) == []


def test_hardship_resident_sees_the_year_as_paid_by_government_after_the_run(app):
    sync(app)
    proxy(app)
    client = app.test_client()
    headers, me = verified(client, "dibao_1972")
    body = client.get(f"/api/v1/residents/{me['resident_id']}/contribution-options", headers=headers).get_json()
    assert body["paid_by_government"] is True and body["normal"]["allowed"] is False


@pytest.mark.postgres_only
def test_order_creation_for_another_resident_completes_while_a_proxy_batch_holds_its_locks(app, monkeypatch):
    sync(app)
    client = app.test_client()
    headers, me = verified(client, "ordinary_1975")
    inside, release = threading.Event(), threading.Event()
    histories = rulebook.histories

    def pause_in_the_proxy_batch(ids):
        if threading.current_thread().name == "proxy-run":
            inside.set()
            release.wait(30)
        return histories(ids)

    monkeypatch.setattr(rulebook, "histories", pause_in_the_proxy_batch)
    outcome = {}
    run = threading.Thread(target=lambda: outcome.update(proxy(app)), name="proxy-run")
    run.start()
    try:
        assert inside.wait(30)  # the batch's hardship residents are locked now
        placed = client.post(
            f"/api/v1/residents/{me['resident_id']}/contributions",
            json={"year": 2027, "tier_fen": 20000, "kind": "normal"},
            headers={**headers, "Idempotency-Key": "during-proxy"},
        )
        assert placed.status_code == 201, placed.get_json()
        assert run.is_alive()  # the proxy batch was still open while the order completed
    finally:
        release.set()
        run.join(30)
    assert outcome["created"] == 3
