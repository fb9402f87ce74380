"""Residents in the backend: kept in step with the agency registry, their ID numbers encrypted."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from integrations.agency import RegistryRecord
from miniapp_api.core.clock import clock
from miniapp_api.core.pii import cipher
from models import Resident, db
from policy import id_number, years


def find_by_id_number(value: str) -> Resident | None:
    return db.session.scalar(db.select(Resident).where(Resident.id_number_index == cipher().blind_index(value)))


def sync_from_registry(record: RegistryRecord) -> Resident:
    """Create or refresh the resident from the registry's record (not committed)."""
    resident = find_by_id_number(record.id_number) or _insert(record)
    _refresh(resident, record)
    db.session.flush()
    return resident


def id_number_columns(number: str) -> dict[str, str]:
    """How a resident's ID number is stored: encrypted, its blind index, and the masked form reads show."""
    return {
        "id_number_encrypted": cipher().encrypt(number),
        "id_number_index": cipher().blind_index(number),
        "id_number_masked": id_number.mask(number),
    }


def _insert(record: RegistryRecord) -> Resident:
    """A new resident row; if a simultaneous request inserted the same person first, that row."""
    resident = Resident(**id_number_columns(record.id_number))
    _refresh(resident, record)
    try:
        with db.session.begin_nested():
            db.session.add(resident)
    except IntegrityError:
        found = find_by_id_number(record.id_number)
        if found is None:
            raise
        return found
    return resident


def _refresh(resident: Resident, record: RegistryRecord) -> None:
    resident.name, resident.gender, resident.birth_date = record.name, record.gender, record.birth_date
    resident.region_code, resident.region_name = record.region_code, record.region_name
    resident.categories = sorted(record.categories)
    resident.supporter_capable = record.supporter_capable
    resident.receiving_basic_pension = record.receiving
    resident.basic_pension_paid_years = sorted(record.paid_years)
    resident.registration_updated_on = record.registration_updated_on
    resident.deceased_on = record.deceased_on
    resident.enrolled = True  # the registry answered with a record
    resident.registry_synced_at = clock().now()


def id_number_of(resident: Resident) -> str:
    return cipher().decrypt(resident.id_number_encrypted)


def masked_id_number(resident: Resident) -> str:
    return stored_masked_id_number(resident.id_number_masked, resident.id_number_encrypted)


def stored_masked_id_number(masked: str | None, encrypted: str) -> str:
    """As kept at write time; decrypted and masked only for a row written without it."""
    return masked or id_number.mask(cipher().decrypt(encrypted))


def age_today(resident: Resident) -> int:
    return years.age_on(resident.birth_date, clock().today())
