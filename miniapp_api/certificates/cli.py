"""`flask --app wsgi certificates ...`: revoke a certificate; print the signing key's public half."""

from __future__ import annotations

import json

import click
from flask.cli import AppGroup

from miniapp_api.certificates import service as certificates
from miniapp_api.certificates import signing
from miniapp_api.core.clock import rfc3339

cli = AppGroup("certificates", help="Payment certificates (缴费证明).")


@cli.command("revoke")
@click.argument("certificate_no")
@click.option("--reason", required=True, help="Why, for the audit trail (not shown publicly).")
def revoke(certificate_no: str, reason: str) -> None:
    """Revoke CERTIFICATE_NO: its verification link then says revoked."""
    if not reason.strip():
        raise click.BadParameter("must not be blank", param_hint="--reason")
    try:
        certificate = certificates.revoke(certificate_no, reason.strip())
    except LookupError:
        raise click.ClickException(f"no certificate {certificate_no}") from None
    revoked_at = rfc3339(certificate.revoked_at) if certificate.revoked_at else "-"
    click.echo(f"{certificate.certificate_no} revoked at {revoked_at}: {certificate.revoked_reason}")


@cli.command("public-key")
def public_key() -> None:
    """Print the current signing key as `{key_id: PEM}`, for CERT_PREVIOUS_PUBLIC_KEYS after a rotation."""
    click.echo(json.dumps(signing.public_key_entry(), indent=2))
