"""A resident the agency registry knows, with the registry facts the rules need: brought by the change
feed (`registry sync`, INTEGRATIONS.md §3a) and refreshed on each visit."""

from __future__ import annotations

import base64
import datetime as dt
import secrets

from sqlalchemy import JSON, BigInteger, CheckConstraint, String, Text, true
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime


def new_public_id() -> str:
    return new_public_ids(1)[0]


def new_public_ids(count: int) -> list[str]:
    """`count` public ids (`r_` and 12 random bytes, base64url) from one read of the OS's randomness:
    a registry batch makes thousands, and a read per id is a system call each."""
    pool = secrets.token_bytes(12 * count)
    return ["r_" + base64.urlsafe_b64encode(pool[start : start + 12]).decode() for start in range(0, len(pool), 12)]


class Resident(Model):
    __tablename__ = "residents"

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(32), unique=True, default=new_public_id)
    # The ID number is stored only encrypted; `id_number_index` is a keyed HMAC for exact lookup.
    id_number_encrypted: Mapped[str] = mapped_column(Text)
    id_number_index: Mapped[str] = mapped_column(String(64), unique=True)
    # The masked form every response shows (`1401**********0017`), kept at write time so that no
    # read decrypts; NULL only on a row written around `identity.residents.id_number_columns`.
    id_number_masked: Mapped[str | None] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(64))
    gender: Mapped[str] = mapped_column(String(1))
    birth_date: Mapped[dt.date]
    region_code: Mapped[str] = mapped_column(String(6))  # not indexed: nothing reads by region (0012)
    region_name: Mapped[str] = mapped_column(String(64))
    categories: Mapped[list] = mapped_column(JSON, default=list)
    supporter_capable: Mapped[bool] = mapped_column(default=True)
    receiving_basic_pension: Mapped[bool] = mapped_column(default=False)
    basic_pension_paid_years: Mapped[list] = mapped_column(JSON, default=list)
    registration_updated_on: Mapped[dt.date | None]
    deceased_on: Mapped[dt.date | None]
    # False once the feed says the person is no longer enrolled in the province (record null):
    # contributions stop. A later record in the feed enrols them again.
    enrolled: Mapped[bool] = mapped_column(default=True, server_default=true())
    # The feed's seq of the last change applied to this row: an older change never overwrites a newer one.
    registry_seq: Mapped[int | None] = mapped_column(BigInteger)
    # Set by the first `benefits run` that finds the resident eligible (R11): the first month paid
    # and the account pension fixed then (balance ÷ 120, rounded down), paid for life.
    benefit_started_on: Mapped[dt.date | None]
    benefit_account_pension_fen: Mapped[int | None] = mapped_column(BigInteger)
    # Midnight (Beijing) of that first month: contributions credited from then on raise the pension.
    benefit_started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    registry_synced_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)

    __table_args__ = (CheckConstraint("gender IN ('M', 'F')", name="gender"),)
