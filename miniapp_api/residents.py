"""Residents in the backend: kept in step with the agency registry, shown masked."""
from __future__ import annotations

import datetime as dt

from sqlalchemy.exc import IntegrityError

from integrations.agency import RegistryRecord
from models import Resident, db
from policy import id_number

from .clock import clock
from .pii import cipher


def find_by_id_number(value: str) -> Resident | None:
    return db.session.scalar(db.select(Resident).where(Resident.id_number_index == cipher().blind_index(value)))


def sync_from_registry(record: RegistryRecord) -> Resident:
    """Create or refresh the resident from the registry's record (not committed)."""
    resident = find_by_id_number(record.id_number) or _insert(record)
    _refresh(resident, record)
    db.session.flush()
    return resident


def _insert(record: RegistryRecord) -> Resident:
    """A new resident row; if a simultaneous request inserted the same person first, that row."""
    resident = Resident(id_number_encrypted=cipher().encrypt(record.id_number),
                        id_number_index=cipher().blind_index(record.id_number))
    _refresh(resident, record)
    try:
        with db.session.begin_nested():
            db.session.add(resident)
    except IntegrityError:
        return find_by_id_number(record.id_number)
    return resident


def _refresh(resident: Resident, record: RegistryRecord) -> None:
    resident.name, resident.gender, resident.birth_date = record.name, record.gender, record.birth_date
    resident.region_code, resident.region_name = record.region_code, record.region_name
    resident.categories = sorted(record.categories)
    resident.supporter_capable = record.supporter_capable
    resident.receiving_basic_pension = record.receiving
    resident.deceased_on = record.deceased_on
    resident.registry_synced_at = clock().now()


def id_number_of(resident: Resident) -> str:
    return cipher().decrypt(resident.id_number_encrypted)


def age_on(birth_date: dt.date, day: dt.date) -> int:
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def view(resident: Resident) -> dict:
    """The API's `Resident` object, masked."""
    return {
        "resident_id": resident.public_id,
        "name": id_number.mask_name(resident.name),
        "id_number": id_number.mask(id_number_of(resident)),
        "birth_date": resident.birth_date.isoformat(),
        "age": age_on(resident.birth_date, clock().today()),
        "gender": resident.gender,
        "region_code": resident.region_code,
        "region_name": resident.region_name,
    }
