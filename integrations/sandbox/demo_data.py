"""The sandbox's people: agency registry residents of every kind the rules tell apart, and a few
real people who are not enrolled.

The demo clock is March 2027 (inside the collection window). Log in as anyone with the WeChat
test code `test:<key>` (e.g. `test:ordinary_1975`; add `:<anything>` to log in again).

| key | who |
|---|---|
| ordinary_1975, ordinary_1985, ordinary_1966 | ordinary contributors, basic pension paid 2019–2027 |
| collective_1970 | aged 50–64 in 清徐县 (140121), the region with a village collective subsidy |
| dibao_1972, tekun_1969, disability_1990 | hardship groups (government proxy payment, R7) |
| elder_1950 | 70 on 2021-01-01 and receiving basic pension (lump sum, no contribution needed) |
| elder_1944 | over 80 (extra exit subsidy) |
| low_income_1959 | low income, no capable supporter, receiving (extra 200 yuan) |
| parent_1958 / child_1985 | the INTEGRATIONS.md example: 王建国 and his daughter, both in 小店区 |
| parent_1961, parent_1963 / child_1988 | village parents in 襄垣县, their son works in 小店区 |
| corrected_today | registration corrected today (per the sandbox clock): payment refused until tomorrow |
| deceased_1952 | died 2026-09-30 |
| unpaid_1980 | basic pension paid only through 2025 (2026 and 2027 unpaid) |
| unenrolled_1992, unenrolled_1979 | identity check matches, registry has no record (not_enrolled) |
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any

from policy.id_number import make

REGIONS = {
    "140105": "太原市小店区",
    "140121": "太原市清徐县",
    "140213": "大同市平城区",
    "140423": "长治市襄垣县",
    "140702": "晋中市榆次区",
    "140802": "运城市盐湖区",
}
COLLECTIVE_SUBSIDY_REGION = "140121"  # the policy data should carry a collective subsidy for it
RECORD_FIELDS = (
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
)
PAID_THROUGH_2027 = list(range(2019, 2028))


def _person(
    key: str,
    kind: str,
    name: str,
    born: str,
    sequence: int,
    region: str,
    *,
    id_region: str | None = None,
    paid: list[int] = PAID_THROUGH_2027,
    receiving: bool = False,
    **fields: Any,
) -> dict:
    """One registry entry in INTEGRATIONS.md §3 form plus `key`, `kind` and `wechat_code`."""
    birth = dt.date.fromisoformat(born)
    return {
        "key": key,
        "kind": kind,
        "wechat_code": f"test:{key}",
        "id_number": make(id_region or region, birth, sequence),
        "name": name,
        "gender": "M" if sequence % 2 else "F",
        "birth_date": born,
        "region_code": region,
        "region_name": REGIONS[region],
        "basic_pension": {"paid_years": list(paid), "receiving": receiving},
        "categories": [],
        "supporter_capable": True,
        "supporters": [],
        "registration_updated_on": "2025-11-20",
        "deceased_on": None,
        "updated_today": False,
        **fields,
    }


def _residents() -> list[dict]:
    child_1985 = _person("child_1985", "child of parent_1958, in the city", "王丽", "1985-03-01", 2, "140105")
    child_1988 = _person(
        "child_1988",
        "son of the 襄垣县 parents, works in 小店区",
        "张磊",
        "1988-02-14",
        31,
        "140105",
        id_region="140423",
    )
    return [
        _person("ordinary_1975", "ordinary contributor", "赵志强", "1975-04-18", 11, "140105"),
        _person("ordinary_1985", "ordinary contributor", "孙晓燕", "1985-08-09", 12, "140213"),
        _person("ordinary_1966", "ordinary contributor, no collective subsidy", "周保国", "1966-11-02", 13, "140423"),
        _person(
            "collective_1970", "aged 50-64 in a village with a collective subsidy", "吴翠萍", "1970-05-20", 14, "140121"
        ),
        _person("dibao_1972", "低保 (dibao)", "郑二虎", "1972-07-07", 15, "140423", categories=["dibao"]),
        _person(
            "tekun_1969",
            "特困 (tekun)",
            "冯秀兰",
            "1969-01-23",
            16,
            "140121",
            categories=["tekun"],
            supporter_capable=False,
        ),
        _person(
            "disability_1990",
            "重度残疾 (severe_disability)",
            "陈小军",
            "1990-10-10",
            17,
            "140213",
            categories=["severe_disability"],
        ),
        _person(
            "elder_1950",
            "65+ on 2021-01-01, receiving basic pension",
            "杨桂芝",
            "1950-03-15",
            18,
            "140105",
            paid=[],
            receiving=True,
        ),
        _person(
            "elder_1944",
            "over 80, receiving basic pension",
            "韩守义",
            "1944-06-01",
            19,
            "140423",
            paid=[],
            receiving=True,
        ),
        _person(
            "low_income_1959",
            "low income, no capable supporter, receiving",
            "马玉珍",
            "1959-12-05",
            20,
            "140121",
            paid=list(range(2019, 2025)),
            receiving=True,
            categories=["low_income"],
            supporter_capable=False,
        ),
        _person(
            "parent_1958",
            "parent (INTEGRATIONS.md example), supported by child_1985",
            "王建国",
            "1958-09-12",
            1,
            "140105",
            paid=list(range(2019, 2024)),
            receiving=True,
            supporters=[child_1985["id_number"]],
            registration_updated_on="2026-01-10",
        ),
        child_1985,
        _person(
            "parent_1961",
            "village parent, receiving, supported by child_1988",
            "张德福",
            "1961-06-18",
            21,
            "140423",
            paid=list(range(2019, 2026)),
            receiving=True,
            supporters=[child_1988["id_number"]],
        ),
        _person(
            "parent_1963",
            "village parent, contributing, supported by child_1988",
            "刘桂兰",
            "1963-09-30",
            22,
            "140423",
            supporters=[child_1988["id_number"]],
            registration_updated_on=None,
        ),
        child_1988,
        _person(
            "corrected_today", "registration corrected today", "高文斌", "1978-12-12", 23, "140702", updated_today=True
        ),
        _person(
            "deceased_1952",
            "deceased on 2026-09-30",
            "胡长顺",
            "1952-08-08",
            25,
            "140802",
            paid=[],
            receiving=True,
            deceased_on="2026-09-30",
        ),
        _person(
            "unpaid_1980",
            "basic pension unpaid for the current year",
            "林春花",
            "1980-04-04",
            24,
            "140802",
            paid=list(range(2019, 2026)),
        ),
    ]


DEMO_RESIDENTS: list[dict] = _residents()
# Real people the identity check knows, with no basic pension relation in Shanxi (agency: 404).
UNENROLLED: list[dict] = [
    {
        "key": "unenrolled_1992",
        "kind": "enrolled in Henan, not Shanxi",
        "wechat_code": "test:unenrolled_1992",
        "id_number": make("410105", dt.date(1992, 5, 5), 26),
        "name": "许文静",
    },
    {
        "key": "unenrolled_1979",
        "kind": "born in Taiyuan, never enrolled",
        "wechat_code": "test:unenrolled_1979",
        "id_number": make("140105", dt.date(1979, 9, 9), 27),
        "name": "罗建军",
    },
]
_BY_ID = {person["id_number"]: person for person in DEMO_RESIDENTS}
_BY_KEY = {person["key"]: person for person in DEMO_RESIDENTS + UNENROLLED}
_NAMES = {person["id_number"]: person["name"] for person in DEMO_RESIDENTS + UNENROLLED}


def by_key(key: str) -> dict:
    """The demo person (resident or unenrolled) with that symbolic key; KeyError if none."""
    return _BY_KEY[key]


def resident(id_number: str) -> dict | None:
    """The demo resident with that ID number, extras included; None when not in the registry."""
    return _BY_ID.get(id_number.strip().upper())


def identity_name(id_number: str) -> str | None:
    """The name the identity check knows for an ID number (residents and unenrolled), or None."""
    return _NAMES.get(id_number.strip().upper())


def registry_record(id_number: str, today: dt.date) -> dict | None:
    """The agency's JSON for a resident (§3 fields only), `today` standing in where it was corrected today."""
    person = resident(id_number)
    if person is None:
        return None
    record = copy.deepcopy({name: person[name] for name in RECORD_FIELDS})
    if person["updated_today"]:
        record["registration_updated_on"] = today.isoformat()
    return record
