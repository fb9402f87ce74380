"""Where `registry sync` stands in the agency's change feed (INTEGRATIONS.md §3a)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime


class RegistryCursor(Model):
    """The cursor after the last applied page, stored in the same transaction as the page's changes."""

    __tablename__ = "registry_cursors"

    feed: Mapped[str] = mapped_column(String(32), primary_key=True)
    cursor: Mapped[str | None] = mapped_column(Text)
    changes_applied: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
