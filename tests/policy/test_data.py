"""Policy data: the shipped 2021 standard, picking the standard in force, extra files, validation."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re

import pytest

from policy.data import STANDARDS_DIR, PolicyDataError, Tier, load_standards

from .factories import NINGXIA, D

SHIPPED = json.loads((STANDARDS_DIR / "shanxi-2021.json").read_text(encoding="utf-8"))


def test_shipped_standard_has_the_2021_numbers(shanxi):
    assert shanxi.scheme_start == D("2021-01-01") and shanxi.effective_from == D("2021-01-01")
    assert shanxi.tiers == (
        Tier(20000, 7000),
        Tier(50000, 12000),
        Tier(100000, 20000),
        Tier(200000, 36000),
        Tier(500000, 60000),
    )
    assert (shanxi.payments_per_year, shanxi.benefit_age, shanxi.annuity_divisor) == (1, 65, 120)
    assert (shanxi.max_required_years, shanxi.back_payment_max_years, shanxi.lump_sum_max_years) == (15, 15, 15)
    assert shanxi.window.months == frozenset(range(1, 7))
    assert (shanxi.window.first_day, shanxi.window.last_day, shanxi.window.timezone) == (1, 25, "Asia/Shanghai")
    assert shanxi.collective_subsidy_ages == (50, 64)
    assert (shanxi.exit_subsidy_fen, shanxi.low_income_supplement_fen) == (2000, 20000)
    assert [(s.from_age, s.amount_fen) for s in shanxi.age_supplements] == [(80, 1000)]
    assert shanxi.hardship_categories == {"dibao", "tekun", "severe_disability"}
    assert shanxi.proxy_tier_fen == 20000
    assert shanxi.interest_rate_bp(2027) == 150
    assert shanxi.collective_subsidy_fen("140105", 2027) == 0


def test_standards_are_hashable_values(shanxi):
    assert hash(shanxi) == hash(load_standards().named("shanxi-2021"))


@pytest.mark.parametrize(
    "day, name",
    [
        ("2021-01-01", "shanxi-2021"),
        ("2022-12-31", "shanxi-2021"),
        ("2023-01-01", "ningxia-style-2023-example"),
        ("2027-08-10", "ningxia-style-2023-example"),
    ],
    ids=["scheme-start", "day-before-new-standard", "new-standard-first-day", "later"],
)
def test_standard_in_force_is_the_latest_effective(day, name):
    assert load_standards([NINGXIA]).standard_for(D(day)).name == name


def test_no_standard_before_the_scheme(book):
    with pytest.raises(LookupError, match="2020-12-31"):
        book.standard_for(D("2020-12-31"))


def test_standard_for_wants_a_local_date(book):
    with pytest.raises(TypeError):
        book.standard_for(dt.datetime(2027, 3, 1, tzinfo=dt.timezone.utc))


def test_extra_file_with_base_overrides_only_what_it_gives(tmp_path):
    extra = tmp_path / "policy.json"
    extra.write_text(
        json.dumps(
            [
                {"name": "shanxi-2021", "base": "shanxi-2021", "collective_subsidies_fen": {"140105": {"2027": 5000}}},
                {
                    "name": "shanxi-2028",
                    "base": "shanxi-2021",
                    "effective_from": "2028-01-01",
                    "interest_rates_bp": {"default": 175},
                },
            ]
        )
    )
    book = load_standards(str(extra))
    assert book.standard_for(D("2027-03-01")).collective_subsidy_fen("140105", 2027) == 5000
    later = book.standard_for(D("2028-03-01"))
    assert (later.name, later.interest_rate_bp(2028)) == ("shanxi-2028", 175)
    assert later.tiers == book.named("shanxi-2021").tiers
    assert later.collective_subsidy_fen("140105", 2027) == 5000  # inherited from the merged base


def _broken(path, change) -> str:
    raw = copy.deepcopy(SHIPPED)
    raw["name"] = "broken"
    raw["effective_from"] = "2030-01-01"
    change(raw)
    path.write_text(json.dumps(raw))
    with pytest.raises(PolicyDataError) as error:
        load_standards(path)
    return str(error.value)


def _set(key, value):
    return lambda raw: raw.__setitem__(key, value)


def _tier(index, key, value):
    return lambda raw: raw["tiers"][index].__setitem__(key, value)


def _collective(table):
    return _set("collective_subsidies_fen", table)


def _window(key, value):
    return lambda raw: raw["window"].__setitem__(key, value)


INVALID = [
    (_tier(2, "amount_fen", 1000.0), "broken: tiers[2].amount_fen must be a positive integer"),
    (_tier(2, "amount_fen", 0), "broken: tiers[2].amount_fen must be a positive integer"),
    (_tier(1, "amount_fen", "50000"), "broken: tiers[1].amount_fen must be a positive integer"),
    (_tier(0, "subsidy_fen", True), "broken: tiers[0].subsidy_fen must be an integer >= 0"),
    (_tier(0, "subsidy_fen", -1), "broken: tiers[0].subsidy_fen must be an integer >= 0"),
    (_tier(3, "amount_fen", 100000), "broken: tiers[3].amount_fen must be greater than the tier before it"),
    (_tier(1, "amount_fen", 10000), "broken: tiers[1].amount_fen must be greater than the tier before it"),
    (_set("tiers", []), "broken: tiers must be a non-empty list"),
    (_window("months", [0, 1]), "broken: window.months[0] must be an integer from 1 to 12"),
    (_window("months", [1, 13]), "broken: window.months[1] must be an integer from 1 to 12"),
    (_window("months", [1, 1]), "broken: window.months must not repeat a month"),
    (_window("days", [1, 32]), "broken: window.days[1] must be an integer from 1 to 31"),
    (_window("days", [26, 25]), "broken: window.days first day must not be after the last day"),
    (_window("timezone", "Mars/Olympus"), "broken: window.timezone 'Mars/Olympus' is not an IANA time zone"),
    (_set("interest_rates_bp", {"default": -5}), "broken: interest_rates_bp.default must be an integer >= 150"),
    (
        _set("interest_rates_bp", {"default": 150, "2022": 100}),
        "broken: interest_rates_bp.2022 must be an integer >= 150",
    ),
    (_set("interest_rates_bp", {"default": 1.5}), "broken: interest_rates_bp.default must be an integer >= 150"),
    (_set("interest_rates_bp", {"2022": 150}), "broken: interest_rates_bp.default is missing"),
    (_set("interest_rates_bp", {"default": 150, "next": 150}), "broken: interest_rates_bp.next key must be a year"),
    (_collective({"1401": {}}), "broken: collective_subsidies_fen.1401 region code must be 6 digits"),
    (
        _collective({"140105": {"2020": 100}}),
        "broken: collective_subsidies_fen.140105.2020 key must be a year from 2021",
    ),
    (_collective({"140105": {"2027": 50.5}}), "broken: collective_subsidies_fen.140105.2027 must be an integer >= 0"),
    (_set("exit_subsidy_fen", 20.0), "broken: exit_subsidy_fen must be an integer >= 0"),
    (_set("annuity_divisor", 0), "broken: annuity_divisor must be a positive integer"),
    (_set("payments_per_year", 0), "broken: payments_per_year must be an integer from 1 to 12"),
    (_set("collective_subsidy_ages", [65, 50]), "broken: collective_subsidy_ages youngest must not exceed oldest"),
    (_set("proxy_tier_fen", 30000), "broken: proxy_tier_fen must be the amount of one of the tiers"),
    (_set("effective_from", "2020-12-31"), "broken: effective_from must not be before scheme_start"),
    (_set("scheme_start", "1 January 2021"), "broken: scheme_start must be a date YYYY-MM-DD"),
    (_set("tier", []), "broken: tier is not a known field"),
    (lambda raw: raw.pop("benefit_age"), "broken: benefit_age is missing"),
]


@pytest.mark.parametrize("change, message", INVALID, ids=[m.removeprefix("broken: ") for _, m in INVALID])
def test_invalid_data_is_refused_naming_the_entry(tmp_path, change, message):
    assert message in _broken(tmp_path / "bad.json", change)


def test_error_names_the_file(tmp_path):
    path = tmp_path / "bad.json"
    assert _broken(path, _tier(2, "amount_fen", 1000.0)).startswith(f"{path}: broken: ")


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "cannot read policy data"),
        ('[{"tiers": []}]', "standards[0]: name must be a non-empty string"),
        ('{"name": "x", "base": "nowhere"}', "x: base 'nowhere' is not a standard loaded before it"),
        ('{"name": "twin", "base": "shanxi-2021"}', "both take effect on 2021-01-01"),
    ],
    ids=["bad-json", "nameless", "unknown-base", "same-effective-date"],
)
def test_unusable_files_are_refused(tmp_path, content, message):
    path = tmp_path / "policy.json"
    path.write_text(content)
    with pytest.raises(PolicyDataError, match=re.escape(message)):
        load_standards([path])


def test_missing_file_is_refused(tmp_path):
    with pytest.raises(PolicyDataError, match="cannot read policy data"):
        load_standards(tmp_path / "absent.json")
