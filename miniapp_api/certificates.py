"""Payment certificates (R13): issued once per paid year, verified by a signed token, revocable."""
from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError

from certificates.numbers import is_certificate_number, new_certificate_number
from certificates.pdf import CertificateData, render_certificate_pdf
from certificates.qr import qr_png
from certificates.token import key_id_of, load_private_key, sign_token, verify_token
from models import Certificate, Order, Resident, db
from policy.id_number import mask, mask_name
from policy.workdays import certificate_available_at

from .clock import SHANGHAI, clock, rfc3339
from .config import ConfigError
from .errors import ApiError
from .residents import id_number_of

log = logging.getLogger(__name__)
DEFAULT_VERIFY_PER_MINUTE = 60


@dataclass(frozen=True)
class Signing:
    """The key that signs new certificates, and every public key whose tokens still verify (by key id)."""

    private_key: Ed25519PrivateKey
    key_id: str
    public_keys: Mapping[str, Ed25519PublicKey]


@dataclass(frozen=True)
class Settings:
    signing: Signing
    calendar_overrides: Mapping[dt.date, bool]  # True: a working day, False: a holiday
    verify_per_minute: int  # public verifications per client address and minute


def init_app(app: Flask) -> None:
    config = app.config
    app.extensions["certificates"] = Settings(
        signing=load_signing(config["CERT_SIGNING_KEY"], config.get("CERT_PREVIOUS_PUBLIC_KEYS")),
        calendar_overrides=load_overrides(config.get("CERT_CALENDAR_OVERRIDES")),
        verify_per_minute=int(config.get("CERT_VERIFY_PER_MINUTE", DEFAULT_VERIFY_PER_MINUTE)))


def load_signing(private_key_path: str, previous: str | Mapping | None = None) -> Signing:
    try:
        private_key = load_private_key(private_key_path)
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(f"CERT_SIGNING_KEY: {exc}") from exc
    key_id = key_id_of(private_key.public_key())
    return Signing(private_key, key_id, {**load_public_keys(previous), key_id: private_key.public_key()})


def load_public_keys(source: str | Mapping | None) -> dict[str, Ed25519PublicKey]:
    """`{key_id: PEM}` from a mapping or a JSON file; each id must be its key's `key_id_of`."""
    return {key_id: _public_key(key_id, pem)
            for key_id, pem in _json_object(source, "CERT_PREVIOUS_PUBLIC_KEYS").items()}


def _public_key(key_id: str, pem: str) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem.encode("ascii"))
    except (ValueError, AttributeError, UnicodeEncodeError) as exc:
        raise ConfigError(f"CERT_PREVIOUS_PUBLIC_KEYS: {key_id!r} is not a PEM public key") from exc
    if not isinstance(key, Ed25519PublicKey) or key_id_of(key) != key_id:
        raise ConfigError(f"CERT_PREVIOUS_PUBLIC_KEYS: {key_id!r} must be the key id of an Ed25519 key")
    return key


def load_overrides(source: str | Mapping | None) -> dict[dt.date, bool]:
    """`{"2027-10-01": false, "2027-09-26": true}` (false: holiday, true: working day), mapping or JSON file."""
    overrides = {}
    for day, working in _json_object(source, "CERT_CALENDAR_OVERRIDES").items():
        try:
            day = day if isinstance(day, dt.date) else dt.date.fromisoformat(day)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"CERT_CALENDAR_OVERRIDES: {day!r} is not a YYYY-MM-DD date") from exc
        if not isinstance(working, bool):
            raise ConfigError(f"CERT_CALENDAR_OVERRIDES: {day} must map to true or false")
        overrides[day] = working
    return overrides


def _json_object(source: str | Mapping | None, name: str) -> Mapping:
    if not source:
        return {}
    if isinstance(source, Mapping):
        return source
    try:
        data = json.loads(Path(source).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{name}: cannot read {source}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{name}: {source} must hold a JSON object")
    return data


def settings() -> Settings:
    return current_app.extensions["certificates"]


def public_key_entry() -> dict[str, str]:
    """`{key_id: PEM}` of the current key, as CERT_PREVIOUS_PUBLIC_KEYS wants it after a rotation."""
    signing = settings().signing
    pem = signing.public_keys[signing.key_id].public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return {signing.key_id: pem.decode("ascii")}


def valid_certificate(resident: Resident, year: int) -> Certificate | None:
    return db.session.scalar(db.select(Certificate).where(
        Certificate.resident_id == resident.id, Certificate.year == year, Certificate.revoked_at.is_(None)))


def find(certificate_no: str) -> Certificate | None:
    if not is_certificate_number(certificate_no):
        return None
    return db.session.scalar(db.select(Certificate).where(Certificate.certificate_no == certificate_no))


def paid_order(resident: Resident, year: int) -> Order | None:
    """The year's first paid order of any kind (a lump sum counts for the year it was paid in)."""
    return db.session.scalar(db.select(Order).where(
        Order.resident_id == resident.id, Order.year == year, Order.status == "paid",
    ).order_by(Order.paid_at, Order.id).limit(1))


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
        raise ApiError(409, "not_yet_available",
                       "Payment data takes five working days to settle; the certificate is not ready yet.",
                       available_at=rfc3339(available_at))


def _create(resident: Resident, order: Order) -> tuple[Certificate, bool]:
    number = new_certificate_number()
    signing = settings().signing
    certificate = Certificate(certificate_no=number, resident_id=resident.id, year=order.year, order_id=order.id,
                              token=sign_token(signing.private_key, signing.key_id, number),
                              issued_at=clock().now())
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


def view(certificate: Certificate) -> dict:
    """The API's certificate object: where to verify and download it."""
    api = f"{_base_url()}/api/v1/certificates/{certificate.certificate_no}"
    return {"certificate_no": certificate.certificate_no, "verify_url": verify_url(certificate),
            "pdf_url": f"{api}.pdf", "qr_url": f"{api}/qr.png", "issued_at": rfc3339(certificate.issued_at)}


def verification(token: str) -> dict:
    """What the public verification shows: `{"valid": false}` alone unless the token is genuine."""
    number = verify_token(settings().signing.public_keys, token)
    certificate = find(number) if number else None
    if certificate is None:
        return {"valid": False}
    return {"valid": not certificate.revoked, "status": "revoked" if certificate.revoked else "valid",
            **_masked_facts(certificate),
            "revoked_at": rfc3339(certificate.revoked_at) if certificate.revoked else None}


def _masked_facts(certificate: Certificate) -> dict:
    resident, order = certificate.resident, certificate.order
    return {"certificate_no": certificate.certificate_no, "name": mask_name(resident.name),
            "id_number": mask(id_number_of(resident)), "year": certificate.year,
            "amount_fen": order.amount_fen, "paid_at": rfc3339(order.paid_at),
            "issued_at": rfc3339(certificate.issued_at)}


def pdf(certificate: Certificate) -> bytes:
    return render_certificate_pdf(_printed_data(certificate))


def qr(certificate: Certificate) -> bytes:
    return qr_png(verify_url(certificate))


def _printed_data(certificate: Certificate) -> CertificateData:
    resident, order = certificate.resident, certificate.order
    return CertificateData(
        certificate_no=certificate.certificate_no, holder_name=resident.name, id_number=id_number_of(resident),
        region_name=resident.region_name, year=certificate.year, amount_fen=order.amount_fen,
        government_subsidy_fen=order.subsidy_fen, collective_subsidy_fen=order.collective_subsidy_fen,
        paid_on=order.paid_at.astimezone(SHANGHAI).date(), channel=_channel(order),
        issued_on=certificate.issued_at.astimezone(SHANGHAI).date(), verify_url=verify_url(certificate))


def _channel(order: Order) -> str:
    if order.channel:
        return order.channel
    return "政府代缴" if order.payer == "government" else "—"
