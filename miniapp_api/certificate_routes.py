"""Certificate endpoints: issue, download (PDF, QR), public verification, and the page the QR opens."""
from __future__ import annotations

import os

import flask
from flask import Response, request, send_from_directory
from marshmallow import fields, validate

from models import Certificate, Resident

from . import certificates
from .access import authorize, resident_scoped
from .api import Blueprint, Schema
from .auth import current_user
from .errors import ApiError
from .ratelimit import limit

STATIC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "static")
# The page is ours alone: no inline code, nothing from elsewhere, and the token never leaks as a referrer.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
                               "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PRIVATE = {"Cache-Control": "private, no-store"}

bp = Blueprint("certificates", __name__, url_prefix="/api/v1",
               description="Payment certificates (缴费证明) and their public verification")
pages = flask.Blueprint("verify_page", __name__, static_folder=STATIC, static_url_path="/verify/assets")


class IssueCertificateSchema(Schema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(1900, 9999))


class CertificateSchema(Schema):
    certificate_no = fields.String()
    verify_url = fields.String(metadata={"description": "the link the QR code encodes"})
    pdf_url = fields.String()
    qr_url = fields.String()
    issued_at = fields.String()


class VerificationSchema(Schema):
    valid = fields.Boolean(metadata={"description": "genuine and not revoked; alone (false) for a forged token"})
    status = fields.String(metadata={"description": "valid | revoked"})
    certificate_no = fields.String()
    name = fields.String(metadata={"description": "masked: 王*国"})
    id_number = fields.String(metadata={"description": "masked: 1401**********0017"})
    year = fields.Integer()
    amount_fen = fields.Integer()
    paid_at = fields.String()
    issued_at = fields.String()
    revoked_at = fields.String(allow_none=True)


@bp.post("/residents/<resident_id>/certificates")
@resident_scoped
@bp.arguments(IssueCertificateSchema)
@bp.response(201, CertificateSchema)
def issue_certificate(body: dict, resident: Resident):
    """Issue the payment certificate of a paid year; the same year again answers the same certificate (201)."""
    certificate, _created = certificates.issue(resident, body["year"])
    return certificates.view(certificate)


@bp.get("/certificates/<certificate_no>.pdf")
@bp.response(200, content_type="application/pdf", description="The printable certificate")
def certificate_pdf(certificate_no: str):
    """Download the printable certificate (A4 PDF, Chinese, with the verification QR code)."""
    certificate = _own_certificate(certificate_no)
    headers = {**PRIVATE, "Content-Disposition": f'inline; filename="{certificate.certificate_no}.pdf"'}
    return Response(certificates.pdf(certificate), mimetype="application/pdf", headers=headers)


@bp.get("/certificates/<certificate_no>/qr.png")
@bp.response(200, content_type="image/png", description="The QR code alone")
def certificate_qr(certificate_no: str):
    """Download the certificate's verification QR code."""
    return Response(certificates.qr(_own_certificate(certificate_no)), mimetype="image/png", headers=PRIVATE)


def _own_certificate(certificate_no: str) -> Certificate:
    """A valid certificate of a resident the caller may act for, else 404."""
    current_user()
    certificate = certificates.find(certificate_no)
    authorize(certificate.resident if certificate else None)
    if certificate.revoked:
        raise ApiError(404, "certificate_revoked", "This certificate was revoked; issue the year's certificate again.")
    return certificate


@bp.get("/verify/<token>")
@bp.doc(security=[])
@bp.response(200, VerificationSchema)
def verify(token: str):
    """Check a certificate's verification token (public, no login; masked data only)."""
    limit(f"certificate-verify:{request.remote_addr}", certificates.settings().verify_per_minute, 60)
    return certificates.verification(token)


@pages.get("/verify/<token>")
def verify_page(token: str):
    """The mobile page the certificate's QR code opens; it asks the API above."""
    response = send_from_directory(STATIC, "verify.html", max_age=0)
    response.headers.update(PAGE_HEADERS)
    return response


def register(app: flask.Flask) -> None:
    certificates.init_app(app)
    app.extensions["api"].register_blueprint(bp)
    app.register_blueprint(pages)
