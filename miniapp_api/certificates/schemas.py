"""The certificate and its public verification (API.md 'Certificates')."""

from __future__ import annotations

from marshmallow import fields, post_dump, validate

from miniapp_api.certificates import service
from miniapp_api.core.api import Schema
from miniapp_api.core.fields import Computed, Instant


class IssueCertificateSchema(Schema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(1900, 9999))


class CertificateSchema(Schema):
    """A `models.Certificate`: where to verify and download it."""

    certificate_no = fields.String()
    verify_url = Computed(service.verify_url, "string", description="the link the QR code encodes")
    pdf_url = Computed(lambda certificate: f"{service.api_url(certificate)}.pdf", "string")
    qr_url = Computed(lambda certificate: f"{service.api_url(certificate)}/qr.png", "string")
    issued_at = Instant()


class VerificationSchema(Schema):
    """A `certificates.service.Verification`."""

    OPENAPI_REQUIRED = ("valid",)  # a forged token's answer is `{"valid": false}` alone

    valid = fields.Boolean(metadata={"description": "genuine and not revoked; alone (false) for a forged token"})
    status = fields.String(metadata={"enum": ["valid", "revoked"]})
    certificate_no = fields.String(attribute="certificate.certificate_no")
    name = fields.String(metadata={"description": "masked: 王*国"})
    id_number = fields.String(metadata={"description": "masked: 1401**********0017"})
    year = fields.Integer(attribute="certificate.year")
    amount_fen = fields.Integer(attribute="certificate.amount_fen")
    paid_at = Instant(attribute="certificate.paid_at")
    issued_at = Instant(attribute="certificate.issued_at")
    revoked_at = Instant(attribute="certificate.revoked_at", allow_none=True)

    @post_dump(pass_original=True)
    def _forged_alone(self, data: dict, verification: service.Verification, **kwargs) -> dict:
        """A token that is not ours learns nothing: `{"valid": false}` alone."""
        return data if verification.certificate is not None else {"valid": False}
