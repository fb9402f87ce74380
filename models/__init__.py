"""The database models; importing this package registers every table on `db.metadata`."""

from .base import Base, UtcDateTime, db, dispose_engines, insert_rows_skipping_conflicts, insert_skipping_conflicts
from .benefit import BenefitPayment, InterestYear
from .certificate import Certificate
from .enums import (
    YEARLY_KINDS,
    BindingCause,
    ContributionKind,
    EntryKind,
    Funder,
    LinkSide,
    LinkStatus,
    OrderStatus,
    Payer,
    Relation,
)
from .family import FamilyLink
from .idempotency import IdempotencyRecord
from .ledger import LedgerEntry
from .order import Order
from .payment import CallbackDelivery, RejectedDelivery, ReviewItem, SeenNonce
from .registry import RegistryCursor
from .resident import Resident
from .user import BindingChange, UsedFaceResult, WeChatUser

__all__ = [
    "Base", "UtcDateTime", "db", "dispose_engines", "insert_rows_skipping_conflicts", "insert_skipping_conflicts",
    "YEARLY_KINDS", "BindingCause", "ContributionKind", "EntryKind", "Funder", "LinkSide", "LinkStatus",
    "OrderStatus", "Payer", "Relation",
    "BenefitPayment", "BindingChange", "CallbackDelivery", "Certificate", "FamilyLink", "IdempotencyRecord",
    "InterestYear", "LedgerEntry", "Order", "RegistryCursor", "RejectedDelivery", "Resident", "ReviewItem",
    "SeenNonce", "UsedFaceResult", "WeChatUser",
]  # fmt: skip
