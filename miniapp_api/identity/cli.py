"""`flask --app wsgi residents ...`: agency staff's commands on residents' WeChat bindings."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup

from miniapp_api.core import pii
from miniapp_api.core.clock import rfc3339
from miniapp_api.core.metrics import batch_job
from miniapp_api.identity import bindings

cli = AppGroup("residents", help="Residents and their WeChat bindings.")


@cli.command("unbind")
@click.argument("id_number")
@click.option("--reason", required=True, help="Why, for the record (binding_changes).")
def unbind(id_number: str, reason: str) -> None:
    """End the WeChat binding of the resident with ID_NUMBER; that user's access tokens stop working."""
    if not reason.strip():
        raise click.BadParameter("must not be blank", param_hint="--reason")
    try:
        done = bindings.unbind(id_number, reason)
    except bindings.UnbindRefused as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"unbound resident {done.masked_id_number} ({done.resident_id}) from WeChat user {done.user_id} at "
        f"{rfc3339(done.changed_at)}: their access tokens no longer work; recorded with reason {reason.strip()!r}"
    )


@cli.command("reencrypt-ids")
@click.option("--batch-size", default=pii.REENCRYPT_BATCH, show_default=True, type=click.IntRange(1, 10_000))
@batch_job("residents_reencrypt_ids")
def reencrypt_ids(batch_size: int) -> None:
    """Move every stored ID number to the current ID_ENCRYPTION_KEY (after a rotation); nothing else changes."""
    residents = rewritten = 0
    for batch in pii.reencrypt_all(batch_size):
        residents, rewritten = residents + batch.residents, rewritten + batch.rewritten
        if sys.stderr.isatty():
            click.echo(f"\r{residents} residents read, {rewritten} re-encrypted", nl=False, err=True)
    click.echo(json.dumps({"command": "residents reencrypt-ids", "residents": residents, "reencrypted": rewritten}))
