"""Payment certificates (R13): issued once per paid year, verified by a signed token, revocable."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload
from sqlalchemy.orm.interfaces import ORMOption

from miniapp_api.certificates.numbers import is_certificate_number, new_certificate_number
from miniapp_api.certificates.pdf import CertificateData, render_certificate_pdf
from miniapp_api.certificates.qr import qr_png
from miniapp_api.certificates.signing import settings
from miniapp_api.certificates.token import sign_token, verify_token
from miniapp_api.core.clock import SHANGHAI, clock, rfc3339
from miniapp_api.core.errors import ApiError
from miniapp_api.identity.residents import masked_id_number
from models import Certificate, Order, OrderStatus, Payer, Resident, db
from policy.id_number import mask_name
from policy.workdays import certificate_available_at

log = logging.getLogger(__name__)


def valid_certificate(resident: Resident, year: int) -> Certificate | None:
    return db.session.scalar(
        db.select(Certificate).where(
            Certificate.resident_id == resident.id, Certificate.year == year, Certificate.revoked_at.is_(None)
        )
    )


def find(certificate_no: str, *options: ORMOption) -> Certificate | None:
    if not is_certificate_number(certificate_no):
        return None
    return db.session.scalar(
        db.select(Certificate).options(*options).where(Certificate.certificate_no == certificate_no)
    )


def paid_order(resident: Resident, year: int) -> Order | None:
    """The year's first paid order of any kind (a lump sum counts for the year it was paid in)."""
    return db.session.scalar(
        db.select(Order)
        .where(Order.resident_id == resident.id, Order.year == year, Order.status == OrderStatus.PAID)
        .order_by(Order.paid_at, Order.id)
        .limit(1)
    )


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
        db.session.commit()
    except IntegrityError:
        # A concurrent request issued the year's certificate first: answer with that one.
        db.session.rollback()
        existing = valid_certificate(resident, order.year)
        if existing is None:
            raise
        return existing, False
    log.info("issued certificate %s for year %d", number, order.year)
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

    certificate: Certificate | None

    @property
    def valid(self) -> bool:
        return self.certificate is not None and not self.certificate.revoked

    @property
    def status(self) -> str | None:
        if self.certificate is None:
            return None
        return "revoked" if self.certificate.revoked else "valid"

    @property
    def name(self) -> str | None:
        return mask_name(self.certificate.resident.name) if self.certificate else None

    @property
    def id_number(self) -> str | None:
        return masked_id_number(self.certificate.resident) if self.certificate else None


def verification(token: str) -> Verification:
    number = verify_token(settings().signing.public_keys, token)
    # One statement: the page shows the holder and the payment too.
    holder_and_payment = (joinedload(Certificate.resident), joinedload(Certificate.order))
    return Verification(find(number, *holder_and_payment) if number else None)


def pdf(certificate: Certificate) -> bytes:
    """The certificate's PDF: rendered on the first download, then served as stored."""
    if certificate.pdf is None:
        _store(certificate, pdf=render_certificate_pdf(_printed_data(certificate), qr(certificate)))
    assert certificate.pdf is not None
    return certificate.pdf


def qr(certificate: Certificate) -> bytes:
    """The PNG of the verification link: rendered once, then served as stored."""
    if certificate.qr_png is None:
        _store(certificate, qr_png=qr_png(verify_url(certificate)))
    assert certificate.qr_png is not None
    return certificate.qr_png


def _store(certificate: Certificate, **rendering: bytes) -> None:
    """Keep a rendering (committed); a concurrent first download's identical one is left as it is."""
    (column,) = rendering
    stored = db.session.execute(
        db.update(Certificate)
        .where(Certificate.id == certificate.id, getattr(Certificate, column).is_(None))
        .values(**rendering)
        .execution_options(synchronize_session=False)
    )
    db.session.commit()
    if stored.rowcount == 0:
        db.session.refresh(certificate, [column])
    else:
        setattr(certificate, column, rendering[column])


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
