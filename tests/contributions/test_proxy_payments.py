"""`flask --app wsgi proxy-payments --year Y` (POLICY.md R7): once per hardship resident and year."""

import sqlalchemy as sa

from models import Order, db
from tests.support.miniapp import verified


def _proxy_orders(app):
    with app.app_context():
        return db.session.execute(
            sa.select(Order.kind, Order.payer, Order.amount_fen, Order.subsidy_fen).where(Order.kind == "proxy")
        ).all()


def test_proxy_orders_are_created_once(app):
    client = app.test_client()
    for key in ("dibao_1972", "tekun_1969", "disability_1990", "ordinary_1975"):
        verified(client, key)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["proxy-payments", "--year", "2027"])
    assert first.exit_code == 0, first.output
    assert first.output.count("created") == 3
    assert sorted(_proxy_orders(app)) == [("proxy", "government", 20000, 7000)] * 3
    second = runner.invoke(args=["proxy-payments", "--year", "2027"])
    assert second.exit_code == 0 and "created" not in second.output
    assert len(_proxy_orders(app)) == 3


def test_hardship_resident_sees_the_year_as_paid_by_government_after_the_run(app):
    client = app.test_client()
    headers, me = verified(client, "dibao_1972")
    app.test_cli_runner().invoke(args=["proxy-payments", "--year", "2027"])
    body = client.get(f"/api/v1/residents/{me['resident_id']}/contribution-options", headers=headers).get_json()
    assert body["paid_by_government"] is True and body["normal"]["allowed"] is False


def test_outside_the_window_nothing_is_created(make_app):
    app = make_app(APP_NOW="2027-07-02T10:00:00+08:00")
    verified(app.test_client(), "dibao_1972")
    result = app.test_cli_runner().invoke(args=["proxy-payments", "--year", "2027"])
    assert "skipped (window_closed)" in result.output and _proxy_orders(app) == []
