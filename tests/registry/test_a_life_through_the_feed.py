"""Issue 13's end to end, over the sandbox's change feed: a pensioner the mini-program never saw is brought
by `registry sync`, paid by `benefits run` with the arrears of every month she was due, dies in the feed,
payments stop, the overpaid month is recovered, the heirs get the rest, and her ledger sums to zero."""

from __future__ import annotations

import datetime as dt
import json

import sqlalchemy as sa

from miniapp_api.core.pii import cipher
from models import BenefitPayment, LedgerEntry, Resident, WeChatUser, db
from tests.support import factories
from tests.support.registry import add_change, new_record, sync

MARCH = dt.datetime(2027, 3, 2, 10, tzinfo=dt.timezone(dt.timedelta(hours=8)))


def _benefits(app, month: str) -> dict:
    result = app.test_cli_runner().invoke(args=["benefits", "run", "--month", month])
    assert result.exit_code == 0, result.output
    return json.loads(result.output.strip().splitlines()[-1])


def _her(id_number: str) -> Resident:
    found = db.session.scalar(sa.select(Resident).where(Resident.id_number_index == cipher().blind_index(id_number)))
    assert found is not None
    return found


def _payments(resident_id: int) -> list[BenefitPayment]:
    query = sa.select(BenefitPayment).where(BenefitPayment.resident_id == resident_id).order_by(BenefitPayment.month)
    return list(db.session.scalars(query))


def test_a_never_app_pensioner_is_paid_dies_in_the_feed_and_the_heirs_get_the_balance(app, agency_url):
    # 60 on 2021-01-01: 5 years required; 65 on 2025-08-20, receiving basic pension: due from September 2025.
    record = new_record("1960-08-20", 28, basic_pension={"paid_years": list(range(2021, 2026)), "receiving": True})
    add_change(agency_url, record["id_number"], record=record)
    assert sync(app)["created"] >= 1
    with app.app_context():
        mother = _her(record["id_number"])
        assert db.session.scalar(sa.select(sa.func.count()).select_from(WeChatUser)) == 0  # nobody ever logged in
        for year in range(2021, 2026):  # paid at the bank counter each March, 1,000 yuan + 200 subsidy
            factories.paid_order(mother, year=year, paid_at=MARCH.replace(year=year), channel="bank_counter")
        db.session.commit()
        mother_id = mother.id
    pension = 5 * 120000 // 120

    _benefits(app, "2027-03")  # everyone the feed brought who is due (the demo's pensioners too)
    with app.app_context():
        paid = _payments(mother_id)
    assert [p.month for p in paid] == [dt.date(2025 + (8 + i) // 12, (8 + i) % 12 + 1, 1) for i in range(19)]
    assert [p.arrears for p in paid] == [True] * 18 + [False]  # 2025-09 … 2027-02 late, March on time
    assert {p.account_pension_fen + p.fund_pension_fen for p in paid} == {pension}

    add_change(agency_url, record["id_number"], update={"deceased_on": "2027-02-14"})
    assert sync(app)["updated"] == 1
    app.extensions["clock"].freeze(dt.datetime(2027, 4, 1, 8, tzinfo=MARCH.tzinfo))
    _benefits(app, "2027-04")
    with app.app_context():
        months = [p.month for p in _payments(mother_id)]
        kinds = dict(
            db.session.execute(
                sa.select(LedgerEntry.kind, sa.func.sum(LedgerEntry.amount_fen))
                .where(LedgerEntry.resident_id == mother_id)
                .group_by(LedgerEntry.kind)
            ).all()
        )
    assert len(months) == 19 and max(months) == dt.date(2027, 3, 1)  # nothing after the death is paid again
    # March was paid after her death in February: its exit subsidy (the fund's money) is recovered; its account
    # part was her estate's own money, so the heirs get exactly the balance at her death.
    assert kinds["recovery"] == -2000
    assert kinds["inheritance_payout"] == -(600000 - 19 * pension - 2000)
    assert -kinds["inheritance_payout"] + (pension + 2000) == 600000 - 18 * pension  # what the estate holds
    assert sum(kinds.values()) == 0
    assert _benefits(app, "2027-04")["accounts_closed"] == 0  # once
