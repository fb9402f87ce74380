"""Certificate endpoints: issue, download (PDF, QR), public verification, and the page the QR opens."""

from __future__ import annotations

import flask
from flask import Flask, Response, request, send_from_directory
from sqlalchemy import Select

from miniapp_api.certificates import service as certificates
from miniapp_api.certificates import signing
from miniapp_api.certificates.pdf import register_font
from miniapp_api.certificates.schemas import CertificateSchema, IssueCertificateSchema, VerificationSchema
from miniapp_api.certificates.signing import settings
from miniapp_api.core.api import Blueprint
from miniapp_api.core.errors import ApiError
from miniapp_api.core.openapi import BINARY
from miniapp_api.core.paths import STATIC
from miniapp_api.core.ratelimit import limit
from miniapp_api.core.readonly import read_only
from miniapp_api.identity.access import authorize, resident_scoped
from miniapp_api.identity.auth import current_user
from models import Certificate, Resident

# The page is ours alone: no inline code, nothing from elsewhere, and the token never leaks as a referrer.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}
PRIVATE = {"Cache-Control": "private, no-store"}

bp = Blueprint(
    "certificates",
    __name__,
    url_prefix="/api/v1",
    description="Payment certificates (缴费证明) and their public verification",
)
pages = flask.Blueprint("verify_page", __name__, static_folder=STATIC, static_url_path="/verify/assets")


@bp.post("/residents/<resident_id>/certificates")
@resident_scoped
@bp.arguments(IssueCertificateSchema)
@bp.response(201, CertificateSchema)
@bp.problems(404, "no_payment")
@bp.problems(409, "not_yet_available")
def issue_certificate(body: dict, resident: Resident):
    """Issue the payment certificate of a paid year; the same year again answers the same certificate (201)."""
    certificate, _created = certificates.issue(resident, body["year"])
    return certificate


@bp.get("/certificates/<certificate_no>.pdf")
@bp.response(200, BINARY, content_type="application/pdf", description="The printable certificate")
@bp.problems(404, "certificate_revoked")
def certificate_pdf(certificate_no: str):
    """Download the printable certificate (A4 PDF, Chinese, with the verification QR code)."""
    certificate = _own_certificate(certificate_no, certificates.PDF_DOWNLOAD)
    headers = {**PRIVATE, "Content-Disposition": f'inline; filename="{certificate.certificate_no}.pdf"'}
    return Response(certificates.pdf(certificate), mimetype="application/pdf", headers=headers)


@bp.get("/certificates/<certificate_no>/qr.png")
@bp.response(200, BINARY, content_type="image/png", description="The QR code alone")
@bp.problems(404, "certificate_revoked")
def certificate_qr(certificate_no: str):
    """Download the certificate's verification QR code."""
    return Response(
        certificates.qr(_own_certificate(certificate_no, certificates.QR_DOWNLOAD)),
        mimetype="image/png",
        headers=PRIVATE,
    )


def _own_certificate(certificate_no: str, download: Select[tuple[Certificate]]) -> Certificate:
    """A valid certificate of a resident the caller may act for, else 404 (401 before either)."""
    certificate = certificates.find_for_caller(certificate_no, download)
    current_user()
    authorize(certificate.resident if certificate else None)
    assert certificate is not None  # authorize refused otherwise
    if certificate.revoked:
        raise ApiError(404, "certificate_revoked", "This certificate was revoked; issue the year's certificate again.")
    return certificate


@bp.get("/verify/<token>")
@read_only
@bp.doc(security=[])
@bp.response(200, VerificationSchema)
@bp.problems(429, "rate_limited")
def verify(token: str):
    """Check a certificate's verification token (public, no login; masked data only)."""
    limit(f"certificate-verify:{request.remote_addr}", settings().verify_per_minute, 60)
    return certificates.verification(token)


@pages.get("/verify/<token>")
def verify_page(token: str):
    """The mobile page the certificate's QR code opens; it asks the API above."""
    response = send_from_directory(STATIC, "verify.html", max_age=0)
    response.headers.update(PAGE_HEADERS)
    return response


def init_app(app: Flask) -> None:
    """Load the signing keys and certificate settings (a bad key stops start-up), and the PDF font."""
    signing.init_app(app)
    register_font()
