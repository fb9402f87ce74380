"""The database models; importing this package registers every table on `db.metadata`."""
from .base import Base, UtcDateTime, db, insert_skipping_conflicts
from .benefit import BenefitPayment
from .certificate import Certificate
from .family import FamilyLink
from .idempotency import IdempotencyRecord
from .ledger import ENTRY_KINDS, LedgerEntry
from .order import Order
from .payment import CallbackDelivery, ReviewItem, SeenNonce
from .resident import Resident
from .user import WeChatUser

__all__ = ["Base", "UtcDateTime", "db", "insert_skipping_conflicts", "BenefitPayment", "Certificate", "FamilyLink", "ENTRY_KINDS", "IdempotencyRecord", "LedgerEntry", "Order",
           "CallbackDelivery", "ReviewItem", "SeenNonce",
           "Resident", "WeChatUser"]
