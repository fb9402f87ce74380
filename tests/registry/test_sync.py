"""`flask --app wsgi registry sync` (INTEGRATIONS.md §3a): the feed applied from the stored cursor,
one committed batch per `--batch-size` changes (one or more feed pages), idempotent, resumable after a crash."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
import sqlalchemy as sa

from integrations.agency import Change, parse_record
from integrations.sandbox import demo_data
from miniapp_api.core import clients
from miniapp_api.core.messages import MESSAGES
from miniapp_api.core.pii import cipher
from miniapp_api.registry import reader
from miniapp_api.registry import sync as registry_sync
from models import RegistryCursor, Resident, db
from tests.support.miniapp import verified
from tests.support.registry import add_change, new_record, own_agency, state, sync

DEMO = demo_data.DEMO_RESIDENTS
WANG = demo_data.by_key("parent_1958")


def resident(app, id_number: str) -> Resident:
    with app.app_context():
        found = db.session.scalar(
            sa.select(Resident).where(Resident.id_number_index == cipher().blind_index(id_number))
        )
        db.session.expunge_all()
        return found


def test_a_full_load_brings_every_registry_fact_in_committed_pages(app):
    summary = sync(app, "--batch-size", "5")
    pages = -(-len(DEMO) // 5)
    assert summary["command"] == "registry sync" and summary["batches"] == pages
    assert (summary["changes"], summary["created"], summary["updated"]) == (len(DEMO), len(DEMO), 0)
    assert len(state(app)) == len(DEMO)
    wang = resident(app, WANG["id_number"])
    assert (wang.name, wang.birth_date, wang.basic_pension_paid_years) == (
        "王建国",
        dt.date(1958, 9, 12),
        WANG["basic_pension"]["paid_years"],
    )
    corrected = resident(app, demo_data.by_key("corrected_today")["id_number"])
    assert corrected.registration_updated_on == dt.date(2027, 3, 2) and corrected.enrolled
    with app.app_context():
        assert cipher().decrypt(wang.id_number_encrypted) == WANG["id_number"]
        assert db.session.get(RegistryCursor, "agency").cursor == str(len(DEMO))
    assert wang.id_number_masked == WANG["id_number"][:4] + "*" * 10 + WANG["id_number"][-4:]  # views never decrypt


def test_a_known_resident_keeps_their_row_identity_when_a_change_comes(app, agency_url):
    """The reader encrypts every ID number and draws a public id for every row; a known resident's
    update takes only the facts, never a fresh ciphertext or public id."""
    sync(app)
    before = resident(app, WANG["id_number"])
    add_change(agency_url, WANG["id_number"], update={"categories": ["dibao"]})
    assert sync(app)["updated"] == 1
    after = resident(app, WANG["id_number"])
    assert after.categories == ["dibao"]
    assert (after.id, after.public_id, after.id_number_encrypted) == (
        before.id,
        before.public_id,
        before.id_number_encrypted,
    )


def test_a_rerun_finds_nothing_new_and_reapplying_the_feed_changes_nothing(app):
    sync(app, "--batch-size", "7")
    before = state(app)
    assert sync(app)["changes"] == 0
    with app.app_context():  # forget the cursor: the whole feed once more
        db.session.execute(sa.delete(RegistryCursor))
        db.session.commit()
    again = sync(app, "--batch-size", "3")
    assert (again["changes"], again["created"], again["updated"], again["unchanged"]) == (len(DEMO), 0, 0, len(DEMO))
    assert state(app) == before


def test_later_changes_are_applied_and_a_later_seq_supersedes_an_earlier_one(app, agency_url):
    sync(app)
    newcomer = new_record("1972-05-05", 31)
    ordinary = demo_data.by_key("ordinary_1975")["id_number"]
    add_change(agency_url, WANG["id_number"], update={"deceased_on": "2027-02-20"})
    add_change(agency_url, ordinary, update={"categories": ["dibao"]})
    add_change(agency_url, ordinary, update={"categories": ["dibao", "low_income"]})
    add_change(agency_url, newcomer["id_number"], record=newcomer)
    summary = sync(app)
    assert (summary["changes"], summary["created"], summary["updated"]) == (4, 1, 2)
    assert resident(app, WANG["id_number"]).deceased_on == dt.date(2027, 2, 20)
    assert resident(app, ordinary).categories == ["dibao", "low_income"]
    assert resident(app, newcomer["id_number"]).birth_date == dt.date(1972, 5, 5)
    with app.app_context():  # re-reading the feed from the start never brings back the older records
        db.session.execute(sa.delete(RegistryCursor))
        db.session.commit()
    before = state(app)
    assert sync(app, "--batch-size", "4")["updated"] == 0 and state(app) == before


def test_a_null_record_ends_the_enrolment_stops_contributions_and_is_reported(app, agency_url):
    client = app.test_client()
    headers, me = verified(client, "ordinary_1975")
    sync(app)
    person = demo_data.by_key("ordinary_1975")["id_number"]
    add_change(agency_url, person, record=None)
    add_change(agency_url, new_record("1980-01-01", 41)["id_number"], record=None)  # never known: nothing to do
    summary = sync(app)
    assert (summary["departed"], summary["unchanged"]) == (1, 1)
    assert resident(app, person).enrolled is False and resident(app, person).public_id == me["resident_id"]
    body = {"year": 2027, "tier_fen": 20000, "kind": "normal"}
    answer = client.post(
        f"/api/v1/residents/{me['resident_id']}/contributions", json=body, headers={**headers, "Idempotency-Key": "k1"}
    )
    assert answer.status_code == 409 and answer.get_json()["code"] == "not_allowed"
    assert answer.get_json()["reason"] == "left_province"
    assert "山西" in MESSAGES["left_province"]  # the sentence the screens show for the reason


def test_a_second_null_record_for_someone_gone_changes_nothing(app, agency_url):
    sync(app)
    person = demo_data.by_key("ordinary_1975")["id_number"]
    add_change(agency_url, person, record=None)
    sync(app)
    before = resident(app, person).registry_seq
    add_change(agency_url, person, record=None)
    summary = sync(app)
    assert (summary["departed"], summary["unchanged"]) == (0, 1)
    assert resident(app, person).registry_seq == before


def test_a_full_load_is_copied_and_a_held_person_later_in_a_batch_is_updated(app, agency_url, monkeypatch):
    copied = []
    copy = registry_sync._copy
    monkeypatch.setattr(registry_sync, "_copy", lambda table, rows: (copied.append(table), copy(table, rows)))
    assert sync(app)["created"] == len(DEMO)
    postgres = app.config["SQLALCHEMY_DATABASE_URI"].startswith("postgresql")
    assert copied == (["residents"] if postgres else [])  # a full load takes the COPY, not the upsert
    for record in (new_record("1972-05-05", 100 + i) for i in range(registry_sync.NEW_PEOPLE_SAMPLE + 4)):
        add_change(agency_url, record["id_number"], record=record)
    add_change(agency_url, WANG["id_number"], update={"deceased_on": "2027-02-20"})  # held, after the sample
    summary = sync(app)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (registry_sync.NEW_PEOPLE_SAMPLE + 4, 1, 0)
    assert resident(app, WANG["id_number"]).deceased_on == dt.date(2027, 2, 20)


def test_a_batch_of_several_feed_pages_commits_once_with_the_last_pages_cursor(make_app, monkeypatch):
    requested: list[int] = []
    monkeypatch.setattr(registry_sync, "FEED_LIMIT_MAX", 2)
    with own_agency(lambda feed_request: requested.append(int(feed_request.args["limit"]))) as url:
        app = make_app(AGENCY_API_BASE=url)
        summary = sync(app, "--batch-size", "5")
    assert max(requested) == 2 and len(requested) > summary["batches"] == -(-len(DEMO) // 5)
    assert summary["created"] == len(DEMO) == len(state(app))
    with app.app_context():
        assert db.session.get(RegistryCursor, "agency").cursor == str(len(DEMO))


@pytest.mark.postgres_only
def test_someone_arriving_between_the_lookup_and_the_write_is_updated_not_duplicated(app, agency_url, monkeypatch):
    sync(app)
    add_change(agency_url, WANG["id_number"], update={"deceased_on": "2027-02-20"})
    before = len(state(app))
    monkeypatch.setattr(registry_sync, "_known", lambda indexes: {})  # every row looks new: the COPY conflicts
    assert sync(app)["changes"] == 1
    assert len(state(app)) == before
    assert resident(app, WANG["id_number"]).deceased_on == dt.date(2027, 2, 20)


@pytest.mark.postgres_only
def test_the_upsert_counts_what_it_did_not_what_a_lookup_expected(app, agency_url, monkeypatch):
    sync(app)
    add_change(agency_url, WANG["id_number"], update={"deceased_on": "2027-02-20"})
    monkeypatch.setattr(registry_sync, "_known", lambda indexes: {})  # "all new": the COPY conflicts
    summary = sync(app)
    assert (summary["created"], summary["updated"], summary["unchanged"]) == (0, 1, 0)


@pytest.mark.postgres_only
def test_a_feed_rewrite_of_every_person_on_full_pages_is_a_hot_update(app, agency_url):
    """A batch rewriting each person of a freshly loaded table writes no index entry (HOT): their pages
    keep room for a new version of every row (residents `fillfactor`, migration 0013)."""
    people = [new_record("1968-03-03", 200 + i) for i in range(60)]  # several full pages
    for record in people:
        add_change(agency_url, record["id_number"], record=record)
    sync(app)
    for record in people:
        add_change(agency_url, record["id_number"], update={"categories": ["dibao"]})
    with app.app_context():
        (batch,) = registry_sync.batches(clients.agency(), 2000)
        assert registry_sync.apply(batch)["updated"] == len(people)
        written = sa.text(
            "SELECT pg_stat_get_xact_tuples_updated(oid), pg_stat_get_xact_tuples_hot_updated(oid) "
            "FROM pg_class WHERE relname = 'residents'"
        )
        assert tuple(db.session.execute(written).one()) == (len(people), len(people))
        db.session.commit()


STAGED_AT = dt.datetime(2027, 3, 2, 2, 0, 0, 123456, tzinfo=dt.timezone.utc)
TRICKY_NAMES = ("王\t建国", "郝\\玉梅", "\\N", "李\n秀英", "\\.", "张\r伟")


def staged(name: str, seq: int) -> reader.StagedRow:
    """A row as the reader builds it, for a made-up person of that name."""
    record = parse_record(new_record("1961-06-06", 400 + seq, name=name))
    return reader._row(Change(seq, record.id_number, record), f"index-{seq}", "a1.token", "r_x", STAGED_AT)


@pytest.mark.postgres_only
def test_the_readers_copy_text_fills_a_table_as_psycopg_write_row_does(app):
    rows = [staged(name, seq) for seq, name in enumerate(TRICKY_NAMES, start=1)]
    with app.app_context():
        db.session.execute(registry_sync.STAGING_TABLE)
        db.session.execute(sa.text("CREATE TEMPORARY TABLE written_by_row (LIKE registry_staging)"))
        registry_sync._copy("registry_staging", reader.copy_text(rows))
        connection = db.session.connection().connection.driver_connection
        columns = ", ".join(reader.StagedRow._fields)
        with connection.cursor() as cursor, cursor.copy(f"COPY written_by_row ({columns}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        for one, other in (("registry_staging", "written_by_row"), ("written_by_row", "registry_staging")):
            rows_of = "SELECT row_to_json(t)::text FROM {} AS t"  # json columns have no equality of their own
            differing = f"SELECT count(*) FROM ({rows_of.format(one)} EXCEPT ALL {rows_of.format(other)}) AS d"
            assert db.session.scalar(sa.text(differing)) == 0
        names = db.session.scalars(sa.text("SELECT name FROM registry_staging ORDER BY registry_seq")).all()
        assert tuple(names) == TRICKY_NAMES
        db.session.rollback()


@pytest.mark.postgres_only
@pytest.mark.parametrize("known", [False, True], ids=["new person: COPY", "known person: staging upsert"])
def test_a_batch_lands_whole_on_a_connection_of_another_client_encoding(app, agency_url, known):
    record = new_record("1961-06-06", 471, name="郝玉梅")
    add_change(agency_url, record["id_number"], record=record if not known else record | {"name": "郝玉"})
    if known:
        sync(app)
        add_change(agency_url, record["id_number"], update={"name": "郝玉梅"})
    with app.app_context():
        (batch,) = registry_sync.batches(clients.agency(), 2000)
        connection = db.session.connection().connection.driver_connection
        connection.execute("SET client_encoding = 'GBK'")  # the session's, not the transaction's
        assert registry_sync.apply(batch)["updated" if known else "created"] >= 1
        db.session.commit()
        assert connection.info.encoding == "gbk"  # the COPY's UTF-8 ended with its transaction
        connection.execute("RESET client_encoding")
        connection.commit()
    assert resident(app, record["id_number"]).name == "郝玉梅"


def test_the_staging_columns_are_the_staged_rows_fields_in_order():
    """COPY writes a StagedRow's values in order into the columns STAGED_TYPES names."""
    assert tuple(registry_sync.STAGED_TYPES) == registry_sync.StagedRow._fields


STAGED_FACTS = (
    "name", "gender", "birth_date", "region_code", "region_name", "categories", "supporter_capable",
    "receiving_basic_pension", "basic_pension_paid_years", "registration_updated_on", "deceased_on", "enrolled",
)  # fmt: skip


def facts_of(app, id_number: str) -> dict:
    found = resident(app, id_number)
    return {name: getattr(found, name) for name in STAGED_FACTS}


@pytest.mark.parametrize(
    "first, then",
    [
        (
            dict(receiving=True, capable=False, region=("140121", "太原市清徐县"), categories=["tekun", "dibao"]),
            dict(receiving=False, capable=True, region=("140213", "大同市平城区"), categories=["low_income"]),
        ),
        (
            dict(receiving=False, capable=True, region=("140213", "大同市平城区"), categories=[]),
            dict(receiving=True, capable=False, region=("140121", "太原市清徐县"), categories=["dibao"]),
        ),
    ],
)
def test_every_fact_lands_in_its_own_column_when_created_and_when_updated(app, agency_url, first, then):
    """Each field of a record in its column, for a new person (COPY on PostgreSQL) and a known one (the
    staging upsert): distinct values everywhere, so that two swapped slots of a row show."""
    code, region = first["region"]
    record = new_record("1960-04-04", 301, code, gender="F", name="郝玉梅", region_name=region)
    record |= {"supporter_capable": first["capable"], "categories": first["categories"]}
    record |= {"basic_pension": {"paid_years": [2027, 2019, 2023], "receiving": first["receiving"]}}
    record |= {"registration_updated_on": "2027-01-05", "deceased_on": None}
    seq = add_change(agency_url, record["id_number"], record=record)
    assert sync(app)["created"] == len(DEMO) + 1
    assert facts_of(app, record["id_number"]) == {
        "name": "郝玉梅", "gender": "F", "birth_date": dt.date(1960, 4, 4), "region_code": first["region"][0],
        "region_name": first["region"][1], "categories": sorted(first["categories"]),
        "supporter_capable": first["capable"], "receiving_basic_pension": first["receiving"],
        "basic_pension_paid_years": [2019, 2023, 2027], "registration_updated_on": dt.date(2027, 1, 5),
        "deceased_on": None, "enrolled": True,
    }  # fmt: skip
    assert resident(app, record["id_number"]).registry_seq == seq
    changed = {
        "region_code": then["region"][0], "region_name": then["region"][1], "categories": then["categories"],
        "supporter_capable": then["capable"], "basic_pension": {"paid_years": [2026], "receiving": then["receiving"]},
        "registration_updated_on": None, "deceased_on": "2027-02-20", "name": "郝玉芬", "gender": "M",
    }  # fmt: skip
    seq = add_change(agency_url, record["id_number"], update=changed)
    assert sync(app)["updated"] == 1
    assert facts_of(app, record["id_number"]) == {
        "name": "郝玉芬", "gender": "M", "birth_date": dt.date(1960, 4, 4), "region_code": then["region"][0],
        "region_name": then["region"][1], "categories": sorted(then["categories"]),
        "supporter_capable": then["capable"], "receiving_basic_pension": then["receiving"],
        "basic_pension_paid_years": [2026], "registration_updated_on": None,
        "deceased_on": dt.date(2027, 2, 20), "enrolled": True,
    }  # fmt: skip
    assert resident(app, record["id_number"]).registry_seq == seq


def test_a_resident_the_feed_brought_binds_to_the_same_row_on_first_login(app):
    sync(app)
    known = resident(app, WANG["id_number"])
    _, me = verified(app.test_client(), "parent_1958")
    assert me["resident_id"] == known.public_id
    assert len(state(app)) == len(DEMO)


def test_a_resident_who_used_the_app_first_keeps_their_row_when_the_feed_arrives(app):
    _, me = verified(app.test_client(), "parent_1958")
    summary = sync(app)
    assert (summary["created"], summary["updated"]) == (len(DEMO) - 1, 1)
    assert resident(app, WANG["id_number"]).public_id == me["resident_id"]


def test_a_dry_run_computes_the_counts_and_writes_nothing(app):
    summary = sync(app, "--dry-run", "--batch-size", "6")
    assert summary["dry_run"] is True and summary["created"] == len(DEMO)
    assert state(app) == []
    with app.app_context():
        assert db.session.get(RegistryCursor, "agency") is None


def test_a_crash_inside_a_batch_loses_that_batch_only_and_a_rerun_reaches_the_same_state(app, monkeypatch):
    stored = registry_sync._store_cursor
    calls = []

    def crash_in_the_third_batch(cursor, applied):
        calls.append(cursor)
        stored(cursor, applied)
        if len(calls) == 3:  # the page's rows and cursor are written, the commit is not
            raise RuntimeError("killed")

    monkeypatch.setattr(registry_sync, "_store_cursor", crash_in_the_third_batch)
    result = app.test_cli_runner().invoke(args=["registry", "sync", "--batch-size", "4"])
    assert result.exit_code != 0
    assert len(state(app)) == 8  # two committed pages of four
    with app.app_context():
        assert db.session.get(RegistryCursor, "agency").cursor == "8"
    monkeypatch.setattr(registry_sync, "_store_cursor", stored)
    rerun = sync(app, "--batch-size", "4")
    assert rerun["created"] == len(DEMO) - 8
    resumed = state(app)
    with app.app_context():
        db.session.execute(sa.delete(RegistryCursor))
        db.session.commit()
    sync(app)
    assert state(app) == resumed and len(resumed) == len(DEMO)


def test_a_sync_stops_when_another_one_moved_the_cursor(app):
    with app.app_context():
        pages = registry_sync.batches(clients.agency(), 5)
        first = next(pages)
        registry_sync.apply(first)
        db.session.commit()
        second = next(pages)
        db.session.execute(sa.update(RegistryCursor).values(cursor="1"))  # another run moved it
        db.session.commit()
        with pytest.raises(registry_sync.ConcurrentSync):
            registry_sync.apply(second)
        db.session.rollback()


@pytest.mark.postgres_only
def test_order_creation_completes_while_a_sync_batch_is_open(app, agency_url, monkeypatch):
    sync(app)
    client = app.test_client()
    headers, me = verified(client, "ordinary_1975")
    add_change(agency_url, WANG["id_number"], update={"deceased_on": "2027-02-20"})
    inside, release = threading.Event(), threading.Event()
    stored = registry_sync._store_cursor

    def pause_before_the_commit(cursor, applied):
        stored(cursor, applied)  # the page's rows are written and locked, the cursor row too
        inside.set()
        release.wait(30)

    monkeypatch.setattr(registry_sync, "_store_cursor", pause_before_the_commit)
    outcome: dict = {}
    run = threading.Thread(target=lambda: outcome.update(sync(app)))
    run.start()
    try:
        assert inside.wait(30)
        placed = client.post(
            f"/api/v1/residents/{me['resident_id']}/contributions",
            json={"year": 2027, "tier_fen": 20000, "kind": "normal"},
            headers={**headers, "Idempotency-Key": "during-sync"},
        )
        assert placed.status_code == 201, placed.get_json()
        assert run.is_alive()
    finally:
        release.set()
        run.join(30)
    assert outcome["updated"] == 1


def test_an_unreachable_agency_fails_the_run_cleanly_and_keeps_what_was_committed(make_app, app):
    down = make_app(AGENCY_API_BASE="http://127.0.0.1:9/agency")
    result = down.test_cli_runner().invoke(args=["registry", "sync"])
    assert result.exit_code == 1 and "agency" in result.output and "Traceback" not in result.output
    assert state(app) == []
