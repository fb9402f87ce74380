"""AgencyClient over real HTTP (sandbox and failure fakes), and the demo registry's consistency."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
import requests

from integrations.agency import AgencyClient, RegistryRecord
from integrations.errors import UpstreamError
from integrations.sandbox import demo_data
from integrations.sandbox.app import create_sandbox_app
from policy.id_number import mask, parse
from tests.support.live_server import serve
from tests.support.upstream import SANDBOX_TODAY, SHORT_TIMEOUT, TRANSPORT_FAILURES, full_text, sequence

WANG = demo_data.by_key("parent_1958")
SECTION_3_FIELDS = {
    "id_number",
    "name",
    "gender",
    "birth_date",
    "region_code",
    "region_name",
    "basic_pension",
    "categories",
    "supporter_capable",
    "supporters",
    "registration_updated_on",
    "deceased_on",
}


def client(base_url: str) -> AgencyClient:
    return AgencyClient(base_url, timeout=SHORT_TIMEOUT)


def failure(base_url: str, id_number: str = WANG["id_number"]) -> UpstreamError:
    with pytest.raises(UpstreamError) as caught:
        client(base_url).resident(id_number)
    assert (caught.value.code, caught.value.status) == ("agency_unavailable", 503)
    assert id_number not in full_text(caught.value)
    return caught.value


def test_the_contract_example(sandbox_url):
    record = client(f"{sandbox_url}/agency").resident("140105195809120017")
    assert record == RegistryRecord(
        id_number="140105195809120017",
        name="王建国",
        gender="M",
        birth_date=dt.date(1958, 9, 12),
        region_code="140105",
        region_name="太原市小店区",
        paid_years=frozenset(range(2019, 2024)),
        receiving=True,
        categories=frozenset(),
        supporter_capable=True,
        supporters=("14010519850301002X",),
        registration_updated_on=dt.date(2026, 1, 10),
        deceased_on=None,
    )
    assert "140105195809120017" not in repr(record) and mask(record.id_number) in repr(record)


@pytest.mark.parametrize("person", demo_data.DEMO_RESIDENTS, ids=lambda p: p["key"])
def test_every_demo_resident_is_served_as_section_3(sandbox_url, person):
    body = requests.get(f"{sandbox_url}/agency/v1/residents/{person['id_number']}", timeout=5).json()
    assert set(body) == SECTION_3_FIELDS
    record = client(f"{sandbox_url}/agency").resident(person["id_number"])
    assert (record.id_number, record.name, record.region_code) == (
        body["id_number"],
        person["name"],
        person["region_code"],
    )
    assert record.paid_years == frozenset(person["basic_pension"]["paid_years"])
    assert record.categories == frozenset(person["categories"])


def test_unknown_and_unenrolled_people_are_none(sandbox_url):
    agency = client(f"{sandbox_url}/agency")
    assert agency.resident("110101199003070035") is None
    assert all(agency.resident(p["id_number"]) is None for p in demo_data.UNENROLLED)


def test_lowercase_check_character_is_found(sandbox_url):
    record = client(f"{sandbox_url}/agency").resident("14010519850301002x")
    assert record.id_number == "14010519850301002X"


def test_corrected_today_follows_the_sandbox_clock(sandbox_url):
    record = client(f"{sandbox_url}/agency").resident(demo_data.by_key("corrected_today")["id_number"])
    assert record.registration_updated_on == dt.date.fromisoformat(SANDBOX_TODAY)


def test_sandbox_today_defaults_to_shanghai_date():
    with serve(create_sandbox_app()) as url:
        record = client(f"{url}/agency").resident(demo_data.by_key("corrected_today")["id_number"])
    assert record.registration_updated_on == dt.datetime.now(ZoneInfo("Asia/Shanghai")).date()


@pytest.mark.parametrize("mode", TRANSPORT_FAILURES)
def test_transport_failures(failing_url, mode):
    failure(failing_url(mode))


def _served(**changes) -> dict:
    body = demo_data.registry_record(WANG["id_number"], dt.date(2027, 3, 2))
    return {**body, **changes}


@pytest.mark.parametrize(
    "body",
    [
        _served(name=None),
        _served(name=" "),
        _served(gender="X"),
        _served(birth_date="1958-13-01"),
        _served(birth_date="19580912"),
        _served(region_code="1401"),
        _served(basic_pension={"paid_years": ["2019"], "receiving": False}),
        _served(basic_pension={"paid_years": [True], "receiving": False}),
        _served(basic_pension={"paid_years": [2019], "receiving": "no"}),
        _served(basic_pension=None),
        _served(categories="dibao"),
        _served(supporter_capable=1),
        _served(supporters=["14010519850301002"]),
        _served(registration_updated_on="yesterday"),
        _served(deceased_on=20260101),
        _served(id_number="14010519850301002X"),
        _served(id_number="140105195809120018"),
    ],
    ids=lambda body: next((k for k in body if body[k] != _served()[k]), "?"),
)
def test_malformed_records(serve_fake, body):
    failure(serve_fake(lambda: body))


def test_malformed_record_message_names_the_field(serve_fake):
    exc = failure(serve_fake(lambda: _served(birth_date="1958-02-30")))
    assert "birth_date" in str(exc) and mask(WANG["id_number"]) in str(exc)


def test_optional_fields_may_be_null_and_lists_empty(serve_fake):
    body = _served(
        registration_updated_on=None,
        deceased_on=None,
        supporters=[],
        categories=[],
        basic_pension={"paid_years": [], "receiving": False},
    )
    record = client(serve_fake(lambda: body)).resident(WANG["id_number"])
    assert (record.registration_updated_on, record.supporters, record.paid_years) == (None, (), frozenset())


def test_get_is_retried_after_a_503(serve_fake):
    answer = sequence(("busy", 503), _served())
    assert client(serve_fake(answer)).resident(WANG["id_number"]).name == "王建国"
    assert len(answer.calls) == 2


def test_404_of_a_fake_is_none(serve_fake):
    assert client(serve_fake(lambda: ({"error": "not_found"}, 404))).resident(WANG["id_number"]) is None


@pytest.mark.parametrize("person", demo_data.DEMO_RESIDENTS + demo_data.UNENROLLED, ids=lambda p: p["key"])
def test_demo_people_have_consistent_id_numbers(person):
    number = parse(person["id_number"])
    assert person["wechat_code"] == f"test:{person['key']}"
    if "birth_date" in person:
        assert (number.birth_date.isoformat(), number.gender) == (person["birth_date"], person["gender"])


def test_demo_registry_covers_every_kind():
    people = demo_data.DEMO_RESIDENTS
    ids = {p["id_number"] for p in people}
    assert len(ids) == len(people) and not ids & {p["id_number"] for p in demo_data.UNENROLLED}
    assert all(s in ids for p in people for s in p["supporters"])
    assert {c for p in people for c in p["categories"]} == {"dibao", "tekun", "severe_disability", "low_income"}
    assert any(p["updated_today"] for p in people) and any(p["deceased_on"] for p in people)
    assert any(p["region_code"] == demo_data.COLLECTIVE_SUBSIDY_REGION for p in people)
