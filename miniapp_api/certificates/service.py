"""Payment certificates (R13): issued once per paid year, verified by a signed token, revocable."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import Row, Select, bindparam, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, undefer
from sqlalchemy.orm.interfaces import ORMOption

from miniapp_api.certificates.numbers import is_certificate_number, new_certificate_number
from miniapp_api.certificates.pdf import CertificateData, render_certificate_pdf
from miniapp_api.certificates.qr import png_of, qr_matrix, qr_png
from miniapp_api.certificates.signing import settings
from miniapp_api.certificates.token import sign_token, verify_token
from miniapp_api.core import readonly
from miniapp_api.core.clock import SHANGHAI, clock, rfc3339
from miniapp_api.core.errors import ApiError
from miniapp_api.identity.access import first_with_caller
from miniapp_api.identity.residents import masked_id_number, stored_masked_id_number
from models import Certificate, Order, OrderStatus, Payer, Resident, db
from policy.id_number import mask_name
from policy.workdays import certificate_available_at

log = logging.getLogger(__name__)


# The issuing request's statements, built once (SQLAlchemy then computes their cache keys once).
_VALID_CERTIFICATE = db.select(Certificate).where(
    Certificate.resident_id == bindparam("resident_id"),
    Certificate.year == bindparam("year"),
    Certificate.revoked_at.is_(None),
)
# The year's first paid order of any kind (a lump sum counts for the year it was paid in).
_PAID_ORDER = (
    db.select(Order)
    .where(
        Order.resident_id == bindparam("resident_id"), Order.year == bindparam("year"), Order.status == OrderStatus.PAID
    )
    .order_by(Order.paid_at, Order.id)
    .limit(1)
)


def valid_certificate(resident: Resident, year: int) -> Certificate | None:
    return db.session.scalar(_VALID_CERTIFICATE, {"resident_id": resident.id, "year": year})


def find(certificate_no: str) -> Certificate | None:
    if not is_certificate_number(certificate_no):
        return None
    return db.session.scalar(db.select(Certificate).where(Certificate.certificate_no == certificate_no))


def find_for_caller(certificate_no: str, download: Select[tuple[Certificate]]) -> Certificate | None:
    """The certificate by number as `download` loads it, with the caller's user row in the same
    statement (`identity.access.first_with_caller`)."""
    if not is_certificate_number(certificate_no):
        return None
    return first_with_caller(download, number=certificate_no)


def paid_order(resident: Resident, year: int) -> Order | None:
    return db.session.scalar(_PAID_ORDER, {"resident_id": resident.id, "year": year})


def issue(resident: Resident, year: int) -> tuple[Certificate, bool]:
    """The year's valid certificate, and whether it was created now; committed."""
    existing = valid_certificate(resident, year)
    if existing is not None:
        return existing, False
    order = paid_order(resident, year)
    if order is None:
        raise ApiError(404, "no_payment", f"No paid contribution for {year}.")
    _check_available(order)
    return _create(resident, order)


def _check_available(order: Order) -> None:
    available_at = certificate_available_at(order.paid_at, settings().calendar_overrides)
    if clock().now() < available_at:
        raise ApiError(
            409,
            "not_yet_available",
            "Payment data takes five working days to settle; the certificate is not ready yet.",
            available_at=rfc3339(available_at),
        )


def _create(resident: Resident, order: Order) -> tuple[Certificate, bool]:
    number = new_certificate_number()
    signing = settings().signing
    certificate = Certificate(
        certificate_no=number,
        resident_id=resident.id,
        year=order.year,
        order_id=order.id,
        token=sign_token(signing.private_key, signing.key_id, number),
        issued_at=clock().now(),
    )
    db.session.add(certificate)
    try:
        db.session.flush()
    except IntegrityError:
        # A concurrent request issued the year's certificate first: answer with that one.
        db.session.rollback()
        existing = valid_certificate(resident, order.year)
        if existing is None:
            raise
        return existing, False
    db.session.expunge(certificate)  # the commit leaves its values loaded: the answer reads no row again
    db.session.commit()
    log.info("issued certificate %s for year %d", number, certificate.year)
    return certificate, True


def revoke(certificate_no: str, reason: str) -> Certificate:
    """Revoke (committed); revoking again keeps the first time and reason. LookupError if unknown."""
    certificate = find(certificate_no)
    if certificate is None:
        raise LookupError(certificate_no)
    if not certificate.revoked:
        certificate.revoked_at, certificate.revoked_reason = clock().now(), reason
        db.session.commit()
        log.info("revoked certificate %s", certificate_no)
    return certificate


def verify_url(certificate: Certificate) -> str:
    return f"{_base_url()}/verify/{certificate.token}"


def _base_url() -> str:
    return current_app.config["PUBLIC_BASE_URL"].rstrip("/")


def api_url(certificate: Certificate) -> str:
    return f"{_base_url()}/api/v1/certificates/{certificate.certificate_no}"


@dataclass(frozen=True)
class Verification:
    """What the public verification shows of a token: nothing but `valid: false` unless it is genuine."""

    certificate: Row | None  # the columns of `_VERIFIED`

    @property
    def valid(self) -> bool:
        return self.certificate is not None and self.certificate.revoked_at is None

    @property
    def status(self) -> str | None:
        if self.certificate is None:
            return None
        return "valid" if self.valid else "revoked"

    @property
    def name(self) -> str | None:
        return mask_name(self.certificate.name) if self.certificate else None

    @property
    def id_number(self) -> str | None:
        if self.certificate is None:
            return None
        return stored_masked_id_number(self.certificate.id_number_masked, self.certificate.id_number_encrypted)


_certificates, _residents, _orders = Certificate.__table__, Resident.__table__, Order.__table__
# One Core statement (the page shows the holder and the payment too), built once: its cache key is
# computed once, and no ORM entity is loaded for a read that only shows columns.
_VERIFIED = (
    select(
        _certificates.c.certificate_no,
        _certificates.c.year,
        _certificates.c.issued_at,
        _certificates.c.revoked_at,
        _residents.c.name,
        _residents.c.id_number_masked,
        _residents.c.id_number_encrypted,
        _orders.c.amount_fen,
        _orders.c.paid_at,
    )
    .join(_residents, _residents.c.id == _certificates.c.resident_id)
    .join(_orders, _orders.c.id == _certificates.c.order_id)
    .where(_certificates.c.certificate_no == bindparam("number"))
)


def verification(token: str) -> Verification:
    """What the public verification shows for `token`; in a `read_only` view (on its connection: no
    ORM session is opened for one statement)."""
    number = verify_token(settings().signing.public_keys, token)
    if number is None or not is_certificate_number(number):
        return Verification(None)
    return Verification(readonly.connection().execute(_VERIFIED, {"number": number}).first())


def _download(*options: ORMOption) -> Select[tuple[Certificate]]:
    by_number = Certificate.certificate_no == bindparam("number")
    return db.select(Certificate).options(joinedload(Certificate.resident), *options).where(by_number)


# What a download reads in its one statement (built once): the certificate, its holder (for the
# authorization) and the stored rendering; the PDF's first rendering prints the payment too.
PDF_DOWNLOAD = _download(joinedload(Certificate.order), undefer(Certificate.pdf), undefer(Certificate.qr_png))
QR_DOWNLOAD = _download(undefer(Certificate.qr_png))


def pdf(certificate: Certificate) -> bytes:
    """The certificate's PDF: rendered on the first download (its QR code's PNG kept with it, made from
    the same modules), then served as stored."""
    if certificate.pdf is not None:
        return certificate.pdf
    modules = qr_matrix(verify_url(certificate))
    rendering = render_certificate_pdf(_printed_data(certificate), modules)
    return _store(certificate, "pdf", rendering, qr_png=certificate.qr_png or png_of(modules))


def qr(certificate: Certificate) -> bytes:
    """The PNG of the verification link: rendered once, then served as stored."""
    if certificate.qr_png is not None:
        return certificate.qr_png
    return _store(certificate, "qr_png", qr_png(verify_url(certificate)))


def _store(certificate: Certificate, column: str, rendering: bytes, **unless_stored: bytes) -> bytes:
    """Keep a rendering (and `unless_stored` where none is kept yet), committed, and answer the one
    stored: a concurrent first download's identical one is left as it is."""
    certificate_id, stored_column = certificate.id, getattr(Certificate, column)
    kept = {name: func.coalesce(getattr(Certificate, name), value) for name, value in unless_stored.items()}
    stored = db.session.execute(
        db.update(Certificate)
        .where(Certificate.id == certificate_id, stored_column.is_(None))
        .values({column: rendering, **kept})
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if stored.rowcount == 0:
        return db.session.scalar(select(stored_column).where(Certificate.id == certificate_id))
    return rendering


def _printed_data(certificate: Certificate) -> CertificateData:
    resident, order = certificate.resident, certificate.order
    return CertificateData(
        certificate_no=certificate.certificate_no,
        holder_name=resident.name,
        id_number=masked_id_number(resident),
        region_name=resident.region_name,
        year=certificate.year,
        amount_fen=order.amount_fen,
        government_subsidy_fen=order.subsidy_fen,
        collective_subsidy_fen=order.collective_subsidy_fen,
        paid_on=order.paid_at.astimezone(SHANGHAI).date(),
        channel=_channel(order),
        issued_on=certificate.issued_at.astimezone(SHANGHAI).date(),
        verify_url=verify_url(certificate),
    )


def _channel(order: Order) -> str:
    if order.channel:
        return order.channel
    return "政府代缴" if order.payer == Payer.GOVERNMENT else "—"
