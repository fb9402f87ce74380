"""Agency registry (社保经办): a resident's basic pension relation in Shanxi (INTEGRATIONS.md §3)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from policy.id_number import InvalidIdNumber, mask, normalize, parse

from .http import HttpClient

REGION_CODE = re.compile(r"^\d{6}$")


@dataclass(frozen=True, repr=False)
class RegistryRecord:
    """One resident as the registry knows them, every field parsed into its type."""

    id_number: str
    name: str
    gender: str  # "M" or "F"
    birth_date: dt.date
    region_code: str
    region_name: str
    paid_years: frozenset[int]  # years whose basic pension contribution is paid
    receiving: bool  # already receives basic pension
    categories: frozenset[str]  # dibao, tekun, severe_disability, low_income
    supporter_capable: bool
    supporters: tuple[str, ...]  # ID numbers of children and other supporters
    registration_updated_on: dt.date | None
    deceased_on: dt.date | None

    def __repr__(self) -> str:
        return f"RegistryRecord(id_number={mask(self.id_number)!r}, region_code={self.region_code!r})"


class AgencyClient(HttpClient):
    """`GET /v1/residents/{id_number}` client; failures and malformed records map to 503 `agency_unavailable`."""

    unavailable_code = "agency_unavailable"
    system_name = "agency registry"

    def resident(self, id_number: str) -> RegistryRecord | None:
        """The registry record, or None when the person has no basic pension relation in Shanxi."""
        response = self.request("GET", f"/v1/residents/{quote(id_number, safe='')}")
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.unavailable(f"HTTP {response.status_code} for {mask(id_number)}")
        try:
            record = parse_record(self.json_of(response))
        except MalformedRecord as exc:
            raise self.unavailable(f"malformed record for {mask(id_number)}: {exc}") from None
        if record.id_number != normalize(id_number):
            raise self.unavailable(f"registry answered for another person than {mask(id_number)}")
        return record


class MalformedRecord(ValueError):
    """A registry field is missing or of the wrong shape; the message names the field, never its value."""


def parse_record(body: dict) -> RegistryRecord:
    """A RegistryRecord from the registry's JSON, or MalformedRecord."""
    pension = _field(body, "basic_pension", dict)
    return RegistryRecord(
        id_number=_id_number(_field(body, "id_number", str), "id_number"),
        name=_text(body, "name"),
        gender=_choice(body, "gender", {"M", "F"}),
        birth_date=_date(body, "birth_date"),
        region_code=_region_code(body),
        region_name=_text(body, "region_name"),
        paid_years=frozenset(_items(pension, "paid_years", int)),
        receiving=_field(pension, "receiving", bool),
        categories=frozenset(_items(body, "categories", str)),
        supporter_capable=_field(body, "supporter_capable", bool),
        supporters=tuple(_id_number(n, "supporters") for n in _items(body, "supporters", str)),
        registration_updated_on=_date(body, "registration_updated_on", optional=True),
        deceased_on=_date(body, "deceased_on", optional=True),
    )


def _is(value: object, kind: type) -> bool:
    """isinstance, except that a JSON boolean is no int here."""
    return isinstance(value, kind) and not (kind is int and isinstance(value, bool))


def _field(body: dict, name: str, kind: type) -> Any:
    value = body.get(name)
    if not _is(value, kind):
        raise MalformedRecord(name)
    return value


def _items(body: dict, name: str, kind: type) -> list:
    values = _field(body, name, list)
    if not all(_is(value, kind) for value in values):
        raise MalformedRecord(name)
    return values


def _text(body: dict, name: str) -> str:
    value = _field(body, name, str).strip()
    if not value:
        raise MalformedRecord(name)
    return value


def _choice(body: dict, name: str, allowed: set[str]) -> str:
    value = _field(body, name, str)
    if value not in allowed:
        raise MalformedRecord(name)
    return value


def _region_code(body: dict) -> str:
    value = _field(body, "region_code", str)
    if not REGION_CODE.match(value):
        raise MalformedRecord("region_code")
    return value


def _date(body: dict, name: str, optional: bool = False) -> dt.date | None:
    if optional and body.get(name) is None:
        return None
    text = _field(body, name, str)
    try:
        if len(text) != 10:
            raise ValueError(text)
        return dt.date.fromisoformat(text)
    except ValueError:
        raise MalformedRecord(name) from None


def _id_number(text: str, name: str) -> str:
    try:
        return parse(text).value
    except InvalidIdNumber:
        raise MalformedRecord(name) from None
