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
FEED_LIMIT_MAX = 1000  # §3a: `limit` is 1–1000
FEED_LIMIT_DEFAULT = 500


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
    """`GET /v1/residents/{id_number}` and the change feed `GET /v1/changes` (§3a); failures and malformed
    records map to 503 `agency_unavailable`."""

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

    def changes(self, after: str | None = None, limit: int = FEED_LIMIT_DEFAULT) -> ChangePage:
        """The page of changes after `after` (from the beginning without it); safe to repeat."""
        if not 1 <= limit <= FEED_LIMIT_MAX:
            raise ValueError(f"limit must be 1–{FEED_LIMIT_MAX}")
        params: dict[str, str | int] = {"limit": limit} if after is None else {"after": after, "limit": limit}
        response = self.request("GET", "/v1/changes", params=params)
        if response.status_code != 200:
            raise self.unavailable(f"HTTP {response.status_code} for the change feed")
        try:
            return parse_page(self.json_of(response))
        except MalformedRecord as exc:
            raise self.unavailable(f"malformed change feed page: {exc}") from None


@dataclass(frozen=True, repr=False)
class Change:
    """One entry of the change feed: the person's whole current record, or None (no longer enrolled)."""

    seq: int
    id_number: str
    record: RegistryRecord | None

    def __repr__(self) -> str:
        return f"Change(seq={self.seq}, id_number={mask(self.id_number)!r}, departed={self.record is None})"


@dataclass(frozen=True)
class ChangePage:
    """A page of the feed; `cursor` is opaque, passed back as `after` for the next page."""

    changes: tuple[Change, ...]
    cursor: str | None
    more: bool


class MalformedRecord(ValueError):
    """A registry field is missing or of the wrong shape; the message names the field, never its value."""


def parse_record(body: dict, checked: str | None = None) -> RegistryRecord:
    """A RegistryRecord from the registry's JSON, or MalformedRecord. `checked`: an ID number already
    validated (the feed entry's), which the record's then only needs to equal."""
    pension = _field(body, "basic_pension", dict)
    return RegistryRecord(
        id_number=_record_id_number(_field(body, "id_number", str), checked),
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


def parse_page(body: dict) -> ChangePage:
    """A ChangePage from the feed's JSON, or MalformedRecord naming the bad field."""
    cursor = body.get("cursor")
    if cursor is not None and not isinstance(cursor, str):
        raise MalformedRecord("cursor")
    changes = tuple(_change(entry) for entry in _items(body, "changes", dict))
    return ChangePage(changes=changes, cursor=cursor, more=_field(body, "more", bool))


def _change(entry: dict) -> Change:
    id_number = _id_number(_field(entry, "id_number", str), "changes.id_number")
    raw = entry.get("record")
    record = None if raw is None else parse_record(_field(entry, "record", dict), id_number)
    if record is not None and record.id_number != id_number:
        raise MalformedRecord("changes.record.id_number")
    return Change(seq=_field(entry, "seq", int), id_number=id_number, record=record)


def _is(value: object, kind: type) -> bool:
    """Of exactly that JSON type: a JSON boolean is no int here (json.loads makes no subclasses)."""
    return type(value) is kind


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


def _record_id_number(text: str, checked: str | None) -> str:
    return checked if checked is not None and normalize(text) == checked else _id_number(text, "id_number")


def _id_number(text: str, name: str) -> str:
    try:
        return parse(text).value
    except InvalidIdNumber:
        raise MalformedRecord(name) from None
